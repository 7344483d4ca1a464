"""The Train page wired to the real training service: pressing Train starts it, Cancel stops it cleanly."""

from __future__ import annotations

import threading

import pytest
from ui_testing import WAIT_MS

from localtune.ui import operations as ops


def test_train_page_runs_the_training_service_and_cancel_returns_to_idle(qtbot, window):
    from localtune.engine.train import TrainConfig

    page = window.train
    assert page.source is ops.train
    assert page.train_button.isEnabled()
    page.config = TrainConfig(max_steps=1)

    gate = threading.Event()
    window.lane.submit(lambda ctx: gate.wait(WAIT_MS / 1000))  # hold the lane so Cancel lands before step one
    stopped = []
    page.train_button.click()
    assert page.runner is not None and page.runner.running
    assert not page.train_button.isEnabled() and page.cancel_button.isEnabled()
    page.runner.cancelled.connect(lambda: stopped.append(True))
    page.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert stopped and "Stopped" in page.status.text()
    assert page.train_button.isEnabled() and not page.cancel_button.isEnabled() and page.model.isEnabled()


@pytest.mark.slow
def test_train_page_shows_the_real_plan_then_a_measured_estimate(qtbot, window):
    page = window.train
    window.show_page(window.pages.index(page))
    qtbot.waitUntil(lambda: "steps of 4 examples" in page.plan.text(), timeout=max(WAIT_MS, 600_000))
    assert "on CPU" in page.plan.text() and "Measuring this computer's speed" in page.plan.text()
    qtbot.waitUntil(lambda: "estimated time:" in page.plan.text(), timeout=max(WAIT_MS, 600_000))
    assert "s per step, measured" in page.plan.text() and "Measuring" not in page.plan.text()


@pytest.mark.slow
def test_training_finishes_while_the_page_is_still_timing_the_plan(qtbot, window):
    """Opening the Train page starts a timing run that loads the model in a background thread; pressing Train
    at once loads it again on the lane. Both loads must stay intact (they once corrupted each other)."""
    from localtune.engine.train import TrainConfig

    page = window.train
    window.show_page(window.pages.index(page))
    qtbot.waitUntil(lambda: page.model.count() > 0, timeout=max(WAIT_MS, 600_000))
    page.config = TrainConfig(max_steps=1, batch_size=2, max_seq_len=128)
    with qtbot.waitSignal(page.trained, timeout=max(WAIT_MS, 900_000)):
        page.train_button.click()
    assert "Finished" in page.status.text()
    assert page.history.item(0).text().endswith(": finished")
    # The timing run ends on its own too (no thread is left running when the window closes).
    qtbot.waitUntil(lambda: "estimated time:" in page.plan.text(), timeout=max(WAIT_MS, 600_000))
