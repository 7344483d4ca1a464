"""Words the pages share about long-running work."""

from __future__ import annotations


def eta_words(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"about {max(seconds, 1)} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds // 3600} h {round(seconds % 3600 / 60)} min left"
