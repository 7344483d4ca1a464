"""Near-duplicate situations: character-shingle MinHash with banded LSH, confirmed by exact Jaccard.

Each normalised situation becomes a set of 5-byte shingles hashed with CRC-32 (the same on every run,
unlike Python's `hash`, so the split that depends on this is deterministic). A one-permutation MinHash
of BINS bins is the signature; texts that agree on all ROWS bins of any of BANDS bands are candidates,
a cheap estimate from the whole signature drops most of them, and a pair counts only when its exact
shingle Jaccard reaches the threshold. A pair at exactly 0.8 is caught with probability
1 - (1 - 0.8**8)**25 = 99%, at 0.85 with 99.9%. Work grows with the number of texts, not pairs: in a
bucket a newcomer is compared with one member per group already there.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Sequence
from itertools import repeat

SHINGLE = 5
THRESHOLD = 0.8
BANDS, ROWS = 25, 8
BINS = BANDS * ROWS
_EMPTY = 1 << 32  # larger than any CRC-32
_NON_WORD = re.compile(r"[\W_]+")
_SLICES: list[slice] = []


def normalise(text: str) -> str:
    """Lower case; punctuation and runs of spaces folded to one space."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def shingle_hashes(text: str, *, normalised: bool = False) -> set[int]:
    """CRC-32 of each 5-byte shingle of the normalised text (of the whole text when shorter)."""
    b = (text if normalised else normalise(text)).encode("utf-8")
    n = len(b) - SHINGLE + 1
    if n <= 1:
        return {zlib.crc32(b)} if b else set()
    while len(_SLICES) < n:  # made once: cheaper than slicing in a comprehension
        _SLICES.append(slice(len(_SLICES), len(_SLICES) + SHINGLE))
    return set(map(zlib.crc32, map(b.__getitem__, _SLICES[:n])))


def jaccard(a, b) -> float:
    a = a if isinstance(a, (set, frozenset)) else set(a)
    if not a or not b:
        return 0.0
    inter = len(a.intersection(b))
    return inter / (len(a) + len(b) - inter)


def signature(hashes: set[int]) -> bytes:
    """One-permutation MinHash, densified, kept as one byte per bin (b-bit MinHash)."""
    ordered = sorted(hashes, reverse=True)
    smallest = dict(zip(map(BINS.__rmod__, ordered), ordered, strict=True))  # the last, smallest, hash of a bin wins
    sig = list(map(smallest.get, range(BINS), repeat(_EMPTY)))
    if smallest and len(smallest) < BINS:
        # An empty bin borrows the next full bin's value (circularly), marked by the distance.
        for j in set(range(BINS)).difference(smallest):
            step = 1
            while (j + step) % BINS not in smallest:
                step += 1
            sig[j] = smallest[(j + step) % BINS] * 31 + step
    return bytes(map(0xFF.__and__, sig))


def _agreement(a: int, b: int) -> int:
    """How many bins two signatures (as integers) share: the zero bytes of their XOR."""
    return (a ^ b).to_bytes(BINS, "big").count(0)


def near_duplicate_clusters(texts: Sequence[str], threshold: float = THRESHOLD) -> list[list[int]]:
    """Groups (two or more, each sorted, in order of first member) of texts whose situations nearly match.

    Groups are connected components: A ~ B and B ~ C puts A, B and C together, which is what a split
    that must not separate near-duplicates needs.
    """
    parent = list(range(len(texts)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    # Identical after normalisation: joined at once; only the first of them goes through MinHash.
    first_of: dict[str, int] = {}
    for i, text in enumerate(texts):
        key = normalise(text)
        if key in first_of:
            union(first_of[key], i)
        elif key:
            first_of[key] = i
    reps = sorted(first_of.values())

    hashes: dict[int, array] = {}
    sigs: dict[int, bytes] = {}
    for key, i in first_of.items():
        h = shingle_hashes(key, normalised=True)
        hashes[i] = array("I", h)  # 4 bytes a shingle: 10 000 texts stay small
        sigs[i] = signature(h)
    as_int = {i: int.from_bytes(s, "big") for i, s in sigs.items()}
    min_agree = (threshold - 0.1) * BINS  # b-bit estimate; 5 standard deviations below the threshold

    compared: set[tuple[int, int]] = set()
    for band in range(BANDS):
        lo, hi = band * ROWS, band * ROWS + ROWS
        buckets: dict[bytes, list[int]] = {}
        for i in reps:
            members = buckets.setdefault(sigs[i][lo:hi], [])
            joined = False
            for j in members:
                if find(i) == find(j):
                    joined = True
                    break
                if (j, i) in compared:
                    continue
                compared.add((j, i))
                if _agreement(as_int[i], as_int[j]) >= min_agree and jaccard(hashes[i], hashes[j]) >= threshold:
                    union(i, j)
                    joined = True
                    break
            if not joined:
                members.append(i)

    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])
