"""The app's pages. Each is a QWidget with the same small life cycle, driven by the main window."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


class Page(QWidget):
    title = ""

    def on_unlocked(self) -> None:
        """The vault was opened: load what the page shows."""

    def on_locked(self) -> None:
        """The vault was closed: forget every piece of journal text the page holds."""

    def on_shown(self) -> None:
        """The page became the visible one."""
