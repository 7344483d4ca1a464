"""Later runs (and after every lock): the passphrase, a clear message when it does not work, and - when the
vault is damaged - a way out: restore from a backup right here, since Settings needs an open vault."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..files import BACKUP_FILES, open_file
from .import_export import _PathRow


class UnlockDialog(QDialog):
    submitted = Signal(str)
    quit_requested = Signal()
    restore_requested = Signal(str, str)  # backup file, its passphrase

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Unlock your journal")
        self.setMinimumWidth(440)
        intro = QLabel("<h3>Your journal is locked</h3>Enter your passphrase to open it.")
        intro.setWordWrap(True)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.error_title = QLabel()
        self.error_title.setObjectName("errorTitle")
        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.quit_button = self.buttons.addButton("Quit", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.unlock_button = self.buttons.addButton("Unlock", QDialogButtonBox.ButtonRole.AcceptRole)
        # Enter always means Unlock: a button that once had focus must not become the default.
        self.quit_button.setAutoDefault(False)
        self.unlock_button.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.quit_button.clicked.connect(self.quit_requested)
        self.passphrase.returnPressed.connect(self._submit)

        self.recovery = QWidget()
        self.backup_path = _PathRow("The backup file (.ltbackup)",
                                    lambda: open_file(self, "Restore from a backup", BACKUP_FILES))
        self.backup_passphrase = QLineEdit()
        self.backup_passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.backup_passphrase.setPlaceholderText("The backup's passphrase")
        self.restore_button = QPushButton("Restore from this backup")
        self.restore_button.setAutoDefault(False)
        self.restore_button.clicked.connect(self._restore)
        recovery = QVBoxLayout(self.recovery)
        recovery.setContentsMargins(0, 0, 0, 0)
        note = QLabel("The damaged files are moved aside into a folder beside the vault, not deleted. The "
                      "restored journal opens with the backup's passphrase.")
        note.setWordWrap(True)
        recovery.addWidget(note)
        recovery.addWidget(self.backup_path)
        recovery.addWidget(self.backup_passphrase)
        recovery.addWidget(self.restore_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.passphrase)
        layout.addWidget(self.error_title)
        layout.addWidget(self.error)
        layout.addWidget(self.recovery)
        layout.addWidget(self.buttons)
        self.error_title.hide()
        self.error.hide()
        self.recovery.hide()

    def _submit(self) -> None:
        if self.passphrase.text() and self.unlock_button.isEnabled():
            self.set_busy(True)
            self.submitted.emit(self.passphrase.text())

    def _restore(self) -> None:
        path, passphrase = self.backup_path.edit.text().strip(), self.backup_passphrase.text()
        if not path or not passphrase:
            self.show_error("Choose a backup", "Choose the backup file and enter the passphrase it was made with.",
                            recovery=True)
            return
        self.set_busy(True)
        self.restore_button.setEnabled(False)
        self.restore_requested.emit(path, passphrase)

    def set_busy(self, busy: bool) -> None:
        self.unlock_button.setEnabled(not busy)
        self.unlock_button.setText("Unlocking…" if busy else "Unlock")
        self.passphrase.setEnabled(not busy)

    def show_error(self, title: str, text: str, *, recovery: bool = False) -> None:
        """`recovery`: the vault cannot be opened as it is; offer the restore from a backup."""
        self.set_busy(False)
        self.restore_button.setEnabled(True)
        self.error_title.setText(f"<b>{title}</b>")
        self.error.setText(text)
        self.error_title.show()
        self.error.show()
        if recovery:
            self.recovery.show()
            self.backup_path.edit.setFocus()
        else:
            self.passphrase.selectAll()
            self.passphrase.setFocus()
        self.unlock_button.setDefault(True)
