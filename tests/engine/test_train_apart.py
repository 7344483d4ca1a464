"""Training in a child process (engine.train.train_apart, how the app and the CLI train): the same run as in this
process, a cancel that crosses over, a child killed mid-run, errors in the same words, and no child left behind."""

import multiprocessing
import os
import signal

import pytest
from engine_helpers import fake_cpu, make_examples

from localtune.engine.apart import HELPER_NAME, PROCESS_NICE
from localtune.engine.train import TrainConfig, train, train_apart
from localtune.errors import Cancelled, ModelError, TrainingError
from localtune.events import CheckpointReady, Finished, Progress
from localtune.progress import CancelToken

FAST = dict(epochs=1, lr=5e-3, lora_r=8, lora_alpha=16, batch_size=2, seed=7, checkpoint_every_s=0)


def _children():
    """The children a run or an estimate started (not the long-lived helper process other tests use)."""
    return [c for c in multiprocessing.active_children() if c.name.startswith("localtune-") and c.name != HELPER_NAME]


def _no_children_left():
    return not _children()


def test_a_run_apart_is_the_run_here(tiny_model):
    config = TrainConfig(**FAST)
    examples, held_out = make_examples(8), make_examples(2, seed=9)
    here = list(train(tiny_model, examples, held_out, config, hardware=fake_cpu()))
    apart = list(train_apart(tiny_model, examples, held_out, config))
    assert [type(e).__name__ for e in apart] == [type(e).__name__ for e in here]
    losses = lambda events: [round(e.loss, 4) for e in events if isinstance(e, Progress)]  # noqa: E731
    assert losses(apart) == losses(here) and len(losses(here)) == 4
    assert isinstance(apart[-1], Finished) and apart[-1].adapter == here[-1].adapter
    assert _no_children_left()


def test_a_cancel_crosses_over_and_the_last_checkpoint_comes_back(tiny_model):
    cancel = CancelToken()
    seen = []
    with pytest.raises(Cancelled, match="Stopped at your request"):
        for event in train_apart(tiny_model, make_examples(12), [], TrainConfig(**{**FAST, "epochs": 3}), cancel):
            seen.append(event)
            if isinstance(event, Progress) and event.step == 2:
                cancel.cancel()
    assert isinstance(seen[-1], CheckpointReady) and 2 <= seen[-1].step < 18
    assert _no_children_left()
    resumed = list(train_apart(tiny_model, make_examples(12), [], TrainConfig(**{**FAST, "epochs": 3}),
                               resume=seen[-1].state))
    assert [e.step for e in resumed if isinstance(e, Progress)][0] == seen[-1].step + 1
    assert isinstance(resumed[-1], Finished) and resumed[-1].steps == 18


def test_a_child_killed_mid_run_says_what_likely_happened(tiny_model):
    run = train_apart(tiny_model, make_examples(12), [], TrainConfig(**{**FAST, "epochs": 3}), background=True)
    with pytest.raises(TrainingError, match="stopped unexpectedly .* runs out of memory"):
        for event in run:
            if isinstance(event, Progress):  # as the system's out-of-memory killer would
                (child,) = _children()
                assert os.getpriority(os.PRIO_PROCESS, child.pid) == PROCESS_NICE  # it gives way to the app
                os.kill(child.pid, signal.SIGKILL)
    assert _no_children_left()


def test_errors_come_back_in_the_same_words(tiny_model, tmp_path):
    with pytest.raises(TrainingError) as here:
        list(train(tiny_model, make_examples(4), [], TrainConfig(**FAST), resume=b"not a checkpoint",
                   hardware=fake_cpu()))
    with pytest.raises(TrainingError) as apart:
        list(train_apart(tiny_model, make_examples(4), [], TrainConfig(**FAST), resume=b"not a checkpoint"))
    assert str(apart.value) == str(here.value)
    with pytest.raises(TrainingError, match="batch_size"):  # said before a process starts
        train_apart(tiny_model, make_examples(4), [], TrainConfig(**{**FAST, "batch_size": 0}))
    with pytest.raises(TrainingError, match="Training failed"):
        list(train_apart(tmp_path / "no model here", make_examples(4), [], TrainConfig(**FAST)))
    assert _no_children_left()
    assert not issubclass(ModelError, TrainingError)


def test_a_listener_that_stops_early_stops_the_child(tiny_model):
    run = train_apart(tiny_model, make_examples(12), [], TrainConfig(**{**FAST, "epochs": 3}))
    for event in run:
        if isinstance(event, Progress):
            break
    run.close()
    assert _no_children_left()


def test_the_time_estimate_apart_times_real_steps_of_the_plan_it_was_given(tiny_model):
    from localtune.engine.train import estimate_apart, plan

    config = TrainConfig(**FAST)
    the_plan = plan(fake_cpu(), tiny_model, make_examples(8), config)
    timed = estimate_apart(tiny_model, make_examples(8), the_plan, config)
    assert timed.seconds_per_step > 0 and timed.eta_s == pytest.approx(timed.seconds_per_step * the_plan.total_steps)
    assert (timed.micro_batch_tokens, timed.total_steps) == (the_plan.micro_batch_tokens, the_plan.total_steps)
    assert _no_children_left()


def test_a_cancelled_estimate_ends_its_child_at_once(tiny_model):
    import threading
    import time

    from localtune.engine.train import estimate_apart, plan

    config = TrainConfig(**FAST)
    the_plan = plan(fake_cpu(), tiny_model, make_examples(8), config)
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()  # while the child is still starting
    started = time.monotonic()
    with pytest.raises(Cancelled):
        estimate_apart(tiny_model, make_examples(8), the_plan, config, cancel=cancel)
    assert time.monotonic() - started < 5 and _no_children_left()
