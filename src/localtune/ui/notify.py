"""Desktop notifications for long jobs that finish while the user looks elsewhere.

Callers pass fixed wording and adapter names only: a notification can show on a locked screen and be kept by
the desktop's notification history, so no journal text may ever go into one.
"""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget


def notify(widget: QWidget, title: str, text: str) -> str:
    """Tell the user `title`/`text` if the window is not in front; returns how ("", "tray" or "alert")."""
    window = widget.window()
    if window.isActiveWindow():
        return ""
    if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
        tray = getattr(window, "_tray", None)
        if tray is None:
            tray = QSystemTrayIcon(window.windowIcon(), window)
            window._tray = tray
        tray.show()
        tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)
        return "tray"
    QApplication.alert(window)  # flashes the taskbar entry where there is no notification area
    return "alert"
