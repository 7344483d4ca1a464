"""Later runs (and after every lock): the passphrase, and a clear message when it does not work."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


class UnlockDialog(QDialog):
    submitted = Signal(str)

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
        self.quit_button = self.buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.unlock_button = self.buttons.addButton("Unlock", QDialogButtonBox.ButtonRole.AcceptRole)
        self.unlock_button.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.passphrase)
        layout.addWidget(self.error_title)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.error_title.hide()
        self.error.hide()

    def _submit(self) -> None:
        if self.passphrase.text():
            self.set_busy(True)
            self.submitted.emit(self.passphrase.text())

    def set_busy(self, busy: bool) -> None:
        self.unlock_button.setEnabled(not busy)
        self.unlock_button.setText("Unlocking…" if busy else "Unlock")
        self.passphrase.setEnabled(not busy)

    def show_error(self, title: str, text: str) -> None:
        self.set_busy(False)
        self.error_title.setText(f"<b>{title}</b>")
        self.error.setText(text)
        self.error_title.show()
        self.error.show()
        self.passphrase.selectAll()
        self.passphrase.setFocus()
