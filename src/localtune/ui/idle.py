"""Auto-lock: after a time without keyboard or mouse input, and on the desktop's screen lock if it says so."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot

_INPUT = {
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}
DEFAULT_MINUTES = 10


class IdleWatcher(QObject):
    """Emits `idle` once after `timeout_s` seconds without input (0 turns it off) until `restart()`.

    `clock` and `check_ms` are injectable so tests need not wait minutes.
    """

    idle = Signal()

    def __init__(self, app, timeout_s: float = DEFAULT_MINUTES * 60, *, check_ms: int = 5_000,
                 clock: Callable[[], float] = time.monotonic, parent: QObject | None = None):
        super().__init__(parent)
        self._clock = clock
        self.timeout_s = timeout_s
        self._last = clock()
        self._timer = QTimer(self)
        self._timer.setInterval(check_ms)
        self._timer.timeout.connect(self._check)
        self._app = app
        app.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT:
            self._last = self._clock()
        return False

    def restart(self) -> None:
        self._last = self._clock()
        if self.timeout_s > 0:
            self._timer.start()
        else:
            self._timer.stop()

    def stop(self) -> None:
        self._timer.stop()

    def set_timeout(self, seconds: float) -> None:
        self.timeout_s = seconds
        if self._timer.isActive() or seconds > 0:
            self.restart()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @Slot()
    def _check(self) -> None:
        if self.timeout_s > 0 and self._clock() - self._last >= self.timeout_s:
            self._timer.stop()
            self.idle.emit()


class ScreenLockWatcher(QObject):
    """Emits `locked` when the desktop's screen saver/lock turns on (freedesktop D-Bus), where there is one."""

    locked = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.available = False
        try:
            from PySide6.QtCore import SLOT
            from PySide6.QtDBus import QDBusConnection

            bus = QDBusConnection.sessionBus()
            if bus.isConnected():
                for service, path, iface in (
                    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
                    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
                ):
                    ok = bus.connect(service, path, iface, "ActiveChanged", self, SLOT("_on_active(bool)"))
                    self.available = self.available or bool(ok)
        except Exception:  # noqa: BLE001 - optional: no D-Bus, no session bus, another platform
            self.available = False

    @Slot(bool)
    def _on_active(self, active: bool) -> None:
        if active:
            self.locked.emit()
