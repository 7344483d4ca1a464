"""The Train page's model picker lists models found on this computer (fake-but-real stores in a temp folder,
the home folder and the stores' variables pointed at them), says whether each trains here, adds one, trains it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from ui_testing import WAIT_MS

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"


def _engine_helpers():
    """The engine tests' tiny-model builder and store layouts (their folder is not on this suite's path)."""
    if str(ENGINE_TESTS) not in sys.path:
        sys.path.insert(0, str(ENGINE_TESTS))
    spec = importlib.util.spec_from_file_location("engine_tests_conftest", ENGINE_TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import stores

    return module._tiny_llama, stores


@pytest.fixture(scope="module")
def fake_stores(tmp_path_factory):
    tiny_llama, stores = _engine_helpers()
    root = tmp_path_factory.mktemp("found")
    return build_with(stores, root, tiny_llama(root / "tiny")), stores


def build_with(stores, root, model):
    return stores.build(root / "stores", model)


@pytest.fixture
def on_this_computer(fake_stores, monkeypatch):
    found, stores = fake_stores
    monkeypatch.setenv("HOME", str(found.home))
    for key, value in found.env.items():
        monkeypatch.setenv(key, value)
    for key in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(key, raising=False)
    return found, stores


@pytest.mark.slow
def test_pick_a_found_model_see_it_fits_add_it_and_train_it(qtbot, window, on_this_computer):
    from localtune.engine.train import TrainConfig
    from localtune.ui.operations import list_models

    stores_found, stores = on_this_computer
    page = window.train
    page._looked = True  # the page's own first look would also time the starter (minutes); this test drives it
    added, found = list_models(window.paths)
    assert [m.name for m in added] == ["smollm2-135m-instruct"]
    assert {f.store for f in found} == {"huggingface", "ollama", "lmstudio", "gpt4all"}
    before = stores.snapshot(stores_found.ollama, stores_found.hf_hub)

    page._models_listed(([], found))
    assert page.model.count() == len(found)
    texts = [page.model.itemText(i) for i in range(page.model.count())]
    assert "tinyllama:q8 — Ollama, not added yet" in texts
    page.model.setCurrentIndex(page.model.findData("found:ollama:tinyllama:q8"))
    assert "Q8_0" in page.model_info.text() and "license apache-2.0" in page.model_info.text()
    assert page.add_found_button.isVisible() or page.add_found_button.isVisibleTo(page)
    qtbot.waitUntil(lambda: "Trains here" in page.summary.text(), timeout=WAIT_MS)
    assert "GiB free" in page.summary.text() and "Add it to train it" in page.summary.text()
    page.train_button.click()  # a found model is added before it trains
    assert page.runner is None and "Add this model first" in page.status.text()

    page.add_found_button.click()
    qtbot.waitUntil(lambda: page.model.currentData() == "tinyllama-q8", timeout=max(WAIT_MS, 120_000))
    assert "Added tinyllama-q8" in page.status.text()
    assert page.model.findData("found:ollama:tinyllama:q8") == -1  # listed once, now as an added model
    assert page.model.findData("found:lmstudio:TinyPub/tiny-llama-GGUF/tiny-llama-instruct-F16") > 0
    assert not page.add_found_button.isVisibleTo(page)
    qtbot.waitUntil(lambda: "steps of" in page.plan.text(), timeout=max(WAIT_MS, 120_000))

    page.config = TrainConfig(max_steps=1, batch_size=2, max_seq_len=128)
    with qtbot.waitSignal(page.trained, timeout=max(WAIT_MS, 300_000)):
        page.train_button.click()
    assert "Finished" in page.status.text() and page.history.item(0).text().startswith("tinyllama-q8-v")
    qtbot.waitUntil(lambda: not page.running, timeout=WAIT_MS)  # the run's process has ended too
    assert stores.snapshot(stores_found.ollama, stores_found.hf_hub) == before
    qtbot.waitUntil(lambda: "estimated time:" in page.plan.text(), timeout=max(WAIT_MS, 120_000))  # no thread left
