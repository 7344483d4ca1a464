import os
import subprocess
import sys
from pathlib import Path

import pytest

from localtune import privacy

privacy.harden()

PASS = "correct horse battery"

from localtune.vault import kdf  # noqa: E402 - after harden(), like every entry point

_real_derive = kdf.KeySlot.derive
_derived: dict[tuple, bytes] = {}


def memoised_derive(slot, passphrase):
    """KeySlot.derive cached by salt, cost and passphrase, for tests and audits that unlock hundreds of times:
    the vault logic is unchanged, and every new salt (rekey, backup) is still derived for real."""
    key = (slot.salt, slot.memory_kib, slot.time_cost, slot.parallelism, passphrase)
    if key not in _derived:
        _derived[key] = _real_derive(slot, passphrase)
    return _derived[key]


@pytest.fixture
def paths(tmp_path, monkeypatch):
    from localtune.paths import resolve

    home = tmp_path / "home"
    monkeypatch.setenv("LOCALTUNE_HOME", str(home))
    return resolve(home).ensure()


@pytest.fixture
def vault(paths):
    from localtune.vault import Vault

    v = Vault.create(paths, PASS)
    yield v
    v.lock()


@pytest.fixture
def journal(vault):
    from localtune.journal.repository import Journal

    return Journal(vault)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder with its bytes (to prove something changed nothing)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def files_containing(roots, needle: str) -> list[str]:
    """Files under any root whose bytes contain `needle` in UTF-8, UTF-16-LE or UTF-16-BE."""
    patterns = [needle.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]
    hits = []
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.is_file() and not p.is_symlink():
                try:
                    data = p.read_bytes()
                except OSError:
                    continue
                if any(pat in data for pat in patterns):
                    hits.append(str(p))
    return hits


def run_cli(args, *, home, stdin="", env=None, timeout=120):
    """Run localtune-cli as a user would, in its own process."""
    full_env = {**os.environ, "LOCALTUNE_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "localtune", *args],
        input=stdin, capture_output=True, text=True, env=full_env, timeout=timeout,
    )
