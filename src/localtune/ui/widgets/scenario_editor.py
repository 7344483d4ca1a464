"""The editor for one scenario and its perspectives. It only edits; the journal page saves."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...journal.models import ASSESSMENTS, USES, Perspective, Scenario, problems
from ...journal.printable import reading_html
from ..models.journal_table import USE_TIP

COMMON_VIEWPOINTS = ("employee", "manager", "HR", "colleague", "client")


def _text_box(placeholder: str, height: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setMinimumHeight(height)
    return box


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]


class PerspectiveEditor(QFrame):
    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, perspective: Perspective | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.viewpoint = QComboBox()
        self.viewpoint.setEditable(True)
        self.viewpoint.addItems(COMMON_VIEWPOINTS)
        self.viewpoint.lineEdit().setPlaceholderText("whose view: employee, manager, HR ...")
        self.assessment = QComboBox()
        self.assessment.addItems(ASSESSMENTS)
        self.analysis = _text_box("Why, in a few sentences, as someone in this field would explain it", 70)
        remove = QPushButton("Remove")
        remove.setToolTip("Remove this perspective")
        remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.viewpoint.setMinimumContentsLength(10)
        top = QHBoxLayout()
        top.addWidget(self.viewpoint, 3)
        top.addWidget(self.assessment, 2)
        top.addWidget(remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.analysis)
        self.perspective_id = None
        if perspective is not None:
            self.perspective_id = perspective.id
            self.viewpoint.setEditText(perspective.viewpoint)
            if perspective.assessment in ASSESSMENTS:
                self.assessment.setCurrentText(perspective.assessment)
            else:
                self.assessment.addItem(perspective.assessment)
                self.assessment.setCurrentText(perspective.assessment)
            self.analysis.setPlainText(perspective.analysis)
        else:  # a new perspective: its assessment is asked for, not pre-set
            self.viewpoint.setEditText("")
            self.assessment.setPlaceholderText("assessment?")
            self.assessment.setCurrentIndex(-1)
        self.viewpoint.editTextChanged.connect(self.changed)
        self.assessment.currentTextChanged.connect(self.changed)
        self.analysis.textChanged.connect(self.changed)

    def value(self) -> Perspective:
        return Perspective(viewpoint=self.viewpoint.currentText().strip(), assessment=self.assessment.currentText(),
                           analysis=self.analysis.toPlainText(), id=self.perspective_id)


class ScenarioEditor(QWidget):
    """`changed` fires on every edit a person makes (not when a scenario is loaded)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._base: Scenario | None = None
        self._loading = False
        self.loaded = 0  # counts load() calls: a save that comes back for an earlier load changes nothing
        self.heading = QLabel()
        self.heading.setObjectName("editorHeading")
        self.situation = _text_box("What happened? Use pseudonyms for people.", 90)
        self.context = _text_box("The norms of this field, as a practitioner would state them (optional)", 50)
        self.industry = QLineEdit()
        self.industry.setPlaceholderText("e.g. Hospital nursing")
        self.occurred_on = QLineEdit()
        self.occurred_on.setPlaceholderText("YYYY-MM-DD (optional)")
        self.people = QLineEdit()
        self.people.setPlaceholderText("pseudonyms, separated by ;")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("separated by ;")
        self.use = QComboBox()
        self.use.addItems(USES)
        self.use.setToolTip(USE_TIP)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Situation", self.situation)
        form.addRow("Norms", self.context)
        form.addRow("Industry", self.industry)
        form.addRow("Date", self.occurred_on)
        form.addRow("People", self.people)
        form.addRow("Tags", self.tags)
        form.addRow("Use", self.use)
        self._perspectives_box = QVBoxLayout()
        self._perspectives_box.setSpacing(6)
        add = self.add_perspective_button = QPushButton("Add perspective")
        add.clicked.connect(lambda: self.add_perspective(None, user=True))
        self.problems_label = QLabel()
        self.problems_label.setObjectName("problemsLabel")
        self.problems_label.setWordWrap(True)
        self.status_label = QLabel()
        self.status_label.setObjectName("saveStatus")

        inner = QWidget()
        col = QVBoxLayout(inner)
        col.addLayout(form)
        perspectives_title = QLabel("Perspectives")
        perspectives_title.setObjectName("sectionTitle")
        col.addWidget(perspectives_title)
        col.addLayout(self._perspectives_box)
        col.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        # Reading an entry as one document, instead of through the form's small boxes; Edit goes back.
        self.reader = QTextBrowser()
        self.reader.setOpenLinks(False)
        self.read_button = QPushButton("Read")
        self.read_button.setCheckable(True)
        self.read_button.setToolTip("Show the entry as one page to read; press again to edit")
        self.read_button.toggled.connect(self._set_reading)
        self.pages = QStackedWidget()
        self.pages.addWidget(scroll)
        self.pages.addWidget(self.reader)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.read_button)
        outer.addLayout(top)
        outer.addWidget(self.pages, 1)
        status = QHBoxLayout()
        status.addWidget(self.problems_label, 1)
        status.addWidget(self.status_label)
        outer.addLayout(status)

        for box in (self.situation, self.context):
            box.textChanged.connect(self._edited)
        for line in (self.industry, self.occurred_on, self.people, self.tags):
            line.textEdited.connect(self._edited)
        self.use.currentTextChanged.connect(self._edited)
        self.load(None)

    # -- loading -----------------------------------------------------------------------------------------

    @property
    def scenario_id(self) -> int | None:
        return self._base.id if self._base is not None else None

    @property
    def has_scenario(self) -> bool:
        return self._base is not None

    def load(self, scenario: Scenario | None) -> None:
        """Show `scenario` (None: nothing; a Scenario with id None: a new, unsaved entry)."""
        self._loading = True
        self.loaded += 1
        try:
            self._base = scenario
            s = scenario or Scenario(situation="")
            self.situation.setPlainText(s.situation)
            self.context.setPlainText(s.context)
            self.industry.setText(s.industry)
            self.occurred_on.setText(s.occurred_on)
            self.people.setText("; ".join(s.people))
            self.tags.setText("; ".join(s.tags))
            self.use.setCurrentText(s.use if s.use in USES else "train")
            while self._perspectives_box.count():
                item = self._perspectives_box.takeAt(0)
                if item.widget() is not None:
                    item.widget().deleteLater()
            for p in s.perspectives:
                self.add_perspective(p)
            if scenario is None:
                self.heading.setText("Select an entry, or press Ctrl+N to write a new one.")
            elif scenario.id is None:
                self.heading.setText("New entry (saved automatically once the situation is written)")
            else:
                self.heading.setText(f"Entry {scenario.id}")
            self.problems_label.clear()
            self.status_label.clear()
            self.setEnabled(scenario is not None)
            self._set_reading(self.read_button.isChecked())
        finally:
            self._loading = False

    def add_perspective(self, perspective: Perspective | None, *, user: bool = False) -> PerspectiveEditor:
        row = PerspectiveEditor(perspective)
        row.changed.connect(self._edited)
        row.remove_requested.connect(self._remove)
        self._perspectives_box.addWidget(row)
        if user:
            row.viewpoint.setFocus()
            self._edited()
        return row

    def _remove(self, row: PerspectiveEditor) -> None:
        self._perspectives_box.removeWidget(row)
        row.deleteLater()
        self._edited()

    def perspective_editors(self) -> list[PerspectiveEditor]:
        return [self._perspectives_box.itemAt(i).widget() for i in range(self._perspectives_box.count())]

    # -- reading -----------------------------------------------------------------------------------------

    def value(self) -> Scenario:
        base = self._base or Scenario(situation="")
        return replace(
            base,
            situation=self.situation.toPlainText(),
            context=self.context.toPlainText(),
            industry=self.industry.text().strip(),
            occurred_on=self.occurred_on.text().strip(),
            people=_split(self.people.text()),
            tags=_split(self.tags.text()),
            use=self.use.currentText(),
            perspectives=[row.value() for row in self.perspective_editors()],
        )

    def problems(self) -> list[str]:
        return problems(self.value())

    def mark_saved(self, scenario: Scenario) -> None:
        """The save went through: keep its id and timestamps as the new base, without reloading fields."""
        self._base = replace(scenario)
        self.heading.setText(f"Entry {scenario.id}")

    def _set_reading(self, reading: bool) -> None:
        self.reader.setHtml(reading_html(self.value()) if reading and self._base is not None else "")
        self.pages.setCurrentIndex(1 if reading else 0)
        self.read_button.setText("Edit" if reading else "Read")

    def show_draft(self) -> None:
        """The loaded scenario is a kept draft: say so, and what stops it from being saved."""
        found = self.problems()
        self.problems_label.setText("Draft, not saved yet" + (": " + "; ".join(found) + "." if found else "."))
        self.status_label.setText("Draft")

    def _edited(self, *_args) -> None:
        if self._loading or self._base is None:
            return
        found = self.problems()
        self.problems_label.setText(("Not saved yet: " + "; ".join(found) + ".") if found else "")
        self.status_label.setText("Editing…" if not found else "")
        self.changed.emit()
