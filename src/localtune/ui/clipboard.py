"""Copying analyses: marked as sensitive for clipboard managers and cleared after a while."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QTimer
from PySide6.QtWidgets import QApplication

CLEAR_AFTER_MS = 30_000


def copy_sensitive(text: str, clear_after_ms: int = CLEAR_AFTER_MS) -> None:
    """Put `text` on the clipboard; clear it after `clear_after_ms` unless something else was copied since."""
    mime = QMimeData()
    mime.setText(text)
    mime.setData("x-kde-passwordManagerHint", b"secret")  # KDE Klipper and others keep no history of it
    clipboard = QApplication.clipboard()
    clipboard.setMimeData(mime)

    def clear() -> None:
        if clipboard.text() == text:
            clipboard.clear()

    QTimer.singleShot(clear_after_ms, clear)
