"""Shared fixtures; the helpers live in lt_testing (a unique module name, unlike conftest)."""

import os

import pytest
from hypothesis import settings

from lt_testing import journal, paths, vault  # noqa: F401

# Property tests draw the same examples on every run (Hypothesis' "ci" profile: derandomized, no example
# database), so a run fails only when the code changed, never by the luck of the draw. To hunt for new edge cases
# with fresh random examples: HYPOTHESIS_PROFILE=default python3 dev.py test
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _host_cpu_flags_never_decide(monkeypatch):
    """Code that looks at the machine itself (the CLI, the app, the self-test in this process) sees a CPU without
    AMX or AVX512-BF16 on every host; tests of a bf16 CPU inject `Hardware(bf16=True)` or patch `cpu_flags`."""
    from localtune.engine import hardware

    monkeypatch.setattr(hardware, "cpu_flags", set)


@pytest.fixture(scope="session")
def _no_host_models(tmp_path_factory):
    return tmp_path_factory.mktemp("no-host-models")


@pytest.fixture(autouse=True)
def _host_models_never_seen(monkeypatch, _no_host_models):
    """Model discovery (the Train page, `models discover`) looks in the home folder and the stores' variables:
    every test sees an empty home and empty stores; tests of discovery build their own and point these at them."""
    monkeypatch.setenv("HOME", str(_no_host_models))
    for name in ("HF_HUB_CACHE", "OLLAMA_MODELS", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(_no_host_models / name.lower()))
    for name in ("HUGGINGFACE_HUB_CACHE", "HF_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` need CUDA hardware: where there is none (CI) they are deselected, and the summary
    says how many; on a GPU machine they run with the rest (or alone: `pytest -m gpu`)."""
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu:
        return
    import torch

    if torch.cuda.is_available():
        return
    config.hook.pytest_deselected(items=gpu)
    items[:] = [item for item in items if not item.get_closest_marker("gpu")]
