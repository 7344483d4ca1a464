"""Background work for the app, so the GUI thread never runs SQL or model code. Two lanes, as Anki's taskman
keeps database and other work apart:

- `TaskLane`, the vault lane: ONE worker thread that owns the vault connection (sqlcipher3 connections belong to
  the thread that opened them) and runs SQL only. Every use of the vault is a small job `fn(ctx)` queued on it;
  results come back to the GUI thread through one queued signal (Anki's taskman/QueryOp idea). Jobs run strictly
  in submission order, so "save, then delete, then read" needs no extra locking. `invalidate()` (used by
  locking) drops the results of everything submitted before it.
- `ModelLane` (`TaskLane.models`), the model lane: ONE long-lived worker thread, below the window's priority,
  for everything that touches the ML libraries: training, readings, evaluations, time estimates, hardware
  detection, listing and adding models. Its jobs run one at a time, in submission order. transformers builds a
  model under process-wide switches and resolves its names lazily, so two model jobs at once corrupt each other;
  one thread makes that impossible without locks in the engine.
- `GeneratorRunner`: a core generator (training, generation) driven as one model-lane job; each `yield`
  becomes a `yielded` signal (superqt's GeneratorWorker idea). Cancel is cooperative through a `CancelToken`;
  a `Cancelled` error ends the run quietly with `cancelled` instead of `errored`. After a cancel the generator
  still gets one step, so it runs its own cancel path (training keeps a checkpoint), and is then closed. A run
  cancelled while it still waits for the model lane never starts. With `lane=`, the generator gets a
  `WorkerContext`: its vault and journal calls run as vault-lane jobs and are waited for, so a journal query
  waits for one SQL call, not for a training step.
- `run_in_thread`: a one-off call off the GUI thread; with `models=` it is a model-lane job.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import queue
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ..errors import Cancelled, VaultLockedError
from ..progress import BACKGROUND_NICE, CancelToken


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
        if "localtune.services.training" in sys.modules:  # a model may have been used: the lock dropped the session's
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
        self.models = ModelLane(self)  # the model work of the same app: one job at a time, beside this lane

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
        """Lock the vault on its own thread, then stop the lane, then the model lane (what waits there is dropped;
        a running model job was cancelled by its owner and ends with the vault gone)."""
        if not self._thread.isRunning():
            return
        self.invalidate()
        self._thread.jobs.put(_Job(lambda ctx: ctx.detach(), None, None, -1))
        self._thread.jobs.put(None)
        self._thread.wait(timeout_ms)
        self.models.shutdown(timeout_ms)


# While model work runs pure Python (importing the ML libraries, preparing examples), every time the window's thread
# or the vault lane's wants the interpreter back it waits out this interval (CPython's default: 5 ms), and an
# action needs it dozens of times: an entry opened during the starter's conversion (in-process then) took up to
# 2.0 s at 5 ms, 0.5 s at 0.5 ms, 0.2 s at 0.1 ms, and training took as long (benchmarks/ui_latency.py).
SWITCH_INTERVAL_S = 0.0001


def run_in_background() -> None:
    """Lower the calling thread's priority (and that of the compute threads it starts: they inherit it), and let
    the interpreter switch threads sooner (process-wide), so the window gets its turns while this thread runs."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    if sys.platform.startswith("linux"):  # Linux nice values are per thread, so only this worker is lowered
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    else:
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


@dataclass(eq=False)
class _ModelJob:
    name: str
    run: Callable[[], None]  # runs on the model lane's thread; reports its own outcome
    dropped: Callable[[], None] | None = None  # called on the GUI thread when it is dropped before it started
    owner: object = None  # the runner it drives


class _ModelThread(QThread):
    def __init__(self, lane: ModelLane):
        super().__init__()
        self.setObjectName("localtune-model-lane")
        self._lane = lane

    def run(self) -> None:
        run_in_background()  # once: every model job, and every compute thread torch starts from here, runs below
        lane = self._lane
        while True:
            with lane._ready:
                while not lane._jobs and not lane._stopping:
                    lane._ready.wait()
                if not lane._jobs:
                    return
                job = lane._current = lane._jobs.popleft()
            lane._tell(job.name, "start")
            try:
                job.run()
            except BaseException:  # noqa: BLE001, S110 - a job reports its own errors; the lane must live on
                pass
            finally:
                lane._tell(job.name, "end")
                with lane._ready:
                    lane._current = None
                del job  # not kept while the lane waits: a finished job's frames may hold a model


