"""The journal page: search, filters, editing with autosave, delete and undo, import errors."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from ui_testing import PASS, WAIT_MS, lane_call, settle, shown_text

from localtune.journal.repository import Filters, Journal
from localtune.ui.models.journal_table import LOADING, RowCache


def test_search_as_you_type_and_filters_narrow_the_table(qtbot, window):
    journal = window.journal
    total = journal.model.rowCount()
    qtbot.keyClicks(journal.search, "deadl")
    assert journal.model.rowCount() == total  # debounced: the table waits until typing pauses
    expected = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.ids("deadl"))
    assert 0 < len(expected) < total
    qtbot.waitUntil(lambda: journal.model.rowCount() == len(expected), timeout=WAIT_MS)
    assert [journal.model.id_at(r) for r in range(len(expected))] == expected
    assert f"{len(expected)} of {total}" in journal.count_label.text()

    journal.assessment.setCurrentIndex(journal.assessment.findData("problematic"))
    both = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.ids("deadl", Filters(assessment="problematic")))
    qtbot.waitUntil(lambda: journal.model.rowCount() == len(both), timeout=WAIT_MS)
    assert len(both) < len(expected)

    journal.search.clear()
    journal.assessment.setCurrentIndex(0)
    industry = journal.industry.itemData(1)
    journal.industry.setCurrentIndex(1)
    in_industry = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.ids("", Filters(industry=industry)))
    qtbot.waitUntil(lambda: journal.model.rowCount() == len(in_industry), timeout=WAIT_MS)
    rows = range(journal.model.rowCount())
    qtbot.waitUntil(lambda: all(shown_text(journal.model, r, 1) != LOADING for r in rows), timeout=WAIT_MS)
    assert all(shown_text(journal.model, r, 1) == industry for r in range(journal.model.rowCount()))


def test_edits_save_themselves_and_survive_reopening_the_vault(qtbot, window):
    journal = window.journal
    journal.autosave_ms = 50
    journal.table.selectRow(3)
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    edited_id = journal.editor.scenario_id
    journal.editor.situation.moveCursor(journal.editor.situation.textCursor().MoveOperation.End)
    qtbot.keyClicks(journal.editor.situation, " Zyxwvut was there too.")
    journal.editor.analysis_row = journal.editor.perspective_editors()[0]
    journal.editor.analysis_row.assessment.setCurrentText("mixed")
    qtbot.waitUntil(lambda: journal.editor.status_label.text() == "Saved", timeout=WAIT_MS)

    # an invalid edit is not saved, and says why
    journal.editor.occurred_on.setText("yesterday")
    journal.editor.occurred_on.textEdited.emit("yesterday")
    assert "date like" in journal.editor.problems_label.text()
    qtbot.wait(200)
    journal.editor.occurred_on.setText("")
    journal.editor.occurred_on.textEdited.emit("")

    # a new entry (Ctrl+N) is added once it has a situation
    journal.activateWindow()
    qtbot.waitUntil(journal.window().isActiveWindow, timeout=WAIT_MS)
    journal.table.setFocus()
    qtbot.keyClick(journal.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert journal.editor.has_scenario and journal.editor.scenario_id is None
    qtbot.keyClicks(journal.editor.situation, "Qwertzu asked me to cover a shift.")
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    new_id = journal.editor.scenario_id
    qtbot.waitUntil(lambda: journal.selected_id() == new_id, timeout=WAIT_MS)
    settle(qtbot, window)
    window.close()  # locks the vault on its lane

    from localtune.vault import Vault

    with Vault.open(window.paths, PASS) as vault:
        j = Journal(vault)
        edited = j.get(edited_id)
        assert edited.situation.endswith(" Zyxwvut was there too.")
        assert edited.perspectives[0].assessment == "mixed"
        assert j.get(new_id).situation == "Qwertzu asked me to cover a shift."


def test_delete_and_undo_bring_the_entry_back_with_its_id(qtbot, window):
    journal = window.journal
    total = journal.model.rowCount()
    journal.table.selectRow(5)
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    doomed = journal.selected_id()
    before = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.get(doomed))
    journal.activateWindow()
    qtbot.waitUntil(journal.window().isActiveWindow, timeout=WAIT_MS)
    journal.table.setFocus()
    qtbot.keyClick(journal.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: journal.model.rowCount() == total - 1, timeout=WAIT_MS)
    assert journal.model.row_of(doomed) is None
    assert "Ctrl+Z" in window.statusBar().currentMessage()
    assert journal.undo_button.isEnabled()

    qtbot.keyClick(journal.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: journal.model.rowCount() == total, timeout=WAIT_MS)
    assert journal.model.row_of(doomed) is not None
    qtbot.waitUntil(lambda: journal.selected_id() == doomed, timeout=WAIT_MS)
    after = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.get(doomed))
    assert (after.situation, after.created_at, len(after.perspectives)) == (
        before.situation, before.created_at, len(before.perspectives))


def test_delete_removes_every_selected_entry_and_undo_brings_them_all_back(qtbot, window):
    from PySide6.QtCore import QItemSelectionModel

    journal = window.journal
    total = journal.model.rowCount()
    journal.table.selectRow(3)
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (4, 6):  # Ctrl+click two more
        journal.table.selectionModel().select(journal.model.index(row, 0), flags)
    doomed = journal.selected_ids()
    survivor = journal.model.id_at(7)
    assert len(doomed) == 3
    journal.delete_button.click()
    qtbot.waitUntil(lambda: journal.model.rowCount() == total - 3, timeout=WAIT_MS)
    assert all(journal.model.row_of(i) is None for i in doomed)
    assert "3 entries deleted" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: journal.selected_id() == survivor, timeout=WAIT_MS)  # the next entry below the last
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.journal.get_many(doomed)) == []

    journal.undo_button.click()
    qtbot.waitUntil(lambda: journal.model.rowCount() == total, timeout=WAIT_MS)
    assert all(journal.model.row_of(i) is not None for i in doomed)
    assert "3 entries restored" in window.statusBar().currentMessage() and not journal.undo_button.isEnabled()


def test_import_dialog_lists_every_bad_row(qtbot, window, tmp_path):
    good = {"situation": "Imported situation about a rota.", "perspectives": [
        {"viewpoint": "employee", "assessment": "problematic", "analysis": "Unfair."}]}
    lines = [json.dumps(good), json.dumps({"context": "no situation"}), "{not json",
             json.dumps({**good, "use": "sometimes"})]
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join(lines) + "\n")
    total = window.journal.model.rowCount()

    dialog = window.journal.open_import()
    dialog.set_path(str(source))
    dialog.check()
    qtbot.waitUntil(lambda: dialog.problems.rowCount() == 3, timeout=WAIT_MS)
    rows = [(dialog.problems.item(r, 0).text(), dialog.problems.item(r, 1).text()) for r in range(3)]
    assert [line for line, _ in rows] == ["2", "3", "4"]
    assert "situation" in rows[0][1] and "use" in rows[2][1]
    assert "3 row(s) have problems and 1 are fine" in dialog.summary.text()
    assert not dialog.import_all.isEnabled()
    assert dialog.import_good.isVisibleTo(dialog)

    dialog.import_good.click()
    qtbot.waitUntil(lambda: "Imported 1" in dialog.summary.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.journal.model.rowCount() == total + 1, timeout=WAIT_MS)
    dialog.close()


def test_row_cache_fetches_each_page_once():
    cache = RowCache(page_size=10)
    cache.reset(list(range(100, 135)))
    assert cache.page_to_fetch(12) == (1, list(range(110, 120)))
    assert cache.page_to_fetch(15) is None  # already on its way
    assert cache.page_to_fetch(34) == (3, list(range(130, 135)))

    class S:
        def __init__(self, i):
            self.id = i

    assert cache.store(1, [S(i) for i in range(110, 120)]) == list(range(10, 20))
    assert cache.page_to_fetch(12) is None and cache.get(12).id == 112
    cache.reset([112, 999])
    assert cache.get(0).id == 112 and cache.get(1) is None  # kept rows survive a new query


def test_a_new_entry_is_dated_today_and_asks_for_each_assessment(qtbot, window):
    from datetime import date

    journal, editor = window.journal, window.journal.editor
    journal.new_entry()
    assert editor.occurred_on.text() == date.today().isoformat()
    qtbot.keyClicks(editor.situation, "Asked to sign off a report I had not read.")
    qtbot.mouseClick(editor.add_perspective_button, Qt.MouseButton.LeftButton)
    row = editor.perspective_editors()[-1]
    assert row.assessment.currentText() == ""  # not a pre-set "reasonable"
    qtbot.keyClicks(row.viewpoint.lineEdit(), "employee")
    assert "perspective 1 has no assessment yet" in editor.problems_label.text()
    row.assessment.setCurrentText("problematic")
    assert not editor.problems_label.text()


def test_the_editor_follows_a_search_that_filters_its_entry_out(qtbot, window):
    journal = window.journal
    journal.table.selectRow(0)
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    qtbot.keyClicks(journal.search, "zzqxnomatch")
    qtbot.waitUntil(lambda: journal.model.rowCount() == 0, timeout=WAIT_MS)
    assert not journal.editor.has_scenario


def test_search_results_show_the_words_around_the_match(qtbot, window):
    journal = window.journal
    qtbot.keyClicks(journal.search, "handover")
    expected = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.ids("handover"))
    qtbot.waitUntil(lambda: journal.model.rowCount() == len(expected) > 0, timeout=WAIT_MS)
    rows = range(min(5, len(expected)))
    qtbot.waitUntil(lambda: all(shown_text(journal.model, r) != LOADING for r in rows), timeout=WAIT_MS)
    shown = [shown_text(journal.model, r) for r in rows]
    assert all("«" in text and "»" in text for text in shown), shown
    assert any("«handover" in text.lower() for text in shown)
    journal.search.clear()
    qtbot.waitUntil(lambda: journal.model.rowCount() > len(expected), timeout=WAIT_MS)
    assert not journal.model.snippets


def test_an_entry_reads_as_one_page_and_edit_goes_back(qtbot, window):
    journal, editor = window.journal, window.journal.editor
    journal.table.selectRow(1)
    qtbot.waitUntil(lambda: editor.scenario_id is not None, timeout=WAIT_MS)
    scenario = editor.value()
    editor.read_button.click()
    page = editor.reader.toPlainText()
    assert editor.pages.currentWidget() is editor.reader and editor.read_button.text() == "Edit"
    assert scenario.situation.splitlines()[0] in page and scenario.perspectives[0].analysis.splitlines()[0] in page
    journal.table.selectRow(2)  # the next entry opens in the same mode
    qtbot.waitUntil(lambda: editor.scenario_id == journal.model.id_at(2), timeout=WAIT_MS)
    assert editor.value().situation.splitlines()[0] in editor.reader.toPlainText()
    editor.read_button.click()
    assert editor.pages.currentIndex() == 0 and editor.reader.toPlainText() == ""
