"""The vault: one SQLCipher 4 database per user, keyed with a raw Argon2id key.

Opening checks, in order: the vault exists; no other localtune process holds it; the passphrase matches a
key slot (otherwise nothing is opened or written); every page authenticates; the schema is one this version
understands. Replacing the database (passphrase change, restore) writes a complete new file beside it and
renames it into place, with the key-slot header bracketing the rename, so an interruption at any moment
leaves a vault that opens with exactly one of the two passphrases.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import (
    DiskFullError,
    NotFoundError,
    NoVaultError,
    VaultCorruptError,
    VaultError,
    VaultExistsError,
    VaultInUseError,
    VaultLockedError,
    VaultTooNewError,
    WrongPassphraseError,
)
from ..paths import Paths
from . import kdf
from .migrations import MIGRATIONS, SCHEMA_VERSION

BLOB_CHUNK = 1 << 20  # 1 MiB: large objects stream through memory one chunk at a time
BACKUP_MAGIC = b"LOCALTUNE-BACKUP 1\n"
_SQLITE_PLAIN_MAGIC = b"SQLite format 3\x00"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class BlobInfo:
    name: str
    kind: str
    size: int
    sha256: str
    meta: dict
    created_at: str


def _dbapi():
    from sqlcipher3 import dbapi2

    return dbapi2


def _connect(path: Path, key: bytes):
    """Open `path` with `key` and check that it really is an authentic SQLCipher 4 database."""
    db = _dbapi()
    conn = db.connect(str(path), isolation_level=None, check_same_thread=True)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to report, not stderr noise
        conn.execute(f"PRAGMA key = {kdf.sql_key(key)}")
        conn.execute("PRAGMA cipher_compatibility = 4")
        version = conn.execute("PRAGMA cipher_version").fetchone()
        if not version or not version[0]:  # plain SQLite ignores PRAGMA key: refuse to run unencrypted
            raise VaultError("This build of SQLite has no encryption; localtune cannot run safely.")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA temp_store = MEMORY")
        if conn.execute("PRAGMA temp_store").fetchone()[0] != 2:
            raise VaultError("SQLite refused to keep temporary data in memory; refusing to continue.")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
    except BaseException:
        conn.close()
        raise
    return conn


def _integrity_problems(conn, *, full: bool = True) -> list[str]:
    """Every page's HMAC (cipher_integrity_check); with `full`, also the b-tree structure (quick_check).

    Unlocking uses the HMAC pass plus a walk of each table (fast); quick_check reads every page again
    and costs seconds on a large journal, so it runs on request (`Vault.integrity_problems`).
    """
    try:
        problems = [row[0] for row in conn.execute("PRAGMA cipher_integrity_check")]
        if full:
            quick = [row[0] for row in conn.execute("PRAGMA quick_check")]
            problems += [] if quick == ["ok"] else quick
        else:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
            for table in tables:
                conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    except _dbapi().DatabaseError as exc:
        return [str(exc)]
    return problems


def _disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL ("database or disk is full"); sqlite3 exposes the code only on Python 3.11+."""
    return getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "is full" in str(exc)


def _corrupt(detail: str = "") -> VaultCorruptError:
    msg = (
        "The passphrase is right, but the vault file is damaged and cannot be read safely. "
        "It was left exactly as it is; restore from a backup or keep the file for recovery."
    )
    return VaultCorruptError(msg + (f" ({detail})" if detail else ""))


