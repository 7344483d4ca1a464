"""The app's download: the dialog names the host and the size and marks what suits this computer; the page asks
once more with the exact size, shows bytes and time left, keeps a gated model's token only in the vault, and
adds the verified model. Against a Hub-like server on 127.0.0.1 (HF_ENDPOINT)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ui_testing import WAIT_MS, lane_call

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"
GIB = 1024**3


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    import importlib.util

    if str(ENGINE_TESTS) not in sys.path:
        sys.path.insert(0, str(ENGINE_TESTS))
    spec = importlib.util.spec_from_file_location("engine_tests_conftest", ENGINE_TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._tiny_llama(tmp_path_factory.mktemp("served"))


def test_the_dialog_names_the_host_and_size_and_marks_what_suits_this_computer(qtbot, window, monkeypatch):
    from localtune.engine.hardware import Hardware
    from localtune.ui.dialogs.download import DownloadDialog

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    laptop = Hardware("cpu", "laptop", 8, 16 * GIB, 11 * GIB)
    dialog = DownloadDialog(window, hardware=laptop)
    qtbot.addWidget(dialog)
    first = [dialog.catalog.item(i).text() for i in range(3)]
    assert all(t.startswith("★ Recommended for this computer") for t in first)
    assert "SmolLM2 1.7B" in first[0] and not dialog.catalog.item(3).text().startswith("★")
    assert not dialog.download.isEnabled() and "127.0.0.1:9" in dialog.consent.text()
    dialog.catalog.setCurrentRow(0)
    assert dialog.chosen() == "HuggingFaceTB/SmolLM2-1.7B-Instruct" and dialog.download.isEnabled()
    assert "about 3.42 GB according to localtune's catalog" in dialog.consent.text()
    assert "checked against the catalog's sha256" in dialog.consent.text()
    assert "Nothing from your journal is sent" in dialog.consent.text()
    assert dialog.token.echoMode() == dialog.token.EchoMode.Password


@pytest.mark.slow
def test_a_gated_download_from_the_page(qtbot, window, tiny_folder, monkeypatch):
    from hub_server import serve

    hub, stop = serve(tiny_folder, "TinyOrg/tiny-gated", gated_token="hf_app_secret",
                      drop_after={"model.safetensors": 20_000})
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    page = window.train
    page._looked = True  # this test drives the page; its first look would time the starter (minutes)
    asked = []
    page.confirm_download = lambda plan: asked.append(plan) or True
    try:
        page.download("TinyOrg/tiny-gated")  # no token yet: the Hub refuses
        qtbot.waitUntil(lambda: "gated" in page.status.text(), timeout=WAIT_MS)
        assert asked == []
        page.download("TinyOrg/tiny-gated", "hf_app_secret")  # the connection drops part-way
        qtbot.waitUntil(lambda: "resumes where it stopped" in page.status.text(), timeout=WAIT_MS)
        assert len(asked) == 1 and asked[0].total_bytes > 20_000 and "127.0.0.1" in asked[0].describe()
        page.download("TinyOrg/tiny-gated")  # the token kept in the vault is used; the download resumes
        qtbot.waitUntil(lambda: "Downloaded" in page.status.text(), timeout=WAIT_MS)
    finally:
        stop()
    assert "Downloaded tiny-gated (checked against the Hub's hashes)" in page.status.text()
    assert page.progress.value() == page.progress.maximum() == 1000
    ranges = [r for path, r, _ in hub.requests if path.endswith("model.safetensors")]
    assert ranges == [None, "bytes=20000-"]
    qtbot.waitUntil(lambda: page.model.currentData() == "tiny-gated", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "estimated time:" in page.plan.text(), timeout=max(WAIT_MS, 120_000))  # no thread left
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault.get_setting("hub.token")) == "hf_app_secret"
    paths = window.paths
    plain = [str(p) for root in (paths.data, paths.cache, paths.config) for p in Path(root).rglob("*")
             if p.is_file() and b"hf_app_secret" in p.read_bytes()]
    assert plain == []
