"""Engine work in a child process: a training run, a GGUF conversion.

In the app's own process such work holds the interpreter the window needs (pure Python between the compute
kernels: an entry took 0.1-0.35 s to open during training steps, 0.2-2 s during a conversion), its memory stays
with the app after it ends, and the system's out-of-memory killer takes the app with it. Apart, it runs on a
fresh interpreter ("spawn": never fork a process that has threads) at the priority of the thread that started
it; what it yields comes back over a pipe, in memory, as the same events, and its errors as the same messages.
A child the system killed becomes a plain message; the journal lives in the parent and is never touched.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator

from ..errors import LocaltuneError
from ..progress import CancelToken

# How far below normal priority background model work runs (Linux and macOS nice value; Windows "below normal").
# Mild: on a 2-core laptop the compute threads would otherwise take every core while a click waits; only under
# contention does it cost training time (nice 15 was slower still for the window: benchmarks/ui_latency.py).
BACKGROUND_NICE = 5

_POLL_S = 0.1  # how often the parent passes a cancel on while it waits


def stream(target: Callable, args: tuple, *, what: str, error: type[LocaltuneError],
           cancel: CancelToken | None = None, background: bool = False) -> Iterator:
    """Run `target(*args, cancel=token)` in a child process; yield what it yields (a generator) and return what
    it returns. `cancel` set here is set in the child's token. Its errors of our family come back as they are,
    others as `error` in words; a child that ends without a word (killed) raises `error` saying so. Closing this
    generator early stops the child. `what` names the work in messages ("Training")."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    child = context.Process(target=_run_child, args=(target, args, send, stop, what, background),
                            name=f"localtune-{what.split()[0].lower()}", daemon=True)
    child.start()
    send.close()
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                stop.set()
            if not receive.poll(_POLL_S):
                continue
            try:
                kind, value = receive.recv()
            except EOFError:  # it ended without a word: killed (the system's out-of-memory killer) or crashed
                child.join()
                raise error(f"{what} stopped unexpectedly (exit code {child.exitcode}); this happens when the "
                            "computer runs out of memory. Close other programs and try again.") from None
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            elif kind == "failed":
                raise error(value)
            else:
                return value
    finally:
        receive.close()
        stop.set()  # a consumer that stopped listening: the child stops at its next check
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
            child.join()


def call(target: Callable, args: tuple, **options):
    """`stream` for work that yields nothing: its return value."""
    items = stream(target, args, **options)
    while True:
        try:
            next(items)
        except StopIteration as done:
            return done.value


def _run_child(target: Callable, args: tuple, send, stop, what: str, background: bool) -> None:
    _exit_with_parent()
    if background:
        lower_priority()
    try:
        out = target(*args, cancel=CancelToken(stop))
        if inspect.isgenerator(out):
            out = _send_each(out, send)
        send.send(("done", out))
    except (BrokenPipeError, ConnectionError):  # the parent stopped listening
        pass
    except LocaltuneError as exc:
        send.send(("error", exc) if _travels(exc) else ("failed", str(exc)))
    except MemoryError:
        send.send(("failed", f"{what} ran out of memory. Close other programs and try again."))
    except Exception as exc:  # noqa: BLE001 - the parent turns it into a message
        send.send(("failed", f"{what} failed: {type(exc).__name__}: {exc}"))
    finally:
        send.close()


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


def lower_priority() -> None:
    """This process below normal priority (never above: a nice value that is already higher stays)."""
    with contextlib.suppress(OSError, AttributeError):
        if sys.platform == "win32":
            import ctypes

            below_normal = 0x4000
            kernel32 = ctypes.windll.kernel32
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), below_normal)
        else:
            os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), BACKGROUND_NICE))
