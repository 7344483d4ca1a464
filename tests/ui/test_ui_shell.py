"""A finished shell: menus, Quit, About, a lock button, an honest demo offer, calm dataset notes, a readable
dark theme."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence, QPalette
from ui_testing import WAIT_MS


def _menu(window, title):
    return next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == title)


def test_menus_quit_about_and_the_lock_button(qtbot, window):
    from localtune import __version__

    file_menu = _menu(window, "File")
    assert [a.text() for a in file_menu.actions() if a.text()] == ["Save selected entries as PDF…", "Lock", "Quit"]
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    about = next(a for a in _menu(window, "Help").actions() if a.text() == "About localtune")
    about.trigger()
    box = window.about_box
    assert box is not None and box.isVisible()
    assert __version__ in box.text() and "Apache-2.0" in box.text() and "Nothing leaves this computer" in box.text()
    box.accept()

    assert window.lock_button.isVisible()
    window.lock_button.click()
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT_MS)
    assert window.unlock_dialog is not None
    window.unlock_dialog.reject()

    window.show()
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def test_the_demo_offer_says_how_many_entries_it_loads(qtbot, window):
    box = window.offer_demo()
    loaded = window.journal.model.rowCount()  # the window fixture's vault holds exactly the demo journal
    assert f"holds {loaded} invented situations" in box.text()
    assert "about" not in box.text()
    box.close()


def test_dataset_explains_that_disagreeing_perspectives_are_expected(qtbot, window):
    page = window.dataset
    window.show_page(window.pages.index(page))
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    assert any(f.code == "label_imbalance" for f in page.report.warnings)  # the demo leans per viewpoint
    texts = [page.findings.item(i).text() for i in range(page.findings.count())]
    assert not any(t.startswith("Warning: For the") for t in texts)
    assert any(t.startswith("Note: For the") for t in texts)
    assert page.viewpoint_note.isVisibleTo(page) and "disagreeing perspectives are the point" in (
        page.viewpoint_note.text().lower())
    assert "Kappa" in page.agreement.toolTip()


def test_dataset_legend_does_not_overlap_the_agreement_text(qtbot, window):
    from PySide6.QtWidgets import QApplication

    page = window.dataset
    window.resize(1200, 780)  # the app's own starting size
    window.show()
    qtbot.waitExposed(window)
    window.show_page(window.pages.index(page))
    qtbot.waitUntil(lambda: page.report is not None and bool(page.chart.balance), timeout=WAIT_MS)
    QApplication.processEvents()
    chart, agreement = page.chart, page.agreement
    assert chart.parent() is agreement.parent()
    assert chart.height() >= chart.minimumHeight()  # room for every row and the legend (the chart fits rows to it)
    assert chart.geometry().bottom() < agreement.geometry().top()


def test_dark_placeholder_text_stands_out_from_its_background(qtbot):
    from localtune.ui import theme

    palette = theme._dark_palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Disabled):
        placeholder = palette.color(group, QPalette.ColorRole.PlaceholderText).lightness()
        base = palette.color(group, QPalette.ColorRole.Base).lightness()
        assert placeholder - base >= 90, (group, placeholder, base)
