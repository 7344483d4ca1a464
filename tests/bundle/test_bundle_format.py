"""The sealed bundle: a round trip, and a clear, distinct error for a wrong passphrase, a changed byte anywhere
and a file cut short (real Argon2id and ChaCha20-Poly1305, no mocks)."""

import json
import struct

import pytest
from engine_helpers import CANARY

from localtune.bundle import format as fmt
from localtune.bundle.export import TrainingBundle, from_opened, open_training
from localtune.bundle.merge import merge

PASS = "bundle passphrase 1"


@pytest.fixture(scope="module")
def sealed():
    from engine_helpers import make_examples

    ex = make_examples(12)
    bundle = TrainingBundle(train=ex[:9], eval=ex[9:], config={"epochs": 1}, base_model="starter")
    return bundle, bundle.seal(PASS)


def _regions(data: bytes) -> dict[str, int]:
    """One byte offset inside each part of the layout."""
    n = struct.unpack(">I", data[8:12])[0]
    start = 16
    check = start + n
    digest = check + 12 + len(fmt._CHECK_LABEL) + fmt.TAG
    body = digest + 32
    return {"magic": 3, "length": 10, "complement": 14, "manifest": start + n // 2, "key check": check + 20,
            "digest": digest + 5, "payload": body + 40, "last byte (tag)": len(data) - 1}


def test_round_trip_keeps_every_example(sealed):
    bundle, data = sealed
    opened = fmt.open_bytes(data, PASS)
    back = from_opened(opened)
    assert back.train == bundle.train and back.eval == bundle.eval
    assert back.config == {"epochs": 1} and back.base_model == "starter"


def test_manifest_is_public_and_holds_no_text(sealed):
    bundle, data = sealed
    manifest = fmt.read_manifest(data)
    assert manifest["counts"] == {"train": 9, "eval": 3}
    assert manifest["kind"] == "training" and manifest["fingerprints"]["train"]
    assert manifest["kdf"]["memory_kib"] >= 64 * 1024 and manifest["aead"] == "chacha20poly1305"
    text = json.dumps(manifest)
    for e in bundle.train + bundle.eval:
        for m in e.messages:
            assert m["content"][:30] not in text
    assert CANARY.encode() not in data  # nothing readable in the whole file


def test_wrong_passphrase_is_said_as_such(sealed):
    _, data = sealed
    with pytest.raises(fmt.BundleWrongPassphrase, match="passphrase"):
        fmt.open_bytes(data, "not the passphrase")


@pytest.mark.parametrize("region", ["magic", "length", "complement", "manifest", "key check", "digest", "payload",
                                    "last byte (tag)"])
def test_a_flipped_byte_anywhere_is_damage_not_a_wrong_passphrase(sealed, region):
    _, data = sealed
    pos = _regions(data)[region]
    bad = bytearray(data)
    bad[pos] ^= 0x01
    with pytest.raises(fmt.BundleDamaged, match="damaged"):
        fmt.open_bytes(bytes(bad), PASS)


@pytest.mark.parametrize("keep", [4, 12, 100, -1, -17])
def test_a_truncated_file_says_it_ends_early(sealed, keep):
    _, data = sealed
    with pytest.raises(fmt.BundleTruncated, match="ends early"):
        fmt.open_bytes(data[:keep] if keep > 0 else data[:keep], PASS)


def test_appended_bytes_are_damage(sealed):
    _, data = sealed
    with pytest.raises(fmt.BundleDamaged):
        fmt.open_bytes(data + b"\x00", PASS)


def test_a_header_rewritten_with_a_fresh_digest_still_fails(sealed):
    """Whoever edits the manifest (say, the counts) and recomputes the unkeyed digest is still caught: every
    AEAD call authenticates the header."""
    import hashlib

    _, data = sealed
    n = struct.unpack(">I", data[8:12])[0]
    manifest = data[16:16 + n].replace(b'"train":9', b'"train":8')
    assert manifest != data[16:16 + n]
    head = data[:16] + manifest + data[16 + n:16 + n + 12 + len(fmt._CHECK_LABEL) + fmt.TAG]
    forged = head + hashlib.sha256(head).digest() + data[len(head) + 32:]
    with pytest.raises(fmt.BundleError):
        fmt.open_bytes(forged, PASS)


