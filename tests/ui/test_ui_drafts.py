"""No lost edits: an edit that cannot be saved yet is kept as a draft, asked about before leaving, stored
inside the vault on lock, and shown again after unlocking."""

from __future__ import annotations

from PySide6.QtCore import Qt
from ui_testing import WAIT_MS, settle, unlock

SENTENCE = " Zyxwvut stayed late to cover it."
ANALYSIS = "Qpwoeiru: covering without asking the rota owner breaks the usual handover."


def _click_row(qtbot, journal, row: int) -> None:
    index = journal.model.index(row, 2)
    journal.table.scrollTo(index)
    qtbot.mouseClick(journal.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=journal.table.visualRect(index).center())


def _open_row(qtbot, journal, row: int) -> int:
    _click_row(qtbot, journal, row)
    wanted = journal.model.id_at(row)
    qtbot.waitUntil(lambda: journal.editor.scenario_id == wanted, timeout=WAIT_MS)
    return wanted


def _edit_with_a_problem(qtbot, editor) -> None:
    """What the user did: add a sentence, then a perspective with text but no viewpoint."""
    editor.situation.moveCursor(editor.situation.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor.situation, SENTENCE)
    qtbot.mouseClick(editor.add_perspective_button, Qt.MouseButton.LeftButton)
    row = editor.perspective_editors()[-1]
    qtbot.keyClicks(row.analysis, ANALYSIS)
    assert "has no viewpoint" in editor.problems_label.text()


def test_leaving_an_entry_with_a_problem_asks_and_keeps_the_draft_through_a_lock(qtbot, window):
    journal, editor = window.journal, window.journal.editor
    journal.autosave_ms = 50
    first = _open_row(qtbot, journal, 3)
    perspectives = len(editor.perspective_editors())
    _edit_with_a_problem(qtbot, editor)

    _click_row(qtbot, journal, 5)  # the click that used to throw the edit away
    qtbot.waitUntil(lambda: journal.leave_box is not None and journal.leave_box.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: journal.selected_id() == first, timeout=WAIT_MS)
    assert editor.scenario_id == first
    assert [i.row() for i in journal.table.selectionModel().selectedRows()] == [journal.model.row_of(first)]
    assert "no viewpoint" in journal.leave_box.text()

    journal.keep_draft_button.click()
    second = journal.model.id_at(5)
    qtbot.waitUntil(lambda: editor.scenario_id == second, timeout=WAIT_MS)
    assert SENTENCE not in editor.situation.toPlainText()

    _open_row(qtbot, journal, 3)  # coming back: the sentence and the perspective are still there
    assert editor.situation.toPlainText().endswith(SENTENCE)
    assert len(editor.perspective_editors()) == perspectives + 1
    assert editor.perspective_editors()[-1].analysis.toPlainText() == ANALYSIS
    assert editor.problems_label.text().startswith("Draft, not saved yet")

    _open_row(qtbot, journal, 5)  # an untouched draft leaves quietly
    assert journal.leave_box is None
    settle(qtbot, window)
    window.lock()
    settle(qtbot, window)
    on_disk = b"".join(p.read_bytes() for p in window.paths.data.rglob("*") if p.is_file())
    assert SENTENCE.strip().encode() not in on_disk and ANALYSIS.encode() not in on_disk

    unlock(qtbot, window)
    qtbot.waitUntil(journal.drafts_button.isVisible, timeout=WAIT_MS)
    assert journal.drafts_button.text() == "Open draft (1)"
    journal.drafts_button.click()
    qtbot.waitUntil(lambda: editor.scenario_id == first, timeout=WAIT_MS)
    assert editor.situation.toPlainText().endswith(SENTENCE)
    assert editor.perspective_editors()[-1].analysis.toPlainText() == ANALYSIS

    # fixing the problem saves the entry and the draft is gone
    qtbot.keyClicks(editor.perspective_editors()[-1].viewpoint.lineEdit(), "HR")
    editor.perspective_editors()[-1].assessment.setCurrentText("problematic")
    qtbot.waitUntil(lambda: editor.status_label.text() == "Saved", timeout=WAIT_MS)
    assert journal.drafts == {}
    assert not journal.drafts_button.isVisible()


def test_keep_editing_stays_and_discard_drops_the_edit(qtbot, window):
    journal, editor = window.journal, window.journal.editor
    first = _open_row(qtbot, journal, 2)
    original = editor.situation.toPlainText()
    _edit_with_a_problem(qtbot, editor)

    _click_row(qtbot, journal, 4)
    qtbot.waitUntil(lambda: journal.leave_box is not None, timeout=WAIT_MS)
    journal.keep_editing_button.click()
    assert journal.leave_box is None
    qtbot.waitUntil(lambda: journal.selected_id() == first, timeout=WAIT_MS)
    assert editor.scenario_id == first
    assert [i.row() for i in journal.table.selectionModel().selectedRows()] == [journal.model.row_of(first)]
    assert editor.situation.toPlainText().endswith(SENTENCE)

    journal.new_entry()
    qtbot.waitUntil(lambda: journal.leave_box is not None, timeout=WAIT_MS)
    journal.discard_button.click()
    assert editor.has_scenario and editor.scenario_id is None
    assert journal.drafts == {}
    _open_row(qtbot, journal, journal.model.row_of(first))
    assert editor.situation.toPlainText() == original
    assert not editor.problems_label.text()


def test_a_new_entry_with_a_problem_survives_quitting(qtbot, window, demo_paths):
    from ui_testing import make_window

    journal, editor = window.journal, window.journal.editor
    journal.new_entry()
    qtbot.mouseClick(editor.add_perspective_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(editor.perspective_editors()[-1].analysis, ANALYSIS)  # no situation yet: cannot be saved
    assert "situation is empty" in editor.problems_label.text()
    window.close()

    again = make_window(qtbot, demo_paths)
    again.start()
    unlock(qtbot, again)
    qtbot.waitUntil(again.journal.drafts_button.isVisible, timeout=WAIT_MS)
    again.journal.drafts_button.click()
    qtbot.waitUntil(lambda: again.journal.editor.has_scenario, timeout=WAIT_MS)
    assert again.journal.editor.scenario_id is None
    assert again.journal.editor.perspective_editors()[-1].analysis.toPlainText() == ANALYSIS
    again.close()
