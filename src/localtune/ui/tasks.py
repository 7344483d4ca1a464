"""Background work for the app, so the GUI thread never runs SQL or model code.

- `TaskLane`: ONE worker thread that owns the vault connection (sqlcipher3 connections belong to the thread
  that opened them). Every use of the vault is a small job `fn(ctx)` queued on it; results come back to the GUI
  thread through one queued signal (Anki's taskman/QueryOp idea). Jobs run strictly in submission order, so
  "save, then delete, then read" needs no extra locking. `invalidate()` (used by locking) drops the results of
  everything submitted before it.
- `GeneratorRunner`: a core generator (training, generation) driven in its own worker thread; each `yield`
  becomes a `yielded` signal (superqt's GeneratorWorker idea). Cancel is cooperative through a `CancelToken`;
  a `Cancelled` error ends the run quietly with `cancelled` instead of `errored`. After a cancel the generator
  still gets one step, so it runs its own cancel path (training keeps a checkpoint), and is then closed.
  With `lane=`, the generator gets a `WorkerContext`: its vault and journal calls run as lane jobs and are
  waited for. The model work itself stays on the worker, so a journal query waits for one SQL call, not for a
  training step.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ..errors import Cancelled, VaultLockedError
from ..progress import CancelToken


class LaneContext:
    """What lane jobs receive: the paths, and the open vault and journal (owned by the lane's thread)."""

    def __init__(self, paths):
        self.paths = paths
        self.vault = None
        self.journal = None

    @property
    def unlocked(self) -> bool:
        return self.vault is not None and not self.vault.is_locked

    def attach(self, vault) -> None:
        from ..journal.repository import Journal

        self.vault, self.journal = vault, Journal(vault)

    def detach(self) -> None:
        vault, self.vault, self.journal = self.vault, None, None
        if vault is not None:
            vault.lock()
        redact = sys.modules.get("localtune.dataset.redact")  # its name tables hold the journal's people
        if redact is not None:
            redact.forget_names()
        if "localtune.training" in sys.modules:  # a model may have been used: the lock dropped the session's
            release_memory()  # reader with the vault's session cache; hand its memory back


class WorkerContext:
    """The lane's context as a model worker sees it: the same paths, and the vault and journal as stand-ins
    whose every call runs on the lane (the connection's thread) and is waited for."""

    def __init__(self, lane: TaskLane):
        self.paths = lane.ctx.paths
        self.vault = _OnLane(lane, lambda ctx: ctx.vault)
        self.journal = _OnLane(lane, lambda ctx: ctx.journal)

    @property
    def unlocked(self) -> bool:
        return self.vault._lane.call(lambda ctx: ctx.unlocked)


class _OnLane:
    """Stands for a lane-owned object (`target(ctx)`, read on the lane each time: it is None once locked).

    Method calls and attribute reads run on the lane. What comes back is plain data: a generator is read to a
    list there (its SQL must run on the lane too), and the lane's own vault or journal comes back as a stand-in."""

    def __init__(self, lane: TaskLane, target: Callable[[LaneContext], Any]):
        self._lane, self._target = lane, target

    def _resolve(self, ctx: LaneContext):
        obj = self._target(ctx)
        if obj is None:
            raise VaultLockedError("The vault was locked while this task ran.")
        return obj

    def _wrap(self, value):
        ctx = self._lane.ctx
        if value is not None and value is ctx.vault:
            return _OnLane(self._lane, lambda c: c.vault)
        if value is not None and value is ctx.journal:
            return _OnLane(self._lane, lambda c: c.journal)
        return value

    def __getattr__(self, name: str):
        def read(ctx):
            value = getattr(self._resolve(ctx), name)
            return ("method", None) if callable(value) else ("value", value)

        kind, value = self._lane.call(read)
        if kind == "value":
            return self._wrap(value)

        def method(*args, **kwargs):
            def run(ctx):
                result = getattr(self._resolve(ctx), name)(*args, **kwargs)
                return list(result) if isinstance(result, types.GeneratorType) else result

            return self._wrap(self._lane.call(run))

        return method


@dataclass
class _Job:
    fn: Callable[[LaneContext], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    epoch: int
    quiet: bool = False  # a worker's call: it hands its own result over; nothing goes to the GUI thread


class _LaneThread(QThread):
    def __init__(self, lane: TaskLane, ctx: LaneContext):
        super().__init__()
        self.setObjectName("localtune-vault-lane")
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lane = lane
        self._ctx = ctx
        self.ident: int | None = None

    def run(self) -> None:
        self.ident = threading.get_ident()
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if job.quiet:
                job.fn(self._ctx)
                del job
                continue
            try:
                result, ok = job.fn(self._ctx), True
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI thread
                result, ok = exc, False
            self._lane._finished.emit((job, ok, result))  # one object: no bool crosses threads as a Qt arg
            # Not kept while the lane waits for its next job: a step's result, or the exception that ended a run
            # (whose traceback holds the run's frames: a model's batches and caches), is the GUI thread's now.
            del job, result


class TaskLane(QObject):
    """The single-worker lane that owns the vault. Submit from the GUI thread only."""

    _finished = Signal(object)
    error = Signal(object)  # failures of jobs submitted without on_error
    busy_changed = Signal(bool)

    def __init__(self, paths, parent: QObject | None = None):
        super().__init__(parent)
        self.ctx = LaneContext(paths)
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._epoch = 0
        self._pending = 0
        self._thread = _LaneThread(self, self.ctx)
        self._finished.connect(self._deliver)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[[LaneContext], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run `fn(ctx)` on the lane; `on_done(result)` / `on_error(exc)` run later on the GUI thread."""
        if not self._thread.isRunning():
            return
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._thread.jobs.put(_Job(fn, on_done, on_error, self._epoch))

    def invalidate(self) -> None:
        """Results of jobs submitted before now are dropped (they still run, in order)."""
        self._epoch += 1

    # -- calls from worker threads -------------------------------------------------------------------------

    def call(self, fn: Callable[[LaneContext], Any]) -> Any:
        """Run `fn(ctx)` on the lane from a worker thread and return its result (or raise its error).

        The call waits in its own queue; a quiet lane job serves it, or a lane job that waits for a worker to
        end (`serve_until`) does, so a worker stopping before a lock can still write its checkpoint."""
        if threading.get_ident() == self._thread.ident:
            return fn(self.ctx)
        done, box = threading.Event(), {}
        self._calls.put((fn, box, done))
        self._thread.jobs.put(_Job(self._serve, None, None, -1, quiet=True))
        while not done.wait(0.1):
            if not self._thread.isRunning():  # the app is closing: the vault is gone
                raise VaultLockedError("The vault was locked while this task ran.")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _serve(self, ctx: LaneContext) -> None:
        while True:
            try:
                fn, box, done = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                box["result"] = fn(ctx)
            except BaseException as exc:  # noqa: BLE001 - the worker raises it
                box["error"] = exc
            finally:
                done.set()

    def serve_until(self, ended: threading.Event, timeout_s: float = 120.0) -> None:
        """Submit a lane job that serves workers' calls until `ended` is set (or the timeout passes): queued
        before a lock's detach, it lets a cancelled task finish its last vault writes first."""

        def wait(ctx: LaneContext) -> None:
            deadline = time.monotonic() + timeout_s
            while not ended.is_set() and time.monotonic() < deadline:
                self._serve(ctx)
                ended.wait(0.02)
            self._serve(ctx)

        self.submit(wait)

    @Slot(object)
    def _deliver(self, outcome) -> None:
        job, ok, result = outcome
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        if job.epoch != self._epoch:
            return
        if ok:
            if job.on_done is not None:
                job.on_done(result)
        elif job.on_error is not None:
            job.on_error(result)
        elif isinstance(result, Cancelled):
            return
        else:
            self.error.emit(result)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Lock the vault on its own thread, then stop the lane."""
        if not self._thread.isRunning():
            return
        self.invalidate()
        self._thread.jobs.put(_Job(lambda ctx: ctx.detach(), None, None, -1))
        self._thread.jobs.put(None)
        self._thread.wait(timeout_ms)


# Model work gives way to the window and the vault lane: on a 2-core laptop the compute threads would otherwise
# take every core while a click waits. Only under contention does it cost training time.
BACKGROUND_NICE = 5  # mild, as the other platforms' below-normal priority is


def run_in_background() -> None:
    """Lower the calling thread's priority (and that of the compute threads it starts: they inherit it)."""
    if sys.platform.startswith("linux"):  # Linux nice values are per thread, so only this worker is lowered
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    else:
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


class _GeneratorThread(QThread):
    def __init__(self, runner: GeneratorRunner):
        super().__init__()
        self.setObjectName("localtune-model-worker")
        self._runner = runner

    def run(self) -> None:
        run_in_background()
        r = self._runner
        gen = None
        try:
            r.token.raise_if_cancelled()  # cancelled before it began: nothing to clean up
            gen = r._make(r.token) if r._lane is None else r._make(WorkerContext(r._lane), r.token)
            while True:
                # After a cancel the generator still gets this one step: it sees the token and runs its own cancel
                # path (training keeps a last checkpoint, then raises Cancelled). One that carries on is closed.
                cancelled = r.token.cancelled
                try:
                    value = next(gen)
                except StopIteration as stop:
                    r._returned.emit(stop.value)
                    return
                if cancelled:
                    raise Cancelled("Stopped at your request.")
                r._yielded.emit(value)
                del value
                # One event in flight: the GUI takes each before the next step (a fast generator cannot flood it).
                while not r._taken.acquire(timeout=0.05) and not r.token.cancelled:
                    pass
        except Cancelled:
            r._cancelled.emit()
        except BaseException as exc:  # noqa: BLE001
            r._errored.emit(exc)
        finally:
            if gen is not None:
                gen.close()
            del gen  # the run's frames (a model's batches and caches) are not kept while the thread winds down
            r.ended.set()


class GeneratorRunner(QObject):
    """Drive `make(token)` (or, with a lane, `make(WorkerContext, token)`), a generator, in a worker thread.

    Signals, in order: `started`, `yielded(event)`*, then one of `returned(value)` / `errored(exc)` /
    `cancelled`, then `finished`.
    """

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)
    cancelled = Signal()
    finished = Signal()

    _yielded = Signal(object)
    _returned = Signal(object)
    _errored = Signal(object)
    _cancelled = Signal()

    def __init__(self, make: Callable[..., Iterator], *, lane: TaskLane | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._make = make
        self._lane = lane
        self.token = CancelToken()
        self.ended = threading.Event()  # set by the worker once the generator is closed
        self._taken = threading.Semaphore(0)
        self._thread: _GeneratorThread | None = None
        self._running = False
        self._yielded.connect(self._on_yielded)
        self._returned.connect(self._on_returned)
        self._errored.connect(self._on_errored)
        self._cancelled.connect(self._on_cancelled)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self.started.emit()
        self._thread = _GeneratorThread(self)
        self._thread.start()

    def cancel(self) -> None:
        self.token.cancel()

    def abandon(self) -> None:
        """End the run now, as far as the pages are concerned (locking). The worker still gets its cancel step
        before the vault closes: a lane job queued now serves its last vault calls (training keeps its
        checkpoint) until it ends."""
        if not self._running:
            return
        self.token.cancel()
        if self._lane is not None:
            self._lane.serve_until(self.ended)
        self._on_cancelled()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self._thread.wait(timeout_ms) if self._thread is not None else True

    @Slot(object)
    def _on_yielded(self, value) -> None:
        if self._running:  # nothing after an abandon
            self.yielded.emit(value)
        self._taken.release()

    @Slot(object)
    def _on_returned(self, value) -> None:
        if self._running:
            self.returned.emit(value)
            self._finish()

    @Slot(object)
    def _on_errored(self, exc) -> None:
        if not self._running:
            return
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
        else:
            self.errored.emit(exc)
        self._finish()

    @Slot()
    def _on_cancelled(self) -> None:
        if self._running:
            self.cancelled.emit()
            self._finish()

    def _finish(self) -> None:
        self._running = False
        thread = self._thread
        if thread is not None and not thread.wait(0 if self.token.cancelled else 30_000):
            _winding_down.add(thread)  # abandoned mid-step: kept referenced until it ends (a QThread must not
            thread.finished.connect(lambda: _winding_down.discard(thread), Qt.ConnectionType.QueuedConnection)
        self.finished.emit()
        if self._lane is not None:  # a model task: what it allocated goes back to the system once it is dropped
            self._lane.submit(lambda _ctx: release_memory())


def release_memory() -> None:
    """Collect what a finished task left unreferenced and hand the freed heap back to the system.

    Without the trim a model task's freed tensors stay in glibc's arenas (each thread has its own, and after
    the first large free glibc serves large blocks from them rather than from mmap), so the process stays as
    big as the task's peak. Elsewhere than glibc there is no malloc_trim and only the collection runs.
    """
    import ctypes
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            trim = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError):  # musl and other C libraries have none
            return
        trim.argtypes = [ctypes.c_size_t]
        trim(0)


_winding_down: set[QThread] = set()  # abandoned workers finishing their cancel step
_ids = itertools.count(1)
_live: set[GeneratorRunner] = set()  # one-off runners stay referenced until they finish


def run_in_thread(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  parent: QObject | None = None) -> GeneratorRunner:
    """A one-off call off the GUI thread that needs no vault (hardware detection, model listing)."""

    def make(_token):
        return fn()
        yield  # pragma: no cover - makes this a generator

    runner = GeneratorRunner(make, parent=parent)
    runner.setObjectName(f"call-{next(_ids)}")
    if on_done is not None:
        runner.returned.connect(on_done)
    if on_error is not None:
        runner.errored.connect(on_error)
    _live.add(runner)
    runner.finished.connect(lambda: _live.discard(runner))
    runner.start()
    return runner
