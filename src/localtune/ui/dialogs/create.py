"""First run: choose a passphrase (twice), see how strong it is, and learn that it cannot be recovered."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ...services.journal import MIN_PASSPHRASE
from ..widgets.meter import StrengthMeter, passphrase_strength

WARNING = (
    "<b>Nobody can recover a lost passphrase.</b> Your journal is encrypted with it, and there is no reset: "
    "not by us, not by your IT department. Write it down and keep it somewhere safe."
)


class NewPassphraseFields(QWidget):
    """Passphrase twice with a strength meter; `valid` when long enough and both match."""

    changed = Signal()

    def __init__(self, label: str = "Passphrase", parent: QWidget | None = None):
        super().__init__(parent)
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.first.setPlaceholderText(f"at least {MIN_PASSPHRASE} characters; a few unrelated words work well")
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.second.setPlaceholderText("the same again")
        self.meter = StrengthMeter()
        self.hint = QLabel()
        self.hint.setObjectName("strengthHint")
        self.hint.hide()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(label, self.first)
        form.addRow("", self.meter)
        form.addRow("", self.hint)
        form.addRow("Repeat", self.second)
        self.first.textChanged.connect(self._update)
        self.second.textChanged.connect(self._update)

    @property
    def passphrase(self) -> str:
        return self.first.text()

    @property
    def valid(self) -> bool:
        return len(self.first.text()) >= MIN_PASSPHRASE and self.first.text() == self.second.text()

    def _update(self) -> None:
        score, words = passphrase_strength(self.first.text())
        self.meter.set_score(score)
        if self.second.text() and self.second.text() != self.first.text():
            words = (words + ". " if words else "") + "The two passphrases differ."
        self.hint.setText(words)
        self.hint.setVisible(bool(words))
        self.changed.emit()

    def clear(self) -> None:
        self.first.clear()
        self.second.clear()


class CreateVaultDialog(QDialog):
    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Create your journal")
        self.setMinimumWidth(520)
        intro = QLabel(
            "<h3>Welcome to localtune</h3>Your journal is kept in an encrypted vault on this computer. "
            "Choose the passphrase that unlocks it."
        )
        intro.setWordWrap(True)
        self.fields = NewPassphraseFields()
        warning = QLabel(WARNING)
        warning.setObjectName("lossWarning")
        warning.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create vault", QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setEnabled(False)
        self.create_button.setDefault(True)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.fields)
        layout.addWidget(warning)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.fields.changed.connect(lambda: self.create_button.setEnabled(self.fields.valid))

    def _submit(self) -> None:
        if self.fields.valid:
            self.set_busy(True)
            self.submitted.emit(self.fields.passphrase)

    def set_busy(self, busy: bool) -> None:
        self.create_button.setEnabled(not busy and self.fields.valid)
        self.create_button.setText("Creating…" if busy else "Create vault")
        self.fields.setEnabled(not busy)
        if busy:
            self.error.clear()

    def show_error(self, text: str) -> None:
        self.set_busy(False)
        self.error.setText(text)
