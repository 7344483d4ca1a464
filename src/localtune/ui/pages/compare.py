"""The compare page: one situation, three readings side by side (generic, few-shot, tuned), streamed.

While training runs, the model is busy: a comparison asked for then waits, visibly, and starts by itself when
training ends (running both would give one token per training step). Each column says where it stands.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from ...events import Analysis, Event, FewShotSources, Piece
from .. import operations as ops
from ..clipboard import copy_sensitive
from ..errors import explain
from ..tasks import GeneratorRunner
from ..widgets.badge import Badge
from ..widgets.probability_bar import ProbabilityBar
from ..widgets.scenario_editor import COMMON_VIEWPOINTS
from . import Page

COLUMNS = (("base", "Generic"), ("few_shot", "Few-shot"), ("tuned", "Tuned"))
COLUMN_TIPS = {
    "base": "The base model as it comes, with no help from your journal: what a general AI would say.",
    "few_shot": "The same base model, shown the most similar entries of your journal as worked examples first. "
                "Nothing is trained.",
    "tuned": "The base model with your trained adapter: what it learned from your journal's perspectives.",
}
PAINT_MS = 50  # coalesce streamed tokens: repaint at most 20 times a second
CHECK_CHARS = 200  # look for a loop in a column's text each time it has grown by this much
WAITING_FOR_TRAINING = (
    "Waiting for training to finish: the model is busy training. The comparison starts by itself when training "
    "ends (the Train page shows how long that is); Stop cancels the wait."
)
COLUMN_STATUS = {
    "waiting_training": "Waiting for training to finish",
    "waiting_model": "Waiting for the model to be free",
    "queued": "Waiting for its turn",
    "writing": "Writing…",
    "done": "Done",
    "stopped": "Stopped: the text ends where it was cut off",
    "not_started": "Not written (stopped before its turn)",
}
STARTER_NOTE = (
    "About the starter model: it is small (135 million parameters). It writes fluent English and, once trained, "
    "picks up your journal's labels and wording, but it cannot weigh a situation the way a practitioner does; a "
    "larger base model (Train page) reads better."
)
class Column(QGroupBox):
    def __init__(self, title: str, parent=None):
        super().__init__(title, parent)
        self.badge = Badge()
        self.shares = QLabel()  # "reasonable 21% · problematic 64% · mixed 15%"
        self.shares.setObjectName("hint")
        self.bar = ProbabilityBar()
        self.bar.hide()
        self.notes = QLabel()  # cut off, repeating itself, text and badge disagree
        self.notes.setObjectName("notice")
        self.notes.setWordWrap(True)
        self.notes.hide()
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.sources = QLabel()  # few-shot: the journal entries it was shown, as links
        self.sources.setWordWrap(True)
        self.sources.hide()
        self.action = QPushButton()  # an empty column's next step (Tuned: "Train an adapter first")
        self.action.hide()
        self.status = QLabel()
        self.status.setObjectName("columnStatus")
        self.state = ""
        self.buffer = ""
        self.checked = 0  # length of the buffer when it was last checked for a loop
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.badge)
        badge_row.addWidget(self.shares, 1)
        layout.addLayout(badge_row)
        layout.addWidget(self.bar)
        layout.addWidget(self.notes)
        layout.addWidget(self.sources)
        layout.addWidget(self.action)
        layout.addWidget(self.text, 1)

    def set_state(self, state: str) -> None:
        self.state = state
        self.status.setText(COLUMN_STATUS.get(state, ""))

    def set_sources(self, ids) -> None:
        links = ", ".join(f'<a href="{i}">entry {i}</a>' for i in ids)
        self.sources.setText(f"Shown these journal entries as examples: {links}" if ids else "")
        self.sources.setVisible(bool(ids))

    def clear(self) -> None:
        self.set_state("")
        self.set_sources(())
        self.buffer = ""
        self.checked = 0
        self.text.clear()
        self.badge.set_assessment(None)
        self.bar.set_probabilities(None)
        self.shares.clear()
        self.set_notes(())

    def set_notes(self, notes) -> None:
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))

    def finish(self, event: Analysis) -> None:
        """Show a finished reading: its badge, how likely each label is, and what to know about it."""
        self.buffer = event.text
        probabilities = event.probabilities
        unclear = event.assessment == "unclear"
        self.badge.set_assessment(None if unclear else event.assessment, "unclear" if unclear else None)
        self.bar.set_probabilities(probabilities)
        self.shares.setText(self.bar.text())
        self.set_notes(event.notes)
        self.set_state("done")


class ComparePage(Page):
    title = "Compare"
    pick_entry = Signal()  # asks the main window for the journal's selected entry
    open_entry = Signal(int)  # a few-shot source to show in the journal
    train_requested = Signal()  # the empty Tuned column's "Train an adapter first"
    task = Signal(str, int, int)  # for the status bar: what runs, step, total (never journal text)
    task_ended = Signal()

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.source = ops.compare
        self.runner: GeneratorRunner | None = None
        self.training_busy = False  # set by the main window while the Train page trains
        self._queued = None  # a comparison waiting for training to end: the runner's factory
        self.waiting = QLabel(WAITING_FOR_TRAINING)
        self.waiting.setObjectName("notice")
        self.waiting.setWordWrap(True)
        self.waiting.hide()
        self.situation = QPlainTextEdit()
        self.situation.setPlaceholderText("Describe a situation, or take the entry selected in the journal.")
        self.situation.setMaximumHeight(110)
        self.industry = QLineEdit()
        self.industry.setPlaceholderText("the field, e.g. Hospital nursing (optional)")
        self.norms = QPlainTextEdit()
        self.norms.setPlaceholderText("the field's norms, as a practitioner would state them (optional)")
        self.norms.setMaximumHeight(54)
        self.norms.setTabChangesFocus(True)
        self.viewpoint = QComboBox()
        self.viewpoint.setEditable(True)
        self.viewpoint.addItems(COMMON_VIEWPOINTS)
        self.viewpoint.setEditText("")
        self.viewpoint.lineEdit().setPlaceholderText("my viewpoint, e.g. employee (optional)")
        self.starter_note = QLabel(STARTER_NOTE)
        self.starter_note.setObjectName("hint")
        self.starter_note.setWordWrap(True)
        self.adapter = QComboBox()
        self.adapter.setPlaceholderText("no trained adapter yet")
        use_entry = QPushButton("Use selected journal entry")
        use_entry.clicked.connect(self.pick_entry)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("bigButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.copy_button = QPushButton("Copy as Markdown")
        self.copy_button.setToolTip("Copied text is cleared from the clipboard after 30 seconds")
        self.notice = QLabel()  # why a comparison could not run
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.columns = {key: Column(title) for key, title in COLUMNS}
        for key, column in self.columns.items():
            column.setToolTip(COLUMN_TIPS[key])
            column.sources.linkActivated.connect(lambda link: self.open_entry.emit(int(link)))
        tuned = self.columns["tuned"]
        tuned.action.setText("Train an adapter first")
        tuned.action.setToolTip("Tuned needs an adapter trained on your journal: open the Train page")
        tuned.action.clicked.connect(self.train_requested)
        tuned.action.show()

        controls = QHBoxLayout()
        controls.addWidget(use_entry)
        controls.addWidget(QLabel("Adapter"))
        controls.addWidget(self.adapter, 1)
        controls.addWidget(self.compare_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.copy_button)
        row = QHBoxLayout()
        for column in self.columns.values():
            row.addWidget(column, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.waiting)
        layout.addWidget(self.starter_note)
        layout.addWidget(self.situation)
        steering = QFormLayout()
        steering.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        field_row = QHBoxLayout()
        field_row.addWidget(self.industry, 1)
        field_row.addWidget(QLabel("My viewpoint"))
        field_row.addWidget(self.viewpoint, 1)
        steering.addRow("Field", field_row)
        steering.addRow("Norms", self.norms)
        layout.addLayout(steering)
        layout.addLayout(controls)
        layout.addLayout(row, 1)

        self._paint_timer = QTimer(self, interval=PAINT_MS)
        self._paint_timer.timeout.connect(self._paint)
        self.compare_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.cancel)
        self.copy_button.clicked.connect(self.copy_markdown)
        self.set_source(self.source)

    def set_source(self, make) -> None:
        """`make(ctx, situation=..., adapter=..., cancel=...)` -> Piece/Analysis events."""
        self.source = make
        self.notice.hide()
        self.compare_button.setEnabled(make is not None)

    def on_shown(self) -> None:
        self.lane.submit(ops.adapter_names, self._adapters_listed)

    def _adapters_listed(self, names) -> None:
        chosen = self.adapter.currentData()
        self.adapter.clear()
        for name in reversed(names):  # newest first
            self.adapter.addItem(name, name)
        index = self.adapter.findData(chosen)
        self.adapter.setCurrentIndex(index if index >= 0 else (0 if names else -1))
        self.columns["tuned"].action.setVisible(not names)

    def on_locked(self) -> None:
        self.cancel()
        self.task_ended.emit()
        self._paint_timer.stop()
        self.situation.clear()
        self.industry.clear()
        self.norms.clear()
        self.viewpoint.setEditText("")
        self.adapter.clear()
        for column in self.columns.values():
            column.clear()

    def use_scenario(self, scenario) -> None:
        self.situation.setPlainText(scenario.situation)
        self.industry.setText(scenario.industry)
        self.norms.setPlainText(scenario.context)

    # -- streaming -----------------------------------------------------------------------------------------

    def start(self) -> None:
        text = self.situation.toPlainText().strip()
        if not text or self.source is None or (self.runner is not None and self.runner.running):
            return
        for column in self.columns.values():
            column.clear()
        source, adapter = self.source, self.adapter.currentData()
        extra = {"industry": self.industry.text().strip(), "context": self.norms.toPlainText().strip(),
                 "viewpoint": self.viewpoint.currentText().strip()}

        def make(ctx, token):
            return source(ctx, situation=text, adapter=adapter, cancel=token, **extra)

        self.compare_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        if self.training_busy:
            self._queued = make
            self.waiting.show()
            for column in self.columns.values():
                column.set_state("waiting_training")
            self.task.emit("Compare: waiting for training to finish", 0, 0)
            return
        self._run(make)

    def _run(self, make) -> None:
        self.waiting.hide()
        for column in self.columns.values():
            column.set_state("queued")
        self.runner = GeneratorRunner(make, lane=self.lane, name="reading", parent=self)
        self.runner.waiting.connect(self._waiting_for_model)
        self.runner.yielded.connect(self.on_event)
        self.runner.errored.connect(self._failed)
        self.runner.finished.connect(self._finished)
        self.compare_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._paint_timer.start()
        self.task.emit("Comparing…", 0, len(self.columns))
        self.runner.start()

    def _waiting_for_model(self) -> None:
        """Other model work (an evaluation, a time estimate) runs first; the reading starts after it."""
        for column in self.columns.values():
            column.set_state("waiting_model")
        self.task.emit("Compare: waiting for the model to be free", 0, 0)

    def set_training_busy(self, busy: bool) -> None:
        """Training started or ended; a comparison waiting for it starts now."""
        self.training_busy = busy
        if not busy and self._queued is not None:
            make, self._queued = self._queued, None
            self._run(make)

    def cancel(self) -> None:
        if self._queued is not None:  # only waiting: nothing runs yet
            self._queued = None
            self.waiting.hide()
            for column in self.columns.values():
                column.set_state("")
            self._finished()
        if self.runner is not None and self.runner.running:
            self.runner.cancel()

    def on_event(self, event: Event) -> None:
        for column in self.columns.values():  # the model is free now: the reading has begun
            if column.state == "waiting_model":
                column.set_state("queued")
        match event:
            case FewShotSources(column=key, scenario_ids=ids) if key in self.columns:  # the entries few-shot is shown
                self.columns[key].set_sources(ids)
            case Analysis(column=key) if key in self.columns:  # a finished reading
                self.columns[key].finish(event)
                done = sum(c.state == "done" for c in self.columns.values())
                self.task.emit(f"Comparing: {done} of {len(self.columns)} readings", done, len(self.columns))
            case Piece(column=key, text=text) if key in self.columns:
                column = self.columns[key]
                if column.state != "writing":
                    column.set_state("writing")
                column.buffer += text
                if len(column.buffer) - column.checked >= CHECK_CHARS:
                    column.checked = len(column.buffer)
                    self._check_loop(column)

    def _check_loop(self, column: Column) -> None:
        """A reading that loops is named while it streams, and Stop is offered."""
        from ...dataset.reading_quality import repetition

        found = repetition(column.buffer)
        if found:
            column.set_notes((f"{found} Press Stop to end it.",))

    def _paint(self) -> None:
        for column in self.columns.values():
            if column.text.toPlainText() != column.buffer:
                column.text.setPlainText(column.buffer)

    def _finished(self) -> None:
        self._paint_timer.stop()
        self._paint()
        for column in self.columns.values():
            if column.state == "writing":
                column.set_state("stopped")
            elif column.state in ("queued", "waiting_model"):
                column.set_state("not_started")
        self.compare_button.setEnabled(self.source is not None)
        self.stop_button.setEnabled(False)
        self.task_ended.emit()

    def _failed(self, exc) -> None:
        e = explain(exc)
        self.notice.setText(f"{e.title}. {e.text}")
        self.notice.show()

    def markdown(self) -> str:
        parts = [f"## Situation\n\n{self.situation.toPlainText().strip()}"]
        for key, title in COLUMNS:
            column = self.columns[key]
            if column.buffer:
                badge = column.badge.assessment or "unclear"
                shares = f" ({column.bar.text()})" if column.bar.probabilities else ""
                notes = "".join(f"\n\n> {n}" for n in column.notes.text().splitlines() if n)
                cut = "\n\n> Stopped: the text ends where it was cut off." if column.state == "stopped" else ""
                parts.append(f"## {title}: {badge}{shares}\n\n{column.buffer.strip()}{notes}{cut}")
        return "\n\n".join(parts) + "\n"

    def copy_markdown(self) -> None:
        copy_sensitive(self.markdown())