class ModelLane(QObject):
    """The one thread that runs model work, one job at a time, in submission order. Submit from the GUI thread.

    `observers` are called on the lane's thread as `fn(name, "start" | "end", time.monotonic())` around each job
    (the app's own record of what ran when; tests use it to prove that no two model jobs overlap)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ready = threading.Condition()
        self._jobs: collections.deque[_ModelJob] = collections.deque()
        self._current: _ModelJob | None = None
        self._stopping = False
        self.observers: list[Callable[[str, str, float], None]] = []
        self._thread = _ModelThread(self)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Whether a job submitted now would wait for another to finish first."""
        with self._ready:
            return self._current is not None or bool(self._jobs)

    @property
    def running(self) -> str | None:
        """The name of the job running now, if any."""
        with self._ready:
            return self._current.name if self._current is not None else None

    def submit(self, job: _ModelJob) -> bool:
        """Queue `job`; True when it has to wait for other model work first. A stopped lane takes nothing."""
        with self._ready:
            if self._stopping:
                raise RuntimeError("The model lane has stopped.")
            waits = self._current is not None or bool(self._jobs)
            self._jobs.append(job)
            self._ready.notify()
        return waits

    def withdraw(self, job: _ModelJob) -> bool:
        """Take `job` off the queue if it has not started (True), so it never runs."""
        with self._ready:
            try:
                self._jobs.remove(job)
            except ValueError:
                return False
            return True

    def drop_pending(self, keep: Iterable[object] = ()) -> list[_ModelJob]:
        """Take every job that has not started off the queue (except those of the runners in `keep`); the job
        running now goes on. Dropped runners report `cancelled`. Returns what was dropped."""
        kept = [k for k in keep if k is not None]
        with self._ready:
            dropped = [job for job in self._jobs if not any(job.owner is k for k in kept)]
            self._jobs = collections.deque(job for job in self._jobs if any(job.owner is k for k in kept))
        _tell_dropped(dropped)
        return dropped

    def _tell(self, name: str, what: str) -> None:
        at = time.monotonic()
        for observer in list(self.observers):
            with contextlib.suppress(Exception):
                observer(name, what, at)

    def shutdown(self, timeout_ms: int = 30_000) -> list[_ModelJob]:
        """Drop what waits, let the running job end (it was cancelled by its owner), stop the thread. Returns the
        dropped jobs. A job that does not end in time keeps the thread alive (referenced) until it does."""
        with self._ready:
            dropped, self._jobs = list(self._jobs), collections.deque()
            self._stopping = True
            self._ready.notify()
        _tell_dropped(dropped)
        thread = self._thread
        if not thread.wait(timeout_ms):
            _winding_down.add(thread)
            thread.finished.connect(lambda: _winding_down.discard(thread), Qt.ConnectionType.QueuedConnection)
        return dropped


def _tell_dropped(jobs: list[_ModelJob]) -> None:
    for job in jobs:
        if job.dropped is not None:
            job.dropped()


class _OwnThread(QThread):
    """A runner's own thread, for work that touches no model (a call that needs neither lane)."""

    def __init__(self, runner: GeneratorRunner):
        super().__init__()
        self.setObjectName("localtune-worker")
        self._runner = runner

    def run(self) -> None:
        run_in_background()
        self._runner._drive()


