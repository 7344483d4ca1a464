"""The status bar's task indicator: what runs in the background, how far it is, and a click to its page.

Pages report their long tasks by key ("train", "compare", ...); the indicator shows the first one still running
(training first: it is the longest), so whichever page is open, the user sees that the app is busy and why.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

PRIORITY = ("train", "evaluate", "compare")


class TaskIndicator(QWidget):
    open_requested = Signal(str)  # the key of the task whose page the user wants to see

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks: dict[str, tuple[str, int, int]] = {}
        self.button = QPushButton()
        self.button.setFlat(True)
        self.button.setToolTip("A task runs in the background: click to open its page")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(120)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.bar)
        self.button.clicked.connect(self._clicked)
        self._show()

    @property
    def current(self) -> str | None:
        ordered = sorted(self.tasks, key=lambda k: PRIORITY.index(k) if k in PRIORITY else len(PRIORITY))
        return ordered[0] if ordered else None

    def update_task(self, key: str, text: str, step: int = 0, total: int = 0) -> None:
        self.tasks[key] = (text, step, total)
        self._show()

    def end_task(self, key: str) -> None:
        self.tasks.pop(key, None)
        self._show()

    def clear(self) -> None:
        self.tasks.clear()
        self._show()

    def _show(self) -> None:
        key = self.current
        self.setVisible(key is not None)
        if key is None:
            return
        text, step, total = self.tasks[key]
        others = len(self.tasks) - 1
        self.button.setText(text + (f" (+{others} more)" if others else ""))
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(min(step, total))
        else:
            self.bar.setRange(0, 0)  # busy, length unknown

    def _clicked(self) -> None:
        if self.current is not None:
            self.open_requested.emit(self.current)
