"""Passphrase -> raw 256-bit SQLCipher key (Argon2id), and the key-slot header stored beside the vault.

The header is public: KDF parameters, a random salt and a key-check value per slot. The check lets
localtune tell a wrong passphrase (check differs: nothing is opened or written) from a damaged vault
(check matches, pages fail). A header holds two slots only while a passphrase change or a restore is in
flight; whichever slot the database actually opens with wins, so an interruption never locks a user out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import VaultCorruptError, WrongPassphraseError

HEADER_FORMAT = 1
# RFC 9106, second recommended option (memory-constrained): Argon2id, m = 64 MiB, t = 3, p = 4.
DEFAULT_PARAMS = {"memory_kib": 64 * 1024, "time_cost": 3, "parallelism": 4}
MIN_MEMORY_KIB, MIN_TIME_COST = 64 * 1024, 3
_CHECK_LABEL = b"localtune key check v1"


@dataclass(frozen=True)
class KeySlot:
    salt: str  # base64, 16 random bytes
    check: str  # hex HMAC-SHA256(key, label)
    memory_kib: int
    time_cost: int
    parallelism: int
    kdf: str = "argon2id"

    def derive(self, passphrase: str) -> bytes:
        from argon2.low_level import Type, hash_secret_raw

        return hash_secret_raw(
            passphrase.encode("utf-8"),
            base64.b64decode(self.salt),
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=32,
            type=Type.ID,
        )

    def matches(self, key: bytes) -> bool:
        return hmac.compare_digest(_check_value(key), self.check)


def _check_value(key: bytes) -> str:
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()


def new_slot(passphrase: str, params: dict | None = None) -> tuple[KeySlot, bytes]:
    """A fresh slot with a new random salt, and the key it derives."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    salt = base64.b64encode(secrets.token_bytes(16)).decode("ascii")
    probe = KeySlot(salt=salt, check="", **params)
    key = probe.derive(passphrase)
    return KeySlot(salt=salt, check=_check_value(key), **params), key


def sql_key(key: bytes) -> str:
    """The raw-key literal for PRAGMA key/rekey; built from bytes only, so no passphrase reaches SQL."""
    if len(key) != 32:
        raise ValueError("a vault key is 32 bytes")
    return f"\"x'{key.hex()}'\""


def dumps(slots: list[KeySlot]) -> bytes:
    return json.dumps({"format": HEADER_FORMAT, "slots": [asdict(s) for s in slots]}, indent=1).encode()


def loads(data: bytes) -> list[KeySlot]:
    try:
        doc = json.loads(data)
        if doc.get("format") != HEADER_FORMAT:
            raise ValueError(f"unknown header format {doc.get('format')!r}")
        slots = [KeySlot(**slot) for slot in doc["slots"]]
        if not slots:
            raise ValueError("no key slots")
    except (ValueError, TypeError, KeyError) as exc:
        raise VaultCorruptError(
            "The vault's key file (vault.kdf.json) is damaged, so the vault cannot be opened. "
            "Restore it from a backup."
        ) from exc
    return slots


def unlock_slots(slots: list[KeySlot], passphrase: str) -> list[tuple[KeySlot, bytes]]:
    """Every slot this passphrase opens (usually one); raises WrongPassphraseError when none does."""
    found = []
    for slot in slots:
        if slot.memory_kib < MIN_MEMORY_KIB or slot.time_cost < MIN_TIME_COST:
            raise VaultCorruptError("The vault's key file asks for key derivation weaker than localtune allows.")
        key = slot.derive(passphrase)
        if slot.matches(key):
            found.append((slot, key))
    if not found:
        raise WrongPassphraseError("Wrong passphrase. Nothing was changed; try again.")
    return found


def write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the folder: the file is the old one or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
