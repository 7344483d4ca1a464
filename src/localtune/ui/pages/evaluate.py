"""The evaluate page: base vs few-shot vs tuned on the held-out entries, the verdict in plain words, a chart,
confusion matrices, per-industry and per-viewpoint tables, and the history across adapter versions.

Everything shown is drawn from one result dict (`Comparison.to_dict()`, as the vault stores it per adapter),
so a fresh run and a stored one look the same.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...events import COLUMNS, Evaluation, Event, Scoring
from .. import operations as ops
from ..errors import explain
from ..tasks import GeneratorRunner
from ..widgets.metric_bars import MetricBars
from . import Page

NAMES = {"base": "Generic (base model)", "few_shot": "Few-shot", "tuned": "Tuned"}
NO_RESULT = "No evaluation yet. Press Evaluate to score the models on the entries held out from training."
CHOICES = (("All columns", None), ("Generic only", ("base",)), ("Few-shot only", ("few_shot",)),
           ("Tuned only", ("tuned",)), ("Generic and tuned", ("base", "tuned")))


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(r, c, item)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


class EvaluatePage(Page):
    title = "Evaluate"

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.source = ops.evaluate
        self.runner: GeneratorRunner | None = None
        self.history: dict[str, dict] = {}
        self.result: dict | None = None

        self.run_button = QPushButton("Evaluate")
        self.run_button.setObjectName("bigButton")
        self.columns = QComboBox()  # one column takes a third of the time; a partial run is shown, not stored
        for text, value in CHOICES:
            self.columns.addItem(text, value)
        self.columns.setToolTip("Evaluate every column, or only some (a run of some columns is not kept in the "
                                "history)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.verdict = QLabel(NO_RESULT)
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.chart = MetricBars()
        self.table = _table(["Model", "Accuracy", "95% interval", "Macro-F1", "Held-out entries"])
        self.confusion = QWidget()
        self.confusion_layout = QHBoxLayout(self.confusion)
        self.industry = _table(["Industry", "Entries", *NAMES.values()])
        self.viewpoint = _table(["Viewpoint", "Entries", *NAMES.values()])
        self.versions = _table(["Adapter", "Evaluated", "Entries", "Generic", "Few-shot", "Tuned", "Tuned macro-F1"])
        self.versions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.versions.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)

        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.columns)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress, 1)
        verdict_box = QGroupBox("Verdict")
        vb = QVBoxLayout(verdict_box)
        vb.addWidget(self.verdict)
        vb.addWidget(self.notes)
        self.tabs = QTabWidget()
        summary = QWidget()
        sl = QHBoxLayout(summary)
        sl.addWidget(self.chart, 1)
        sl.addWidget(self.table, 1)
        self.tabs.addTab(summary, "Summary")
        self.tabs.addTab(self.confusion, "Confusion")
        self.tabs.addTab(self.industry, "By industry")
        self.tabs.addTab(self.viewpoint, "By viewpoint")
        self.tabs.addTab(self.versions, "History")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(verdict_box)
        layout.addWidget(self.tabs, 1)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(lambda: self.runner and self.runner.cancel())
        self.versions.itemSelectionChanged.connect(self._version_picked)
        self.set_source(self.source)

    def set_source(self, make) -> None:
        """`make(ctx, cancel=..., columns=...)` -> Scoring progress events, then an Evaluation (or, stopped,
        returns the Evaluation of the finished columns)."""
        self.source = make
        self.run_button.setEnabled(make is not None)

    # -- life cycle --------------------------------------------------------------------------------------

    def on_unlocked(self) -> None:
        self.lane.submit(ops.evaluations, self.show_history)

    def on_locked(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
        self.result = None
        self.history = {}
        self.show_result(None)
        self.show_history({})
        self.progress.reset()

    # -- running -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.source is None or (self.runner is not None and self.runner.running):
            return
        source, columns = self.source, self.columns.currentData()
        chosen = {"columns": columns} if columns else {}  # a source that knows no columns still runs all
        self.runner = GeneratorRunner(lambda ctx, token: source(ctx, cancel=token, **chosen), lane=self.lane,
                                      name="evaluation", parent=self)
        self.runner.waiting.connect(lambda: self.progress.setFormat("Waiting for the model to be free…"))
        self.runner.yielded.connect(self.on_event)
        self.runner.returned.connect(self.on_stopped)
        self.runner.errored.connect(lambda exc: self.verdict.setText(explain(exc).text))
        self.runner.cancelled.connect(lambda: self.progress.setFormat("Stopped before any column finished."))
        self.runner.finished.connect(self._idle)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.runner.start()

    def _idle(self) -> None:
        self.run_button.setEnabled(self.source is not None)
        self.cancel_button.setEnabled(False)
        self.lane.submit(ops.evaluations, self.show_history)  # a run on the latest adapter joins the history

    def on_event(self, event: Event) -> None:
        match event:
            case Evaluation(comparison=comparison):
                self.show_result(comparison.to_dict())
            case Scoring(steps=steps) if steps:  # one bar over every column, with the time left
                self.progress.setMaximum(steps)
                self.progress.setValue(event.step)
                eta = "" if event.eta_s is None else f" \u2014 about {_duration(event.eta_s)} left"
                self.progress.setFormat(f"{NAMES.get(event.column, event.column)} {event.done} of {event.total}{eta}")

    def on_stopped(self, evaluation: Evaluation | None) -> None:
        """The run was stopped after some columns finished: show those and say what is missing."""
        match evaluation:
            case Evaluation():
                result = evaluation.to_dict()
            case _:
                return
        self.show_result(result)
        stopped = result.get("stopped", {})
        done = ", ".join(NAMES.get(c, c) for c in stopped.get("finished", []))
        left = ", ".join(NAMES.get(c, c) for c in stopped.get("not_finished", []))
        self.progress.setFormat(f"Stopped: {done} finished" + (f"; {left} not evaluated" if left else ""))

    # -- showing a result ------------------------------------------------------------------------------------

    def show_result(self, result: dict | None) -> None:
        self.result = result
        if not result:
            self.verdict.setText(NO_RESULT)
            self.notes.clear()
            self.chart.set_reports([])
            for table in (self.table, self.industry, self.viewpoint):
                table.setRowCount(0)
            self._show_confusion({})
            return
        columns = [c for c in COLUMNS if result.get(c)]
        verdict = result.get("verdict", {})
        headline = verdict.get("headline") or verdict.get("text", "")
        self.verdict.setText(f"<b>{headline}</b>")
        rest = verdict.get("text", "")[len(headline):].strip() if verdict.get("headline") else ""
        self.notes.setText(" ".join(filter(None, [rest, *result.get("notes", [])])))
        self.chart.set_reports([(NAMES[c], result[c]) for c in columns])
        rows = [[NAMES[c], _pct(result[c]["accuracy"]), "{} to {}".format(*map(_pct, result[c]["accuracy_ci"])),
                 f"{result[c]['macro_f1']:.2f}", str(result[c]["n"])] for c in columns]
        if base := result.get("majority"):  # the floor: always answering the most common label
            rows.append([f"Baseline: always '{base['label']}'", _pct(base["accuracy"]), "–",
                         f"{base['macro_f1']:.2f}", str(base["n"])])
        _fill(self.table, rows)
        for table, key in ((self.industry, "by_industry"), (self.viewpoint, "by_viewpoint")):
            groups = sorted({g for c in columns for g in result[c].get(key, {})})
            rows = []
            for g in groups:
                cells = [(result.get(c) or {}).get(key, {}).get(g) for c in COLUMNS]  # a partial run lacks some
                n = next((x["n"] for x in cells if x), 0)
                rows.append([g or "(none)", str(n), *(_pct(x["accuracy"]) if x else "–" for x in cells)])
            _fill(table, rows)
        self._show_confusion({c: result[c] for c in columns})

    def _show_confusion(self, reports: dict) -> None:
        while self.confusion_layout.count():
            widget = self.confusion_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.confusion_tables = {}
        for column, report in reports.items():
            labels = report["labels"]
            box = QGroupBox(f"{NAMES[column]} (rows: true, columns: predicted)")
            table = _table(["", *labels])
            _fill(table, [[gold, *map(str, row)] for gold, row in zip(labels, report["confusion"], strict=True)])
            QVBoxLayout(box).addWidget(table)
            self.confusion_layout.addWidget(box)
            self.confusion_tables[column] = table

    # -- history across adapter versions ------------------------------------------------------------------

    def show_history(self, history: dict) -> None:
        self.history = dict(history)
        rows = sorted(self.history.values(), key=lambda r: r.get("evaluated_at", ""), reverse=True)
        self._history_order = [r.get("adapter", "") for r in rows]
        self.versions.blockSignals(True)
        _fill(self.versions, [[r.get("adapter", "?"), r.get("evaluated_at", "")[:16].replace("T", " "), str(r.get("n", "")),
                               *(_pct((r.get(c) or {}).get("accuracy")) for c in COLUMNS),
                               f"{r['tuned']['macro_f1']:.2f}" if r.get("tuned") else "–"] for r in rows])
        self.versions.blockSignals(False)
        if self.result is None and rows:
            self.show_result(rows[0])  # the latest stored result, until a new run replaces it

    def _version_picked(self) -> None:
        row = self.versions.currentRow()
        if 0 <= row < len(self._history_order):
            self.show_result(self.history.get(self._history_order[row]))
