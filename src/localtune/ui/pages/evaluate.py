"""The evaluate page: base vs few-shot vs tuned on the held-out entries, and the verdict in plain words."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..errors import explain
from ..tasks import GeneratorRunner
from . import Page

NAMES = {"base": "Generic (base model)", "few_shot": "Few-shot", "tuned": "Tuned"}
NOT_YET = (
    "Measuring becomes available here when the evaluation service lands in this version of localtune. "
    "It scores the base, few-shot and tuned model on the entries held out from training."
)


def evaluate_service(ctx, *, cancel=None):
    """The evaluation use case on the lane's open vault and journal (latest adapter): Scoring, then Evaluation."""
    from ... import training

    return training.evaluate(ctx.vault, ctx.journal, ctx.paths, cancel=cancel)


class EvaluatePage(Page):
    title = "Evaluate"

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.source = evaluate_service
        self.runner: GeneratorRunner | None = None
        self.notice = QLabel(NOT_YET)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("bigButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Accuracy", "95% interval", "Macro-F1", "Held-out entries"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.verdict = QLabel("No evaluation yet.")
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress, 1)
        verdict_box = QGroupBox("Verdict")
        vb = QVBoxLayout(verdict_box)
        vb.addWidget(self.verdict)
        vb.addWidget(self.notes)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(top)
        layout.addWidget(verdict_box)
        self.table.setMaximumHeight(150)
        layout.addWidget(self.table)
        layout.addStretch(1)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(lambda: self.runner and self.runner.cancel())
        self.set_source(self.source)

    def set_source(self, make) -> None:
        """`make(ctx, cancel=...)` -> Scoring progress events, then an Evaluation."""
        self.source = make
        self.notice.setVisible(make is None)
        self.run_button.setEnabled(make is not None)

    def on_locked(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
        self.table.setRowCount(0)
        self.verdict.setText("No evaluation yet.")
        self.notes.clear()
        self.progress.reset()

    def start(self) -> None:
        if self.source is None or (self.runner is not None and self.runner.running):
            return
        source = self.source
        self.runner = GeneratorRunner(lambda ctx, token: source(ctx, cancel=token), lane=self.lane, parent=self)
        self.runner.yielded.connect(self.on_event)
        self.runner.errored.connect(lambda exc: self.verdict.setText(explain(exc).text))
        self.runner.finished.connect(lambda: (self.run_button.setEnabled(True), self.cancel_button.setEnabled(False)))
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.runner.start()

    def on_event(self, event) -> None:
        comparison = getattr(event, "comparison", None)
        if comparison is not None:
            self.show_comparison(comparison)
        elif getattr(event, "total", None):
            self.progress.setMaximum(event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{NAMES.get(event.column, event.column)}: %v of %m")

    def show_comparison(self, comparison) -> None:
        self.table.setRowCount(len(comparison.reports))
        for row, (column, r) in enumerate(comparison.reports.items()):
            lo, hi = r.accuracy_ci
            cells = [NAMES.get(column, column), f"{r.accuracy:.0%}", f"{lo:.0%} to {hi:.0%}", f"{r.macro_f1:.2f}", str(r.n)]
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.verdict.setText(f"<b>{comparison.verdict.headline}</b>")
        self.notes.setText(" ".join((*comparison.verdict.notes, *comparison.notes)))
