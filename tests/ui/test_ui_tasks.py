"""The vault lane, the model lane and the generator runner: order, errors, cancel, and dropped results after a
lock."""

from __future__ import annotations

import threading
import time

import pytest
from ui_testing import WAIT_MS, lane_call, unlock

from localtune.errors import (
    Cancelled,
    ImportFailed,
    InvalidInputError,
    VaultCorruptError,
    VaultInUseError,
    WrongPassphraseError,
)
from localtune.ui.errors import CORRUPT, WRONG_PASSPHRASE, explain
from localtune.ui.tasks import GeneratorRunner, TaskLane, run_in_thread


@pytest.fixture
def lane(qtbot, paths):
    lane = TaskLane(paths)
    yield lane
    lane.shutdown()


def test_lane_runs_jobs_in_order_on_one_thread_and_returns_on_the_gui_thread(qtbot, lane):
    gui = threading.get_ident()
    seen, done = [], []
    for i in range(20):
        lane.submit(lambda ctx, i=i: (i, threading.get_ident()), lambda r: done.append((r, threading.get_ident())))
    qtbot.waitUntil(lambda: len(done) == 20, timeout=WAIT_MS)
    seen = [r[0][0] for r in done]
    assert seen == list(range(20))
    assert len({r[0][1] for r in done}) == 1 and done[0][0][1] != gui  # one worker thread, not the GUI's
    assert all(t == gui for _, t in done)


def test_lane_errors_go_to_the_handler_and_invalidate_drops_old_results(qtbot, lane):
    errors, results, unhandled = [], [], []
    lane.error.connect(unhandled.append)

    def boom(ctx):
        raise InvalidInputError("bad")

    lane.submit(boom, results.append, errors.append)
    lane.submit(boom)
    qtbot.waitUntil(lambda: lane.pending == 0, timeout=WAIT_MS)
    lane.submit(lambda ctx: time.sleep(0.1) or "old", results.append)
    lane.invalidate()
    lane.submit(lambda ctx: "new", results.append)
    qtbot.waitUntil(lambda: lane.pending == 0, timeout=WAIT_MS)
    assert [str(e) for e in errors] == ["bad"]
    assert len(unhandled) == 1
    assert results == ["new"]


def _counting(token, n=5, fail_at=None):
    for i in range(n):
        token.raise_if_cancelled()
        if i == fail_at:
            raise InvalidInputError("step failed")
        yield i
        time.sleep(0.01)
    return "done"


def test_generator_runner_signals_in_strict_order(qtbot):
    runner = GeneratorRunner(lambda token: _counting(token, 3))
    got = []
    runner.yielded.connect(got.append)
    with qtbot.waitSignals([runner.started, runner.yielded, runner.yielded, runner.yielded, runner.returned,
                            runner.finished], order="strict", timeout=WAIT_MS):
        runner.start()
    assert got == [0, 1, 2]


def test_generator_runner_reports_errors_and_cancels_quietly(qtbot, lane):
    runner = GeneratorRunner(lambda token: _counting(token, 5, fail_at=2))
    with qtbot.waitSignals([runner.errored, runner.finished], order="strict", timeout=WAIT_MS):
        runner.start()

    runner = GeneratorRunner(lambda token: _counting(token, 10_000))
    errors = []
    runner.errored.connect(errors.append)
    runner.yielded.connect(lambda i: runner.cancel() if i == 3 else None)
    with qtbot.waitSignals([runner.cancelled, runner.finished], order="strict", timeout=WAIT_MS):
        runner.start()
    assert not errors and not runner.running

    # with a lane: the generator runs on its own worker thread, one event in flight at a time
    got = []
    runner = GeneratorRunner(lambda ctx, token: _counting(token, 3), lane=lane)
    runner.yielded.connect(got.append)
    with qtbot.waitSignal(runner.finished, timeout=WAIT_MS):
        runner.start()
    assert got == [0, 1, 2]


def test_run_in_thread_returns_a_value(qtbot):
    box = []
    run_in_thread(lambda: threading.get_ident(), box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=WAIT_MS)
    assert box[0] != threading.get_ident()


def test_every_vault_error_has_its_own_human_message():
    texts = {cls: explain(cls("core words")) for cls in (WrongPassphraseError, VaultCorruptError, VaultInUseError)}
    assert texts[WrongPassphraseError].text == WRONG_PASSPHRASE
    assert texts[VaultCorruptError].text == CORRUPT
    assert texts[VaultCorruptError].detail == "core words"
    assert len({e.text for e in texts.values()}) == 3
    failed = explain(ImportFailed("2 bad rows", [(2, "x")]))
    assert failed.title == "Nothing was imported" and failed.text == "2 bad rows"
    odd = explain(KeyError("k"))
    assert "unexpected" in odd.title and "KeyError" in odd.detail


