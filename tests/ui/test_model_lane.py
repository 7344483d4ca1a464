"""The app never runs two model jobs at once. transformers builds a model under process-wide switches and
resolves its names lazily, so two threads loading at once corrupt each other ("Cannot copy out of meta tensor",
"cannot import name 'AutoTokenizer'"); the engine has no locks against that because the app runs every model
job on its one model lane. Here the Train page's timing run, a reading on the Compare page and the Train page's
look at the hardware are asked for at the same moment, on a tiny random model, and take turns."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pytest
from ui_testing import WAIT_MS

from localtune.events import Analysis, Piece
from localtune.ui.tasks import run_in_thread

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A tiny random Llama as a model folder (the engine tests' builder; the starter would take minutes)."""
    if str(ENGINE_TESTS) not in sys.path:  # its helpers sit beside it
        sys.path.insert(0, str(ENGINE_TESTS))
    spec = importlib.util.spec_from_file_location("engine_tests_conftest", ENGINE_TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny")


def _reading_on(folder):
    """A Compare source that really reads: it loads the model (on the model lane) and streams a few tokens."""

    def read(ctx, *, situation, adapter, cancel, **_steering):
        from localtune.dataset.prompts import prompt_messages
        from localtune.engine.generate import Reader

        reader = Reader.load(folder, device="cpu")
        text = ""
        for piece in reader.stream(prompt_messages(situation=situation), cancel=cancel, max_new_tokens=6):
            text += piece
            yield Piece("base", piece)
        yield Analysis("base", "mixed", text or "(nothing)")

    return read


@pytest.mark.slow
def test_a_timing_run_a_reading_and_a_hardware_look_asked_for_at_once_take_turns(qtbot, window, tiny_folder):
    from localtune.engine.train import TrainConfig
    from localtune.services import training

    train, compare = window.train, window.compare
    train._looked = True  # this test asks for each job itself
    info = training.registry(window.paths).add_folder(tiny_folder, name="tiny")
    train.config = TrainConfig(max_steps=2, batch_size=2, max_seq_len=128)
    compare.set_source(_reading_on(tiny_folder))
    compare.situation.setPlainText("A colleague took credit for my slides in the weekly meeting.")
    jobs: list[tuple[str, str, float, int]] = []  # (name, "start" | "end", when, thread), taken on the lane
    window.lane.models.observers.append(lambda name, what, at: jobs.append((name, what, at, threading.get_ident())))

    gate, held = threading.Event(), threading.Event()
    run_in_thread(lambda: held.set() or gate.wait(WAIT_MS / 1000), models=window.lane.models, name="gate")
    qtbot.waitUntil(held.is_set, timeout=WAIT_MS)  # the model is busy while the three are asked for
    train.look_at_hardware()
    compare.compare_button.click()  # the reading waits for the model, and says so
    assert compare.runner.running and all(
        c.status.text() == "Waiting for the model to be free" for c in compare.columns.values())
    train._models_listed(([info], []))  # picking the model plans it, then times a few steps
    qtbot.waitUntil(lambda: "Waiting for the model to be free" in train.summary.text(), timeout=WAIT_MS)
    gate.set()

    qtbot.waitUntil(lambda: train.hw is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not compare.runner.running, timeout=max(WAIT_MS, 120_000))
    qtbot.waitUntil(lambda: "estimated time:" in train.plan.text(), timeout=max(WAIT_MS, 120_000))

    assert train.hardware.text() == train.hw.describe()  # all three results arrived
    assert compare.columns["base"].state == "done" and compare.columns["base"].buffer
    assert not compare.notice.isVisibleTo(compare)
    started = [name for name, what, *_ in jobs if what == "start"]
    assert started[:4] == ["gate", "hardware", "reading", "plan"] and "time estimate" in started  # in order
    # Never two at once: every job ends before the next one starts, all on the one model thread.
    assert [what for _, what, *_ in jobs] == ["start", "end"] * (len(jobs) // 2)
    assert all(jobs[i][2] <= jobs[i + 1][2] for i in range(len(jobs) - 1))
    assert len({thread for *_, thread in jobs}) == 1 and jobs[0][3] != threading.get_ident()


def test_training_asked_for_while_the_model_is_busy_says_it_waits_then_runs_or_is_dropped(qtbot, window):
    from test_ui_pages import fake_training

    page, tasks, gate, began = window.train, window.tasks, threading.Event(), []
    page._looked = True
    page.set_source(lambda ctx, **kw: began.append(True) or fake_training(ctx, **kw))

    def hold_the_model():
        gate.wait(WAIT_MS / 1000)

    run_in_thread(hold_the_model, models=window.lane.models, name="time estimate")
    page.train_button.click()  # cancelled while it waits: it never starts
    assert page.status.text() == "Waiting for the model to be free… Training starts then."
    assert tasks.button.text() == "Training: waiting for the model to be free"
    page.cancel_button.click()
    assert not page.running and not began and page.train_button.isEnabled()
    assert page.status.text() == "Stopped before it began (it was waiting for the model)."

    with qtbot.waitSignal(page.trained, timeout=WAIT_MS):  # asked again, it runs once the model is free
        page.train_button.click()
        assert "Waiting for the model" in page.status.text()
        gate.set()
    assert began == [True] and page.progress.value() == page.progress.maximum() == 40
