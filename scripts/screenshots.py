#!/usr/bin/env python3
"""Render every page of the desktop app into PNGs, for the README and for looking at.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR]   # default docs/screenshots
    xvfb-run -a .venv/bin/python scripts/screenshots.py                            # the same under a virtual X

Uses a throwaway LOCALTUNE_HOME with the demo journal. The Train, Compare and Evaluate pages are shown as
they are now; the "-preview" pictures feed those pages stand-in events (no model runs) to show the layout
they take once their services are wired.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
PASS = "correct horse battery"
SIZE = (1280, 820)


@dataclass
class _Progress:
    step: int
    total: int
    loss: float
    eta_s: float
    eval_loss: float | None = None


@dataclass
class _Piece:
    column: str
    text: str


@dataclass
class _Analysis:
    column: str
    assessment: str
    text: str


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


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="localtune-shots-"))
    os.environ["LOCALTUNE_HOME"] = str(home)

    from localtune import privacy

    privacy.harden()
    from PySide6.QtWidgets import QApplication

    from localtune.dataset import metrics
    from localtune.journal.repository import Journal
    from localtune.paths import resolve
    from localtune.services import load_demo_journal
    from localtune.training import set_redaction_names
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

    for scheme in ("light", "dark"):
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
        journal = window.journal
        journal.table.selectRow(2)
        _pump(app, lambda j=journal, w=window: j.editor.scenario_id is not None and w.lane.pending == 0)
        _save(window, out, f"03-journal{suffix}")

        window.show_page(window.pages.index(window.dataset))
        _pump(app, lambda w=window: w.dataset.report is not None and w.lane.pending == 0)
        _save(window, out, f"04-dataset{suffix}")

        window.show_page(window.pages.index(window.train))
        _pump(app, lambda w=window: not w.train.hardware.text().startswith("Looking") and w.train.model.count() > 0,
              timeout=90)
        _save(window, out, f"05-train{suffix}")
        total = 120
        for step in range(1, 73):
            loss = 2.4 * (0.55 + 0.45 * 0.96**step)
            window.train.on_event(_Progress(step, total, loss, (total - step) * 1.7,
                                            loss * 1.05 + 0.05 if step % 12 == 0 else None))
        _pump(app)
        _save(window, out, f"05-train-preview{suffix}")

        window.show_page(window.pages.index(window.compare))
        window._compare_selected_entry()
        _pump(app)
        _save(window, out, f"06-compare{suffix}")
        readings = {
            "generic": ("mixed", "Both sides have a point. Deadlines matter, but so does workload. "
                                 "It would help to talk openly about priorities."),
            "few_shot": ("problematic", "Asking for unpaid extra hours at short notice, for the third time this "
                                        "month, goes beyond what the team agreed."),
            "tuned": ("problematic", "In this field, late changes are negotiated, not announced. Moving the work "
                                     "without asking shifts the cost of a planning gap onto one person."),
        }
        for column, (label, text) in readings.items():
            window.compare.on_event(_Piece(column, text))
            window.compare.on_event(_Analysis(column, label, text))
        window.compare._paint()
        _save(window, out, f"06-compare-preview{suffix}")

        window.show_page(window.pages.index(window.evaluate))
        _pump(app)
        _save(window, out, f"07-evaluate{suffix}")
        gold = ["problematic"] * 12 + ["reasonable"] * 10 + ["mixed"] * 6
        base = ["problematic"] * 20 + ["mixed"] * 8
        few = gold[:18] + ["problematic"] * 10
        tuned = gold[:24] + ["mixed", "problematic", "reasonable", "problematic"]
        window.evaluate.show_result(metrics.compare(gold, {"base": base, "few_shot": few, "tuned": tuned}).to_dict())
        _pump(app)
        _save(window, out, f"07-evaluate-preview{suffix}")

        window.show_page(window.pages.index(window.settings))
        _pump(app)
        _save(window, out, f"08-settings{suffix}")
        window.lock()
        _pump(app, lambda w=window: w.lane.pending == 0)
        if scheme == "light":
            _save(window, out, "09-locked")
        window.close()
        _pump(app)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