def test_long_sessions_survive_the_pyside_reference_leak():
    """PySide6 6.12.0 on Python 3.11 steals a reference to None from every void call and to True from every
    emit, and a long session aborts the interpreter (or segfaults in a garbage collection); the dependency pin
    keeps that release out. This fails on 6.12.0."""
    import os
    import subprocess
    import sys

    code = (
        "import localtune.ui\n"
        "from PySide6.QtCore import QObject, QTimer, Signal\n"
        "class P(QObject):\n"
        "    ping = Signal()\n"
        "p, t = P(), QTimer()\n"
        "for _ in range(300_000):\n"
        "    t.stop()\n"
        "    p.ping.emit()\n"
        "print('survived')\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "survived"


def _gated_run(seen: dict, gate: threading.Event, inside: threading.Event):
    """A model task: reads the journal, then one long step (a training step takes seconds) held by `gate`;
    cancelled during it, its cancel path keeps a checkpoint in the vault, as training does."""

    def make(ctx, token):
        try:
            seen["entries"] = len(ctx.journal.iter_all())
            seen["worker"] = threading.get_ident()
            yield "read"
            inside.set()
            gate.wait(WAIT_MS / 1000)
            if token.cancelled:
                ctx.vault.put_blob("gated-checkpoint", "checkpoint", b"state", {"step": 1})
                raise Cancelled("Stopped at your request.")
            yield "stepped"
        finally:
            seen["closed"] = True

    return make


def test_the_journal_answers_while_a_model_step_runs_and_a_cancel_keeps_the_checkpoint(qtbot, window):
    lane = window.lane
    lane_thread = lane_call(qtbot, lane, lambda ctx: threading.get_ident())
    seen, gate, inside = {}, threading.Event(), threading.Event()
    runner = GeneratorRunner(_gated_run(seen, gate, inside), lane=lane)
    cancelled = []
    runner.cancelled.connect(lambda: cancelled.append(True))
    runner.start()
    qtbot.waitUntil(inside.is_set, timeout=WAIT_MS)

    # Mid-step, the vault lane is free: a search answers while the model step still runs.
    found = lane_call(qtbot, lane, lambda ctx: ctx.journal.ids("deadline"))
    assert found and runner.running and not gate.is_set()
    assert seen["entries"] == window.journal.model.rowCount() > 0  # the journal, read through the lane
    assert seen["worker"] not in (lane_thread, threading.get_ident())  # the model work ran on neither thread

    runner.cancel()
    gate.set()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    assert cancelled and runner.wait()
    assert seen["closed"]  # the generator was closed
    assert lane_call(qtbot, lane, lambda ctx: ctx.vault.read_blob("gated-checkpoint")) == b"state"


def _start_gated_training(qtbot, window):
    seen, gate, inside = {}, threading.Event(), threading.Event()
    runner = GeneratorRunner(_gated_run(seen, gate, inside), lane=window.lane)
    window.train.runner = runner  # what the Train page holds while it trains
    runner.start()
    qtbot.waitUntil(inside.is_set, timeout=WAIT_MS)
    return runner, seen, gate


def test_locking_mid_step_still_lets_the_task_keep_its_checkpoint(qtbot, window):
    runner, seen, gate = _start_gated_training(qtbot, window)
    window.lock(stop_training=True)  # the page is free at once; the vault closes only after the task's last write
    assert not runner.running and not window.is_unlocked and not window.held_open
    gate.set()
    assert runner.wait() and seen["closed"]
    unlock(qtbot, window)
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault.read_blob("gated-checkpoint")) == b"state"


def test_an_auto_lock_during_training_hides_the_journal_but_lets_the_run_finish(qtbot, window):
    runner, seen, gate = _start_gated_training(qtbot, window)
    vault = lane_call(qtbot, window.lane, lambda ctx: ctx.vault)
    window.idle.idle.emit()  # what the idle watcher sends after the auto-lock delay
    assert not window.is_unlocked and window.held_open and runner.running
    assert window.root.currentWidget() is window.lock_screen and not window.lock_screen.stop_button.isHidden()
    assert window.journal.model.rowCount() == 0  # nothing of the journal is left on screen

    dialog = window.unlock_dialog
    dialog.passphrase.setText("not the passphrase")
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: not dialog.error.isHidden(), timeout=WAIT_MS)
    assert not window.is_unlocked and "Wrong passphrase" in dialog.error.text() + dialog.error_title.text()
    unlock(qtbot, window)  # the right one shows the journal again without reopening the vault
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault) is vault and runner.running
    assert window.journal.model.rowCount() > 0 and not window.held_open

    window.lock()
    gate.set()  # the step ends and the run finishes while locked: its last write lands, then the vault closes
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    assert seen["closed"] and not window.held_open and window.lock_screen.stop_button.isHidden()
    qtbot.waitUntil(lambda: window.lane.pending == 0, timeout=WAIT_MS)
    assert vault.is_locked and lane_call(qtbot, window.lane, lambda ctx: ctx.vault) is None
    unlock(qtbot, window)
    assert window.journal.model.rowCount() > 0


