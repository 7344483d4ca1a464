#!/usr/bin/env bash
# The core without Qt, as a headless server installs it: a second venv from the same lock minus PySide6 and
# shiboken6 (and pytest-qt, which refuses to load without Qt), installed with --require-hashes --no-deps,
# localtune itself without dependencies, and the tests that need no Qt. Which tests need Qt is chosen by
# directory, not by skip markers: tests/ui (pytest-qt), tests/packaging (the installed app) and
# tests/test_selftest.py (the app's self-test). Slow tests are left to the main run, which covers them;
# `import PySide6` must fail here, so nothing passes by borrowing Qt.
set -euo pipefail
cd "$(dirname "$0")/.."
CORE="${CORE_VENV:-/tmp/localtune-ci-core}"
LOCK="locks/linux-x86_64-${LOCALTUNE_VARIANT:-cpu}.txt"
rm -rf "$CORE"
python3 -m venv "$CORE"
# Drop the pyside6-*, shiboken6 and pytest-qt entries (a requirement line and its indented hash lines).
awk '/^[A-Za-z0-9]/ { skip = tolower($0) ~ /^(pyside6|shiboken6|pytest-qt)/ } !skip' "$LOCK" > "$CORE/lock.txt"
pip=("$CORE/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --require-hashes --no-deps --only-binary :all: -r "$CORE/lock.txt"
"${pip[@]}" --no-deps --no-build-isolation -e .
if "$CORE/bin/python" -c "import PySide6" 2>/dev/null; then
    echo "PySide6 is importable in the core-only venv" >&2
    exit 1
fi
"$CORE/bin/python" -m pytest -p no:cacheprovider -m "not slow" -q tests \
    --ignore=tests/ui --ignore=tests/packaging --ignore=tests/test_selftest.py "$@"
