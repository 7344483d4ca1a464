#!/usr/bin/env python3
"""Render every page of the desktop app into PNGs, for the README and for looking at.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR] [--no-runs] [--light-only|--dark-only]
    xvfb-run -a .venv/bin/python scripts/screenshots.py                                       # under a virtual X

Uses a throwaway LOCALTUNE_HOME with the demo journal. "05-train-run" comes from real work on the starter model
through the Train page's own button: a short training run of TRIAL_STEPS steps (about 5 minutes on a 2-core CPU;
--no-runs skips it). The Compare and Evaluate pages are shown before a run. "03-journal-read" is an entry in Read
mode, "03-journal-unsaved" the question asked when leaving an entry that cannot be saved yet, "03-journal-selected"
two entries selected and "03-journal-pdf" the warning before saving them as a PDF; "10-about" is Help > About;
"09-locked-training" the lock screen while that run goes on behind it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PASS = "correct horse battery"
SIZE = (1280, 820)
TRIAL_STEPS = 12


def _pump(app, until=lambda: True, timeout=30.0, settle_ms=150):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if until():
            break
        time.sleep(0.01)
    end = time.monotonic() + settle_ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _save(widget, out: Path, name: str) -> None:
    widget.grab().save(str(out / f"{name}.png"))
    print("wrote", out / f"{name}.png")


def _run_to_end(app, page, timeout: float) -> None:
    _pump(app, lambda: page.runner is not None and not page.runner.running, timeout=timeout, settle_ms=500)
    if page.runner is None or page.runner.running:
        raise SystemExit(f"{type(page).__name__} did not finish within {timeout:.0f} s")


def main(argv: list[str]) -> int:
    runs = "--no-runs" not in argv
    schemes = ("light", "dark")
    for scheme in schemes:
        if f"--{scheme}-only" in argv:
            schemes = (scheme,)
    argv = [a for a in argv if a not in ("--no-runs", "--light-only", "--dark-only")]
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="localtune-shots-"))
    os.environ["LOCALTUNE_HOME"] = str(home)

    from localtune import privacy

    privacy.harden()
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QApplication

    from localtune.engine.train import TrainConfig
    from localtune.journal.repository import Journal
    from localtune.paths import resolve
    from localtune.services.journal import load_demo_journal, set_redaction_names
    from localtune.ui import theme
    from localtune.ui.main_window import MainWindow
    from localtune.vault import Vault

    app = QApplication([sys.argv[0]])
    app.setApplicationName("localtune")
    theme.apply("light", app)

    # First run: the create dialog, on an empty home.
    first = resolve(home / "first").ensure()
    window = MainWindow(first)
    window.resize(*SIZE)
    window.start()
    dialog = window.create_dialog
    dialog.fields.first.setText("maple canyon lantern 42")
    dialog.fields.second.setText("maple canyon lantern 42")
    _pump(app)
    _save(dialog, out, "01-create-vault")
    window.close()

    paths = resolve(home).ensure()
    with Vault.create(paths, PASS) as vault:
        load_demo_journal(Journal(vault))
        set_redaction_names(vault, ["Maria Lopez", "Dr. Okafor"])

    for scheme in schemes:
        with Vault.open(paths, PASS) as vault:
            vault.set_setting("ui.theme", scheme)  # the app applies the vault's choice when it unlocks
        theme.apply(scheme, app)
        suffix = "" if scheme == "light" else "-dark"
        window = MainWindow(paths)
        window.resize(*SIZE)
        window.start()
        dialog = window.unlock_dialog
        if scheme == "light":
            dialog.passphrase.setText("not it")
            dialog.unlock_button.click()
            _pump(app, lambda d=dialog: d.error.isVisible())
            _save(dialog, out, "02-unlock-wrong-passphrase")
        dialog.passphrase.setText(PASS)
        dialog.unlock_button.click()
        _pump(app, lambda w=window: w.is_unlocked and w.lane.pending == 0)
        # Nobody touches this window while the plan is timed and the trial trains, which on a busy machine takes
        # longer than the auto-lock's 10 idle minutes: an auto-lock would hide the pages these pictures show.
        window.idle.set_timeout(3 * 3600)
        journal = window.journal
        journal.table.selectRow(2)
        _pump(app, lambda j=journal, w=window: j.editor.scenario_id is not None and w.lane.pending == 0)
        _save(window, out, f"03-journal{suffix}")
        if scheme == "light":
            journal.editor.read_button.click()  # the same entry as one page to read
            _pump(app)
            _save(window, out, "03-journal-read")
            journal.editor.read_button.click()
            # Two entries selected (Ctrl+click) and saved as a printable PDF: the warning asked first.
            journal.table.selectionModel().select(
                journal.model.index(4, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
            box = journal.open_pdf_export()
            box.path.edit.setText(str(Path.home() / "incident-notes.pdf"))
            _pump(app)
            _save(window, out, "03-journal-selected")
            _save(box, out, "03-journal-pdf")
            box.close()
            journal.table.selectRow(2)

        window.show_page(window.pages.index(window.dataset))
        _pump(app, lambda w=window: w.dataset.report is not None and w.lane.pending == 0)
        _save(window, out, f"04-dataset{suffix}")

        window.show_page(window.pages.index(window.train))
        _pump(app, lambda w=window: not w.train.hardware.text().startswith("Looking") and w.train.model.count() > 0,
              timeout=90)
        # The plan in plain words once its time estimate is measured (a few timed steps on the starter; the dark
        # picture shows the same plan, so it does not wait as long).
        _pump(app, lambda w=window: w.train.summary.text().startswith("Trains on") and "timing" not in
              w.train.summary.text() and "Measuring" not in w.train.plan.text(),
              timeout=900 if scheme == "light" else 60)
        _save(window, out, f"05-train{suffix}")
        if runs and scheme == "light":
            window.train.config = TrainConfig(epochs=1, max_steps=TRIAL_STEPS)
            window.train.start()
            # Locked two steps in: the run goes on behind the lock screen, which says so and can stop it.
            _pump(app, lambda w=window: w.train.progress.value() >= 2, timeout=1800)
            window.lock()
            _pump(app, lambda w=window: w.unlock_dialog is not None)
            _save(window, out, "09-locked-training")
            window.unlock_dialog.passphrase.setText(PASS)
            window.unlock_dialog.unlock_button.click()
            _pump(app, lambda w=window: w.is_unlocked and w.lane.pending == 0)
            window.show_page(window.pages.index(window.train))
            _run_to_end(app, window.train, timeout=3600)
            _save(window, out, "05-train-run")

        window.show_page(window.pages.index(window.compare))
        window._compare_selected_entry()
        _pump(app, lambda w=window: w.lane.pending == 0)
        _save(window, out, f"06-compare{suffix}")

        window.show_page(window.pages.index(window.evaluate))
        _pump(app)
        _save(window, out, f"07-evaluate{suffix}")

        window.show_page(window.pages.index(window.settings))
        _pump(app)
        _save(window, out, f"08-settings{suffix}")
        if scheme == "light":
            box = window.show_about()
            _pump(app)
            _save(box, out, "10-about")
            box.close()
            journal.show_scenario(journal.model.id_at(3))
            _pump(app, lambda j=journal: j.editor.scenario_id == j.model.id_at(3))
            journal.editor.add_perspective_button.click()
            journal.editor.perspective_editors()[-1].analysis.setPlainText("Started writing, no viewpoint yet.")
            window.show_page(window.pages.index(journal))
            journal.table.selectRow(5)  # leaving an entry that cannot be saved yet asks first
            _pump(app, lambda j=journal: j.leave_box is not None)
            _save(window, out, "03-journal-unsaved")
            _save(journal.leave_box, out, "03-journal-unsaved-question")
            journal.keep_draft_button.click()
            _pump(app, lambda w=window: w.lane.pending == 0)
        window.lock()
        _pump(app, lambda w=window: w.lane.pending == 0)
        if scheme == "light":
            _save(window, out, "09-locked")
        window.close()
        _pump(app)
    from localtune.ui import tasks

    _pump(app, lambda: not tasks._live, timeout=300)  # a plan still being timed ends before the app does
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
