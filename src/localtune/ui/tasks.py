"""Background work for the app, so the GUI thread never runs SQL or model code.

- `TaskLane`: ONE worker thread that owns the vault connection (sqlcipher3 connections belong to the thread
  that opened them). Every use of the vault is a small job `fn(ctx)` queued on it; results come back to the GUI
  thread through one queued signal (Anki's taskman/QueryOp idea). Jobs run strictly in submission order, so
  "save, then delete, then read" needs no extra locking. `invalidate()` (used by locking) drops the results of
  everything submitted before it.
- `GeneratorRunner`: a core generator (training, generation) driven in a worker; each `yield` becomes a
  `yielded` signal (superqt's GeneratorWorker idea). Cancel is cooperative through a `CancelToken`; a
  `Cancelled` error ends the run quietly with `cancelled` instead of `errored`. With `lane=`, each step runs as
  a lane job, for generators that touch the vault; other lane jobs interleave between steps, and a cancel
  between steps still gives the generator one step to run its own cancel path.
"""

from __future__ import annotations

import itertools
import queue
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..errors import Cancelled
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
        training = sys.modules.get("localtune.training")  # loaded only once a model was used
        if training is not None:
            training.release_readers()
            release_memory()


@dataclass
class _Job:
    fn: Callable[[LaneContext], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    epoch: int


class _LaneThread(QThread):
    def __init__(self, lane: TaskLane, ctx: LaneContext):
        super().__init__()
        self.setObjectName("localtune-vault-lane")
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lane = lane
        self._ctx = ctx

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
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


class _GeneratorThread(QThread):
    def __init__(self, runner: GeneratorRunner):
        super().__init__()
        self.setObjectName("localtune-generator")
        self._runner = runner

    def run(self) -> None:
        r = self._runner
        try:
            gen = r._make(r.token)
            while True:
                try:
                    value = next(gen)
                except StopIteration as stop:
                    r._returned.emit(stop.value)
                    return
                r._yielded.emit(value)
        except Cancelled:
            r._cancelled.emit()
        except BaseException as exc:  # noqa: BLE001
            r._errored.emit(exc)


class GeneratorRunner(QObject):
    """Drive `make(token)` (or, with a lane, `make(ctx, token)`), a generator, off the GUI thread.

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
        if self._lane is None:
            self._thread = _GeneratorThread(self)
            self._thread.start()
        else:
            self._gen = None
            self._lane.submit(self._first_step, self._on_step, self._on_step_error)

    def cancel(self) -> None:
        self.token.cancel()

    def abandon(self) -> None:
        """End the run now, before the lane is invalidated (locking), which would drop its steps' results and leave
        it running forever. With a lane, a last job gives the generator its cancel step (training keeps a
        checkpoint: this job runs before the vault closes) and closes it."""
        if not self._running:
            return
        self.token.cancel()
        if self._lane is not None:
            self._lane.submit(self._last_step)
        self._on_cancelled()

    def _last_step(self, _ctx) -> None:
        gen, self._gen = getattr(self, "_gen", None), None
        if gen is None:
            return
        try:
            next(gen)
        except Exception:  # noqa: BLE001, S110 - Cancelled is the expected end; nobody waits for this result
            pass
        finally:
            gen.close()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self._thread.wait(timeout_ms) if self._thread is not None else True

    # -- lane mode: one `next()` per lane job ------------------------------------------------------------

    def _first_step(self, ctx):
        self.token.raise_if_cancelled()  # cancelled before it began: nothing to clean up
        self._gen = self._make(ctx, self.token)
        return self._step(ctx)

    def _step(self, ctx):
        # After a cancel the generator still gets this one step: it sees the token and runs its own cancel path
        # (training keeps a last checkpoint, then raises Cancelled). One that carries on is closed here.
        cancelled = self.token.cancelled
        try:
            value = next(self._gen)
        except StopIteration as stop:
            return False, stop.value
        if cancelled:
            self._gen.close()
            raise Cancelled("Stopped at your request.")
        return True, value

    def _on_step(self, outcome) -> None:
        more, value = outcome
        if more:
            self._on_yielded(value)
            if self._running:
                self._lane.submit(self._step, self._on_step, self._on_step_error)
        else:
            self._gen = None  # ended: nothing of the run stays referenced
            self._on_returned(value)

    def _on_step_error(self, exc) -> None:
        self._gen = None
        if isinstance(exc, Cancelled):
            self._on_cancelled()
        else:
            self._on_errored(exc)

    # -- both modes ----------------------------------------------------------------------------------------

    @Slot(object)
    def _on_yielded(self, value) -> None:
        self.yielded.emit(value)

    @Slot(object)
    def _on_returned(self, value) -> None:
        self.returned.emit(value)
        self._finish()

    @Slot(object)
    def _on_errored(self, exc) -> None:
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
        else:
            self.errored.emit(exc)
        self._finish()

    @Slot()
    def _on_cancelled(self) -> None:
        self.cancelled.emit()
        self._finish()

    def _finish(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.wait()
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
