"""Shared fixtures; the helpers live in lt_testing (a unique module name, unlike conftest)."""

import os

from hypothesis import settings

from lt_testing import journal, paths, vault  # noqa: F401

# Property tests draw the same examples on every run (Hypothesis' "ci" profile: derandomized, no example
# database), so a run fails only when the code changed, never by the luck of the draw. To hunt for new edge cases
# with fresh random examples: HYPOTHESIS_PROFILE=default python3 dev.py test
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
