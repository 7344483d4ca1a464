"""The Train page in plain words: presets (a quick trial, the full run), an adapter name, one time estimate
shared by the plan and the progress bar, and a resumed run that keeps the loss curve before its cancel."""

from __future__ import annotations

from test_ui_pages import progress, sealed
from ui_testing import WAIT_MS

from localtune.engine.train import Plan
from localtune.errors import Cancelled
from localtune.ui.pages.train import QUICK_STEPS
from localtune.ui.plan_words import plain_plan

PLAN = Plan(device="cpu", quantization="none", bf16=False, batch_size=4, micro_batch_tokens=2048, max_seq_len=512,
            grad_checkpointing=False, completion_only_head=True, steps_per_epoch=10, total_steps=20,
            train_tokens_per_epoch=1000, padding_share=0.0, memory_needed=2_000_000_000,
            memory_free=8_000_000_000, eta_s=1800.0, seconds_per_step=90.0)


def test_the_plan_reads_in_plain_words_with_the_technical_plan_one_click_away(qtbot, window):
    assert plain_plan(PLAN) == ("Trains on this computer's processor in about 30 minutes, using up to 2.0 GB of "
                                "memory (20 learning steps).")
    assert "timing a few steps" in plain_plan(Plan(**{**PLAN.__dict__, "eta_s": None}))
    page = window.train
    page.show_plan(PLAN)
    assert page.summary.text() == plain_plan(PLAN)
    assert not page.plan.isVisibleTo(page)
    page.details_button.click()
    assert page.plan.isVisibleTo(page) and "LoRA (full-precision base) on CPU" in page.plan.text()


def test_presets_name_and_one_shared_estimate(qtbot, window):
    page = window.train
    calls = []

    def recording(ctx, *, model, cancel, resume=False, config=None, name=None):
        calls.append((config, name))
        yield progress(1, 2, 1.0, 600.0)
        yield progress(2, 2, 0.9, 0.0)
        return sealed(name or "starter-v1")

    page.set_source(recording)
    assert page.preset.currentData() == "quick"  # a new user starts with a run of a few minutes
    page.show_plan(PLAN)
    qtbot.keyClicks(page.name, "nursing-v1")
    page.train_button.click()
    assert page.eta.text() == "about 30 min left"  # the plan's measured estimate, until the run's steps correct it
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    config, name = calls[-1]
    assert (config.max_steps, config.epochs, name) == (QUICK_STEPS, 1, "nursing-v1")
    assert "nursing-v1 is saved" in page.status.text()

    page.preset.setCurrentIndex(page.preset.findData("full"))
    page.name.clear()
    page.train_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert calls[-1] == (None, None)  # the full run: the engine's own defaults


def until_cancelled_training(ctx, *, model, cancel, resume=False, **_settings):
    """Trains until cancelled; then, as the real service, keeps its last checkpoint in the vault."""
    from localtune.services import training

    step = 0
    try:
        while True:
            cancel.raise_if_cancelled()
            step += 1
            yield progress(step, 50, 3.0 - step * 0.01, 100.0)
    except Cancelled:
        ctx.vault.put_blob(training.CHECKPOINT, "checkpoint", b"state", {"step": step, "model": "starter"})
        raise


def test_resume_keeps_the_loss_curve_of_the_steps_before_the_cancel(qtbot, window):
    page = window.train
    page.set_source(until_cancelled_training)
    page.train_button.click()
    qtbot.waitUntil(lambda: len(page.plot.train) >= 6, timeout=WAIT_MS)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.resume_button.isVisibleTo(page), timeout=WAIT_MS)
    checkpoint = page.interrupted["step"]
    before = [pt for pt in page.plot.train if pt[0] <= checkpoint]

    def resumed(ctx, *, model, cancel, resume=False, **_settings):
        assert resume
        for step in range(checkpoint + 1, 51):
            yield progress(step, 50, 2.0, 1.0)
        return sealed("starter-v1")

    page.set_source(resumed)
    page.resume_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    steps = [int(s) for s, _ in page.plot.train]
    assert page.plot.train[: len(before)] == before and steps == list(range(1, 51))


def test_use_and_the_compare_columns_are_explained_where_they_are_shown(qtbot, window):
    from PySide6.QtCore import Qt

    model = window.journal.model
    tips = {model.headerData(c, Qt.Orientation.Horizontal): model.headerData(c, Qt.Orientation.Horizontal,
                                                                              Qt.ItemDataRole.ToolTipRole)
            for c in range(model.columnCount())}
    assert "held out" in tips["Use"] and "exclude" in tips["Use"]
    assert window.journal.editor.use.toolTip() == tips["Use"]
    columns = window.compare.columns
    assert "no help from your journal" in columns["base"].toolTip()
    assert "similar entries" in columns["few_shot"].toolTip() and "adapter" in columns["tuned"].toolTip()
