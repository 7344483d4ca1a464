"""Editing a scenario in the user's $EDITOR without leaving journal text on disk.

The text is written to a file in a RAM-backed folder (/dev/shm/localtune-<uid>, 0700) that is removed afterwards;
a file left by a killed process is removed at the next start. Editors known to keep copies elsewhere (vim's
viminfo and swap files, nano's history, emacs' backups and auto-saves) are started with those switched off;
for any other editor the user is warned that it may keep a copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import stat
import sys
from pathlib import Path

RAM = Path("/dev/shm")
_OUR_FILE = re.compile(r"^edit-(\d+)-[A-Za-z0-9_]+\.json$")
_OLD_FILE = re.compile(r"^localtune-[A-Za-z0-9_]+\.json$")  # what earlier versions left directly in /dev/shm
_VIM_OFF = ["-i", "NONE", "-n", "-c", "set nobackup nowritebackup noundofile"]
_EMACS_OFF = ["-Q", "--eval", "(setq make-backup-files nil auto-save-default nil create-lockfiles nil)"]


def edit_folder() -> Path:
    """The user's private folder in RAM for files being edited (created 0700)."""
    folder = RAM / f"localtune-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{folder} is not a folder of yours")
    os.chmod(folder, 0o700)
    return folder


def editor_command(editor: str, path: str) -> tuple[list[str], str | None]:
    """The command that edits `path` with `editor` (as $EDITOR gives it), and a warning when localtune does not
    know how to keep that editor from writing history, swap or backup files."""
    argv = shlex.split(editor) or ["vi"]
    found = shutil.which(argv[0])
    names = {os.path.basename(argv[0])} | ({os.path.basename(os.path.realpath(found))} if found else set())
    family = next((f for f in map(_family, sorted(names)) if f), None)
    if family == "vim":
        return [*argv, *_VIM_OFF, path], None
    if family == "nano":
        return [*argv, "--ignorercfiles", path], None
    if family == "emacs":
        return [*argv, *_EMACS_OFF, path], None
    return [*argv, path], (
        f"Warning: localtune does not know whether {argv[0]} keeps history, swap or backup files, which would "
        "leave what you type on disk. vim, nvim, nano and emacs are started without them.")


def _family(name: str) -> str | None:
    name = name.lower()
    if re.match(r"^(n?vim|gvim|rvim|view|vimx)(\.[a-z]+)?$", name):
        return "vim"
    if re.match(r"^(r?nano)$", name):
        return "nano"
    if re.match(r"^emacs(-[a-z0-9.]+)?$", name):
        return "emacs"
    return None


def clean_leftovers() -> list[str]:
    """Remove files a killed edit left in RAM: ours whose process is gone, and those of earlier versions."""
    removed = []
    folder = RAM / f"localtune-{os.getuid()}"
    candidates = []
    if folder.is_dir() and not folder.is_symlink():
        for p in folder.iterdir():
            m = _OUR_FILE.match(p.name)
            if m and not _alive(int(m.group(1))):
                candidates.append(p)
    if RAM.is_dir():
        with contextlib.suppress(OSError):
            candidates += [p for p in RAM.iterdir() if _OLD_FILE.match(p.name)]
    for p in candidates:
        with contextlib.suppress(OSError):
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid():
                p.unlink()
                removed.append(str(p))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def warn(message: str) -> None:
    print(message, file=sys.stderr)
