"""First run, unlock, lock: what a person sees."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import Qt
from ui_testing import PASS, WAIT_MS, make_window, settle, shown_text, unlock

from localtune.ui.errors import CORRUPT, WRONG_PASSPHRASE
from localtune.ui.models.journal_table import LOADING


def test_first_run_creates_the_vault_offers_the_demo_and_shows_rows(qtbot, paths):
    window = make_window(qtbot, paths)
    window.start()
    dialog = window.create_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Nobody can recover a lost passphrase" in dialog.findChild(type(dialog.error), "lossWarning").text()
    dialog.fields.first.setText("short")
    assert not dialog.create_button.isEnabled()
    assert "Too short" in dialog.fields.hint.text()
    dialog.fields.first.setText(PASS)
    dialog.fields.second.setText(PASS + "x")
    assert not dialog.create_button.isEnabled()
    assert "differ" in dialog.fields.hint.text()
    dialog.fields.second.setText(PASS)
    assert dialog.create_button.isEnabled()
    assert dialog.fields.meter.score >= 2
    dialog.create_button.click()

    qtbot.waitUntil(lambda: window.demo_offer is not None and window.demo_offer.isVisible(), timeout=WAIT_MS)
    assert window.is_unlocked
    assert paths.vault.exists()
    window.demo_yes.click()
    qtbot.waitUntil(lambda: window.journal.model.rowCount() > 200, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: shown_text(window.journal.model, 0) != LOADING, timeout=WAIT_MS)
    assert len(shown_text(window.journal.model, 0)) > 20
    assert "entries" in window.journal.count_label.text()
    assert window.windowTitle() == "localtune"
    window.close()


def _damage_a_page(vault_file) -> None:
    """Random bytes over a page in the middle; the key header stays intact, so the passphrase is accepted."""
    with open(vault_file, "r+b") as f:
        f.seek(4096 * 3 + 200)
        f.write(os.urandom(64))


def test_wrong_passphrase_and_corrupt_vault_get_different_messages(qtbot, demo_paths):
    window = make_window(qtbot, demo_paths)
    window.start()
    dialog = window.unlock_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.passphrase.setText("not the passphrase")
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    assert dialog.error.text() == WRONG_PASSPHRASE
    assert "Wrong passphrase" in dialog.error_title.text()
    assert not window.is_unlocked
    assert dialog.unlock_button.isEnabled()
    window.close()

    _damage_a_page(demo_paths.vault)
    window = make_window(qtbot, demo_paths)
    window.start()
    dialog = window.unlock_dialog
    dialog.passphrase.setText(PASS)
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    assert dialog.error.text() == CORRUPT
    assert "damaged" in dialog.error_title.text()
    assert not window.is_unlocked
    assert dialog.recovery.isVisible()  # the way out is right here: Settings needs an open vault
    window.close()


def test_a_damaged_vault_is_restored_from_the_unlock_dialog_and_its_files_kept(qtbot, demo_paths, tmp_path):
    from localtune.vault import Vault

    backup = tmp_path / "journal.ltbackup"
    with Vault.open(demo_paths, PASS) as vault:
        entries = vault.conn.execute("SELECT count(*) FROM scenarios").fetchone()[0]
        vault.backup(backup, "backup passphrase")
    _damage_a_page(demo_paths.vault)
    damaged = demo_paths.vault.read_bytes()

    window = make_window(qtbot, demo_paths)
    window.start()
    dialog = window.unlock_dialog
    dialog.passphrase.setText(PASS)
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: dialog.recovery.isVisible(), timeout=WAIT_MS)
    dialog.backup_path.edit.setText(str(backup))
    dialog.backup_passphrase.setText("not the backup's")
    dialog.restore_button.click()
    qtbot.waitUntil(lambda: "Wrong passphrase" in dialog.error_title.text(), timeout=WAIT_MS)
    assert not window.is_unlocked and demo_paths.vault.read_bytes() == damaged

    dialog.backup_passphrase.setText("backup passphrase")
    dialog.restore_button.click()
    qtbot.waitUntil(lambda: window.is_unlocked and window.journal.model.rowCount() == entries, timeout=WAIT_MS)
    assert "Restored from the backup" in window.statusBar().currentMessage()
    kept = [p for p in demo_paths.data.glob("damaged-*/vault.db")]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged  # set aside, byte for byte
    window.close()
    with Vault.open(demo_paths, "backup passphrase"):  # the restored vault opens with the backup's passphrase
        pass


def test_after_a_wrong_passphrase_enter_still_unlocks_and_quit_quits(qtbot, demo_paths):
    window = make_window(qtbot, demo_paths)
    window.start()
    dialog = window.unlock_dialog
    dialog.passphrase.setText("not the passphrase")
    qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    dialog.quit_button.setFocus()  # a button that had focus must not take over Enter
    dialog.passphrase.setFocus()
    dialog.passphrase.setText(PASS)
    qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=WAIT_MS)
    window.lock()
    dialog = window.unlock_dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible(), timeout=WAIT_MS)
    dialog.quit_button.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def test_ctrl_l_locks_empties_every_view_and_asks_to_unlock(qtbot, window):
    journal = window.journal
    journal.table.selectRow(0)
    qtbot.waitUntil(lambda: journal.editor.scenario_id is not None, timeout=WAIT_MS)
    journal.search.setText("deadline")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)

    assert not window.is_unlocked
    assert journal.model.rowCount() == 0 and not journal.model.cache.rows
    assert journal.editor.situation.toPlainText() == "" and not journal.editor.has_scenario
    assert journal.search.text() == ""
    assert window.root.currentWidget() is window.lock_screen
    assert window.unlock_dialog is not None and window.unlock_dialog.isVisible()
    settle(qtbot, window)
    assert window.lane.ctx.vault is None  # the vault itself is closed

    unlock(qtbot, window)
    qtbot.waitUntil(lambda: journal.model.rowCount() > 200, timeout=WAIT_MS)


def test_idle_locks_after_the_configured_time(qtbot, demo_paths):
    now = [1000.0]
    window = make_window(qtbot, demo_paths, idle_check_ms=20, clock=lambda: now[0])
    window.start()
    unlock(qtbot, window)
    window.settings.autolock.setValue(1)  # minutes, as a person sets it
    assert window.idle.timeout_s == 60
    now[0] += 30
    qtbot.wait(100)
    assert window.is_unlocked
    now[0] += 31
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT_MS)
    assert window.journal.model.rowCount() == 0
    assert window.unlock_dialog is not None
    # the setting lives in the vault: after unlocking again it is still one minute
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: window.settings.autolock.value() == 1, timeout=WAIT_MS)
    window.close()


def test_startup_does_not_import_torch(paths):
    code = (
        "import sys\n"
        "import localtune.ui.app\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from localtune.paths import resolve\n"
        "from localtune.ui.main_window import MainWindow\n"
        "w = MainWindow(resolve())\n"
        "w.start()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
        "w.close()\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_a_second_instance_hands_over_to_the_first(qtbot, paths):
    from localtune.ui.app import hand_over, instance_name, listen

    window = make_window(qtbot, paths)
    name = instance_name(paths)
    assert not hand_over(name, timeout_ms=200)
    server = listen(name, window)
    assert server.isListening()
    assert hand_over(name)
    qtbot.waitUntil(lambda: "already open" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    server.close()
    window.close()
