"""Selected journal entries saved as a printable PDF: several rows selected as the user does, the plaintext warning,
the File menu item, the PDF's text read back, and the destination rules of any plaintext export."""

from __future__ import annotations

import os
import stat

from pdf_reading import pdf_text, squeeze
from PySide6.QtCore import Qt
from ui_testing import WAIT_MS, lane_call, settle

_CTRL = Qt.KeyboardModifier.ControlModifier


def _click_row(qtbot, journal, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    index = journal.model.index(row, 2)
    journal.table.scrollTo(index)
    qtbot.mouseClick(journal.table.viewport(), Qt.MouseButton.LeftButton, modifier,
                     journal.table.visualRect(index).center())


def _saved(dialog):
    return dialog.result.text().startswith("Saved")


def test_two_selected_entries_become_a_readable_pdf_after_a_warning(qtbot, window, tmp_path):
    journal = window.journal
    out = tmp_path / "out"
    out.mkdir()
    assert not journal.pdf_button.isEnabled() and not journal.pdf_action.isEnabled()  # nothing selected yet
    _click_row(qtbot, journal, 0)
    _click_row(qtbot, journal, 3, _CTRL)  # Ctrl+click adds a second entry
    wanted = [journal.model.id_at(0), journal.model.id_at(3)]
    assert journal.selected_ids() == wanted
    assert journal.pdf_button.isEnabled() and journal.pdf_action.isEnabled()
    assert journal.pdf_action in journal.table.actions()  # the list's context menu
    file_menu = window.menuBar().actions()[0].menu()
    assert journal.pdf_action in file_menu.actions()

    window.show_page(window.pages.index(window.dataset))
    journal.pdf_action.trigger()  # File › Save selected entries as PDF… from another page
    assert window.stack.currentWidget() is journal
    dialog = journal.pdf_dialog
    assert dialog is not None and dialog.isVisible()
    warning = dialog.warning.text()
    assert "not encrypted" in warning and "2 selected entries" in warning

    dialog.path.edit.setText(str(out / "incident"))  # no extension: the PDF gets one
    dialog.export_button.click()
    qtbot.waitUntil(lambda: _saved(dialog), timeout=WAIT_MS)
    dest = out / "incident.pdf"
    assert dialog.path.edit.text() == str(dest)
    assert sorted(os.listdir(out)) == ["incident.pdf"]  # no partial file left beside it
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600

    scenarios = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.get_many(wanted))
    text = squeeze(pdf_text(dest))
    for s in scenarios:
        assert squeeze(s.situation) in text and squeeze(s.context) in text
        assert squeeze(f"{s.industry} — {s.occurred_on}") in text
        assert all(squeeze(name) in text for name in s.people)
        for p in s.perspectives:
            assert squeeze(f"{p.viewpoint}'s view — assessed {p.assessment}") in text
            assert squeeze(p.analysis) in text
    assert text.index(squeeze(scenarios[0].situation)) < text.index(squeeze(scenarios[1].situation))
    first = dest.read_bytes()

    # Saving again onto it asks first (the first click says so, a second replaces it).
    dest.write_bytes(first + b"%mark\n")
    dialog.export_button.click()
    assert "already exists" in dialog.result.text() and dest.read_bytes().endswith(b"%mark\n")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: _saved(dialog), timeout=WAIT_MS)
    assert not dest.read_bytes().endswith(b"%mark\n")

    # A PDF localtune did not write is never replaced, even after the second click.
    other = out / "someone-elses.pdf"
    other.write_bytes(b"%PDF-1.7\n% another program's document\n")
    dialog.path.edit.setText(str(other))
    dialog.export_button.click()
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "did not write it" in dialog.result.text(), timeout=WAIT_MS)
    assert other.read_bytes() == b"%PDF-1.7\n% another program's document\n"


def test_a_pdf_is_never_written_into_the_vault_folder(qtbot, window):
    journal = window.journal
    _click_row(qtbot, journal, 1)
    dialog = journal.open_pdf_export()
    key_file = window.paths.data / "vault.kdf.json"
    header = key_file.read_bytes()
    before = sorted(os.listdir(window.paths.data))
    dialog.path.edit.setText(str(window.paths.data / "copy.pdf"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "Nothing was written" in dialog.result.text(), timeout=WAIT_MS)
    assert "vault folder" in dialog.result.text()
    settle(qtbot, window)
    assert sorted(os.listdir(window.paths.data)) == before and key_file.read_bytes() == header
    assert dialog.export_button.isEnabled()


def test_locking_closes_the_pdf_dialog_and_forgets_the_selection(qtbot, window):
    journal = window.journal
    _click_row(qtbot, journal, 0)
    _click_row(qtbot, journal, 2, Qt.KeyboardModifier.ShiftModifier)  # Shift+click: a range of three
    assert len(journal.selected_ids()) == 3
    dialog = journal.open_pdf_export()
    assert "3 selected entries" in dialog.warning.text()
    window.lock()
    settle(qtbot, window)
    assert journal.pdf_dialog is None and not journal.pdf_action.isEnabled() and journal.selected_ids() == []
