"""A full disk during commits and during a backup: a clear error, and nothing already saved is lost.

Run by run_audit.py inside `unshare -rm` (a private mount namespace, also for non-root users) with two
small tmpfs mounts: DATA holds the vault, BACKUP is the "nearly full USB stick". Prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from localtune import privacy

privacy.harden()

from localtune.errors import LocaltuneError  # noqa: E402
from localtune.journal import Perspective, Scenario  # noqa: E402
from localtune.journal.repository import Journal  # noqa: E402
from localtune.paths import resolve  # noqa: E402
from localtune.vault import Vault  # noqa: E402

PASS = "full disk passphrase"


def fill(folder: Path, name: str) -> Path:
    """Take every free byte of the file system (the ballast a user would delete to free space)."""
    path = folder / name
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return path


def main(data: Path, backup: Path) -> dict:
    result = {"problems": []}
    problems = result["problems"]
    paths = resolve(data / "home").ensure()
    ballast = data / "ballast"
    ballast.write_bytes(b"\0" * (256 * 1024))  # room to free later
    vault = Vault.create(paths, PASS)
    journal = Journal(vault)
    saved = []
    error = None
    for i in range(100_000):
        try:
            saved.append(journal.add(Scenario(situation=f"saved {i} " + "text " * 800,
                                              perspectives=[Perspective("employee", "mixed", "why " * 200)])))
        except Exception as exc:  # noqa: BLE001 - what the user would see is the point
            error = exc
            break
    result["commits_before_full"] = len(saved)
    result["commit_error"] = f"{type(error).__name__}: {error}"
    if error is None:
        problems.append("the disk never filled")
    elif not isinstance(error, LocaltuneError):
        problems.append("a full disk surfaces as a raw library error, not a localtune message")
    if error is not None and "full" not in str(error).lower() and "space" not in str(error).lower():
        problems.append("the message does not say the disk is full")
    vault.lock()
    ballast.unlink()  # the user frees some space
    with Vault.open(paths, PASS) as v:
        j = Journal(v)
        result["present_after_freeing_space"] = j.count()
        if j.count() != len(saved):
            problems.append(f"{len(saved)} commits acknowledged, {j.count()} present after the disk filled")
        if v.integrity_problems():
            problems.append("integrity check fails after the full disk")

        fill(backup, "ballast")  # backup to a full stick
        try:
            v.backup(backup / "journal.ltbackup", "backup passphrase")
            problems.append("a backup to a full disk reported success")
        except LocaltuneError as exc:
            result["backup_error"] = str(exc)
            if "Nothing was lost" not in str(exc):
                problems.append("the backup error does not reassure the user")
        except Exception as exc:  # noqa: BLE001
            result["backup_error"] = f"{type(exc).__name__}: {exc}"
            problems.append("a full backup disk surfaces as a raw library error")
        left = sorted(p.name for p in backup.iterdir() if p.name != "ballast")
        if left:
            problems.append(f"a failed backup left files behind: {left}")
        if v.integrity_problems() or Journal(v).count() != len(saved):
            problems.append("the live vault changed during a failed backup")

    # The CLI on a full disk: one clear line and a non-zero exit, no traceback.
    fill(data, "ballast2")
    r = subprocess.run([sys.executable, "-m", "localtune", "--home", str(data / "home"), "add", "--situation",
                        "one more " + "text " * 2000, "--viewpoint", "HR", "--assessment", "mixed", "--analysis", "x"],
                       input=PASS + "\n", capture_output=True, text=True, timeout=120)
    result["cli_exit_code"], result["cli_says"] = r.returncode, r.stderr.strip()[-300:]
    if r.returncode == 0:
        problems.append("the CLI reported success on a full disk")
    if "Traceback" in r.stderr:
        problems.append("the CLI printed a traceback on a full disk")
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]))))
