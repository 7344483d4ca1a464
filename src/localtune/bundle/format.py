"""The sealed bundle: one file that carries training examples (or a trained adapter) off the laptop, encrypted.

Layout (all integers big-endian):

    MAGIC (8 bytes)  | u32 manifest length, u32 its complement | manifest (UTF-8 JSON, no plaintext of the journal)
    key check (12-byte nonce + AEAD of a fixed label; 32 bytes)
    header digest: SHA-256 of everything above (32 bytes)
    chunk 0 | chunk 1 | ... each = AEAD(payload slice) with a 16-byte tag

The key is Argon2id(passphrase, random salt) with the manifest's parameters, so each file has its own key.
The manifest is authenticated twice: the header digest catches a damaged header before any key is derived
(a flipped byte there is "damaged", not "wrong passphrase"), and every AEAD call takes the header as
associated data, so a header rewritten with a fresh digest still fails. The key check tells a wrong
passphrase (it fails) from a damaged payload (it passes, a chunk fails). Chunks are sealed with their index
and an is-last flag in the nonce, and the payload's length is in the manifest: a file cut short, cut at a
chunk boundary, with chunks swapped or dropped, or with bytes appended, never decrypts. The cipher is
ChaCha20-Poly1305 (constant-time in software, so it is as safe on a laptop without AES instructions).

Everything is decrypted into memory; nothing is written in plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInputError

MAGIC = b"LTBNDL1\n"
FORMAT = 1
CHUNK = 1 << 20  # payload bytes per sealed chunk
TAG = 16
KIND_TRAINING = "training"
KIND_ADAPTER = "adapter"
AEAD_NAME = "chacha20poly1305"
# RFC 9106's memory-constrained choice, as the vault uses; a file may ask for more, within these bounds.
DEFAULT_KDF = {"memory_kib": 64 * 1024, "time_cost": 3, "parallelism": 4}
_KDF_LIMITS = {"memory_kib": (64 * 1024, 4 * 1024 * 1024), "time_cost": (3, 64), "parallelism": (1, 64)}
_CHECK_LABEL = b"localtune bundle key check v1"
_CHECK_NONCE = b"\xff" * 12  # never a chunk nonce (those start with a zero byte)
_MAX_MANIFEST = 1 << 20


class BundleError(InvalidInputError):
    """A bundle that cannot be opened; the subclass says why."""


class BundleWrongPassphrase(BundleError):
    """The passphrase does not open this bundle (the file itself is intact)."""


class BundleDamaged(BundleError):
    """A byte of the bundle was changed (on a disk, in a copy, or on purpose)."""


class BundleTruncated(BundleError):
    """The bundle ends early: an unfinished copy or download."""


class NotABundle(BundleError):
    """The file is not a localtune bundle at all."""


@dataclass(frozen=True)
class Opened:
    manifest: dict
    payload: bytes = field(repr=False)


def is_bundle(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _derive(passphrase: str, kdf: dict) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    try:
        secret = passphrase.encode("utf-8")
    except (AttributeError, UnicodeEncodeError):
        raise InvalidInputError("The passphrase holds bytes that are not UTF-8 text.") from None
    return hash_secret_raw(secret, base64.b64decode(kdf["salt"]),
                           time_cost=kdf["time_cost"], memory_cost=kdf["memory_kib"],
                           parallelism=kdf["parallelism"], hash_len=32, type=Type.ID)


def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305(key)


def _nonce(index: int, last: bool) -> bytes:
    return b"\x00" + struct.pack(">Q", index) + b"\x00\x00" + (b"\x01" if last else b"\x00")


def seal(payload: bytes, passphrase: str, manifest: dict, *, kdf: dict | None = None) -> bytes:
    """The whole bundle as bytes: `manifest` (public: counts, fingerprints, ids — never text) and the
    payload sealed with a key derived from `passphrase`."""
    kdf = {**DEFAULT_KDF, **(kdf or {}), "kdf": "argon2id",
           "salt": base64.b64encode(secrets.token_bytes(16)).decode("ascii")}
    n_chunks = max(1, -(-len(payload) // CHUNK))
    full = {**manifest, "format": FORMAT, "aead": AEAD_NAME, "kdf": kdf, "chunk_size": CHUNK,
            "chunks": n_chunks, "payload_bytes": len(payload)}
    text = json.dumps(full, sort_keys=True, separators=(",", ":")).encode("utf-8")
    prefix = MAGIC + struct.pack(">II", len(text), len(text) ^ 0xFFFFFFFF) + text
    key = _derive(passphrase, kdf)
    aead = _aead(key)
    check = _CHECK_NONCE + aead.encrypt(_CHECK_NONCE, _CHECK_LABEL, prefix)
    header = prefix + check
    digest = hashlib.sha256(header).digest()
    parts = [header, digest]
    for i in range(n_chunks):
        last = i == n_chunks - 1
        parts.append(aead.encrypt(_nonce(i, last), payload[i * CHUNK:(i + 1) * CHUNK], digest))
    return b"".join(parts)


def read_manifest(data: bytes, *, source: str = "the bundle") -> dict:
    """The public manifest, after checking the header is intact (no passphrase needed)."""
    return _parse(data, source)[0]


def _parse(data: bytes, source: str) -> tuple[dict, bytes, bytes, int]:
    """(manifest, prefix, key check, offset of the first chunk); raises the clear error for each problem."""
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data[: len(MAGIC)]) and data:
            raise BundleTruncated(f"{source} ends early (after {len(data)} bytes): copy it again.")
        raise NotABundle(f"{source} is not a localtune bundle.")
    if not data.startswith(MAGIC):
        if sum(a != b for a, b in zip(data[:len(MAGIC)], MAGIC, strict=True)) == 1:
            raise BundleDamaged(f"{source} is damaged: its first bytes were changed.")
        raise NotABundle(f"{source} is not a localtune bundle.")
    start = len(MAGIC) + 8
    if len(data) < start:
        raise BundleTruncated(f"{source} ends early (after {len(data)} bytes): copy it again.")
    n, complement = struct.unpack(">II", data[len(MAGIC):start])
    if n ^ complement != 0xFFFFFFFF or n > _MAX_MANIFEST:
        raise BundleDamaged(f"{source} is damaged: its header is not readable.")
    check_len = 12 + len(_CHECK_LABEL) + TAG
    body = start + n + check_len + 32
    if len(data) < body:
        raise BundleTruncated(f"{source} ends early (after {len(data)} bytes, in its header): copy it again.")
    prefix = data[:start + n]
    check = data[start + n:start + n + check_len]
    if hashlib.sha256(prefix + check).digest() != data[start + n + check_len:body]:
        raise BundleDamaged(f"{source} is damaged: its header was changed after it was written.")
    try:
        manifest = json.loads(prefix[start:].decode("utf-8"))
        _validate(manifest)
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleDamaged(f"{source} is damaged or from a newer localtune: {exc}") from None
    return manifest, prefix, check, body


def _validate(manifest: dict) -> None:
    if manifest.get("format") != FORMAT:
        raise ValueError(f"bundle format {manifest.get('format')!r}, this localtune reads {FORMAT}")
    if manifest.get("aead") != AEAD_NAME or manifest["kdf"].get("kdf") != "argon2id":
        raise ValueError("an unknown cipher or key derivation")
    for name, (lo, hi) in _KDF_LIMITS.items():
        if not isinstance(manifest["kdf"][name], int) or not lo <= manifest["kdf"][name] <= hi:
            raise ValueError(f"key derivation {name} out of bounds")
    if len(base64.b64decode(manifest["kdf"]["salt"])) < 16:
        raise ValueError("a short salt")
    size, chunks, unit = manifest["payload_bytes"], manifest["chunks"], manifest["chunk_size"]
    if not (isinstance(size, int) and isinstance(chunks, int) and isinstance(unit, int)) or unit < 1 \
            or size < 0 or chunks != max(1, -(-size // unit)):
        raise ValueError("inconsistent sizes")


def derive_key(data: bytes, passphrase: str, *, source: str = "the bundle") -> bytes:
    """The bundle's key from `passphrase`, checked: BundleWrongPassphrase when it is not the right one."""
    from cryptography.exceptions import InvalidTag

    manifest, prefix, check, _ = _parse(data, source)
    key = _derive(passphrase, manifest["kdf"])
    try:
        _aead(key).decrypt(check[:12], check[12:], prefix)
    except InvalidTag:
        raise BundleWrongPassphrase(f"That passphrase does not open {source}.") from None
    return key


