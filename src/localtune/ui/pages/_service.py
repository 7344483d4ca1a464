"""Finding the long-running use cases in `localtune.services` (they land there one by one).

A page names the service it needs; until it exists the page says so honestly instead of pretending.
Tests (and the screenshots) can hand a page any generator factory with the same shape.
"""

from __future__ import annotations

from collections.abc import Callable


def find(*names: str) -> Callable | None:
    from ... import services

    for name in names:
        fn = getattr(services, name, None)
        if callable(fn):
            return fn
    return None


def eta_words(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"about {max(seconds, 1)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds // 3600} h {round(seconds % 3600 / 60)} min left"
