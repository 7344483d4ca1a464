"""Cooperative cancellation (the events long work yields are in localtune.events)."""

from __future__ import annotations

import threading

from .errors import Cancelled


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
