"""Adapters are managed in the app: rename, delete (asks first) and export (warns first, never into the vault's
folder), on the Train page's list of earlier runs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from ui_testing import WAIT_MS, lane_call

META = {"base_model": "starter", "examples": 302, "peft_config": {"peft_type": "LORA", "r": 16},
        "metrics": {"steps": 152}}


def _names(qtbot, window):
    from localtune.services.adapters import AdapterStore

    return lane_call(qtbot, window.lane, lambda ctx: [AdapterStore.name_of(b.name)
                                                      for b in AdapterStore(ctx.vault).infos()])


def _select(page, name):
    for row in range(page.history.count()):
        if page.history.item(row).data(Qt.ItemDataRole.UserRole) == name:
            page.history.setCurrentRow(row)
            return
    raise AssertionError(f"{name} is not listed")


def test_rename_delete_and_export_an_adapter(qtbot, window, tmp_path):
    from localtune.services.adapters import AdapterStore

    page = window.train
    lane_call(qtbot, window.lane, lambda ctx: [ctx.vault.put_blob(AdapterStore.blob(n), "adapter", b"w", META)
                                               for n in ("starter-v1", "starter-v2")])
    page.on_unlocked()
    qtbot.waitUntil(lambda: page.history.count() == 2, timeout=WAIT_MS)
    actions = page.adapter_actions
    assert not actions.rename_button.isEnabled()

    _select(page, "starter-v1")
    assert actions.rename_button.isEnabled()
    dialog = actions.ask_rename()
    dialog.setTextValue("nursing-v1")
    dialog.accept()
    qtbot.waitUntil(lambda: "Renamed starter-v1 to nursing-v1" in page.status.text(), timeout=WAIT_MS)
    assert sorted(_names(qtbot, window)) == ["nursing-v1", "starter-v2"]
    qtbot.waitUntil(lambda: page.adapter_names == {"nursing-v1", "starter-v2"}, timeout=WAIT_MS)

    _select(page, "nursing-v1")
    actions.ask_rename().setTextValue("starter-v2")
    actions.dialog.accept()
    qtbot.waitUntil(lambda: "already exists" in page.status.text(), timeout=WAIT_MS)

    _select(page, "starter-v2")
    box = actions.ask_delete()
    assert "cannot be undone" in box.text()
    actions.confirm_delete.click()
    qtbot.waitUntil(lambda: _names(qtbot, window) == ["nursing-v1"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.history.count() == 1, timeout=WAIT_MS)

    _select(page, "nursing-v1")
    box = actions.ask_export()
    assert "WITHOUT encryption" in box.text()
    box.close()
    actions.export("nursing-v1", str(window.paths.data / "adapter"))  # into the vault's folder: refused
    qtbot.waitUntil(lambda: "Nothing was written" in page.status.text(), timeout=WAIT_MS)
    assert not (window.paths.data / "adapter").exists()
    actions.export("nursing-v1", str(tmp_path / "out"))
    qtbot.waitUntil(lambda: "Exported nursing-v1" in page.status.text(), timeout=WAIT_MS)
    assert (tmp_path / "out" / "adapter_model.safetensors").read_bytes() == b"w"


def test_a_new_adapter_name_that_is_taken_is_refused_before_training(qtbot, window):
    from localtune.services.adapters import AdapterStore

    page = window.train
    lane_call(qtbot, window.lane, lambda ctx: ctx.vault.put_blob(AdapterStore.blob("mine"), "adapter", b"w",
                                                                 META))
    page.on_unlocked()
    qtbot.waitUntil(lambda: page.adapter_names == {"mine"}, timeout=WAIT_MS)
    qtbot.keyClicks(page.name, "mine")
    page.train_button.click()
    assert page.runner is None and "exists already" in page.status.text()
