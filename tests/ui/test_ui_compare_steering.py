"""Compare can be steered and says what it did: field, norms and my viewpoint reach the readings; few-shot names
the journal entries it was shown (they open); the empty Tuned column offers training; each column says where it
stands, also after Stop."""

from __future__ import annotations

from test_ui_pages import SHARES, Analysis, Piece
from ui_testing import WAIT_MS, lane_call

from localtune.events import FewShotSources


def test_field_norms_viewpoint_sources_and_the_empty_tuned_column(qtbot, window):
    page, journal = window.compare, window.journal
    window.train._looked = True  # opening the Train page would look at the hardware (imports torch)
    ids = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.ids()[:3])
    seen = []

    def steered(ctx, *, situation, adapter, cancel, **steering):
        seen.append(steering)
        yield FewShotSources("few_shot", tuple(ids[:2]))
        for column in ("base", "few_shot"):
            yield Piece(column, "A reading. ")
            yield Analysis(column, "mixed", "A reading.", probabilities=SHARES)

    window.show_page(window.pages.index(page))
    qtbot.waitUntil(lambda: window.lane.pending == 0, timeout=WAIT_MS)
    assert page.starter_note.isVisibleTo(page) and "135 million" in page.starter_note.text()
    tuned = page.columns["tuned"]
    assert tuned.action.isVisibleTo(page) and tuned.action.text() == "Train an adapter first"

    journal.table.selectRow(0)
    qtbot.waitUntil(lambda: journal.model.scenario(journal.selected_id()) is not None, timeout=WAIT_MS)
    entry = journal.model.scenario(journal.selected_id())
    page.pick_entry.emit()
    assert page.industry.text() == entry.industry and page.norms.toPlainText() == entry.context
    page.viewpoint.setEditText("HR")
    page.set_source(steered)
    page.compare_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert seen == [{"industry": entry.industry, "context": entry.context, "viewpoint": "HR"}]

    few_shot = page.columns["few_shot"]
    assert few_shot.sources.isVisibleTo(page)
    assert f"entry {ids[0]}" in few_shot.sources.text() and f"entry {ids[1]}" in few_shot.sources.text()
    few_shot.sources.linkActivated.emit(str(ids[1]))  # what a click on the link sends
    assert window.stack.currentWidget() is journal
    qtbot.waitUntil(lambda: journal.editor.scenario_id == ids[1], timeout=WAIT_MS)

    window.show_page(window.pages.index(page))
    tuned.action.click()
    assert window.stack.currentWidget() is window.train


def test_each_column_says_where_it_stands_after_stop(qtbot, window):
    page = window.compare
    stop_now = []

    def endless_few_shot(ctx, *, situation, adapter, cancel, **_steering):
        yield Piece("base", "Done reading. ")
        yield Analysis("base", "reasonable", "Done reading.", probabilities=SHARES)
        while True:
            cancel.raise_if_cancelled()
            stop_now.append(True)
            yield Piece("few_shot", "and so on ")

    page.set_source(endless_few_shot)
    page.situation.setPlainText("My manager moved my leave without asking.")
    page.compare_button.click()
    qtbot.waitUntil(lambda: len(stop_now) > 3, timeout=WAIT_MS)
    page.stop_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    states = {key: column.status.text() for key, column in page.columns.items()}
    assert states == {"base": "Done", "few_shot": "Stopped: the text ends where it was cut off",
                      "tuned": "Not written (stopped before its turn)"}
    assert "## Few-shot" in page.markdown() and "Stopped: the text ends where it was cut off" in page.markdown()
