"""The app imports the sealed adapter bundle a training server returned: Train page > Import adapter…, the
bundle's passphrase (masked), then the adapter is listed like a local run; a wrong passphrase is said so."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit
from ui_testing import WAIT_MS, lane_call

PASS = "server passphrase"
META = {"base_model": "starter", "examples": 40, "peft_config": {"peft_type": "LORA", "r": 16},
        "metrics": {"steps": 12, "eval_loss": 3.5}, "history": [{"step": 1, "loss": 4.0}],
        "fingerprint": "abc", "trained_on": {"processes": 2}}


def test_import_an_adapter_bundle(qtbot, window, tmp_path):
    from localtune.bundle import format as fmt
    from localtune.bundle.importing import seal_adapter
    from localtune.services.adapters import AdapterStore

    bundle = fmt.write(tmp_path / "adapter.ltb", seal_adapter(b"weights", META, PASS))
    page = window.train
    page.on_unlocked()
    actions = page.adapter_actions
    assert actions.import_button.isEnabled()  # no adapter needs to be selected

    dialog = actions.ask_passphrase(str(bundle))
    assert dialog.textEchoMode() == QLineEdit.EchoMode.Password and "adapter.ltb" in dialog.labelText()
    dialog.setTextValue("not the passphrase")
    dialog.accept()
    qtbot.waitUntil(lambda: "does not open adapter.ltb" in page.status.text(), timeout=WAIT_MS)

    actions.ask_passphrase(str(bundle)).setTextValue(PASS)
    actions.dialog.accept()
    qtbot.waitUntil(lambda: "Imported starter-v1" in page.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "starter-v1" in page.adapter_names, timeout=WAIT_MS)
    info = lane_call(qtbot, window.lane, lambda ctx: ctx.vault.blob_info(AdapterStore.blob("starter-v1")))
    assert info.meta["history"] == META["history"] and info.meta["trained_remotely"] == {"processes": 2}
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault.read_blob(info.name)) == b"weights"
