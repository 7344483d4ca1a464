"""A scripted desktop session (Qt offscreen), run by run_audit.py in its own process with a private HOME:
create a vault, import, write and edit an entry, search, train a tiny adapter, compare, lock, quit.

Usage: python audit/gui_session.py IMPORT_FILE CANARY [CANARY ...]; prints one JSON line with step timings.
LOCALTUNE_HOME, HOME, TMPDIR and XDG_* come from the environment.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from localtune import privacy  # noqa: E402

privacy.harden()

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from localtune.paths import resolve  # noqa: E402
from localtune.ui.main_window import MainWindow  # noqa: E402

PASS = "gui session passphrase"


def wait(condition, what: str, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.01)


def main(import_file: str, canaries: list[str]) -> dict:
    from localtune.engine.train import TrainConfig

    app = QApplication.instance() or QApplication(["localtune"])
    app.setApplicationName("localtune")
    paths = resolve().ensure()
    timings, t0 = {}, time.monotonic()

    def step(name):
        nonlocal t0
        timings[name] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()

    window = MainWindow(paths)
    window.start()
    dialog = window.create_dialog
    dialog.fields.first.setText(PASS)
    dialog.fields.second.setText(PASS)
    dialog.create_button.click()
    wait(lambda: window.demo_offer is not None and window.demo_offer.isVisible(), "the vault to be created")
    window.demo_offer.close()  # "start with an empty journal": the audit brings its own, with canaries
    step("create")

    page = window.journal
    imp = page.open_import()  # the same dialog a person uses (its file chooser is not opened)
    imp.set_path(import_file)
    imp.check()
    wait(lambda: imp.import_all.isEnabled(), "the import check")
    imp.import_all.click()
    wait(lambda: "Imported" in imp.summary.text(), "the import")
    imp.close()
    wait(lambda: page.model.rowCount() >= 50, "imported rows")
    step("import")

    page.new_entry()  # typed like a person types
    QTest.keyClicks(page.editor.situation, f"Typed in the app: {canaries[0]} met {canaries[1]} at the door.")
    row = page.editor.add_perspective(None, user=True)
    QTest.keyClicks(row.viewpoint.lineEdit(), "employee")
    row.assessment.setCurrentText("problematic")
    QTest.keyClicks(row.analysis, f"Written in the app: {canaries[2]}.")
    page.flush()
    wait(lambda: page.editor.scenario_id is not None and window.lane.pending == 0, "the new entry to be saved")
    new_id = page.editor.scenario_id
    QTest.keyClicks(page.editor.situation, f" Edited: {canaries[3]}.")
    page.flush()
    stored = {}
    wait(lambda: window.lane.pending == 0, "the edit to be saved")
    window.lane.submit(lambda ctx: ctx.journal.get(new_id), lambda s: stored.setdefault("s", s))
    wait(lambda: "s" in stored, "reading the entry back")
    if canaries[3] not in stored["s"].situation or canaries[2] not in stored["s"].perspectives[0].analysis:
        raise RuntimeError("the typed entry and its edit were not saved")
    step("add_and_edit")

    page.search.setText(canaries[0])
    wait(lambda: page.model.rowCount() == 1 and page.model.row_of(new_id) == 0, "search results")
    page.search.setText("")
    step("search")

    train = window.train
    window.show_page(window.pages.index(train))
    train.config = TrainConfig(max_steps=2, batch_size=2, max_seq_len=128)
    wait(lambda: train.model.count() > 0, "the model list")
    wait(lambda: not train.hardware.text().startswith("Looking"), "the hardware look-up")
    train.train_button.click()
    wait(lambda: train.runner is not None and not train.runner.running, "training", timeout=900)
    if "Finished" not in train.status.text():
        raise RuntimeError(f"training did not finish: {train.status.text()}")
    step("train")

    compare = window.compare
    window.show_page(window.pages.index(compare))
    wait(lambda: compare.adapter.count() > 0, "the adapter list")
    compare.situation.setPlainText(f"My manager, {canaries[4]}, asked me to stay late without notice.")
    compare.compare_button.click()
    wait(lambda: compare.runner is not None and not compare.runner.running, "the comparison", timeout=900)
    wait(lambda: all(c.buffer.strip() for c in compare.columns.values()), "three readings", timeout=30)
    step("compare")

    QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    window.lock()  # the shortcut needs an active window, which offscreen may not give: lock as the action does
    wait(lambda: not window.is_unlocked and window.lane.pending == 0, "the lock")
    step("lock")
    window.close()
    app.processEvents()
    return {"timings": timings}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
