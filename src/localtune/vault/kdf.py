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

from ..errors import InvalidInputError, VaultCorruptError, WrongPassphraseError

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
            passphrase_bytes(passphrase),
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


VAULT_HEADER = "The vault's key file (vault.kdf.json)"
_FIELDS = {"salt", "check", "memory_kib", "time_cost", "parallelism", "kdf"}


def loads(data: bytes, *, source: str = VAULT_HEADER) -> list[KeySlot]:
    """The key slots of a header, every field checked for type and range before anything is derived.

    A tampered or damaged header must not make unlock hang for hours (time cost 10^9) or exhaust memory
    (16 GiB), so each KDF parameter is bounded (`PARAM_BOUNDS`), and the error names the one out of range.
    """
    advice = "Restore from a backup." if source == VAULT_HEADER else "It cannot be opened safely."
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise VaultCorruptError(f"{source} is damaged (not readable JSON), so it cannot be opened. {advice}") from exc
    problem = _header_problem(doc)
    if problem:
        raise VaultCorruptError(f"{source} is damaged or was tampered with: {problem}. Nothing was derived or "
                                f"changed. {advice}")
    return [KeySlot(**slot) for slot in doc["slots"]]


# Bounds on what a header may ask for. The lower ones are the defaults (RFC 9106, second recommendation); the
# upper ones keep one derivation within seconds and 1 GiB of memory on any machine localtune runs on.
PARAM_BOUNDS = {"memory_kib": (MIN_MEMORY_KIB, 1024 * 1024), "time_cost": (MIN_TIME_COST, 10), "parallelism": (1, 16)}
MAX_SLOTS = 2  # two only while a passphrase change or restore is in flight


def _header_problem(doc) -> str:
    if not isinstance(doc, dict):
        return "it is not a JSON object"
    if doc.get("format") != HEADER_FORMAT or isinstance(doc.get("format"), bool):
        return f"unknown header format {doc.get('format')!r}"
    slots = doc.get("slots")
    if not isinstance(slots, list) or not 1 <= len(slots) <= MAX_SLOTS:
        return f"'slots' must be a list of 1 to {MAX_SLOTS} key slots"
    for number, slot in enumerate(slots, 1):
        where = f"key slot {number}"
        if not isinstance(slot, dict):
            return f"{where} is not a JSON object"
        if set(slot) != _FIELDS:
            odd = sorted(set(slot) ^ _FIELDS)
            return f"{where} has missing or unknown fields ({', '.join(map(str, odd))})"
        if slot["kdf"] != "argon2id":
            return f"{where} names the key derivation {str(slot['kdf'])[:40]!r}; localtune uses only 'argon2id'"
        for name, (low, high) in PARAM_BOUNDS.items():
            value = slot[name]
            if not isinstance(value, int) or isinstance(value, bool):
                return f"{where}: {name} must be a whole number (got {type(value).__name__})"
            if not low <= value <= high:
                shown = str(value) if len(str(value)) <= 30 else str(value)[:27] + "..."
                return f"{where}: {name} = {shown} is outside what localtune accepts ({low} to {high})"
        salt = slot["salt"]
        try:
            raw = base64.b64decode(salt, validate=True) if isinstance(salt, str) else None
        except ValueError:
            raw = None
        if raw is None or not 16 <= len(raw) <= 64:
            return f"{where}: the salt must be 16 to 64 bytes in base64"
        check = slot["check"]
        if not isinstance(check, str) or len(check) != 64 or any(c not in "0123456789abcdef" for c in check):
            return f"{where}: the key-check value must be 64 hexadecimal digits"
    return ""


def passphrase_bytes(passphrase: str) -> bytes:
    """The passphrase as UTF-8; one holding bytes that are not text is refused with a clear message."""
    if not isinstance(passphrase, str):
        raise InvalidInputError("A passphrase must be text.")
    try:
        return passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            "The passphrase holds bytes that are not UTF-8 text (check the terminal's or script's encoding). "
            "Nothing was changed."
        ) from None


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
