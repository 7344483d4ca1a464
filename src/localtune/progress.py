"""Long work: cooperative cancellation, and the priority it runs at (the events it yields are in localtune.events)."""

from __future__ import annotations

import threading

from .errors import Cancelled

# How far below normal priority model work runs (a nice value; Windows and Qt: "below normal"/"low"), in the app's
# model lane and in the child processes it starts. Mild: on a 2-core laptop the compute threads would otherwise take
# every core while a click waits, and only under contention does it cost training time (nice 15 was slower for the
# window too: benchmarks/ui_latency.py).
BACKGROUND_NICE = 5


class CancelToken:
    """Set from any thread; long work checks it between steps (or tokens) and stops there."""

    def __init__(self, event=None) -> None:
        # A multiprocessing Event carries a cancel into a child process (engine.apart).
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Stopped at your request.")
