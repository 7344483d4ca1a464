"""Settings: auto-lock, passphrase change, encrypted backup and restore, theme, and what "offline" means.

Settings that could say anything about the journal live in the vault (Vault.set_setting), never in QSettings.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import operations as ops
from ..dialogs.create import NewPassphraseFields
from ..dialogs.import_export import _PathRow
from ..errors import explain
from ..files import BACKUP_FILES, ReplaceGuard, open_file, save_file
from ..idle import DEFAULT_MINUTES
from ..theme import THEMES
from . import Page

AUTOLOCK_KEY = "ui.autolock_minutes"
THEME_KEY = "ui.theme"
OFFLINE_TEXT = (
    "localtune never connects to the internet on its own. Your journal, the training data, the trained "
    "adapters and the analyses stay in the encrypted vault on this computer. The only network feature is "
    "downloading a base model by name, and only when you ask for it; it sends no journal data."
)


def _password() -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class SettingsPage(Page):
    title = "Settings"
    autolock_changed = Signal(int)  # minutes; 0 = never
    theme_changed = Signal(str)
    lock_requested = Signal()
    restored = Signal()

    def __init__(self, lane, parent=None):
        super().__init__(parent)
        self.lane = lane

        self.autolock = QSpinBox()
        self.autolock.setRange(0, 240)
        self.autolock.setSuffix(" minutes")
        self.autolock.setSpecialValueText("never")
        self.autolock.setValue(DEFAULT_MINUTES)
        lock_now = QPushButton("Lock now (Ctrl+L)")
        lock_now.clicked.connect(self.lock_requested)
        lock_box = QGroupBox("Locking")
        lf = QFormLayout(lock_box)
        row = QHBoxLayout()
        row.addWidget(self.autolock)
        row.addStretch(1)
        row.addWidget(lock_now)
        lf.addRow("Lock after no activity for", row)
        lf.addRow("", QLabel("The journal also locks when the screen locks, where the desktop reports it."))

        self.current = _password()
        self.new = NewPassphraseFields("New passphrase")
        self.change_button = QPushButton("Change passphrase")
        self.change_button.setEnabled(False)
        self.passphrase_result = QLabel()
        self.passphrase_result.setWordWrap(True)
        pass_box = QGroupBox("Passphrase")
        pf = QVBoxLayout(pass_box)
        cur = QFormLayout()
        cur.addRow("Current passphrase", self.current)
        pf.addLayout(cur)
        pf.addWidget(self.new)
        pf.addWidget(self.change_button, 0, Qt.AlignmentFlag.AlignLeft)
        pf.addWidget(self.passphrase_result)

        self.backup_path = _PathRow("Where to write the backup file",
                                    lambda: save_file(self, "Save an encrypted backup", BACKUP_FILES))
        self.backup_pass = NewPassphraseFields("Backup passphrase")
        self.backup_button = QPushButton("Make encrypted backup")
        self.backup_button.setEnabled(False)
        self.restore_path = _PathRow("A localtune backup file",
                                     lambda: open_file(self, "Restore from a backup", BACKUP_FILES))
        self.restore_pass = _password()
        self.restore_current = _password()
        self.restore_button = QPushButton("Restore…")
        self.backup_result = QLabel()
        self.backup_result.setWordWrap(True)
        backup_box = QGroupBox("Backup and restore")
        bf = QVBoxLayout(backup_box)
        bf.addWidget(QLabel("A backup is one encrypted file with its own passphrase. Keep it somewhere else."))
        bf.addWidget(self.backup_path)
        bf.addWidget(self.backup_pass)
        bf.addWidget(self.backup_button, 0, Qt.AlignmentFlag.AlignLeft)
        restore_title = QLabel("Restore")
        restore_title.setObjectName("sectionTitle")
        bf.addWidget(restore_title)
        rf = QFormLayout()
        rf.addRow("Backup file", self.restore_path)
        rf.addRow("Backup passphrase", self.restore_pass)
        rf.addRow("Current passphrase", self.restore_current)
        bf.addLayout(rf)
        bf.addWidget(self.restore_button, 0, Qt.AlignmentFlag.AlignLeft)
        bf.addWidget(self.backup_result)

        self.theme = QComboBox()
        for key, label in THEMES.items():
            self.theme.addItem(label, key)
        look_box = QGroupBox("Appearance")
        af = QFormLayout(look_box)
        af.addRow("Theme", self.theme)

        advanced_box = self._advanced_box()

        privacy_box = QGroupBox("Offline")
        privacy = QLabel(OFFLINE_TEXT)
        privacy.setWordWrap(True)
        QVBoxLayout(privacy_box).addWidget(privacy)

        inner = QWidget()
        col = QVBoxLayout(inner)
        for box in (lock_box, pass_box, backup_box, look_box, advanced_box, privacy_box):
            col.addWidget(box)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self.autolock.valueChanged.connect(self._autolock_edited)
        self.theme.currentIndexChanged.connect(self._theme_edited)
        self.new.changed.connect(self._update_buttons)
        self.current.textChanged.connect(self._update_buttons)
        self.backup_pass.changed.connect(self._update_buttons)
        self.backup_path.edit.textChanged.connect(self._update_buttons)
        self.change_button.clicked.connect(self.change_passphrase)
        self.backup_button.clicked.connect(self.backup)
        self.backup_guard = ReplaceGuard()
        self.restore_button.clicked.connect(self.confirm_restore)
        self._loading = False

    def _advanced_box(self) -> QGroupBox:
        """Settings > Advanced: how readings are written (kept in the vault; `analyze` flags override them)."""
        def spin(cls, low, high, step, decimals=None, special=None):
            box = cls()
            box.setRange(low, high)
            box.setSingleStep(step)
            if decimals is not None:
                box.setDecimals(decimals)
            if special:
                box.setSpecialValueText(special)
            box.valueChanged.connect(self._decoding_edited)
            return box

        self.decoding = {
            "repetition_penalty": spin(QDoubleSpinBox, 1.0, 3.0, 0.05, 2, "off"),
            "no_repeat_ngram": spin(QSpinBox, 0, 16, 1, None, "off"),
            "temperature": spin(QDoubleSpinBox, 0.0, 2.0, 0.1, 2, "0 (most likely text)"),
            "top_p": spin(QDoubleSpinBox, 0.05, 1.0, 0.05, 2),
            "seed": spin(QSpinBox, 0, 2**31 - 1, 1),
            "max_new_tokens": spin(QSpinBox, 16, 4096, 16),
        }
        self.decoding_result = QLabel()
        self.decoding_result.setWordWrap(True)
        self.decoding_reset = reset = QPushButton("Reset to defaults")
        reset.clicked.connect(lambda: self._decoding_loaded({}, save=True))
        box = QGroupBox("Advanced: how readings are written")
        form = QFormLayout(box)
        form.addRow(QLabel("Readings stop at the end of the model's answer or of its paragraph, near the length of "
                           "your own analyses. These settings keep small models from repeating themselves."))
        for key, label in (("repetition_penalty", "Repetition penalty"), ("no_repeat_ngram", "No repeated phrase of"),
                           ("temperature", "Temperature"), ("top_p", "Top-p (when sampling)"),
                           ("seed", "Seed (when sampling)"), ("max_new_tokens", "Length limit (tokens)")):
            form.addRow(label, self.decoding[key])
        self.decoding["no_repeat_ngram"].setSuffix(" tokens")
        form.addRow(reset, self.decoding_result)
        return box

    # -- life cycle --------------------------------------------------------------------------------------

    def on_unlocked(self) -> None:
        self.lane.submit(partial(ops.settings, keys={AUTOLOCK_KEY: DEFAULT_MINUTES, THEME_KEY: "system"}),
                         self._loaded)
        self.lane.submit(ops.decoding, self._decoding_loaded)

    def _decoding_loaded(self, stored: dict, save: bool = False) -> None:
        from ...services import reading

        values = {**reading.decoding_defaults(), **stored}
        self._loading = True
        for key, box in self.decoding.items():
            box.setValue(values[key])
        self._loading = False
        if save:
            self._decoding_edited()

    def _decoding_edited(self, *_args) -> None:
        if self._loading:
            return
        values = {key: box.value() for key, box in self.decoding.items()}
        self.lane.submit(partial(ops.set_decoding, values=values),
                         lambda _kept: self.decoding_result.clear(),
                         lambda exc: self._report(self.decoding_result, exc))

    def _loaded(self, values: dict) -> None:
        minutes, theme = values[AUTOLOCK_KEY], values[THEME_KEY]
        self._loading = True
        self.autolock.setValue(int(minutes))
        self.theme.setCurrentIndex(max(0, self.theme.findData(theme)))
        self._loading = False
        self.autolock_changed.emit(int(minutes))
        self.theme_changed.emit(theme)

    def on_locked(self) -> None:
        for edit in (self.current, self.restore_pass, self.restore_current):
            edit.clear()
        self.new.clear()
        self.backup_pass.clear()
        self.passphrase_result.clear()
        self.backup_result.clear()

    def _update_buttons(self) -> None:
        self.change_button.setEnabled(bool(self.current.text()) and self.new.valid)
        self.backup_button.setEnabled(self.backup_pass.valid and bool(self.backup_path.edit.text().strip()))

    # -- actions -------------------------------------------------------------------------------------------

    def _autolock_edited(self, minutes: int) -> None:
        if self._loading:
            return
        self.lane.submit(partial(ops.set_setting, key=AUTOLOCK_KEY, value=minutes))
        self.autolock_changed.emit(minutes)

    def _theme_edited(self, _index: int) -> None:
        if self._loading:
            return
        theme = self.theme.currentData()
        self.lane.submit(partial(ops.set_setting, key=THEME_KEY, value=theme))
        self.theme_changed.emit(theme)

    def change_passphrase(self) -> None:
        current, new = self.current.text(), self.new.passphrase
        self.change_button.setEnabled(False)
        self.passphrase_result.setText("Re-encrypting the journal under the new passphrase…")
        self.lane.submit(partial(ops.change_passphrase, current=current, new=new), self._changed,
                         lambda exc: self._report(self.passphrase_result, exc))

    def _changed(self, _result) -> None:
        self.current.clear()
        self.new.clear()
        self.passphrase_result.setText("Passphrase changed. Use the new one from now on.")

    def backup(self) -> None:
        dest, passphrase = self.backup_path.edit.text().strip(), self.backup_pass.passphrase
        go, question = self.backup_guard.check(dest) if dest else (True, None)
        if not go:
            self.backup_result.setText(question)
            return
        overwrite = question == "overwrite"
        self.backup_button.setEnabled(False)
        self.backup_result.setText("Writing the backup…")

        def done(_path) -> None:
            self.backup_pass.clear()
            self.backup_result.setText("Encrypted backup written. Keep its passphrase safe: it is needed to restore.")

        self.lane.submit(partial(ops.backup, dest=dest, passphrase=passphrase, overwrite=overwrite), done,
                         lambda exc: self._report(self.backup_result, exc))

    def confirm_restore(self) -> QMessageBox | None:
        if not (self.restore_path.edit.text().strip() and self.restore_pass.text() and self.restore_current.text()):
            self.backup_result.setText("To restore, choose the backup file and enter both passphrases.")
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Replace the journal?",
                          "Restoring replaces everything in the journal with the backup's contents. The backup is "
                          "checked completely first; if anything is wrong, nothing changes.",
                          QMessageBox.StandardButton.Cancel, self)
        go = box.addButton("Replace with backup", QMessageBox.ButtonRole.DestructiveRole)
        box.buttonClicked.connect(lambda button: self.restore() if button is go else None)
        box.open()
        return box

    def restore(self) -> None:
        src, bp, cur = self.restore_path.edit.text().strip(), self.restore_pass.text(), self.restore_current.text()
        self.backup_result.setText("Checking the backup and restoring…")

        def done(_result) -> None:
            self.restore_pass.clear()
            self.restore_current.clear()
            self.backup_result.setText("Journal restored from the backup. It still opens with your current passphrase.")
            self.restored.emit()

        def failed(exc) -> None:
            self._report(self.backup_result, exc)
            self.lane.submit(ops.is_unlocked, lambda ok: None if ok else self.lock_requested.emit())

        self.lane.submit(partial(ops.restore, src=src, backup_passphrase=bp, current=cur), done, failed)

    def _report(self, label: QLabel, exc) -> None:
        e = explain(exc)
        label.setText(f"<b>{e.title}.</b> {e.text}")
        self._update_buttons()
