"""The vault: one SQLCipher 4 database per user, keyed with a raw Argon2id key.

Opening checks, in order: the vault exists; no other localtune process holds it; the passphrase matches a
key slot (otherwise nothing is opened or written); every page authenticates; the schema is one this version
understands. Replacing the database (passphrase change, restore) writes a complete new file beside it and
renames it into place, with the key-slot header bracketing the rename, so an interruption at any moment
leaves a vault that opens with exactly one of the two passphrases.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import (
    DamagedVaultError,
    DiskFullError,
    InvalidInputError,
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
from . import files, kdf
from .migrations import MIGRATIONS, SCHEMA_VERSION

BLOB_CHUNK = 1 << 20  # 1 MiB: large objects stream through memory one chunk at a time
BACKUP_MAGIC = b"LOCALTUNE-BACKUP 1\n"
_SQLITE_PLAIN_MAGIC = b"SQLite format 3\x00"
_HEADER_LINE_MAX = 1 << 16  # a backup's key header is one short JSON line


def is_backup(head: bytes) -> bool:
    """Whether a file's first bytes are those of a localtune backup."""
    return head.startswith(BACKUP_MAGIC)


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
        self.set_aside: Path | None = None  # after a restore over a damaged vault: where its files were kept
        self._conn = conn
        self._key = key
        self._slot = slot
        self._file_lock = file_lock
        self._connections = 1  # a rekey or restore swaps the connection in; revisions never repeat across them
        # Data derived from the journal for this open session (the built training set): dropped on lock.
        self.session_cache: dict = {}

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
            _set_aside(paths)  # a stale -wal or -shm of a vault that is gone must never be applied to the new one
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
            files.clean_leftovers(paths)
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
        # Every slot this passphrase matches is tried: a change to the same passphrase interrupted between the
        # rename and the header write leaves two matching slots, and only one of them opens the database.
        conn = failure = None
        for candidate, candidate_key in matched:
            try:
                conn = _connect(paths.vault, candidate_key)
            except _dbapi().DatabaseError as exc:
                failure = exc
                continue
            slot, key = candidate, candidate_key
            break
        if conn is None:
            if len(slots) > len(matched):
                raise WrongPassphraseError(
                    "A passphrase change or restore was interrupted before it finished; this vault still "
                    "opens with your other passphrase. Nothing was changed."
                ) from failure
            raise _corrupt(str(failure)) from failure
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
        files.clean_leftovers(paths)
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

    @property
    def revision(self) -> tuple[int, int]:
        """Changes with every write to this vault (rows written on this connection, and connection swaps)."""
        return self._connections, self.conn.total_changes

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
        self.session_cache.clear()
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
        if self.opens_with(new_passphrase):  # nothing a user could see would change; only the risk would
            raise InvalidInputError("The new passphrase is the same as the current one; nothing was changed.")
        slot, key = kdf.new_slot(new_passphrase, kdf_params)
        staged = self.paths.vault.with_name(self.paths.vault.name + ".new")
        _export(self.conn, staged, key)
        self._replace_database(staged, slot, key)

    def opens_with(self, passphrase: str) -> bool:
        """Whether `passphrase` is this vault's current one (one key derivation)."""
        return self._slot.matches(self._slot.derive(passphrase))

    def backup(self, dest: str | os.PathLike, passphrase: str, *, overwrite: bool = False) -> Path:
        """Write one encrypted file holding the whole vault, under its own passphrase.

        The file appears complete under its final name, or not at all. The destination is checked first
        (`files.check_destination`): never the vault's own folder, never anything but a new regular file, or
        - with `overwrite`, which the user confirmed - an earlier localtune backup.
        """
        if not passphrase:
            raise WrongPassphraseError("A backup passphrase cannot be empty.")
        dest = files.check_destination(dest, what="backup", ours=is_backup, paths=self.paths, overwrite=overwrite)
        slot, key = kdf.new_slot(passphrase)
        staged_db = self.paths.data / ".backup-staging.db"  # encrypted under the backup key; never a stray copy

        def write(out) -> None:
            out.write(BACKUP_MAGIC)
            out.write(kdf.dumps([slot]).replace(b"\n", b"") + b"\n")
            with open(staged_db, "rb") as src:
                shutil.copyfileobj(src, out, BLOB_CHUNK)

        try:
            _export(self.conn, staged_db, key)
            files.write_file(dest, write, paths=self.paths)
        except OSError as exc:
            raise VaultError(f"Could not write the backup to {dest}: {exc.strerror or exc}. Nothing was lost.") from exc
        except DiskFullError as exc:
            raise DiskFullError(f"Could not write the backup to {dest}: the disk is full. Nothing was lost.") from exc
        except _dbapi().DatabaseError as exc:  # sqlcipher_export writes the copy through SQLite
            if not _disk_full(exc):
                raise
            raise DiskFullError(f"Could not write the backup to {dest}: the disk is full. Nothing was lost.") from exc
        finally:
            for side in ("", "-journal", "-wal", "-shm"):
                _discard(staged_db.with_name(staged_db.name + side))
        return dest

    @staticmethod
    def restore_needs_passphrase(paths: Paths) -> bool:
        """Whether a restore here must be confirmed with the live vault's passphrase: a vault that could open."""
        if not paths.vault.exists():
            return False
        try:
            kdf.loads(paths.vault_header.read_bytes())
        except (OSError, VaultCorruptError):
            return False
        return True

    @classmethod
    def restore(
        cls, paths: Paths, src: str | os.PathLike, backup_passphrase: str, current_passphrase: str | None = None,
        *, replace_damaged: bool = False,
    ) -> Vault:
        """Replace the live vault with a backup, after verifying the backup completely.

        With a live vault that opens, `current_passphrase` is required and stays the passphrase of the restored
        vault. Without a vault - or with a damaged or incomplete one, once the user confirmed (`replace_damaged`)
        - the backup's passphrase becomes the vault's, and whatever the old vault left (its files, a stale
        -wal or -shm) is moved into a `damaged-<time>` folder beside it, never deleted and never applied to
        the restored file. Returns the restored, unlocked vault; `set_aside` names that folder, if any.
        """
        src = Path(src)
        paths.ensure()
        live = cls._live_for_restore(paths, current_passphrase, replace_damaged) if cls.exists(paths) else None
        file_lock = _acquire(paths) if live is None else None
        verified = paths.data / ".restore-check.db"
        try:
            for side in ("", "-journal", "-wal", "-shm"):
                _discard(verified.with_name(verified.name + side))
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
            for side in ("-journal", "-wal", "-shm"):  # the check's own side files are not part of the backup
                _discard(verified.with_name(verified.name + side))
            if live is not None:
                live._replace_database(staged, live._slot, live._key)
                files.clean_leftovers(paths)
                live.set_aside = None
                return live
            aside = _set_aside(paths)
            os.replace(staged, paths.vault)
            kdf.fsync_dir(paths.data)
            kdf.write_atomic(paths.vault_header, kdf.dumps([slot]))
            file_lock.release()
            restored = cls.open(paths, backup_passphrase)
            restored.set_aside = aside
            return restored
        except BaseException:
            if live is not None:
                live.lock()
            elif file_lock is not None:
                file_lock.release()
            raise
        finally:
            _discard(verified)

    @classmethod
    def _live_for_restore(cls, paths: Paths, current: str | None, replace_damaged: bool) -> Vault | None:
        """The live vault, unlocked for a restore; None when it is damaged and the user agreed to replace it."""
        why = ""
        if cls.restore_needs_passphrase(paths):
            if current is None:
                raise WrongPassphraseError("A vault exists here; its current passphrase is needed to replace it.")
            try:
                return cls.open(paths, current)  # a wrong passphrase, a vault in use or a newer one: refused
            except VaultCorruptError as exc:
                why = str(exc)
        elif not paths.vault.exists():
            why = "its database file vault.db is missing"
        elif not paths.vault_header.exists():
            why = "its key file vault.kdf.json is missing"
        else:
            why = "its key file vault.kdf.json is damaged"
        if replace_damaged:
            return None
        raise DamagedVaultError(
            f"The vault in {paths.data} cannot be opened: {why.rstrip('.')}. Restoring the backup replaces it: "
            "confirm to go ahead (localtune-cli restore FILE --replace-damaged). Its files are then moved into a "
            "'damaged-...' folder beside it, not deleted."
        )

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
        self._connections += 1
        self.session_cache.clear()
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._configure()


