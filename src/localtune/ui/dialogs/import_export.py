"""Import (with every bad row listed by line) and export (plaintext, after a warning)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import operations as ops
from ..errors import explain
from ..files import JOURNAL_FILES, PDF_FILES, ReplaceGuard, open_file, save_file


class _PathRow(QWidget):
    def __init__(self, placeholder: str, choose, parent: QWidget | None = None):
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        browse = QPushButton("Choose…")
        browse.clicked.connect(lambda: self._choose(choose))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def _choose(self, choose) -> None:
        path = choose()
        if path:
            self.edit.setText(path)


class ImportDialog(QDialog):
    """Check a file first (on the lane), show what is wrong row by row, then import all or the good rows."""

    imported = Signal(int)

    def __init__(self, lane, parent: QWidget | None = None):
        super().__init__(parent)
        self.lane = lane
        self._parsed = None
        self.setWindowTitle("Import into the journal")
        self.setMinimumSize(620, 420)
        self.path = _PathRow("A .jsonl or .csv file", lambda: open_file(self, "Import a journal file"))
        check = QPushButton("Check file")
        check.clicked.connect(self.check)
        self.summary = QLabel("Choose a file and check it. Nothing is imported until you say so.")
        self.summary.setObjectName("importSummary")
        self.summary.setWordWrap(True)
        self.problems = QTableWidget(0, 2)
        self.problems.setHorizontalHeaderLabels(["Line", "What is wrong"])
        self.problems.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.problems.verticalHeader().hide()
        self.problems.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.import_all = buttons.addButton("Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_good = buttons.addButton("Import only the good rows", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_all.clicked.connect(lambda: self._import(skip_invalid=False))
        self.import_good.clicked.connect(lambda: self._import(skip_invalid=True))
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.path, 1)
        top.addWidget(check)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems, 1)
        layout.addWidget(buttons)
        self._set_actions()

    def set_path(self, path: str) -> None:
        self.path.edit.setText(path)

    def _set_actions(self) -> None:
        parsed = self._parsed
        self.import_all.setEnabled(bool(parsed and parsed.scenarios and not parsed.problems))
        self.import_good.setVisible(bool(parsed and parsed.problems and parsed.scenarios))

    def check(self) -> None:
        path = self.path.edit.text().strip()
        if not path:
            return
        self.summary.setText("Checking…")
        self.lane.submit(partial(ops.read_journal_file, path=path), self._checked, self._failed)

    def _checked(self, parsed) -> None:
        self._parsed = parsed
        good, bad = len(parsed.scenarios), len(parsed.problems)
        if bad:
            self.summary.setText(
                f"{bad} row(s) have problems and {good} are fine. Fix the file and check again, or import only the "
                "good rows."
            )
        else:
            self.summary.setText(f"All {good} scenario(s) look fine and are ready to import.")
        self.show_problems(parsed.problems)
        self._set_actions()

    def show_problems(self, problems: list[tuple[int, str]]) -> None:
        self.problems.setRowCount(len(problems))
        for row, (line, why) in enumerate(problems):
            self.problems.setItem(row, 0, QTableWidgetItem(str(line)))
            self.problems.setItem(row, 1, QTableWidgetItem(why))

    def _failed(self, exc) -> None:
        self._parsed = None
        self.summary.setText(explain(exc).text)
        self.show_problems(getattr(exc, "problems", []) or [])
        self._set_actions()

    def _import(self, *, skip_invalid: bool) -> None:
        parsed, source = self._parsed, Path(self.path.edit.text()).name
        if parsed is None:
            return
        self.import_all.setEnabled(False)
        self.import_good.setEnabled(False)
        self.lane.submit(partial(ops.import_entries, parsed=parsed, source=source, skip_invalid=skip_invalid),
                         self._done, self._failed)

    def _done(self, counts) -> None:
        imported, skipped = counts
        self.summary.setText(f"Imported {imported} scenario(s)" + (f"; skipped {skipped} bad row(s)." if skipped else "."))
        self._parsed = None
        self._set_actions()
        self.imported.emit(imported)


class ExportDialog(QDialog):
    """Write the whole journal as plaintext JSONL or CSV (by extension), after saying what that means."""

    caption = "Export the journal"
    placeholder = "Where to write: a .jsonl or .csv file"
    filters = JOURNAL_FILES
    warning_text = ("<b>An export is not encrypted.</b> Anyone who can read the file can read your journal. "
                    "localtune writes it readable only by your user account; delete it when you no longer need it.")

    def __init__(self, lane, parent: QWidget | None = None, *, warning: str | None = None):
        super().__init__(parent)
        self.lane = lane
        self.setWindowTitle(self.caption)
        self.setMinimumWidth(560)
        self.warning = QLabel(warning or self.warning_text)
        self.warning.setWordWrap(True)
        self.path = _PathRow(self.placeholder, lambda: save_file(self, self.caption, self.filters))
        self.result = QLabel()
        self.result.setObjectName("exportResult")
        self.result.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self.export)
        self.replace_guard = ReplaceGuard()
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.path)
        layout.addWidget(self.result)
        layout.addWidget(buttons)

    def destination(self) -> str:
        return self.path.edit.text().strip()

    def export(self) -> None:
        path = self.destination()
        if not path:
            return
        go, question = self.replace_guard.check(path)
        if not go:
            self.result.setText(question)
            return
        self.export_button.setEnabled(False)
        self.write(path, overwrite=question == "overwrite")

    def write(self, path: str, *, overwrite: bool) -> None:
        self.lane.submit(partial(ops.export_entries, path=path, overwrite=overwrite),
                         self._done, self._failed)

    def _done(self, count) -> None:
        self.export_button.setEnabled(True)
        self.result.setText(f"Exported {count} scenario(s) to {Path(self.path.edit.text()).name}.")

    def _failed(self, exc) -> None:
        self.export_button.setEnabled(True)
        self.result.setText(explain(exc).text)


class PdfExportDialog(ExportDialog):
    """Selected entries as a printable PDF: plaintext like any export, so it is warned and written alike (a new
    .pdf outside the vault's folder, an earlier one replaced only after a second click)."""

    caption = "Save the selected entries as a PDF"
    placeholder = "Where to write: a .pdf file"
    filters = PDF_FILES

    def __init__(self, lane, ids: list[int], parent: QWidget | None = None):
        count = len(ids)
        warning = (
            f"<b>A PDF is not encrypted.</b> Anyone who can read the file can read the {count} selected "
            f"{'entry' if count == 1 else 'entries'}: situations, people and every perspective. localtune writes it "
            "readable only by your user account; delete it when you no longer need it, and print or share it only "
            "where you mean to.")
        super().__init__(lane, parent, warning=warning)
        self.ids = list(ids)
        self.export_button.setText("Save PDF")
        self.result.setText("Each entry on the pages in the order of the list: its field and date, the people, the "
                            "situation, the norms of the field and every perspective with its assessment and "
                            "analysis. Pages are A4, or Letter where the system measures in inches.")

    def destination(self) -> str:
        path = super().destination()
        if path and not path.lower().endswith(".pdf"):
            path += ".pdf"
            self.path.edit.setText(path)
        return path

    def write(self, path: str, *, overwrite: bool) -> None:
        ids = self.ids
        self.result.setText("Preparing the PDF…")
        self.lane.submit(partial(ops.printable_entries, ids=ids, dest=path, overwrite=overwrite),
                         lambda scenarios: self._render(path, scenarios, overwrite), self._failed)

    def _render(self, path: str, scenarios, overwrite: bool) -> None:
        from datetime import date

        from ...journal.printable import printable_html
        from ..printing import render_pdf

        if not scenarios:
            from ...errors import InvalidInputError

            self._failed(InvalidInputError("None of the selected entries exists any more. Nothing was written."))
            return
        pdf = render_pdf(printable_html(scenarios, made_on=date.today().isoformat()))
        del scenarios
        self.lane.submit(partial(ops.write_pdf, dest=path, pdf=pdf, overwrite=overwrite),
                         lambda _where: self._saved(len(self.ids)), self._failed)

    def _saved(self, count: int) -> None:
        self.export_button.setEnabled(True)
        self.result.setText(f"Saved {count} {'entry' if count == 1 else 'entries'} as "
                            f"{Path(self.path.edit.text()).name} (not encrypted).")
