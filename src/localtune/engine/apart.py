"""Engine work in a child process: a training run, its time estimate, a GGUF conversion (`stream`, `call`: a
fresh child each), and the short model jobs (the hardware look, a plan: `helper`, one long-lived child).

In the app's own process such work holds the interpreter the window needs (pure Python between the compute
kernels: an entry took 0.1-0.35 s to open during training steps, 0.2-2 s during a conversion, 0.2-0.3 s while
the ML libraries were imported), its memory stays with the app after it ends, and the system's out-of-memory
killer takes the app with it. Apart, it runs on a fresh interpreter ("spawn": never fork a process that has
threads); what it yields comes back over a pipe, in memory, as the same events, and its errors as the same
messages. A child the system killed becomes a plain message; the journal lives in the parent and is never
touched.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator

from ..errors import LocaltuneError
from ..progress import CancelToken

# A child's priority with `background` (and the helper's): the lowest. Unlike a thread of the app's own process,
# a child holds nothing the window waits for, so it can give way entirely; on an idle machine it runs as fast.
# benchmarks/ui_latency.py, 8 training steps on a 2-core CPU: an action's p99 during the steps 48 ms at nice 19,
# 126 ms at nice 10, 59-127 ms at nice 5; the run took 96-100 s at each. (Windows: "below normal", as the app's
# model thread; its idle class would stop for any other program.)
PROCESS_NICE = 19

_POLL_S = 0.1  # how often the parent passes a cancel on while it waits


def stream(target: Callable, args: tuple, *, what: str, error: type[LocaltuneError],
           cancel: CancelToken | None = None, background: bool = False, ends_on_cancel: bool = False) -> Iterator:
    """Run `target(*args, cancel=token)` in a child process; yield what it yields (a generator) and return what
    it returns. `cancel` set here is set in the child's token (`ends_on_cancel`: the child is ended instead, for
    work that leaves nothing to keep, and Cancelled raised). Its errors of our family come back as they are,
    others as `error` in words; a child that ends without a word (killed) raises `error` saying so. Closing this
    generator early stops the child. `what` names the work in messages ("Training")."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    # A cancel travels as the end of this pipe (no multiprocessing Event: its semaphore's clean-up can deadlock
    # in CPython 3.11's resource tracker when the collector runs it inside the tracker's own lock).
    heard, stop = context.Pipe(duplex=False)
    child = context.Process(target=_run_child, args=(target, args, send, heard, what, background),
                            name=f"localtune-{what.split()[0].lower()}", daemon=True)
    child.start()
    send.close()
    heard.close()
    wait_s = 10.0  # for a child that stops at its next check
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                stop.close()
                if ends_on_cancel:
                    wait_s = 0.0
                    cancel.raise_if_cancelled()
            if not receive.poll(_POLL_S):
                continue
            try:
                kind, value = receive.recv()
            except EOFError:  # it ended without a word: killed (the system's out-of-memory killer) or crashed
                child.join()
                raise error(_killed(what, child.exitcode)) from None
            if kind == "item":
                yield value
            else:
                return _outcome(kind, value, error)
    finally:
        receive.close()
        stop.close()  # a consumer that stopped listening: the child stops at its next check
        child.join(timeout=wait_s)
        if child.is_alive():
            child.terminate()
            child.join()


def call(target: Callable, args: tuple, **options):
    """`stream` for work that yields nothing: its return value (a cancel ends the child: nothing is kept)."""
    items = stream(target, args, ends_on_cancel=True, **options)
    while True:
        try:
            next(items)
        except StopIteration as done:
            return done.value


def _run_child(target: Callable, args: tuple, send, heard, what: str, background: bool) -> None:
    _start_child()
    if background:
        lower_priority()
    token = CancelToken()

    def listen():  # the parent closes its end to cancel, or when it stops listening
        with contextlib.suppress(EOFError, OSError):
            heard.recv()
        token.cancel()

    threading.Thread(target=listen, name="localtune-cancel", daemon=True).start()
    try:
        out = target(*args, cancel=token)
        if inspect.isgenerator(out):
            out = _send_each(out, send)
        send.send(("done", out))
    except (BrokenPipeError, ConnectionError):  # the parent stopped listening
        pass
    except Exception as exc:  # noqa: BLE001 - the parent turns it into a message
        send.send(_failure(exc, what))
    finally:
        send.close()
    _end_now()


