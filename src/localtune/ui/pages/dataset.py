"""The dataset page: is the journal ready to train on, and what to fix. Everything comes from the core's
readiness report (dataset/checks.py); this page only draws it."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from .. import operations as ops
from ..errors import explain
from ..widgets.balance_chart import BalanceChart
from ..widgets.meter import Meter
from . import Page

LEVEL_WORDS = {
    "too few": "Not enough examples to train yet",
    "minimum": "Enough to start training",
    "preferred": "A good amount of examples",
    "good": "Plenty of examples",
}
CODE_GROUPS = {"near_duplicate": "Duplicate", "contradiction": "Contradiction", "label_imbalance": "Note"}
DISAGREEING_IS_THE_POINT = (
    "Disagreeing perspectives are the point: an employee and HR often read the same situation differently, and "
    "the model learns each viewpoint's own reading. A note that one viewpoint mostly says one thing is only worth "
    "acting on if that is not how that viewpoint really sees it."
)
AGREEMENT_TIP = (
    "How often two viewpoints give the same assessment of the same entry. Kappa is that agreement beyond chance: "
    "1 = always agree, 0 = no more than chance, below 0 = they disagree more than chance would. Low agreement is "
    "expected between different viewpoints."
)
PREVIEW_EXAMPLES = 2


class DatasetPage(Page):
    title = "Dataset"
    jump_to = Signal(int)  # a scenario id to show in the journal

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.stale = True
        self.report = None

        self.headline = QLabel("Checking the journal…")
        self.headline.setObjectName("pageHeadline")
        self.headline.setWordWrap(True)
        self.meter = Meter([(50, "minimum"), (100, "preferred"), (200, "good")])
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        refresh = QPushButton("Check again")
        refresh.clicked.connect(self.refresh)
        self.chart = BalanceChart()
        self.agreement = QLabel()
        self.agreement.setWordWrap(True)
        self.agreement.setToolTip(AGREEMENT_TIP)
        self.viewpoint_note = QLabel(DISAGREEING_IS_THE_POINT)
        self.viewpoint_note.setObjectName("hint")
        self.viewpoint_note.setWordWrap(True)
        self.viewpoint_note.hide()
        self.findings = QListWidget()
        self.findings.setWordWrap(True)
        self.findings.setSpacing(3)
        self.findings.setAlternatingRowColors(True)
        self.findings.setObjectName("findings")
        self.findings.itemActivated.connect(self._activated)
        self.findings.itemDoubleClicked.connect(self._activated)
        self.findings.currentItemChanged.connect(self._finding_selected)
        self.open_entry = QPushButton("Show entry in the journal")
        self.open_entry.setEnabled(False)
        self.open_entry.clicked.connect(lambda: self._activated(self.findings.currentItem()))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setObjectName("redactionPreview")
        self.split = QLabel()
        self.split.setWordWrap(True)
        self.names = QPlainTextEdit()
        self.names.setObjectName("redactionNames")
        self.names.setPlaceholderText("One name per line, e.g.\nMaria Lopez\nDr. Okafor")
        self.names.textChanged.connect(self._names_edited)
        self.save_names = QPushButton("Save names")
        self.save_names.setEnabled(False)
        self.save_names.clicked.connect(self.store_names)
        self.names_result = QLabel()
        self.names_result.setWordWrap(True)
        self._saved_names: list[str] = []

        head = QHBoxLayout()
        head.addWidget(self.headline, 1)
        head.addWidget(refresh)
        readiness_box = QGroupBox("Readiness")
        rb = QVBoxLayout(readiness_box)
        rb.addWidget(self.meter)
        rb.addWidget(self.counts)
        balance_box = QGroupBox("Assessments by viewpoint")
        bb = QVBoxLayout(balance_box)
        bb.addWidget(self.chart)
        bb.addWidget(self.agreement)
        bb.addStretch(1)
        findings_box = QGroupBox("What to look at (double-click to open the entry)")
        fb = QVBoxLayout(findings_box)
        fb.addWidget(self.viewpoint_note)
        fb.addWidget(self.findings, 1)
        fb.addWidget(self.open_entry, 0, Qt.AlignmentFlag.AlignRight)
        preview_box = QGroupBox("What the model will see (names and contact details redacted)")
        pb = QVBoxLayout(preview_box)
        pb.addWidget(self.preview)
        names_box = QGroupBox("Names to redact in every entry")
        nb = QVBoxLayout(names_box)
        explain_names = QLabel("Colleagues and clients who may turn up in any entry, besides each entry's own "
                               "people. Before training they become [Person A], [Person B]… Spellings without "
                               "accents, in capitals or with another hyphen or apostrophe are covered.")
        explain_names.setWordWrap(True)
        nb.addWidget(explain_names)
        nb.addWidget(self.names, 1)
        nrow = QHBoxLayout()
        nrow.addWidget(self.names_result, 1)
        nrow.addWidget(self.save_names)
        nb.addLayout(nrow)
        split_box = QGroupBox("Held-out split")
        split_box.setToolTip("Held-out entries are kept out of training, so the Evaluate page can measure the "
                             "adapter on situations it has never seen.")
        sb = QVBoxLayout(split_box)
        sb.addWidget(self.split)
        grid = QGridLayout()
        grid.addWidget(readiness_box, 0, 0)
        grid.addWidget(split_box, 0, 1)
        grid.addWidget(balance_box, 1, 0)
        grid.addWidget(findings_box, 1, 1)
        grid.addWidget(preview_box, 2, 0)
        grid.addWidget(names_box, 2, 1)
        grid.setRowStretch(1, 1)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(grid, 1)

    # -- life cycle --------------------------------------------------------------------------------------

    def on_unlocked(self) -> None:
        self.stale = True
        self.lane.submit(ops.names, self._show_names)

    def on_shown(self) -> None:
        if self.stale:
            self.refresh()

    def mark_stale(self) -> None:
        self.stale = True
        if self.isVisible():
            self.refresh()

    def on_locked(self) -> None:
        self.report = None
        self.stale = True
        self.headline.setText("")
        self.meter.set_value(0)
        self.counts.clear()
        self.chart.set_balance({})
        self.agreement.clear()
        self.viewpoint_note.hide()
        self.findings.clear()
        self.preview.clear()
        self.split.clear()
        self._show_names([])
        self.names_result.clear()

    def refresh(self) -> None:
        self.stale = False
        self.headline.setText("Checking the journal…")
        self.lane.submit(ops.readiness, self.show_report, self._failed)
        self.lane.submit(partial(ops.preview, ids=[], limit=PREVIEW_EXAMPLES), self.preview.setPlainText)

    def _failed(self, exc) -> None:
        self.headline.setText(explain(exc).text)

    # -- names to redact -----------------------------------------------------------------------------------

    def _typed_names(self) -> list[str]:
        return [line.strip() for line in self.names.toPlainText().splitlines() if line.strip()]

    def _show_names(self, names) -> None:
        self._saved_names = list(names)
        self.names.setPlainText("\n".join(names))
        self.save_names.setEnabled(False)

    def _names_edited(self) -> None:
        self.save_names.setEnabled(self._typed_names() != self._saved_names)

    def store_names(self) -> None:
        names = self._typed_names()  # read here: the job runs on the vault lane's thread
        self.save_names.setEnabled(False)

        def done(kept) -> None:
            self._show_names(kept)
            self.names_result.setText(f"Saved {len(kept)} name{'s' if len(kept) != 1 else ''}. The preview uses them.")
            self.refresh()

        def failed(exc) -> None:
            e = explain(exc)
            self.names_result.setText(f"<b>{e.title}.</b> {e.text}")
            self._names_edited()

        self.lane.submit(partial(ops.save_names, names=names), done, failed)

    # -- drawing the report --------------------------------------------------------------------------------

    def show_report(self, report) -> None:
        self.report = report
        ready = "Ready to train." if report.ready else "Not ready to train yet."
        self.headline.setText(f"<b>{ready}</b> {LEVEL_WORDS.get(report.level, report.level)}.")
        self.meter.set_value(report.example_count)
        labels = ", ".join(f"{n} {label}" for label, n in report.labels.items()) or "none yet"
        self.counts.setText(
            f"{report.example_count} examples (one per perspective) from {report.scenario_count} entries. "
            f"Assessments: {labels}."
        )
        self.chart.set_balance(report.balance)
        agreement = [
            f"{a.viewpoints[0]} and {a.viewpoints[1]} agree on {a.observed:.0%} of {a.n} entries"
            + (f" (kappa {a.kappa:.2f})" if a.kappa is not None else "")
            for a in report.agreement
        ]
        self.agreement.setText("Agreement (low is expected): " + "; ".join(agreement) + "." if agreement else "")
        self.viewpoint_note.setVisible(bool(agreement) or any(f.code == "label_imbalance" for f in report.warnings))
        self.findings.clear()
        for severity, findings in (("Blocking", report.blocking), ("Warning", report.warnings)):
            for f in findings:
                kind = CODE_GROUPS.get(f.code, severity)
                item = QListWidgetItem(f"{kind}: {f.message}")
                item.setData(Qt.ItemDataRole.UserRole, [i for i in f.scenario_ids if isinstance(i, int)])
                if severity == "Blocking":
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.findings.addItem(item)
        if not self.findings.count():
            self.findings.addItem(QListWidgetItem("Nothing to fix: no duplicates, contradictions or gaps found."))
        s = report.split
        if s is None:
            self.split.setText("No split yet: add assessed entries first.")
        else:
            per_label = "<br>".join(
                f"&nbsp;&nbsp;{label}: {sides['train']} to learn from, {sides['eval']} held out"
                for label, sides in s.per_label.items()
            )
            self.split.setText(
                f"{s.train_examples} examples to learn from and {s.eval_examples} held out to measure the result "
                f"({s.train_scenarios} / {s.eval_scenarios} entries; {s.marked_eval} you marked 'eval').<br>"
                + per_label
            )

    def _finding_selected(self, item, _previous=None) -> None:
        ids = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        self.open_entry.setEnabled(bool(ids))
        if ids:
            self.lane.submit(partial(ops.preview, ids=ids[:2], limit=PREVIEW_EXAMPLES), self.preview.setPlainText)

    def _activated(self, item) -> None:
        ids = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if ids:
            self.jump_to.emit(ids[0])