class GeneratorRunner(QObject):
    """Drive `make(token)` (or, with a lane, `make(WorkerContext, token)`), a generator, off the GUI thread.

    With `lane=` (a `TaskLane`) or `models=` (a `ModelLane`) it is a model-lane job: it may wait for the model
    work before it (then `waiting` is emitted after `started`); without either it gets a thread of its own,
    for work that touches no model. `name` says what it is (the model lane's observers see it).

    Signals, in order: `started`, [`waiting`], `yielded(event)`*, then one of `returned(value)` /
    `errored(exc)` / `cancelled`, then `finished`.
    """

    started = Signal()
    waiting = Signal()  # it waits for other model work to finish first
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
                 models: ModelLane | None = None, name: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self._make = make
        self._lane = lane
        self._models = models if models is not None else (lane.models if lane is not None else None)
        self.name = name or getattr(make, "__name__", "task")
        self.token = CancelToken()
        self.ended = threading.Event()  # set once the generator is closed (or the run was dropped unstarted)
        self.began = False  # set by the worker as the run begins (a run cancelled while it waited never does)
        self._taken = threading.Semaphore(0)
        self._thread: _OwnThread | None = None
        self._job: _ModelJob | None = None
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
        if self._models is None:
            self._thread = _OwnThread(self)
            self._thread.start()
            return
        self._job = _ModelJob(self.name, self._drive, self._dropped, self)
        try:
            waits = self._models.submit(self._job)
        except RuntimeError:  # the app is closing
            self._job = None
            self.ended.set()
            self._on_cancelled()
            return
        if waits:
            self.waiting.emit()

    def _drive(self) -> None:
        """The run itself, on the model lane's thread (or the runner's own)."""
        gen = None
        self.began = True
        try:
            self.token.raise_if_cancelled()  # cancelled before it began: nothing to clean up
            gen = self._make(self.token) if self._lane is None else self._make(WorkerContext(self._lane), self.token)
            while True:
                # After a cancel the generator still gets this one step: it sees the token and runs its own cancel
                # path (training keeps a last checkpoint, then raises Cancelled). One that carries on is closed.
                cancelled = self.token.cancelled
                try:
                    value = next(gen)
                except StopIteration as stop:
                    self._returned.emit(stop.value)
                    return
                if cancelled:
                    raise Cancelled("Stopped at your request.")
                self._yielded.emit(value)
                del value
                # One event in flight: the GUI takes each before the next step (a fast generator cannot flood it).
                while not self._taken.acquire(timeout=0.05) and not self.token.cancelled:
                    pass
        except Cancelled:
            self._cancelled.emit()
        except BaseException as exc:  # noqa: BLE001
            self._errored.emit(exc)
        finally:
            if gen is not None:
                gen.close()
            del gen  # the run's frames (a model's batches and caches) are not kept while the lane waits
            self.ended.set()

    def _withdrawn(self) -> bool:
        """Take a run that has not started off the model lane (True: it never runs)."""
        if self._job is None or self._models is None or not self._models.withdraw(self._job):
            return False
        self.ended.set()
        return True

    def _dropped(self) -> None:
        """The model lane dropped the run before it started (locking, closing): it never runs."""
        self.token.cancel()
        self.ended.set()
        self._on_cancelled()

    def cancel(self) -> None:
        self.token.cancel()
        if self._running and self._withdrawn():  # still waiting for the model: it never starts
            self._on_cancelled()

    def abandon(self) -> None:
        """End the run now, as far as the pages are concerned (locking). The worker still gets its cancel step
        before the vault closes: a lane job queued now serves its last vault calls (training keeps its
        checkpoint) until it ends."""
        if not self._running:
            return
        self.token.cancel()
        if not self._withdrawn() and self._lane is not None:
            self._lane.serve_until(self.ended)
        self._on_cancelled()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        if self._thread is not None:
            return self._thread.wait(timeout_ms)
        return self.ended.wait(timeout_ms / 1000) if self._job is not None else True

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
        elif self._job is not None and not self.token.cancelled:
            self.ended.wait(30)  # it has reported; what is left is closing the generator
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


_winding_down: set[QThread] = set()  # threads finishing a cancelled step after their owner let go
_ids = itertools.count(1)
_live: set[GeneratorRunner] = set()  # one-off runners stay referenced until they finish


def run_in_thread(fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  parent: QObject | None = None, *, models: ModelLane | None = None, name: str = "",
                  waiting: Callable[[], None] | None = None, with_token: bool = False) -> GeneratorRunner:
    """A one-off call `fn()` off the GUI thread that needs no vault. With `models=` it is a model-lane job
    (anything that imports or runs the ML libraries: hardware detection, model listing, plans and time
    estimates); `waiting()` is then called when it has to wait for other model work first. Without, it gets a
    thread of its own (decrypting a file, asking the Hub for a file list). `cancel()` on the returned runner
    drops a job that has not started; one that has started runs to its end (`with_token`: `fn(token)` is given
    the runner's CancelToken and may stop early), and its result is dropped."""

    def make(token):
        return fn(token) if with_token else fn()
        yield  # pragma: no cover - makes this a generator

    runner = GeneratorRunner(make, models=models, name=name or getattr(fn, "__name__", "call"), parent=parent)
    runner.setObjectName(f"call-{next(_ids)}")
    if on_done is not None:
        runner.returned.connect(lambda value: None if runner.token.cancelled else on_done(value))
    if on_error is not None:
        runner.errored.connect(lambda exc: None if runner.token.cancelled else on_error(exc))
    if waiting is not None:
        runner.waiting.connect(waiting)
    _live.add(runner)
    runner.finished.connect(lambda: _live.discard(runner))
    runner.start()
    return runner
