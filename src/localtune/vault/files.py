"""Files localtune writes outside the vault (backups, exports): where they may go, and how they are written.

A destination is refused when it is the vault's folder or inside it (or inside any folder that holds a vault's
key file), when something other than a regular file is there (a folder, a device, a pipe, a link), or when a
file is already there - unless the user confirms overwriting it and it is a file localtune wrote of the same
kind. A file is written under a hidden `.NAME.partial` beside its final name, fsynced and renamed into place,
so it appears complete or not at all. While it is written its path is noted in the vault's folder, so a write
killed half-way (power loss, SIGKILL) is removed at the next start instead of lingering, perhaps in plaintext.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import DiskFullError, InvalidInputError, UnsafeDestinationError
from ..paths import Paths
from .kdf import fsync_dir, write_atomic

KEY_FILE = "vault.kdf.json"  # a folder holding this file holds a vault
PARTIALS_FILE = "partial-files.json"  # the .partial files being written right now (absolute paths)
# Files the vault itself leaves in its folder only while an operation runs; any found at the next start are
# leftovers of a killed process.
DATA_LEFTOVERS = (".restore-check.db", ".backup-staging.db", "vault.db.new", "vault.kdf.json.tmp",
                  PARTIALS_FILE + ".tmp")
_SQLITE_SIDE_FILES = ("", "-journal", "-wal", "-shm")
_PARTIAL_NAME = re.compile(r"^\..+\.partial(-journal|-wal|-shm)?$")
_NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def check_destination(dest: str | os.PathLike, *, what: str, ours: Callable[[bytes], bool],
                      paths: Paths | None = None, overwrite: bool = False) -> Path:
    """The absolute path to write `what` (e.g. "backup") to, or UnsafeDestinationError saying why not.

    `ours(head)` tells from a file's first bytes whether localtune wrote it as this kind of file: only such a
    file is replaced, and only with `overwrite` (the user confirmed).
    """
    try:
        return _check_destination(os.fspath(dest), what, ours, paths, overwrite)
    except OSError as exc:  # a name too long, a folder that cannot be read, a loop of links
        raise InvalidInputError(f"{os.fspath(dest)} cannot be used for the {what}: {exc.strerror or exc}. "
                                "Nothing was written.") from None


def _check_destination(raw: str, what: str, ours: Callable[[bytes], bool], paths: Paths | None,
                       overwrite: bool) -> Path:
    if not raw.strip() or raw.endswith(("/", os.sep)):
        raise UnsafeDestinationError(f"{raw!r} is not a file name; give the {what} a file name.")
    path = Path(os.path.abspath(os.path.expanduser(raw)))
    parent = path.parent
    if not parent.is_dir():
        if parent.exists() or parent.is_symlink():
            raise UnsafeDestinationError(f"{parent} is not a folder, so the {what} cannot be written there.")
        raise InvalidInputError(f"The folder {parent} does not exist. Create it first or choose another place; "
                                "nothing was written.")
    real = Path(os.path.realpath(parent)) / path.name
    targets = [real] + ([Path(os.path.realpath(path))] if path.is_symlink() else [])
    for target in targets:
        folder = _vault_folder_around(target, paths)
        if folder is not None:
            raise UnsafeDestinationError(
                f"{raw} is inside localtune's vault folder ({folder}). Writing the {what} there could destroy "
                "your journal; choose a place outside it. Nothing was written.")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDestinationError(f"{raw} is a link, not a regular file; give a new file name for the {what}. "
                                     "Nothing was written.")
    if not stat.S_ISREG(st.st_mode):
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "device, pipe or socket"
        raise UnsafeDestinationError(f"{raw} is a {kind}, not a regular file; give a new file name for the "
                                     f"{what}. Nothing was written.")
    if paths is not None:
        for own in (paths.vault, paths.data / KEY_FILE):
            with contextlib.suppress(OSError):
                if os.path.samefile(path, own):
                    raise UnsafeDestinationError(f"{raw} is the vault's own file {own.name}; choose another "
                                                 "place. Nothing was written.")
    written_by_us = _head_matches(path, ours)
    if not overwrite:
        if written_by_us:
            raise UnsafeDestinationError(
                f"{raw} already exists (an earlier localtune {what}). Choose a new name, or confirm that it "
                "may be replaced (--overwrite). Nothing was written.")
        raise UnsafeDestinationError(f"{raw} already exists and localtune did not write it, so it is never "
                                     f"replaced. Choose a new name for the {what}. Nothing was written.")
    if not written_by_us:
        raise UnsafeDestinationError(f"{raw} already exists and localtune did not write it, so it is never "
                                     f"replaced, even when asked. Choose a new name for the {what}.")
    return path


def check_folder_destination(dest: str | os.PathLike, *, what: str, paths: Paths | None = None) -> Path:
    """A folder to write `what` into (created if missing): refused inside the vault's folder or where a file is."""
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(dest))))
    folder = _vault_folder_around(Path(os.path.realpath(path)) / "x", paths)
    if folder is not None:
        raise UnsafeDestinationError(f"{dest} is inside localtune's vault folder ({folder}); choose a folder "
                                     f"outside it for the {what}. Nothing was written.")
    if path.exists() and not path.is_dir():
        raise UnsafeDestinationError(f"{dest} is a file, not a folder; give a folder for the {what} (it is "
                                     "created if missing). Nothing was written.")
    return path