def test_the_lock_screen_stops_training_and_keeps_its_checkpoint(qtbot, window):
    runner, seen, gate = _start_gated_training(qtbot, window)
    window.lock()
    assert window.held_open and runner.running
    window.lock_screen.stop_button.click()
    gate.set()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.lane.pending == 0, timeout=WAIT_MS)
    assert seen["closed"] and not window.held_open
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault) is None  # closed once the checkpoint was written
    unlock(qtbot, window)
    assert lane_call(qtbot, window.lane, lambda ctx: ctx.vault.read_blob("gated-checkpoint")) == b"state"


def test_model_work_runs_below_the_window_and_so_do_the_threads_it_starts(qtbot, lane):
    import os
    import sys

    from PySide6.QtCore import QThread

    from localtune.progress import BACKGROUND_NICE

    def priority():
        if sys.platform.startswith("linux"):
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return QThread.currentThread().priority()

    def make(_token):
        child = {}
        helper = threading.Thread(target=lambda: child.setdefault("p", priority()))  # as a compute pool's thread
        helper.start()
        helper.join()
        yield (priority(), child["p"])

    seen = []
    runner = GeneratorRunner(make, models=lane.models)
    runner.yielded.connect(seen.append)
    runner.start()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    worker, child = seen[0]
    if sys.platform.startswith("linux"):
        here = priority()
        assert worker == child == max(here, BACKGROUND_NICE) and (worker > here or here >= BACKGROUND_NICE)
    else:
        assert worker == QThread.Priority.LowPriority


def _held(name: str, gate: threading.Event, ran: list):
    """A model job that holds the model lane until `gate` opens."""

    def make(token):
        ran.append(name)
        gate.wait(WAIT_MS / 1000)
        yield name

    return make


def _record(lane) -> list:
    """What the model lane ran, as (name, "start" | "end", thread), in order, taken on the lane's own thread."""
    seen: list = []
    lane.models.observers.append(lambda name, what, _at: seen.append((name, what, threading.get_ident())))
    return seen


def test_the_model_lane_runs_one_job_at_a_time_in_order_on_one_thread(qtbot, lane):
    seen, ran, gate, done = _record(lane), [], threading.Event(), []
    first = GeneratorRunner(_held("first", gate, ran), models=lane.models, name="first")
    first.start()
    qtbot.waitUntil(lambda: ran == ["first"], timeout=WAIT_MS)
    waited = []
    runners = []
    for i in range(5):
        runner = GeneratorRunner(lambda token, i=i: (x for x in [i]), models=lane.models, name=f"job-{i}")
        runner.waiting.connect(lambda i=i: waited.append(i))
        runner.yielded.connect(done.append)
        runner.start()
        runners.append(runner)
    box = []
    run_in_thread(lambda: threading.get_ident(), box.append, models=lane.models, name="call",
                  waiting=lambda: waited.append("call"))
    assert waited == [0, 1, 2, 3, 4, "call"] and lane.models.running == "first"  # all wait behind the first
    qtbot.wait(100)
    assert not done and not box  # nothing overtook the running job
    gate.set()
    qtbot.waitUntil(lambda: bool(box) and not any(r.running for r in runners), timeout=WAIT_MS)
    assert done == [0, 1, 2, 3, 4]
    names = [name for name, what, _ in seen if what == "start"]
    assert names == ["first", *[f"job-{i}" for i in range(5)], "call"]
    assert [what for _, what, _ in seen] == ["start", "end"] * 7  # never two at once
    assert len({thread for *_, thread in seen}) == 1 and box[0] == seen[0][2] != threading.get_ident()