def open_bytes(data: bytes, passphrase: str | None = None, *, key: bytes | None = None,
               source: str = "the bundle") -> Opened:
    """Check and decrypt a bundle held in memory, with its passphrase or its key (`derive_key`);
    BundleWrongPassphrase / BundleDamaged / BundleTruncated say what is wrong."""
    from cryptography.exceptions import InvalidTag

    manifest, prefix, check, body = _parse(data, source)
    size, unit, n_chunks = manifest["payload_bytes"], manifest["chunk_size"], manifest["chunks"]
    expected = body + size + n_chunks * TAG
    if len(data) < expected:
        raise BundleTruncated(f"{source} ends early ({len(data)} of {expected} bytes): copy it again.")
    if len(data) > expected:
        raise BundleDamaged(f"{source} is damaged: {len(data) - expected} bytes were added after its end.")
    if key is None:
        key = derive_key(data, passphrase, source=source)
    aead = _aead(key)
    try:
        aead.decrypt(check[:12], check[12:], prefix)
    except InvalidTag:
        raise BundleWrongPassphrase(f"That key does not open {source}.") from None
    digest = data[body - 32:body]
    out = bytearray()
    pos = body
    for i in range(n_chunks):
        length = min(unit, size - i * unit) + TAG
        try:
            out += aead.decrypt(_nonce(i, i == n_chunks - 1), data[pos:pos + length], digest)
        except InvalidTag:
            raise BundleDamaged(f"{source} is damaged: part {i + 1} of {n_chunks} was changed after it was "
                                "written (the passphrase is right).") from None
        pos += length
    return Opened(manifest, bytes(out))


