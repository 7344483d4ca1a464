"""The journal page: search as you type, filters, a lazy table, the editor with autosave, delete and undo.

No edit is lost: every unsaved change is kept as a draft (in memory; inside the vault on lock and quit), and
leaving an entry whose edit cannot be saved yet asks first: keep editing, discard, or keep it as a draft.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from functools import partial

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
)

from ...journal.models import ASSESSMENTS, USES, Scenario
from ...journal.repository import Filters
from .. import operations as ops
from ..dialogs.import_export import ExportDialog, ImportDialog, PdfExportDialog
from ..errors import explain, show_error
from ..models.journal_table import JournalTableModel
from ..widgets.scenario_editor import ScenarioEditor
from . import Page

SEARCH_DEBOUNCE_MS = 150
AUTOSAVE_MS = 800
SNIPPETS = 1000  # search results that show the words around their matches (the rest show their first line)


def _combo(any_label: str, values=()) -> QComboBox:
    box = QComboBox()
    box.addItem(any_label, None)
    for v in values:
        box.addItem(v, v)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return box


class JournalPage(Page):
    title = "Journal"
    journal_changed = Signal()  # something was added, edited or removed (other pages refresh lazily)
    message = Signal(str)  # a short status-bar note (never journal text)

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.undo_stack: list[list[Scenario]] = []  # one group per delete
        self._saving = False
        self._dirty = False
        self._select_after_load: int | None = None
        self._query_seq = 0
        self._keep_editor = False
        self.autosave_ms = AUTOSAVE_MS
        self.drafts: dict[int, Scenario] = {}  # unsaved edits by key: a scenario id, or negative for a new entry
        self._drafts_known = False  # the vault's stored drafts were read (only then may they be overwritten)
        self._key: int | None = None  # the draft key of what the editor shows
        self._next_new = -1
        self.leave_box: QMessageBox | None = None

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the journal (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.industry = _combo("All industries")
        self.assessment = _combo("Any assessment", ASSESSMENTS)
        self.viewpoint = _combo("Any viewpoint")
        self.use = _combo("Any use", USES)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")

        self.new_button = QPushButton("New entry")
        self.new_button.setToolTip("Write a new entry (Ctrl+N)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected entries (Delete); Ctrl+Z brings them back")
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Bring back what the last delete removed (Ctrl+Z)")
        self.demo_button = QPushButton("Load the demo journal")
        self.drafts_button = QPushButton()
        self.drafts_button.setToolTip("Entries with changes that are not saved yet: open the next one")
        self.drafts_button.setVisible(False)
        import_button = QPushButton("Import…")
        export_button = QPushButton("Export…")
        export_button.setToolTip("Write the whole journal to a .jsonl or .csv file (not encrypted; warns first)")
        self.pdf_button = QPushButton("Save as PDF…")
        self.pdf_button.setToolTip("The selected entries as a printable PDF (not encrypted; warns first). Select "
                                   "several with Ctrl or Shift, all with Ctrl+A.")
        self.pdf_action = QAction("Save selected entries as PDF…", self)
        self.pdf_action.setShortcut(QKeySequence("Ctrl+P"))
        self.pdf_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.pdf_action.setToolTip(self.pdf_button.toolTip())
        self.pdf_action.triggered.connect(self.open_pdf_export)
        self.pdf_dialog: PdfExportDialog | None = None

        self.model = JournalTableModel(self._fetch, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # several for a PDF
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 86), (1, 112), (3, 128), (4, 50)):  # the rest goes to the situation
            self.table.setColumnWidth(col, width)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addAction(self.pdf_action)
        self.editor = ScenarioEditor()

        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        for box in (self.industry, self.assessment, self.viewpoint, self.use):
            filters.addWidget(box)
        actions = QHBoxLayout()
        for button in (self.new_button, self.delete_button, self.undo_button, self.drafts_button):
            actions.addWidget(button)
        actions.addWidget(self.count_label, 1, Qt.AlignmentFlag.AlignCenter)
        for button in (self.demo_button, import_button, export_button, self.pdf_button):
            actions.addWidget(button)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.editor)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 500])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(actions)
        layout.addWidget(split, 1)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.reload)
        self._save_timer = QTimer(self, singleShot=True)
        self._save_timer.timeout.connect(self.save_now)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        for box in (self.industry, self.assessment, self.viewpoint, self.use):
            box.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.editor.changed.connect(self._edited)
        self.new_button.clicked.connect(self.new_entry)
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo_delete)
        self.demo_button.clicked.connect(self.load_demo)
        self.drafts_button.clicked.connect(self.open_next_draft)
        import_button.clicked.connect(self.open_import)
        export_button.clicked.connect(self.open_export)
        self.pdf_button.clicked.connect(self.open_pdf_export)

        for keys, slot in ((QKeySequence.StandardKey.New, self.new_entry),
                           (QKeySequence.StandardKey.Find, self.focus_search),
                           (QKeySequence.StandardKey.Undo, self.undo_delete)):
            QShortcut(keys, self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table, self.delete_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self._update_buttons()

    # -- life cycle --------------------------------------------------------------------------------------

    def on_unlocked(self) -> None:
        self.lane.submit(ops.drafts, self._drafts_loaded)
        self.reload()
        self.refresh_filters()

    def on_locked(self) -> None:
        self._search_timer.stop()
        self._save_timer.stop()
        self._saving = self._dirty = False
        self.undo_stack.clear()
        for box in (self.leave_box, self.pdf_dialog):
            if box is not None:
                box.close()
        self.leave_box = self.pdf_dialog = None
        self.drafts.clear()
        self._drafts_known = False
        self._key = None
        self._update_drafts_button()
        self.editor.load(None)
        self.model.clear()
        for box in (self.industry, self.assessment, self.viewpoint, self.use):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        for box in (self.industry, self.viewpoint):
            while box.count() > 1:
                box.removeItem(1)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.count_label.clear()
        self._update_buttons()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # -- the list ----------------------------------------------------------------------------------------

    def filters(self) -> Filters:
        return Filters(industry=self.industry.currentData(), assessment=self.assessment.currentData(),
                       viewpoint=self.viewpoint.currentData(), use=self.use.currentData())

    def _fetch(self, ids, done) -> None:
        self.lane.submit(partial(ops.entries, ids=ids), done)

    def reload(self) -> None:
        query, filters = self.search.text(), self.filters()
        self._query_seq += 1
        seq = self._query_seq
        unfiltered = not query.strip() and filters == Filters()
        self.lane.submit(partial(ops.search, query=query, filters=filters, snippets=SNIPPETS),
                         lambda result: self._show_ids(seq, unfiltered, *result))

    def _show_ids(self, seq: int, unfiltered: bool, ids: list[int], total: int, snippets=None) -> None:
        if seq != self._query_seq:
            return
        current = self.editor.scenario_id
        self.model.set_ids(ids, snippets)
        if not total:
            self.count_label.setText("No entries yet: press Ctrl+N to write one, or load the demo journal.")
        elif unfiltered:
            self.count_label.setText(f"{total} entries")
        else:
            self.count_label.setText(f"{len(ids)} of {total} entries match")
        target = self._select_after_load if self._select_after_load is not None else current
        self._select_after_load = None
        if target is not None and target == current and self.model.row_of(current) is None \
                and not self._dirty and not self._saving:
            self._key = None  # the search filtered the shown entry out: the editor follows the list
            self.editor.load(None)
            self._update_drafts_button()
            target = None
        if target is not None:
            self.select_id(target, load=target != current)
        self.demo_button.setVisible(total == 0)
        self._update_buttons()

    def refresh_filters(self) -> None:
        self.lane.submit(ops.filter_values, self._set_filter_values)

    def _set_filter_values(self, values) -> None:
        for box, items in zip((self.industry, self.viewpoint), values, strict=True):
            chosen = box.currentData()
            box.blockSignals(True)
            while box.count() > 1:
                box.removeItem(1)
            for item in items:
                box.addItem(item, item)
            index = box.findData(chosen)
            box.setCurrentIndex(max(index, 0))
            box.blockSignals(False)

    def select_id(self, scenario_id: int, *, load: bool = True) -> bool:
        row = self.model.row_of(scenario_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self._keep_editor = not load
        try:
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        finally:
            self._keep_editor = False
        self.table.scrollTo(index)
        return True

    def show_scenario(self, scenario_id: int) -> None:
        """Jump to an entry (from the dataset page): clear search and filters so it is in the list."""
        self.leave_then(lambda: self._show_scenario_now(scenario_id))

    def _show_scenario_now(self, scenario_id: int) -> None:
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for box in (self.industry, self.assessment, self.viewpoint, self.use):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        self._select_after_load = scenario_id
        self.reload()

    def _row_changed(self, current, _previous) -> None:
        scenario_id = self.model.id_at(current.row()) if current.isValid() else None
        if scenario_id is None or scenario_id == self.editor.scenario_id or self._keep_editor:
            self._update_buttons()
            return
        if self._needs_question():
            # The list points back at the entry being edited until the user answers; after the click's own
            # selection update, which would otherwise highlight the clicked row again.
            QTimer.singleShot(0, self._show_editor_row)
            self._ask_before_leaving(lambda: self.select_id(scenario_id))
            return
        self.flush()
        cached = self.model.scenario(scenario_id)
        if cached is not None:
            self._load_entry(copy.deepcopy(cached), scenario_id)
        else:
            self.lane.submit(partial(ops.entry, scenario_id=scenario_id), self._load_if_current)
        self._update_buttons()

    def _load_if_current(self, scenario: Scenario) -> None:
        index = self.table.currentIndex()
        if index.isValid() and self.model.id_at(index.row()) == scenario.id:
            self._load_entry(scenario, scenario.id)

    def _load_entry(self, scenario: Scenario, key: int) -> None:
        """Show an entry in the editor: its kept draft, when there is one."""
        self._save_timer.stop()
        self._dirty = False
        self._key = key
        draft = self.drafts.get(key)
        if draft is None:
            self.editor.load(scenario)
        else:
            self.editor.load(copy.deepcopy(draft))
            self.editor.show_draft()
            if not self.editor.problems():  # a valid draft (its save was cut short): save it now
                self._dirty = True
                self._save_timer.start(self.autosave_ms)
        self._update_drafts_button()

    def _show_editor_row(self) -> None:
        shown = self.editor.scenario_id
        if shown is None or not self.select_id(shown, load=False):
            self._clear_selection()

    def _clear_selection(self) -> None:
        self._keep_editor = True
        try:
            self.table.selectionModel().clearSelection()
            self.table.selectionModel().setCurrentIndex(self.model.index(-1, -1),
                                                        QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self._keep_editor = False

    # -- leaving an entry with unsaved problems --------------------------------------------------------------

    def _needs_question(self) -> bool:
        """Edits made in this visit that cannot be saved yet (a kept draft, left untouched, leaves quietly)."""
        return self.editor.has_scenario and self._dirty and bool(self.editor.problems())

    def leave_then(self, go: Callable[[], None]) -> None:
        """Run `go` (it shows something else in the editor) once the edit in hand is saved, kept or dropped."""
        if self._needs_question():
            self._ask_before_leaving(go)
        else:
            self.flush()
            go()

    def _ask_before_leaving(self, go: Callable[[], None]) -> QMessageBox:
        if self.leave_box is not None:
            return self.leave_box
        box = QMessageBox(QMessageBox.Icon.Warning, "This entry is not saved yet",
                          "Not saved yet: " + "; ".join(self.editor.problems()) + ".\n\nKeep it as a draft to "
                          "finish later (it stays encrypted in the vault), discard the changes, or keep editing.",
                          QMessageBox.StandardButton.NoButton, self)
        keep_editing = box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        discard = box.addButton("Discard changes", QMessageBox.ButtonRole.DestructiveRole)
        keep_draft = box.addButton("Keep as draft", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(keep_editing)
        box.setEscapeButton(keep_editing)
        self.keep_editing_button, self.discard_button, self.keep_draft_button = keep_editing, discard, keep_draft

        def answered(button) -> None:
            self.leave_box = None
            if button is keep_editing:
                self.editor.setFocus()
                return
            if button is discard and self._key is not None:
                self.drafts.pop(self._key, None)
            self._save_timer.stop()
            self._dirty = False
            self._store_drafts()
            go()
            self._update_drafts_button()

        box.buttonClicked.connect(answered)
        box.finished.connect(lambda _result: setattr(self, "leave_box", None))  # it deletes itself on close
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.leave_box = box
        box.open()
        return box

    # -- drafts ----------------------------------------------------------------------------------------------

    def _drafts_loaded(self, drafts: dict[int, Scenario]) -> None:
        self.drafts = {**drafts, **self.drafts}  # anything edited since unlocking is newer
        self._drafts_known = True
        self._next_new = min([*self.drafts, 0]) - 1
        self._update_drafts_button()
        if drafts:
            self.message.emit(f"{len(drafts)} unsaved draft(s) kept from last time: \"Open draft\" shows them.")

    def _store_drafts(self) -> None:
        """Write the drafts into the vault (only after the stored ones were read, or they would be lost)."""
        if not self._drafts_known:
            return
        drafts = copy.deepcopy(self.drafts)
        self.lane.submit(partial(ops.save_drafts, drafts=drafts))

    def park(self) -> None:
        """Before locking or quitting: save what can be saved, keep the rest as drafts inside the vault."""
        self.flush()
        self._store_drafts()

    def open_next_draft(self) -> None:
        others = sorted((k for k in self.drafts if k != self._key), key=lambda k: (k < 0, abs(k)))
        if not others:
            return
        key = others[0]
        if key > 0:
            self.show_scenario(key)
        else:
            self.leave_then(lambda: self._open_new(key))

    def _update_drafts_button(self) -> None:
        count = len(self.drafts)
        self.drafts_button.setText(f"Open draft ({count})")
        self.drafts_button.setVisible(count > (1 if self._key in self.drafts else 0))

    # -- editing and autosave ------------------------------------------------------------------------------

    def new_entry(self) -> None:
        self.leave_then(self._new_entry_now)

    def _new_entry_now(self) -> None:
        key, self._next_new = self._next_new, self._next_new - 1
        self._open_new(key, Scenario(situation="", occurred_on=date.today().isoformat()))
        self.editor.situation.setFocus()

    def _open_new(self, key: int, blank: Scenario | None = None) -> None:
        self._clear_selection()
        self._load_entry(blank or Scenario(situation=""), key)
        self._update_buttons()

    def _edited(self) -> None:
        self._dirty = True
        if self._key is not None:
            self.drafts[self._key] = self.editor.value()
            self._update_drafts_button()
        self._save_timer.start(self.autosave_ms)

    def flush(self) -> None:
        """Save pending edits now (before switching entries, deleting or locking)."""
        if self._save_timer.isActive() or (self._dirty and not self._saving):
            self._save_timer.stop()
            self.save_now()

    def save_now(self) -> None:
        if not self._dirty or not self.editor.has_scenario:
            return
        if self._saving:  # one save at a time; the next starts when this one is back
            self._save_timer.start(self.autosave_ms)
            return
        if self.editor.problems():
            return  # the editor shows what is missing; nothing half-valid is written
        scenario = self.editor.value()
        self._dirty = False
        self._saving = True
        self.editor.status_label.setText("Saving…")
        key = self._key
        self.drafts.pop(key, None)  # the save carries this edit; a failed save keeps it as a draft again
        self._update_drafts_button()

        loaded = self.editor.loaded
        kept = copy.deepcopy(scenario)
        self.lane.submit(partial(ops.save_entry, scenario=scenario), lambda saved: self._saved(saved, loaded, key),
                         lambda exc: self._save_failed(exc, key, kept))

    def _saved(self, scenario: Scenario, loaded: int, key: int | None = None) -> None:
        self._saving = False
        was_new = self.model.row_of(scenario.id) is None
        if key is not None and key < 0:  # a new entry got its id: its later edits are kept under that id
            if key in self.drafts:
                self.drafts[scenario.id] = self.drafts.pop(key)
            if self._key == key:
                self._key = scenario.id
        if self.editor.loaded == loaded:  # still the entry that was saved (not another one loaded since)
            self.editor.mark_saved(scenario)
            self.editor.status_label.setText("Saved" if not self._dirty else "Editing…")
        self.model.put(copy.deepcopy(scenario))
        if was_new:
            self._select_after_load = scenario.id
            self.reload()
            self.refresh_filters()
        self.journal_changed.emit()
        if self._dirty:
            self._save_timer.start(self.autosave_ms)

    def _save_failed(self, exc, key: int | None = None, scenario: Scenario | None = None) -> None:
        self._saving = False
        self._dirty = True
        if key is not None and scenario is not None:
            self.drafts.setdefault(key, scenario)
            self._update_drafts_button()
        self.editor.status_label.setText("Not saved")
        self.editor.problems_label.setText(explain(exc).text)

    # -- delete and undo -----------------------------------------------------------------------------------

    def selected_id(self) -> int | None:
        index = self.table.currentIndex()
        return self.model.id_at(index.row()) if index.isValid() else None

    def delete_selected(self) -> None:
        """Delete every selected entry (or the one open in the editor), in one step that Ctrl+Z undoes."""
        ids = self.selected_ids()
        current = self.selected_id()
        if not ids and current is not None:
            ids = [current]
        if not ids:
            return
        self.flush()
        self._save_timer.stop()
        rows = [r for r in (self.model.row_of(i) for i in ids) if r is not None]
        after = max(rows, default=0)
        self._dirty = False
        if any(self.drafts.pop(i, None) is not None for i in list(ids)):  # deleting drops unsaved changes too
            self._store_drafts()
        self._key = None
        self._update_drafts_button()
        self.editor.load(None)
        self.lane.submit(partial(ops.delete_entries, ids=ids), lambda gone: self._deleted(gone, after))

    def _deleted(self, scenarios: list[Scenario], row: int) -> None:
        self.undo_stack.append(scenarios)
        gone = {s.id for s in scenarios}
        below = (self.model.id_at(r) for r in range(row + 1, self.model.rowCount()))
        above = (self.model.id_at(r) for r in range(row, -1, -1))
        self._select_after_load = next((i for i in (*below, *above) if i is not None and i not in gone), None)
        self.reload()
        self.refresh_filters()
        n = len(scenarios)
        self.message.emit("Entry deleted. Ctrl+Z brings it back." if n == 1
                          else f"{n} entries deleted. Ctrl+Z brings them back.")
        self.journal_changed.emit()

    def undo_delete(self) -> None:
        if not self.undo_stack:
            return
        scenarios = self.undo_stack.pop()
        self._update_buttons()
        self.lane.submit(partial(ops.add_entries, scenarios=scenarios), self._restored,
                         lambda exc: self._restore_failed(scenarios, exc))

    def _restore_failed(self, scenarios: list[Scenario], exc) -> None:
        self.undo_stack.append(scenarios)  # still undoable: nothing of the group is lost
        self._update_buttons()
        self.reload()
        show_error(self, exc)

    def _restored(self, ids: list[int]) -> None:
        self._select_after_load = ids[0] if ids else None
        self.reload()
        self.refresh_filters()
        self.message.emit("Entry restored." if len(ids) == 1 else f"{len(ids)} entries restored.")
        self.journal_changed.emit()

    def selected_ids(self) -> list[int]:
        """The entries selected in the list, in the list's order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [i for i in (self.model.id_at(row) for row in rows) if i is not None]

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(self.selected_id() is not None or bool(self.selected_ids()))
        self.undo_button.setEnabled(bool(self.undo_stack))
        selected = self.table.selectionModel().hasSelection()
        self.pdf_button.setEnabled(selected)
        self.pdf_action.setEnabled(selected)

    # -- import, export, demo --------------------------------------------------------------------------

    def open_import(self) -> ImportDialog:
        dialog = ImportDialog(self.lane, self)
        dialog.imported.connect(lambda _n: (self.reload(), self.refresh_filters(), self.journal_changed.emit()))
        dialog.open()
        return dialog

    def open_export(self) -> ExportDialog:
        self.flush()
        dialog = ExportDialog(self.lane, self)
        dialog.open()
        return dialog

    def open_pdf_export(self) -> PdfExportDialog | None:
        """Save the selected entries as a printable PDF (warned first, like any plaintext export)."""
        ids = self.selected_ids()
        if not ids:
            self.message.emit("Select one or more entries first (Ctrl or Shift adds to the selection).")
            return None
        self.flush()
        if self.pdf_dialog is not None:
            self.pdf_dialog.close()
        dialog = PdfExportDialog(self.lane, ids, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "pdf_dialog", None) if self.pdf_dialog is dialog else None)
        self.pdf_dialog = dialog
        dialog.open()
        return dialog

    def load_demo(self) -> None:
        self.demo_button.setEnabled(False)
        self.lane.submit(ops.load_demo, self._demo_loaded, self._demo_failed)

    def _demo_loaded(self, count: int) -> None:
        self.demo_button.setEnabled(True)
        self.message.emit(f"Loaded {count} demo entries.")
        self.reload()
        self.refresh_filters()
        self.journal_changed.emit()

    def _demo_failed(self, exc) -> None:
        self.demo_button.setEnabled(True)
        show_error(self, exc)