def _set_aside(paths: Paths) -> Path | None:
    """Move whatever an old or damaged vault left into a new `damaged-<time>` folder; None if nothing was there."""
    names = [n for n in ("vault.db", "vault.db-wal", "vault.db-shm", "vault.db-journal", "vault.kdf.json",
                         "vault.db.new") if (paths.data / n).exists()]
    if not names:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    aside, n = paths.data / f"damaged-{stamp}", 1
    while aside.exists():
        n += 1
        aside = paths.data / f"damaged-{stamp}-{n}"
    aside.mkdir(mode=0o700)
    for name in names:
        os.replace(paths.data / name, aside / name)
    kdf.fsync_dir(paths.data)
    return aside


def _acquire(paths: Paths):
    from filelock import FileLock, Timeout

    paths.ensure()
    lock = FileLock(str(paths.lock_file), timeout=0, is_singleton=False, mode=0o600)
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
    for side in ("", "-journal", "-wal", "-shm"):
        _discard(dest.with_name(dest.name + side))
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # SQLite's side files take this mode
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
    if src.is_dir():
        raise InvalidInputError(f"{src} is a folder; give the backup file itself. Nothing was changed.")
    try:
        with open(src, "rb") as f:
            if f.read(len(BACKUP_MAGIC)) != BACKUP_MAGIC:
                raise VaultCorruptError(f"{src.name} is not a localtune backup (or it is damaged).")
            slots = kdf.loads(f.readline(_HEADER_LINE_MAX), source=f"The backup {src.name}'s key header")
            slot, key = kdf.unlock_slots(slots, passphrase)[0]
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(f, out, BLOB_CHUNK)
                out.flush()
                os.fsync(out.fileno())
    except FileNotFoundError:
        raise NotFoundError(f"There is no backup file at {src}.") from None
    except WrongPassphraseError:
        raise WrongPassphraseError("Wrong passphrase for this backup. Nothing was changed.") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG):
            raise DiskFullError("The disk is full, so the backup could not be checked. Nothing was changed.") from exc
        raise InvalidInputError(f"Could not read the backup {src}: {exc.strerror or exc}. Nothing was changed.") from exc
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