def read_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist.") from None
    except OSError as exc:
        raise InvalidInputError(f"Could not read {path}: {exc.strerror or exc}.") from None


def read_file(path: str | os.PathLike, passphrase: str | Callable[[dict], str]) -> Opened:
    """Open a bundle file. `passphrase` may be a function of the manifest, asked only once the file is known
    to be an intact bundle (so a wrong path or a damaged file is said before a passphrase is asked)."""
    data = read_bytes(path)
    source = Path(path).name
    if callable(passphrase):
        passphrase = passphrase(_parse(data, source)[0])
    return open_bytes(data, passphrase, source=source)


def write(path: str | os.PathLike, data: bytes, *, paths=None, overwrite: bool = False, what: str = "bundle") -> Path:
    """Write a sealed bundle under `path` on the laptop, complete or not at all (a hidden partial file renamed
    in the same folder), 0600; never over the vault's files or over a file that is not a bundle."""
    from ..vault.files import check_destination, write_file

    target = check_destination(path, what=what, ours=is_bundle, paths=paths, overwrite=overwrite)
    write_file(target, lambda out: out.write(data), paths=paths)
    return target


def write_plain(path: str | os.PathLike, data: bytes) -> Path:
    """The same without the vault's rules (the training server has no vault): a hidden temporary file in the
    target's folder, fsynced and renamed over it; 0600. Refuses to replace anything that is not a bundle."""
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if path.is_dir() or (path.exists() and not path.is_file()):
        raise InvalidInputError(f"{path} is not a file name; nothing was written.")
    if path.is_file():
        with open(path, "rb") as f:
            if not is_bundle(f.read(len(MAGIC))):
                raise InvalidInputError(f"{path} exists and is not a localtune bundle; nothing was written.")
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, path)
    except OSError as exc:
        raise InvalidInputError(f"Could not write {path}: {exc.strerror or exc}. Nothing was written.") from exc
    finally:
        if staged.exists():
            staged.unlink()
    return path


# --- the payload: a JSON document and named binary parts ---------------------------------------------------


def pack(document: dict, parts: dict[str, bytes] | None = None) -> bytes:
    """One payload: u32 length + JSON (with each part's size) + the parts' bytes, in order."""
    parts = parts or {}
    doc = {**document, "_parts": [[name, len(blob)] for name, blob in parts.items()]}
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"".join([struct.pack(">I", len(text)), text, *parts.values()])


def unpack(payload: bytes) -> tuple[dict, dict[str, bytes]]:
    (n,) = struct.unpack(">I", payload[:4])
    doc = json.loads(payload[4:4 + n].decode("utf-8"))
    parts, pos = {}, 4 + n
    for name, size in doc.pop("_parts", []):
        parts[name] = payload[pos:pos + size]
        pos += size
    return doc, parts