def _end_now() -> None:
    """A child's work is over once its outcome is sent: it ends at once instead of tearing down the ML libraries
    (1-3 s the parent, and a window closing, would wait for). It wrote nothing that needs flushing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _failure(exc: BaseException, what: str) -> tuple[str, object]:
    """An error on its way to the parent: ours as itself, anything else in words."""
    if isinstance(exc, LocaltuneError):
        return ("error", exc) if _travels(exc) else ("failed", str(exc))
    if isinstance(exc, MemoryError):
        return "failed", f"{what} ran out of memory. Close other programs and try again."
    return "failed", f"{what} failed: {type(exc).__name__}: {exc}"


def _outcome(kind: str, value, error: type[LocaltuneError]):
    if kind == "error":
        raise value
    if kind == "failed":
        raise error(value)
    return value


def _travels(exc: BaseException) -> bool:
    """Whether the exception comes out of the pipe as itself (a subclass with its own arguments may not)."""
    import pickle

    try:
        again = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return False
    return type(again) is type(exc) and str(again) == str(exc)


def _send_each(generator, send):
    """Send each item over the pipe; the generator's return value is returned."""
    while True:
        try:
            item = next(generator)
        except StopIteration as done:
            return done.value
        send.send(("item", item))


def _start_child() -> None:
    """What every entry point does first (privacy.harden: offline, no Hub code, no core dump of the journal text a
    child holds), and the child ends with its parent."""
    from .. import privacy

    privacy.harden()
    _exit_with_parent()
    # Progress bars (a GGUF read) lock with a thread lock, not tqdm's default multiprocessing semaphore, which a
    # child ending with os._exit would leave to the resource tracker (a "leaked semaphore" warning at exit).
    with contextlib.suppress(ImportError):
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())


def _exit_with_parent() -> None:
    """A child outlives no parent: when the app ends (or is killed) mid-run, the child ends too."""
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="localtune-parent-watch", daemon=True).start()


def _killed(what: str, exitcode) -> str:
    return (f"{what} stopped unexpectedly (exit code {exitcode}); this happens when the computer runs out of "
            "memory. Close other programs and try again.")


def lower_priority() -> None:
    """This process at the lowest priority (never above: a nice value that is already higher stays)."""
    with contextlib.suppress(OSError, AttributeError):
        if sys.platform == "win32":
            import ctypes

            below_normal = 0x4000
            kernel32 = ctypes.windll.kernel32
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), below_normal)
        else:
            os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), PROCESS_NICE))


# --- the helper ---------------------------------------------------------------------------------------------

HELPER_NAME = "localtune-helper"
_helper = None  # (process, connection)
_helper_lock = threading.Lock()  # one job at a time


def helper(fn: Callable, *args, what: str, error: type[LocaltuneError], **kwargs):
    """`fn(*args, **kwargs)` in the helper: one long-lived child at the lowest priority, started on first use,
    that imports the ML libraries once for the short model jobs (looking at the hardware, planning a run), so the
    app's process need not (their import held the window's interpreter for ~4 s at the Train page's first
    showing). Jobs run one at a time; errors come back as `stream`'s do. A helper that died (the out-of-memory
    killer) is started afresh by the next job."""
    global _helper
    with _helper_lock:
        if _helper is None or not _helper[0].is_alive():
            _helper = _start_helper()
        process, conn = _helper
        try:
            conn.send((fn, args, kwargs, what))
            kind, value = conn.recv()
        except (EOFError, OSError):
            process.join(timeout=1)
            _helper = None
            raise error(_killed(what, process.exitcode)) from None
    return _outcome(kind, value, error)


def _start_helper():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    conn, theirs = context.Pipe()
    # Not a daemon: the helper may start a child of its own (the starter's conversion); it ends with the app.
    process = context.Process(target=_serve, args=(theirs,), name=HELPER_NAME)
    process.start()
    theirs.close()
    atexit.register(_stop_helper, process, conn)
    return process, conn


def _stop_helper(process, conn) -> None:
    conn.close()  # the helper ends when it hears nothing more
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
        process.join()


def _serve(conn) -> None:
    from . import load_libraries

    _start_child()
    lower_priority()
    load_libraries()
    while True:
        try:
            fn, args, kwargs, what = conn.recv()
        except (EOFError, OSError):
            _end_now()
        try:
            outcome = "done", fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the parent turns it into a message
            outcome = _failure(exc, what)
        try:
            conn.send(outcome)
        except (BrokenPipeError, OSError):
            _end_now()
        except Exception as exc:  # noqa: BLE001 - a result that cannot travel
            conn.send(_failure(exc, what))
