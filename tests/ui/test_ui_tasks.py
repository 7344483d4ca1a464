"""The vault lane and the generator runner: order, errors, cancel, and dropped results after a lock."""

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


def test_model_work_runs_below_the_window_and_so_do_the_threads_it_starts(qtbot):
    import os
    import sys

    from PySide6.QtCore import QThread

    from localtune.ui.tasks import BACKGROUND_NICE

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
    runner = GeneratorRunner(make)
    runner.yielded.connect(seen.append)
    runner.start()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    worker, child = seen[0]
    if sys.platform.startswith("linux"):
        here = priority()
        assert worker == child == max(here, BACKGROUND_NICE) and (worker > here or here >= BACKGROUND_NICE)
    else:
        assert worker == QThread.Priority.LowPriority
