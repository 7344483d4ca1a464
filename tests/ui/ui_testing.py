"""Fixtures for the app's tests: a tmp LOCALTUNE_HOME per test, a demo vault copied from one made per session."""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PASS = "correct horse battery"
WAIT_MS = int(os.environ.get("LT_TEST_WAIT_MS", "15000"))  # raise it on a heavily loaded machine


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """A vault holding the demo journal, made once (unlocking costs an Argon2 derivation each time)."""
    from localtune.journal.repository import Journal
    from localtune.paths import resolve
    from localtune.services.journal import load_demo_journal
    from localtune.vault import Vault

    paths = resolve(tmp_path_factory.mktemp("template")).ensure()
    with Vault.create(paths, PASS) as vault:
        load_demo_journal(Journal(vault))
    return paths


@pytest.fixture
def demo_paths(paths, demo_template):
    for name in ("vault.db", "vault.kdf.json"):
        shutil.copy2(demo_template.data / name, paths.data / name)
    return paths


def lane_call(qtbot, lane, fn):
    """Run `fn(ctx)` on the app's vault lane and return its result (for checks behind the UI's back)."""
    box = {}
    lane.submit(fn, lambda result: box.setdefault("result", result), lambda exc: box.setdefault("error", exc))
    qtbot.waitUntil(lambda: bool(box), timeout=WAIT_MS)
    if "error" in box:
        raise box["error"]
    return box["result"]


def settle(qtbot, window):
    qtbot.waitUntil(lambda: window.lane.pending == 0, timeout=WAIT_MS)


def make_window(qtbot, paths, **kwargs):
    from localtune.ui.main_window import MainWindow

    window = MainWindow(paths, **kwargs)
    qtbot.addWidget(window)
    return window


def unlock(qtbot, window, passphrase=PASS):
    dialog = window.ask_unlock()
    dialog.passphrase.setText(passphrase)
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    settle(qtbot, window)


@pytest.fixture
def window(qtbot, demo_paths):
    """The app, started on the demo vault and unlocked."""
    w = make_window(qtbot, demo_paths)
    w.start()
    unlock(qtbot, w)
    qtbot.waitUntil(lambda: w.journal.model.rowCount() > 0, timeout=WAIT_MS)
    yield w
    w.close()


def shown_text(model, row: int, column: int = 2) -> str:
    return model.data(model.index(row, column))