class Vault:
    """An unlocked vault. Create with `Vault.create` or `Vault.open`; `lock()` closes it and drops the key."""

    def __init__(self, paths: Paths, conn, key: bytes, slot: kdf.KeySlot, file_lock):
        self.paths = paths
        self._conn = conn
        self._key = key
        self._slot = slot
        self._file_lock = file_lock

    # -- opening -----------------------------------------------------------------------------------------

    @staticmethod
    def exists(paths: Paths) -> bool:
        return paths.vault.exists() or paths.vault_header.exists()

    @classmethod
    def create(cls, paths: Paths, passphrase: str, *, kdf_params: dict | None = None) -> Vault:
        if not passphrase:
            raise WrongPassphraseError("A passphrase cannot be empty.")
        paths.ensure()
        file_lock = _acquire(paths)
        try:
            if cls.exists(paths):
                raise VaultExistsError(f"A vault already exists in {paths.data}. Open it instead.")
            slot, key = kdf.new_slot(passphrase, kdf_params)
            conn = _connect(paths.vault, key)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                _migrate(conn)
            except BaseException:
                conn.close()
                paths.vault.unlink(missing_ok=True)
                raise
            kdf.write_atomic(paths.vault_header, kdf.dumps([slot]))
            os.chmod(paths.vault, 0o600)
            vault = cls(paths, conn, key, slot, file_lock)
            vault._configure()
            return vault
        except BaseException:
            file_lock.release()
            raise

    @classmethod
    def open(cls, paths: Paths, passphrase: str) -> Vault:
        if not paths.vault.exists() and not paths.vault_header.exists():
            raise NoVaultError(f"There is no vault in {paths.data} yet. Create one first (localtune-cli init).")
        if not paths.vault.exists() or not paths.vault_header.exists():
            missing = paths.vault if not paths.vault.exists() else paths.vault_header
            raise VaultCorruptError(f"The vault is incomplete: {missing.name} is missing. Restore from a backup.")
        file_lock = _acquire(paths)
        try:
            return cls._open_locked(paths, passphrase, file_lock)
        except BaseException:
            file_lock.release()
            raise

    @classmethod
    def _open_locked(cls, paths: Paths, passphrase: str, file_lock) -> Vault:
        slots = kdf.loads(paths.vault_header.read_bytes())
        matched = kdf.unlock_slots(slots, passphrase)  # wrong passphrase: raised before any file is opened
        _check_file_shape(paths.vault)
        _discard(paths.vault.with_name(paths.vault.name + ".new"))  # leftover of an interrupted replace
        slot, key = matched[0]
        try:
            conn = _connect(paths.vault, key)
        except _dbapi().DatabaseError as exc:
            if len(slots) > 1:
                raise WrongPassphraseError(
                    "A passphrase change or restore was interrupted before it finished; this vault still "
                    "opens with your other passphrase. Nothing was changed."
                ) from exc
            raise _corrupt(str(exc)) from exc
        try:
            problems = _integrity_problems(conn, full=False)
            if problems:
                raise _corrupt("; ".join(problems[:3]))
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise VaultTooNewError(
                    f"This vault was written by a newer localtune (schema {version}; this version knows up to "
                    f"{SCHEMA_VERSION}). Update localtune to open it; the vault was not changed."
                )
            if version == 0:
                raise _corrupt("no journal schema")
            conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        if len(slots) > 1:  # finish what the interrupted change decided: this slot is the live one
            kdf.write_atomic(paths.vault_header, kdf.dumps([slot]))
        vault = cls(paths, conn, key, slot, file_lock)
        vault._configure()
        return vault

    def _configure(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA synchronous = FULL")  # NORMAL can lose acknowledged commits on power loss
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2

    # -- use ---------------------------------------------------------------------------------------------

    @property
    def conn(self):
        if self._conn is None:
            raise VaultLockedError("The vault is locked. Unlock it to continue.")
        return self._conn

    @property
    def is_locked(self) -> bool:
        return self._conn is None

    @contextlib.contextmanager
    def transaction(self) -> Iterator:
        """One atomic write: all of it is committed (and fsynced) or none of it."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # a failed COMMIT may already have rolled back
                    conn.execute("ROLLBACK")
                raise
        except _dbapi().DatabaseError as exc:
            if _disk_full(exc):
                raise DiskFullError("The disk is full, so this change was not saved. Free some space and try "
                                    "again; everything saved before is intact.") from exc
            raise

    def integrity_problems(self) -> list[str]:
        return _integrity_problems(self.conn)

    def lock(self) -> None:
        """Close the database and drop the key; every later use raises VaultLockedError."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None
        self._key = b""
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    close = lock

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc) -> None:
        self.lock()

    # -- settings ----------------------------------------------------------------------------------------

    def get_setting(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # -- blobs -------------------------------------------------------------------------------------------

    def put_blob(self, name: str, kind: str, data: bytes | Iterable[bytes], meta: dict | None = None) -> BlobInfo:
        """Store (or replace) a large object, streamed in chunks inside one transaction."""
        chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
        digest, size, created = hashlib.sha256(), 0, now_iso()
        with self.transaction() as conn:
            conn.execute("DELETE FROM blobs WHERE name = ?", (name,))
            blob_id = conn.execute(
                "INSERT INTO blobs(name, kind, size, sha256, meta, created_at) VALUES (?, ?, 0, '', ?, ?)",
                (name, kind, json.dumps(meta or {}), created),
            ).lastrowid
            seq = 0
            for chunk in chunks:
                view = memoryview(chunk)
                for start in range(0, len(view), BLOB_CHUNK):
                    part = view[start : start + BLOB_CHUNK]
                    digest.update(part)
                    size += len(part)
                    conn.execute("INSERT INTO blob_chunks(blob_id, seq, data) VALUES (?, ?, ?)", (blob_id, seq, part))
                    seq += 1
            conn.execute("UPDATE blobs SET size = ?, sha256 = ? WHERE id = ?", (size, digest.hexdigest(), blob_id))
        return BlobInfo(name, kind, size, digest.hexdigest(), meta or {}, created)

    def iter_blob(self, name: str) -> Iterator[bytes]:
        info = self.blob_info(name)
        row_id = self.conn.execute("SELECT id FROM blobs WHERE name = ?", (name,)).fetchone()[0]
        digest, seq = hashlib.sha256(), 0
        while True:
            row = self.conn.execute(
                "SELECT data FROM blob_chunks WHERE blob_id = ? AND seq = ?", (row_id, seq)
            ).fetchone()
            if row is None:
                break
            digest.update(row[0])
            yield bytes(row[0])
            seq += 1
        if digest.hexdigest() != info.sha256:
            raise _corrupt(f"stored object {name!r} does not match its checksum")

    def read_blob(self, name: str) -> bytes:
        info = self.blob_info(name)
        out = bytearray(info.size)  # filled in place: the object is in memory once, not twice
        pos = 0
        for chunk in self.iter_blob(name):
            out[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        return bytes(out)

    def blob_info(self, name: str) -> BlobInfo:
        row = self.conn.execute(
            "SELECT name, kind, size, sha256, meta, created_at FROM blobs WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"Nothing named {name!r} is stored in the vault.")
        return BlobInfo(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def list_blobs(self, kind: str | None = None, prefix: str = "") -> list[BlobInfo]:
        rows = self.conn.execute(
            "SELECT name, kind, size, sha256, meta, created_at FROM blobs "
            "WHERE (?1 IS NULL OR kind = ?1) AND substr(name, 1, length(?2)) = ?2 ORDER BY created_at, id",
            (kind, prefix),
        ).fetchall()
        return [BlobInfo(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def rename_blob(self, old: str, new: str) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM blobs WHERE name = ?", (new,)).fetchone():
                raise VaultError(f"Something named {new!r} already exists in the vault.")
            if conn.execute("UPDATE blobs SET name = ? WHERE name = ?", (new, old)).rowcount == 0:
                raise NotFoundError(f"Nothing named {old!r} is stored in the vault.")

    def delete_blob(self, name: str) -> None:
        with self.transaction() as conn:
            if conn.execute("DELETE FROM blobs WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"Nothing named {name!r} is stored in the vault.")

    # -- passphrase, backup, restore ----------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str, *, kdf_params: dict | None = None) -> None:
        """Re-encrypt everything under a key from the new passphrase and a new salt."""
        if not new_passphrase:
            raise WrongPassphraseError("A passphrase cannot be empty.")
        slot, key = kdf.new_slot(new_passphrase, kdf_params)
        staged = self.paths.vault.with_name(self.paths.vault.name + ".new")
        _export(self.conn, staged, key)
        self._replace_database(staged, slot, key)

    def backup(self, dest: str | os.PathLike, passphrase: str) -> Path:
        """Write one encrypted file holding the whole vault, under its own passphrase.

        The file appears complete under its final name, or not at all.
        """
        if not passphrase:
            raise WrongPassphraseError("A backup passphrase cannot be empty.")
        dest = Path(dest)
        slot, key = kdf.new_slot(passphrase)
        staged_db = dest.with_name(f".{dest.name}.db.partial")
        staged = dest.with_name(f".{dest.name}.partial")
        try:
            _export(self.conn, staged_db, key)
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out, open(staged_db, "rb") as src:
                out.write(BACKUP_MAGIC)
                out.write(kdf.dumps([slot]).replace(b"\n", b"") + b"\n")
                shutil.copyfileobj(src, out, BLOB_CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(staged, dest)
            kdf.fsync_dir(dest.parent)
        except OSError as exc:
            raise VaultError(f"Could not write the backup to {dest}: {exc.strerror or exc}. Nothing was lost.") from exc
        except _dbapi().DatabaseError as exc:  # sqlcipher_export writes the copy through SQLite
            if not _disk_full(exc):
                raise
            raise DiskFullError(f"Could not write the backup to {dest}: the disk is full. Nothing was lost.") from exc
        finally:
            _discard(staged_db)
            _discard(staged)
        return dest

    @classmethod
    def restore(
        cls, paths: Paths, src: str | os.PathLike, backup_passphrase: str, current_passphrase: str | None = None
    ) -> Vault:
        """Replace the live vault with a backup, after verifying the backup completely.

        With a live vault, `current_passphrase` is required and stays the passphrase of the restored vault;
        without one, the backup's passphrase becomes the vault's. Returns the restored, unlocked vault.
        """
        src = Path(src)
        paths.ensure()
        live = None
        if cls.exists(paths):
            if current_passphrase is None:
                raise WrongPassphraseError("A vault exists here; its current passphrase is needed to replace it.")
            live = cls.open(paths, current_passphrase)
        else:
            file_lock = _acquire(paths)
        verified = paths.data / ".restore-check.db"
        try:
            slot, key = _unpack_backup(src, backup_passphrase, verified)
            try:
                conn = _connect(verified, key)
            except _dbapi().DatabaseError as exc:
                raise VaultCorruptError(f"The backup {src.name} is damaged; the live vault was not touched.") from exc
            try:
                problems = _integrity_problems(conn)
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if problems or version == 0:
                    raise VaultCorruptError(f"The backup {src.name} is damaged; the live vault was not touched.")
                if version > SCHEMA_VERSION:
                    raise VaultTooNewError(f"The backup {src.name} was made by a newer localtune; update to restore it.")
                if live is not None:
                    staged = paths.vault.with_name(paths.vault.name + ".new")
                    _export(conn, staged, live._key)
                else:
                    staged = verified
            finally:
                conn.close()
            if live is not None:
                live._replace_database(staged, live._slot, live._key)
                return live
            os.replace(staged, paths.vault)
            kdf.write_atomic(paths.vault_header, kdf.dumps([slot]))
            file_lock.release()
            return cls.open(paths, backup_passphrase)
        except BaseException:
            if live is not None:
                live.lock()
            else:
                file_lock.release()
            raise
        finally:
            _discard(verified)

    def _replace_database(self, staged: Path, slot: kdf.KeySlot, key: bytes) -> None:
        """Swap in a complete, fsynced database file; the header names both keys across the rename."""
        conn = self.conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        self._conn = None
        slots = [self._slot] if slot == self._slot else [self._slot, slot]
        kdf.write_atomic(self.paths.vault_header, kdf.dumps(slots))
        for suffix in ("-wal", "-shm"):  # the old file's WAL must never be applied to the new one
            _discard(self.paths.vault.with_name(self.paths.vault.name + suffix))
        os.replace(staged, self.paths.vault)
        kdf.fsync_dir(self.paths.vault.parent)
        kdf.write_atomic(self.paths.vault_header, kdf.dumps([slot]))
        self._conn, self._key, self._slot = _connect(self.paths.vault, key), key, slot
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._configure()


def _acquire(paths: Paths):
    from filelock import FileLock, Timeout

    paths.data.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = FileLock(str(paths.lock_file), timeout=0, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        raise VaultInUseError(
            "The vault is open in another localtune window or command. Close it there first."
        ) from None
    return lock


def _check_file_shape(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(16)
    size = path.stat().st_size
    if head == _SQLITE_PLAIN_MAGIC:
        raise VaultCorruptError("vault.db is an unencrypted SQLite file, not a localtune vault. It was not opened.")
    if size == 0 or size % 512:
        raise _corrupt(f"the file is {size} bytes long, which a complete vault never is")


def _export(conn, dest: Path, key: bytes) -> None:
    """Copy the whole database into a new encrypted file and fsync it."""
    _discard(dest)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"ATTACH DATABASE ? AS export_target KEY {kdf.sql_key(key)}", (str(dest),))
    try:
        conn.execute("PRAGMA export_target.cipher_compatibility = 4")
        conn.execute("SELECT sqlcipher_export('export_target')").fetchall()
        conn.execute(f"PRAGMA export_target.user_version = {int(version)}")
    finally:
        conn.execute("DETACH DATABASE export_target")
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(dest, 0o600)


def _unpack_backup(src: Path, passphrase: str, dest: Path) -> tuple[kdf.KeySlot, bytes]:
    try:
        with open(src, "rb") as f:
            if f.read(len(BACKUP_MAGIC)) != BACKUP_MAGIC:
                raise VaultCorruptError(f"{src.name} is not a localtune backup (or it is damaged).")
            slots = kdf.loads(f.readline())
            slot, key = kdf.unlock_slots(slots, passphrase)[0]
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(f, out, BLOB_CHUNK)
    except FileNotFoundError:
        raise NotFoundError(f"There is no backup file at {src}.") from None
    except WrongPassphraseError:
        raise WrongPassphraseError("Wrong passphrase for this backup. Nothing was changed.") from None
    return slot, key


def _migrate(conn) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
