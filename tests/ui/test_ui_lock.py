"""Lock really locks: idle auto-lock on a controllable clock; afterwards the old connection is closed and no
model or widget anywhere in the app still holds journal text."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QAbstractItemModel, QAbstractListModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)
from shiboken6 import isValid
from ui_testing import WAIT_MS, lane_call, make_window, settle, unlock

from localtune.errors import VaultLockedError
from localtune.journal import Perspective, Scenario

CANARY = "lockcanary-5e2a91-okapi"
_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.ToolTipRole,
          Qt.ItemDataRole.UserRole)


def _model_texts(model: QAbstractItemModel) -> list[str]:
    out = []
    columns = 1 if isinstance(model, QAbstractListModel) else max(1, model.columnCount(QModelIndex()))
    for row in range(model.rowCount(QModelIndex())):
        for column in range(columns):
            index = model.index(row, column)
            out += [str(model.data(index, role)) for role in _ROLES if model.data(index, role) is not None]
    return out


def app_texts() -> list[str]:
    """Every string any widget or item model of the application shows or keeps."""
    texts, models = [], set()
    for w in QApplication.allWidgets():
        if not isValid(w):
            continue
        if isinstance(w, QLineEdit):
            texts.append(w.text())
        elif isinstance(w, (QPlainTextEdit, QTextEdit)):
            texts.append(w.toPlainText())
        elif isinstance(w, QLabel):
            texts.append(w.text())
        elif isinstance(w, QComboBox):
            texts.append(w.currentText())
        if isinstance(w, (QAbstractItemView, QComboBox)) and w.model() is not None:
            models.add(w.model())
        texts.append(w.toolTip())
        texts.append(w.windowTitle())
        models.update(w.findChildren(QAbstractItemModel))
    for model in filter(isValid, models):
        texts += _model_texts(model)
    return texts


def test_idle_lock_closes_the_connection_and_empties_every_model(qtbot, demo_paths):
    now = [1000.0]
    window = make_window(qtbot, demo_paths, idle_check_ms=20, clock=lambda: now[0])
    window.start()
    unlock(qtbot, window)
    canary_id = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.add(Scenario(
        situation=f"{CANARY} situation", context=f"{CANARY} norms", industry=f"{CANARY} industry", people=[CANARY],
        tags=[CANARY], perspectives=[Perspective(f"{CANARY} viewer", "mixed", f"{CANARY} analysis")])))
    demo_texts = lane_call(qtbot, window.lane, lambda ctx: [s.situation[:40] for s in ctx.journal.search("", limit=5)])
    window.journal.reload()
    window.journal.refresh_filters()
    settle(qtbot, window)
    window.journal.show_scenario(canary_id)
    qtbot.waitUntil(lambda: CANARY in window.journal.editor.situation.toPlainText(), timeout=WAIT_MS)
    # The table model fetches rows lazily on the lane: on a busy machine the row may not be cached yet.
    qtbot.waitUntil(lambda: window.journal.model.scenario(canary_id) is not None, timeout=WAIT_MS)
    window.compare.use_scenario(window.journal.model.scenario(canary_id))
    window.journal.search.setText(CANARY)
    assert any(CANARY in t for t in app_texts())  # the sweep below sees journal text when it is there
    vault = lane_call(qtbot, window.lane, lambda ctx: ctx.vault)
    raw = lane_call(qtbot, window.lane, lambda ctx: ctx.vault.conn)

    from localtune.dataset import redact
    from localtune.services import training

    lane_call(qtbot, window.lane, lambda ctx: training.check(ctx.journal))  # redaction caches the people's names
    assert redact._name_table.cache_info().currsize > 0

    window.journal.flush()
    settle(qtbot, window)
    now[0] += window.idle.timeout_s - 10
    qtbot.keyClick(window.journal.table, Qt.Key.Key_Down)  # input restarts the idle count
    now[0] += 20
    qtbot.wait(150)
    assert window.is_unlocked, "input in the last minutes must keep the vault open"

    now[0] += window.idle.timeout_s
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT_MS)
    settle(qtbot, window)
    assert window.lane.ctx.vault is None and vault.is_locked and vault._key == b""
    with pytest.raises(VaultLockedError):
        vault.conn  # noqa: B018
    error = lane_call(qtbot, window.lane, lambda ctx: _closed_error(raw))  # on the thread that owned it
    assert "closed" in error

    assert window.journal.model.rowCount() == 0
    assert redact._name_table.cache_info().currsize == 0  # no name of the journal's people stays in memory
    leftovers = [t for t in app_texts() if CANARY in t or any(d in t for d in demo_texts)]
    assert leftovers == [], leftovers
    window.close()


def _closed_error(conn) -> str:
    try:
        conn.execute("SELECT count(*) FROM scenarios")
    except Exception as exc:  # noqa: BLE001 - the message is what we check
        return str(exc)
    return "the old connection still answers"