def test_a_large_payload_is_sealed_in_chunks_and_a_cut_at_a_chunk_boundary_is_caught():
    payload = bytes(range(256)) * (fmt.CHUNK // 256 * 2 + 3)  # 3 chunks
    data = fmt.seal(payload, PASS, {"kind": "test"})
    assert fmt.read_manifest(data)["chunks"] == 3
    assert fmt.open_bytes(data, PASS).payload == payload
    body = len(data) - (len(payload) + 3 * fmt.TAG)
    two_chunks = data[:body + 2 * (fmt.CHUNK + fmt.TAG)]
    with pytest.raises(fmt.BundleTruncated):
        fmt.open_bytes(two_chunks, PASS)
    swapped = bytearray(data)
    a, b = body, body + fmt.CHUNK + fmt.TAG
    swapped[a:b], swapped[b:b + fmt.CHUNK + fmt.TAG] = data[b:b + fmt.CHUNK + fmt.TAG], data[a:b]
    with pytest.raises(fmt.BundleDamaged):
        fmt.open_bytes(bytes(swapped), PASS)


def test_not_a_bundle(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello there, this is no bundle")
    with pytest.raises(fmt.NotABundle):
        open_training(f, PASS)


def test_passphrase_is_asked_only_for_an_intact_bundle(sealed, tmp_path):
    _, data = sealed
    f = tmp_path / "b.ltb"
    f.write_bytes(data[:50])
    asked = []
    with pytest.raises(fmt.BundleTruncated):
        open_training(f, lambda m: asked.append(m) or PASS)
    assert asked == []


def test_write_is_atomic_private_and_refuses_to_replace_other_files(sealed, tmp_path):
    import os

    _, data = sealed
    target = fmt.write(tmp_path / "b.ltb", data)
    assert target.read_bytes() == data and (os.stat(target).st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["b.ltb"]  # no partial file left
    other = tmp_path / "essay.txt"
    other.write_text("mine")
    with pytest.raises(fmt.BundleError.__mro__[1]):  # InvalidInputError family (UnsafeDestination)
        fmt.write(other, data, overwrite=True)
    assert other.read_text() == "mine"
    plain = fmt.write_plain(tmp_path / "server-out.ltb", data)
    assert plain.read_bytes() == data and (os.stat(plain).st_mode & 0o777) == 0o600


def test_merge_removes_cross_contributor_duplicates_and_reports_agreement():
    from dataclasses import replace

    from engine_helpers import make_examples

    a_ex = make_examples(6, seed=1)  # the six situations
    b_ex = make_examples(6, seed=1)[:3] + make_examples(12, seed=2)[6:9]  # three shared, three near-copies
    # B judges the first shared situation differently
    b_ex[0] = replace(b_ex[0], label="mixed", completion="Assessment: mixed\nNot so clear.")
    a = TrainingBundle(train=a_ex[:4], eval=a_ex[4:], config={"epochs": 3}, base_model="starter")
    b = TrainingBundle(train=b_ex, eval=[], config={"epochs": 1}, base_model="starter")
    pool, reports = merge([a, b])
    assert reports[0].train == 4 and reports[0].eval == 2 and reports[1].train == 6
    assert reports[1].duplicates_removed >= 3
    assert reports[0].overlaps >= 3 and reports[1].overlaps >= 3
    assert reports[1].agreed < reports[1].overlaps  # the relabelled one disagrees
    assert 0 < reports[1].agreement < 1
    total = len(pool.train) + len(pool.eval)
    assert total == sum(r.kept for r in reports) < 12
    assert len(pool.eval) == 2  # a held-out example is kept over its training duplicate
    assert {e.group for e in pool.train + pool.eval}.isdisjoint({e.group for e in a_ex + b_ex})
    assert pool.contributors == 2 and pool.config == {"epochs": 3}
    data = pool.seal(PASS)
    assert "contributor 1" not in data.decode("latin-1")
    back = from_opened(fmt.open_bytes(data, PASS))
    assert back.train == pool.train and back.eval == pool.eval
    assert "1 of" in reports[1].render("b.ltb") or "of" in reports[1].render("b.ltb")


def test_merge_refuses_bundles_for_different_models():
    from engine_helpers import make_examples

    from localtune.errors import InvalidInputError

    ex = make_examples(4)
    a = TrainingBundle(train=ex, eval=[], config={}, base_model="starter")
    b = TrainingBundle(train=ex, eval=[], config={}, base_model="other")
    with pytest.raises(InvalidInputError, match="different base models"):
        merge([a, b])
