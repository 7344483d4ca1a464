"""The main window: navigation, the lock screen, and the vault's life cycle (create, unlock, lock).

It owns the one vault lane; pages get it and never write threading code themselves. The title never
changes with what is shown, so no journal text reaches window lists, task bars or screen recorders.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from . import operations as ops
from . import theme
from .dialogs.create import CreateVaultDialog
from .dialogs.unlock import UnlockDialog
from .errors import explain, show_error
from .idle import DEFAULT_MINUTES, IdleWatcher, ScreenLockWatcher
from .pages.compare import ComparePage
from .pages.dataset import DatasetPage
from .pages.evaluate import EvaluatePage
from .pages.journal import JournalPage
from .pages.settings import SettingsPage
from .pages.train import TrainPage
from .tasks import TaskLane
from .widgets.task_indicator import TaskIndicator

TITLE = "localtune"
OFFLINE_NOTE = "Offline: nothing leaves this computer"
STYLE = """
QLabel#pageHeadline { font-size: 15px; }
QLabel#errorLabel, QLabel#problemsLabel { color: #d33a2c; }
QLabel#lossWarning { padding: 8px; border: 1px solid #c98a1b; border-radius: 6px; }
QLabel#notice { padding: 8px; border: 1px solid palette(mid); border-radius: 6px; }
QLabel#sectionTitle, QLabel#editorHeading { font-weight: 600; }
QPushButton#bigButton { font-size: 15px; font-weight: 600; padding: 6px 22px; }
QListWidget#nav { border: none; font-size: 14px; }
QListWidget#nav::item { padding: 8px 14px; }
"""


ABOUT = (
    "<h3>localtune {version}</h3>"
    "<p>An encrypted journal of workplace situations that trains a private AI on this computer.</p>"
    "<p><b>Nothing leaves this computer.</b> The journal, the training and the readings stay here, encrypted in "
    "your vault. The only network use is a base-model download, and only when you ask for one; it sends nothing "
    "from your journal.</p>"
    "<p>Licence: Apache-2.0. The starter model, SmolLM2-135M-Instruct by Hugging Face, is Apache-2.0 too.</p>"
)


class LockScreen(QWidget):
    unlock_requested = Signal()
    stop_training_requested = Signal()

    CLOSED = "<h2>localtune is locked</h2>Your journal is closed and encrypted."
    TRAINING = ("<h2>localtune is locked</h2>Your journal is hidden. Training goes on, and the journal closes as "
                "soon as it ends;<br>until then its key stays in this app's memory so the adapter can be saved.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel(self.CLOSED)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton("Unlock…")
        button.clicked.connect(self.unlock_requested)
        self.stop_button = QPushButton("Stop training and close the journal now")
        self.stop_button.setToolTip("Training stops after its current step; its checkpoint is kept for Resume.")
        self.stop_button.clicked.connect(self.stop_training_requested)
        self.stop_button.hide()
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(2)

    def show_training(self, training: bool) -> None:
        self.label.setText(self.TRAINING if training else self.CLOSED)
        self.stop_button.setVisible(training)
        self.stop_button.setEnabled(True)


class MainWindow(QMainWindow):
    unlocked = Signal()
    locked = Signal()

    def __init__(self, paths, *, idle_check_ms: int = 5_000, clock=None, parent=None):
        super().__init__(parent)
        self.paths = paths
        self.setWindowTitle(TITLE)
        self.resize(QSize(1200, 780))
        self.lane = TaskLane(paths, self)
        self.lane.error.connect(lambda exc: show_error(self, exc))
        self.is_unlocked = False
        self.unlock_dialog: UnlockDialog | None = None
        self.create_dialog: CreateVaultDialog | None = None
        self.demo_offer: QMessageBox | None = None
        self.quit_box: QMessageBox | None = None
        self._quit_when_stopped = False
        # Locked while training: the pages are empty but the vault stays open until the run ends (its adapter is
        # written then), so an auto-lock never throws away a long run.
        self.held_open = False
        self._unlocking = False

        self.journal = JournalPage(self.lane)
        self.dataset = DatasetPage(self.lane)
        self.train = TrainPage(self.lane, paths)
        self.compare = ComparePage(self.lane)
        self.evaluate = EvaluatePage(self.lane)
        self.settings = SettingsPage(self.lane)
        self.pages = [self.journal, self.dataset, self.train, self.compare, self.evaluate, self.settings]

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget()
        for page in self.pages:
            self.nav.addItem(page.title)
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(self.show_page)
        self.lock_button = QPushButton("Lock")
        self.lock_button.setToolTip("Close and encrypt the journal now (Ctrl+L)")
        self.lock_button.clicked.connect(lambda: self.lock())
        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 8)
        side.addWidget(self.nav, 1)
        side.addWidget(self.lock_button, 0, Qt.AlignmentFlag.AlignHCenter)
        content = QWidget()
        row = QHBoxLayout(content)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(side)
        row.addWidget(self.stack, 1)
        self.lock_screen = LockScreen()
        self.lock_screen.unlock_requested.connect(self.ask_unlock)
        self.lock_screen.stop_training_requested.connect(self._stop_held_training)
        self.root = QStackedWidget()
        self.root.addWidget(self.lock_screen)
        self.root.addWidget(content)
        self.setCentralWidget(self.root)
        self.setStyleSheet(STYLE)

        offline = QLabel(OFFLINE_NOTE)
        offline.setToolTip("localtune makes no network connections unless you ask it to download a base model.")
        offline.setObjectName("offlineNote")
        self.tasks = TaskIndicator()
        self.statusBar().addPermanentWidget(self.tasks)
        self.statusBar().addPermanentWidget(offline)
        self.tasks.open_requested.connect(
            lambda key: self.show_page(self.pages.index(getattr(self, key))) if hasattr(self, key) else None)
        for key, page in (("train", self.train), ("compare", self.compare), ("evaluate", self.evaluate)):
            if not hasattr(page, "task"):  # a page reports its long task with task(text, step, total) / task_ended
                continue
            page.task.connect(lambda text, step, total, key=key: self.tasks.update_task(key, text, step, total))
            page.task_ended.connect(lambda key=key: self.tasks.end_task(key))
        self.train.task.connect(lambda *_: self.compare.set_training_busy(True))
        self.train.task_ended.connect(lambda: self.compare.set_training_busy(False))

        self.lock_action = QAction("Lock", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.lock_action.triggered.connect(lambda: self.lock())
        self.addAction(self.lock_action)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)  # closing asks first while training runs
        self.addAction(self.quit_action)
        self.about_action = QAction("About localtune", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.about_box: QMessageBox | None = None
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.journal.pdf_action)
        file_menu.addSeparator()
        file_menu.addAction(self.lock_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        go_menu = menus.addMenu("&Go")
        self.page_actions = []
        for number, page in enumerate(self.pages):
            action = QAction(page.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
            action.triggered.connect(lambda _=False, n=number: self.nav.setCurrentRow(n))
            self.addAction(action)
            go_menu.addAction(action)
            self.page_actions.append(action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.about_action)

        kwargs = {"clock": clock} if clock is not None else {}
        self.idle = IdleWatcher(QApplication.instance(), DEFAULT_MINUTES * 60, check_ms=idle_check_ms,
                                parent=self, **kwargs)
        self.idle.idle.connect(lambda: self.lock())
        self.screen_lock = ScreenLockWatcher(self)
        self.screen_lock.locked.connect(lambda: self.lock())

        self.journal.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.journal.pdf_action.triggered.connect(lambda: self.show_page(self.pages.index(self.journal)))
        self.journal.journal_changed.connect(self.dataset.mark_stale)
        self.dataset.jump_to.connect(self.jump_to_entry)
        self.compare.pick_entry.connect(self._compare_selected_entry)
        self.compare.open_entry.connect(self.jump_to_entry)
        self.compare.train_requested.connect(lambda: self.show_page(self.pages.index(self.train)))
        self.settings.autolock_changed.connect(lambda minutes: self.idle.set_timeout(minutes * 60))
        self.settings.theme_changed.connect(lambda choice: theme.apply(choice))
        self.settings.lock_requested.connect(lambda: self.lock())
        self.settings.restored.connect(self._after_restore)
        self._set_unlocked(False)

    # -- navigation ----------------------------------------------------------------------------------------

    def show_page(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        if self.nav.currentRow() != index:
            self.nav.setCurrentRow(index)
        if self.is_unlocked:
            self.pages[index].on_shown()

    def jump_to_entry(self, scenario_id: int) -> None:
        self.show_page(self.pages.index(self.journal))
        self.journal.show_scenario(scenario_id)

    def _compare_selected_entry(self) -> None:
        scenario_id = self.journal.selected_id()
        scenario = self.journal.model.scenario(scenario_id) if scenario_id is not None else None
        if scenario is not None:
            self.compare.use_scenario(scenario)

    # -- the vault's life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """First run: create the vault. Later: unlock it."""
        from ..vault import Vault

        self.show()
        if Vault.exists(self.paths):
            self.ask_unlock()
        else:
            self.ask_create()

    def ask_create(self) -> CreateVaultDialog:
        dialog = CreateVaultDialog(self)
        dialog.submitted.connect(self._create)
        dialog.rejected.connect(self.close)
        self.create_dialog = dialog
        dialog.open()
        return dialog

    def _create(self, passphrase: str) -> None:
        self.lane.submit(partial(ops.create, passphrase=passphrase), self._created,
                         lambda exc: self.create_dialog.show_error(explain(exc).text))

    def _created(self, _result) -> None:
        self.create_dialog.accept()
        self.create_dialog.deleteLater()
        self.create_dialog = None
        self._on_unlocked()
        self.offer_demo()

    def show_about(self) -> QMessageBox:
        from .. import __version__

        box = QMessageBox(QMessageBox.Icon.Information, "About localtune", ABOUT.format(version=__version__),
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: setattr(self, "about_box", None))
        self.about_box = box
        box.open()
        return box

    def offer_demo(self) -> QMessageBox:
        from ..journal.demo import demo_summary

        scenarios, fields = demo_summary()
        box = QMessageBox(QMessageBox.Icon.Question, "Your vault is ready",
                          f"Would you like to start with the demo journal? It holds {scenarios} invented situations "
                          f"from {fields} fields, so you can try every page before writing your own. You can delete "
                          "them later.", QMessageBox.StandardButton.NoButton, self)
        self.demo_yes = box.addButton("Load the demo journal", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Start with an empty journal", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(lambda button: self.journal.load_demo() if button is self.demo_yes else None)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.demo_offer = box
        box.open()
        return box

    def ask_unlock(self) -> UnlockDialog:
        if self.unlock_dialog is not None:
            self.unlock_dialog.raise_()
            return self.unlock_dialog
        dialog = UnlockDialog(self)
        dialog.submitted.connect(self._unlock)
        dialog.restore_requested.connect(self._restore_damaged)
        dialog.quit_requested.connect(self.close)
        dialog.rejected.connect(self._unlock_cancelled)
        self.unlock_dialog = dialog
        dialog.open()
        return dialog

    def _unlock(self, passphrase: str) -> None:
        self._unlocking = True
        self.lane.submit(partial(ops.unlock, passphrase=passphrase), self._unlock_ok, self._unlock_failed)

    def _unlock_ok(self, _result) -> None:
        self._unlocking = False
        self.held_open = False
        self.lock_screen.show_training(False)
        dialog, self.unlock_dialog = self.unlock_dialog, None
        if dialog is not None:
            dialog.passphrase.clear()
            dialog.accept()
            dialog.deleteLater()
        self._on_unlocked()

    def _restore_damaged(self, backup: str, passphrase: str) -> None:
        """Recovery from the unlock dialog: the live vault cannot open, so the backup replaces it (the damaged
        files are moved aside by the vault, never deleted) and the restored vault is opened at once."""
        # A vault whose key header still reads proves the user knows its passphrase before it is replaced; only
        # the unlock dialog asks for a restore, so it is there.
        current = self.unlock_dialog.passphrase.text() or None
        self.lane.submit(partial(ops.replace_damaged, backup=backup, passphrase=passphrase, current=current),
                         self._restored, self._unlock_failed)

    def _restored(self, set_aside) -> None:
        self._unlock_ok(None)
        where = f" The damaged files are in {set_aside}." if set_aside else ""
        self.statusBar().showMessage(f"Restored from the backup; it opens with the backup's passphrase.{where}")

    def _unlock_failed(self, exc) -> None:
        from ..errors import VaultCorruptError

        self._unlocking = False
        if self.held_open and not self.train.running:  # the run ended while this passphrase was checked
            self._close_held()
        e = explain(exc)
        if self.unlock_dialog is not None:
            self.unlock_dialog.show_error(e.title, e.text, recovery=isinstance(exc, VaultCorruptError))

    def _unlock_cancelled(self) -> None:
        self.unlock_dialog = None  # stays on the lock screen; "Unlock…" asks again

    def _on_unlocked(self) -> None:
        self._set_unlocked(True)
        for page in self.pages:
            page.on_unlocked()
        self.idle.restart()
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)
        else:
            self.pages[self.stack.currentIndex()].on_shown()
        self.unlocked.emit()

    def _after_restore(self) -> None:
        for page in self.pages:
            page.on_locked()
            page.on_unlocked()

    def lock(self, *, stop_training: bool = False) -> None:
        """Empty every page and model and ask for the passphrase again. The vault closes now, or, while training
        runs (unless `stop_training`), once the run has ended and saved its adapter."""
        if not self.is_unlocked:
            return
        hold = self.train.running and not stop_training
        self.journal.park()  # queued before the lock on the same lane: the last edit is saved or kept as a draft
        self.idle.stop()
        for page in (self.compare, self.evaluate) if hold else (self.train, self.compare, self.evaluate):
            if page.runner is not None:  # before the vault closes: training keeps its checkpoint (the lane
                page.runner.abandon()  # serves a stopping task's last calls first)
        # Model work that has not begun (an estimate, a hardware look, an added model) is dropped; a training the
        # lock holds the vault open for is kept, also while it still waits for the model.
        self.lane.models.drop_pending(keep=[self.train.runner] if hold else [])
        self.lane.invalidate()
        if hold:
            self.held_open = True
            self.train.runner.finished.connect(self._training_ended_while_locked)
        else:
            self.lane.submit(ops.close)
            self.lane.invalidate()
        for page in self.pages:
            if not (hold and page is self.train):
                page.on_locked()
        for box in self.findChildren(QMessageBox):
            box.close()
        self._set_unlocked(False)
        self.lock_screen.show_training(hold)
        QApplication.clipboard().clear()
        self.statusBar().clearMessage()
        self.locked.emit()
        self.ask_unlock()

    def _training_ended_while_locked(self) -> None:
        if self.held_open and not self.is_unlocked and not self._unlocking:
            self._close_held()

    def _close_held(self) -> None:
        """The run that kept the vault open has ended: close it as a plain lock does."""
        self.held_open = False
        self.lane.invalidate()
        self.lane.submit(ops.close)
        self.lane.invalidate()
        self.train.on_locked()
        self.lock_screen.show_training(False)

    def _stop_held_training(self) -> None:
        self.lock_screen.stop_button.setEnabled(False)
        self.lock_screen.label.setText(self.lock_screen.TRAINING + "<br><br>Stopping training after this step…")
        self.train.cancel()

    def _set_unlocked(self, unlocked: bool) -> None:
        self.is_unlocked = unlocked
        self.root.setCurrentWidget(self.root.widget(1) if unlocked else self.lock_screen)
        self.lock_action.setEnabled(unlocked)
        for action in self.page_actions:
            action.setEnabled(unlocked)

    def ask_quit_during_training(self) -> QMessageBox:
        """Quitting stops training: say so, and let the user keep it going instead."""
        if self.quit_box is not None:
            self.quit_box.raise_()
            return self.quit_box
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Quitting stops the training. Its last checkpoint is kept in the vault, and Resume on the "
                          "Train page continues from there.", QMessageBox.StandardButton.NoButton, self)
        self.stop_and_quit = box.addButton("Stop training and quit", QMessageBox.ButtonRole.DestructiveRole)
        self.keep_training = box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(self.keep_training)
        box.setEscapeButton(self.keep_training)

        def answered(button) -> None:
            self.quit_box = None
            if button is self.stop_and_quit:
                self._quit_when_stopped = True
                self.compare.cancel()  # a comparison waiting for training must not start now
                self.statusBar().showMessage("Stopping training after this step, then quitting…")
                self.train.runner.finished.connect(self.close)
                self.train.cancel()

        box.buttonClicked.connect(answered)
        box.finished.connect(lambda _result: setattr(self, "quit_box", None))  # it deletes itself on close
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.quit_box = box
        box.open()
        return box

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.train.running:  # ask; when the user agrees, training stops and the window closes itself
            event.ignore()
            if not self._quit_when_stopped:
                self.ask_quit_during_training()
            return
        if self.is_unlocked:
            self.journal.park()
        running = [p.runner for p in (self.train, self.compare, self.evaluate) if p.runner is not None
                   and p.runner.running]
        for runner in running:  # a comparison or evaluation stops; its worker may not outlive the app
            runner.abandon()
        for page in (self.train, self.compare, self.evaluate):
            page.on_locked()
        self.idle.stop()
        self.lane.shutdown()
        for runner in running:
            runner.wait()
        super().closeEvent(event)