def _vault_folder_around(target: Path, paths: Paths | None) -> Path | None:
    """The vault folder `target` is (or lies inside), or None."""
    protected = [Path(os.path.realpath(paths.data))] if paths is not None else []
    for folder in protected:
        if target == folder or folder in target.parents:
            return folder
    for folder in target.parents:
        with contextlib.suppress(OSError):
            if (folder / KEY_FILE).exists():
                return folder
    return None


def _head_matches(path: Path, ours: Callable[[bytes], bool]) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return ours(head)


def write_file(path: Path, write: Callable[[BinaryIO], object], *, paths: Paths | None) -> None:
    """Write a new file through `write(binary_file)`: complete under `path`, or nothing at all (mode 0600)."""
    staged = path.with_name(f".{path.name}.partial")
    _remove_file(staged)
    _note_partial(paths, staged, add=True)
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, path)
        fsync_dir(path.parent)
    except OSError as exc:
        if exc.errno in _NO_ROOM:
            raise DiskFullError(f"There is no room on the disk for {path.name} ({exc.strerror}). Nothing was "
                                "written, and the unfinished file was removed.") from exc
        raise InvalidInputError(f"Could not write {path}: {exc.strerror or exc}. Nothing was written.") from exc
    finally:
        _remove_file(staged)
        _note_partial(paths, staged, add=False)


def _note_partial(paths: Paths | None, staged: Path, *, add: bool) -> None:
    if paths is None:
        return
    listed = _partials(paths)
    entry = str(staged)
    if add and entry not in listed:
        listed.append(entry)
    elif not add and entry in listed:
        listed.remove(entry)
    else:
        return
    record = paths.data / PARTIALS_FILE
    if listed:
        write_atomic(record, json.dumps(listed).encode())
    else:
        _remove_file(record)


def _partials(paths: Paths) -> list[str]:
    try:
        listed = json.loads((paths.data / PARTIALS_FILE).read_bytes())
    except (OSError, ValueError):
        return []
    return [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []


def clean_leftovers(paths: Paths) -> list[str]:
    """Remove what a killed localtune left behind; set the vault folder and files private (0700 / 0600).

    Only localtune's own kinds of file are removed: noted `.NAME.partial` files of a backup or export (with
    SQLite's side files), and the vault folder's temporary files. Returns what was removed.
    """
    removed = []
    for entry in _partials(paths):
        staged = Path(entry)
        if not _PARTIAL_NAME.match(staged.name):
            continue
        for side in _SQLITE_SIDE_FILES:
            candidate = staged.with_name(staged.name + side)
            if _remove_file(candidate):
                removed.append(str(candidate))
    _remove_file(paths.data / PARTIALS_FILE)
    for name in DATA_LEFTOVERS:
        for side in _SQLITE_SIDE_FILES:
            if _remove_file(paths.data / (name + side)):
                removed.append(name + side)
    make_private(paths)
    return removed


def make_private(paths: Paths) -> None:
    """The vault folder 0700 and its files 0600, whatever mode they were given (a permissive umask, a copy)."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.stat(paths.data).st_mode) != 0o700:
            os.chmod(paths.data, 0o700)
    for name in ("vault.db", "vault.db-wal", "vault.db-shm", KEY_FILE, "vault.lock"):
        target = paths.data / name
        with contextlib.suppress(OSError):
            st = os.lstat(target)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != 0o600:
                os.chmod(target, 0o600)


def _remove_file(path: Path) -> bool:
    """Unlink a regular file (never a folder or what a link points to); True when one was removed."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        return True
    return False
