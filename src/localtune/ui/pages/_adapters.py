"""Managing trained adapters from the Train page's run list: rename, delete (asks), export (warns: the folder
is written unencrypted and an adapter can reveal what it was trained on), and import the sealed adapter bundle
a training server returned (asks its passphrase; decrypted off the vault's lane, then stored like a local run)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QWidget,
)

from .. import files
from .. import operations as ops
from ..errors import explain

BUNDLE_FILES = "localtune bundles (*.ltb);;All files (*)"
EXPORT_WARNING = (
    "The adapter is written to the folder you choose WITHOUT encryption. An adapter can reveal what it was trained "
    "on (rare names and phrases from your journal), so keep the folder as private as the journal itself."
)


class AdapterActions(QWidget):
    changed = Signal()  # an adapter was renamed or deleted: the run list (and Compare) reload
    message = Signal(str)

    def __init__(self, lane, runs: QListWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.lane = lane
        self.runs = runs
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete…")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the adapter as a PEFT folder for other tools (unencrypted; asks first)")
        self.import_button = QPushButton("Import adapter…")
        self.import_button.setToolTip("Add an adapter a training server returned (an encrypted adapter bundle); "
                                      "it asks for the bundle's passphrase")
        self.dialog = None  # the open question, for tests and for closing on lock
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.rename_button, self.delete_button, self.export_button):
            layout.addWidget(button)
        layout.addStretch(1)
        layout.addWidget(self.import_button)
        self.import_button.clicked.connect(self.ask_import)
        self.rename_button.clicked.connect(self.ask_rename)
        self.delete_button.clicked.connect(self.ask_delete)
        self.export_button.clicked.connect(self.ask_export)
        runs.currentItemChanged.connect(lambda *_: self._update())
        self._update()

    def selected(self) -> str | None:
        item = self.runs.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _update(self) -> None:
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(self.selected() is not None)

    def _failed(self, exc) -> None:
        e = explain(exc)
        self.message.emit(f"{e.title}. {e.text}")

    def ask_rename(self) -> QInputDialog | None:
        name = self.selected()
        if name is None:
            return None
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename the adapter")
        dialog.setLabelText(f"New name for {name}:")
        dialog.setTextValue(name)
        dialog.textValueSelected.connect(lambda new: self.rename(name, new))
        self._keep(dialog)
        return dialog

    def rename(self, old: str, new: str) -> None:
        def done(kept) -> None:
            self.message.emit(f"Renamed {old} to {kept}.")
            self.changed.emit()

        self.lane.submit(partial(ops.rename_adapter, old=old, new=new), done, self._failed)

    def ask_delete(self) -> QMessageBox | None:
        name = self.selected()
        if name is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete the adapter",
                          f"Delete {name} from the vault? This cannot be undone; the journal stays as it is.",
                          QMessageBox.StandardButton.Cancel, self)
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self.delete(name) if button is delete else None)
        self.confirm_delete = delete
        self._keep(box)
        return box

    def delete(self, name: str) -> None:
        def done(_result) -> None:
            self.message.emit(f"Deleted {name}.")
            self.changed.emit()

        self.lane.submit(partial(ops.delete_adapter, name=name), done, self._failed)

    def ask_export(self) -> QMessageBox | None:
        name = self.selected()
        if name is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Warning, "Export the adapter unencrypted?", EXPORT_WARNING,
                          QMessageBox.StandardButton.Cancel, self)
        choose = box.addButton("Choose a folder…", QMessageBox.ButtonRole.AcceptRole)
        box.buttonClicked.connect(lambda button: self._choose_folder(name) if button is choose else None)
        self.confirm_export = choose
        self._keep(box)
        return box

    def _choose_folder(self, name: str) -> None:
        folder = files.open_folder(self, "Choose a folder for the adapter")
        if folder:
            self.export(name, folder)

    def export(self, name: str, folder: str) -> None:
        self.lane.submit(partial(ops.export_adapter, name=name, folder=folder),
                         lambda where: self.message.emit(f"Exported {name} to {where} (unencrypted)."), self._failed)

    def ask_import(self) -> QInputDialog | None:
        path = files.open_file(self, "Choose an adapter bundle", BUNDLE_FILES)
        return self.ask_passphrase(path) if path else None

    def ask_passphrase(self, path: str) -> QInputDialog:
        from pathlib import Path

        dialog = QInputDialog(self)
        dialog.setWindowTitle("Import the adapter")
        dialog.setLabelText(f"Passphrase of {Path(path).name}:")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.textValueSelected.connect(lambda passphrase: self.import_bundle(path, passphrase))
        self._keep(dialog)
        return dialog

    def import_bundle(self, path: str, passphrase: str) -> None:
        """Decrypt on a worker thread (Argon2id takes a moment), then seal in the vault on its lane."""
        from ...bundle.importing import open_adapter
        from ..tasks import run_in_thread

        def done(result) -> None:
            name, summary = result
            self.message.emit(f"Imported {name} ({summary.get('steps')} steps, held-out loss "
                              f"{summary.get('eval_loss')}); Compare and Evaluate can use it now.")
            self.changed.emit()

        def opened(result) -> None:
            adapter, doc = result
            self.lane.submit(partial(ops.seal_adapter, adapter=adapter, doc=doc), done, self._failed)

        # A thread of its own, not the model lane: decrypting a file touches no model, and need not wait for one.
        run_in_thread(lambda: open_adapter(path, passphrase), opened, self._failed, parent=self)

    def _keep(self, dialog) -> None:
        """Remember the open question until it closes (it deletes itself then)."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()

    def close_dialog(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.close()