def test_a_job_cancelled_while_it_waits_never_starts_and_reports_cancelled(qtbot, lane):
    seen, ran, gate = _record(lane), [], threading.Event()
    first = GeneratorRunner(_held("first", gate, ran), models=lane.models, name="first")
    first.start()
    qtbot.waitUntil(lambda: ran == ["first"], timeout=WAIT_MS)
    queued = GeneratorRunner(_held("queued", gate, ran), models=lane.models, name="queued")
    cancelled = []
    queued.cancelled.connect(lambda: cancelled.append(True))
    with qtbot.waitSignals([queued.started, queued.waiting], order="strict", timeout=WAIT_MS):
        queued.start()
    with qtbot.waitSignals([queued.cancelled, queued.finished], order="strict", timeout=WAIT_MS):
        queued.cancel()
    assert not queued.running and queued.wait(0)
    after = []
    run_in_thread(lambda: "after", after.append, models=lane.models, name="after")
    gate.set()
    qtbot.waitUntil(lambda: after == ["after"], timeout=WAIT_MS)
    assert ran == ["first"] and [name for name, what, _ in seen if what == "start"] == ["first", "after"]


def test_a_started_call_that_is_cancelled_has_its_result_dropped(qtbot, lane):
    gate, inside, results = threading.Event(), threading.Event(), []

    def slow():
        inside.set()
        gate.wait(WAIT_MS / 1000)
        return "late"

    runner = run_in_thread(slow, results.append, models=lane.models)
    qtbot.waitUntil(inside.is_set, timeout=WAIT_MS)
    runner.cancel()  # it cannot stop mid-call; what it returns is not wanted any more
    gate.set()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    assert results == []


def test_dropping_pending_model_work_keeps_the_running_job_and_a_kept_one(qtbot, lane):
    """What a lock does: what waits for the model is dropped (it reports cancelled), what runs goes on, and a
    queued job the caller keeps (a training the lock holds the vault open for) still runs."""
    ran, gate = [], threading.Event()
    running = GeneratorRunner(_held("running", gate, ran), models=lane.models, name="running")
    running.start()
    qtbot.waitUntil(lambda: ran == ["running"], timeout=WAIT_MS)
    dropped = GeneratorRunner(_held("dropped", gate, ran), models=lane.models, name="dropped")
    kept = GeneratorRunner(_held("kept", gate, ran), models=lane.models, name="kept")
    ends = []
    for runner in (running, dropped, kept):
        runner.cancelled.connect(lambda r=runner: ends.append((r.name, "cancelled")))
        runner.returned.connect(lambda _v, r=runner: ends.append((r.name, "returned")))
        runner.start()
    assert [job.name for job in lane.models.drop_pending(keep=[kept])] == ["dropped"]
    assert ends == [("dropped", "cancelled")] and not dropped.running
    gate.set()
    qtbot.waitUntil(lambda: not running.running and not kept.running, timeout=WAIT_MS)
    assert ran == ["running", "kept"] and ends[1:] == [("running", "returned"), ("kept", "returned")]


def test_after_shutdown_the_model_lane_takes_nothing_and_waiting_work_is_dropped(qtbot, paths):
    lane = TaskLane(paths)
    ran, gate = [], threading.Event()
    first = GeneratorRunner(_held("first", gate, ran), models=lane.models)
    first.start()
    qtbot.waitUntil(lambda: ran == ["first"], timeout=WAIT_MS)
    queued = GeneratorRunner(_held("queued", gate, ran), models=lane.models)
    queued.start()
    first.cancel()
    gate.set()
    lane.shutdown()
    assert not queued.running and ran == ["first"]
    late = GeneratorRunner(_held("late", gate, ran), models=lane.models)
    with qtbot.waitSignal(late.cancelled, timeout=WAIT_MS):
        late.start()
    assert ran == ["first"]


def test_a_lock_drops_model_work_not_yet_begun_but_keeps_a_training_that_waits(qtbot, window):
    models, ran, gate = window.lane.models, [], threading.Event()

    def estimate():
        ran.append("estimate")
        gate.wait(WAIT_MS / 1000)

    run_in_thread(estimate, models=models, name="estimate")  # a time estimate holds the model
    qtbot.waitUntil(lambda: ran == ["estimate"], timeout=WAIT_MS)
    looked = []
    run_in_thread(lambda: ran.append("hardware"), looked.append, models=models, name="hardware")
    seen, step, inside = {}, threading.Event(), threading.Event()
    runner = GeneratorRunner(_gated_run(seen, step, inside), lane=window.lane, name="training")
    window.train.runner = runner  # the user pressed Train: it waits for the estimate
    runner.start()
    assert runner.running and not runner.began

    window.idle.idle.emit()  # an auto-lock while the training still waits: it is kept, the rest is dropped
    assert window.held_open and runner.running
    gate.set()
    qtbot.waitUntil(inside.is_set, timeout=WAIT_MS)  # the training began once the estimate ended
    step.set()
    qtbot.waitUntil(lambda: not runner.running and not models.busy, timeout=WAIT_MS)
    assert seen["closed"] and seen["entries"] > 0 and ran == ["estimate"] and not looked
    qtbot.waitUntil(lambda: not window.held_open, timeout=WAIT_MS)
