"""Two small painted meters: journal readiness against its thresholds, and passphrase strength."""

from __future__ import annotations

import math
import string

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from ..theme import ASSESSMENT_COLORS

GOOD_COLOR = ASSESSMENT_COLORS["reasonable"]
MID_COLOR = ASSESSMENT_COLORS["mixed"]
LOW_COLOR = ASSESSMENT_COLORS["problematic"]


class Meter(QWidget):
    """A horizontal bar filled to `value`, with labelled tick marks (e.g. 50 minimum, 100, 200)."""

    def __init__(self, ticks: list[tuple[int, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.ticks = ticks
        self.maximum = max((t for t, _ in ticks), default=1)
        self.value = 0
        self.setMinimumHeight(46)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 48)

    def set_value(self, value: int) -> None:
        self.value = value
        self.update()

    def color(self) -> str:
        first = self.ticks[0][0] if self.ticks else 0
        second = self.ticks[1][0] if len(self.ticks) > 1 else first
        return LOW_COLOR if self.value < first else MID_COLOR if self.value < second else GOOD_COLOR

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        bar = QRectF(1, 4, self.width() - 2, 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(pal.color(QPalette.ColorRole.Mid))
        p.drawRoundedRect(bar, 6, 6)
        share = min(self.value, self.maximum) / self.maximum if self.maximum else 0
        if share > 0:
            p.setBrush(QColor(self.color()))
            p.drawRoundedRect(QRectF(bar.left(), bar.top(), max(12.0, bar.width() * share), bar.height()), 6, 6)
        p.setPen(pal.color(QPalette.ColorRole.WindowText))
        metrics = p.fontMetrics()
        for value, label in self.ticks:
            x = bar.left() + bar.width() * value / self.maximum
            p.drawLine(int(x), int(bar.top()) - 2, int(x), int(bar.bottom()) + 3)
            text = f"{value} {label}"
            w = metrics.horizontalAdvance(text)
            tx = min(max(0, x - w / 2), self.width() - w)
            p.drawText(int(tx), int(bar.bottom()) + 4 + metrics.ascent(), text)


def passphrase_strength(text: str) -> tuple[int, str]:
    """(0..4, words) from a rough entropy estimate; length matters most."""
    if not text:
        return 0, ""
    pool = 0
    pool += 26 if any(c.islower() for c in text) else 0
    pool += 26 if any(c.isupper() for c in text) else 0
    pool += 10 if any(c.isdigit() for c in text) else 0
    pool += 33 if any(c in string.punctuation or c == " " for c in text) else 0
    pool += 100 if any(ord(c) > 127 for c in text) else 0
    distinct = len(set(text))
    bits = min(len(text), distinct * 2) * math.log2(max(pool, 2))
    if len(text) < 8:
        return 0, "Too short: use at least 8 characters"
    if bits < 45:
        return 1, "Weak: add more words"
    if bits < 65:
        return 2, "Fair: a few more words make it much stronger"
    if bits < 90:
        return 3, "Good"
    return 4, "Strong"


class StrengthMeter(QWidget):
    """Four segments that fill with the passphrase's strength."""

    COLORS = (LOW_COLOR, LOW_COLOR, MID_COLOR, GOOD_COLOR, GOOD_COLOR)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.score = 0
        self.setMinimumHeight(8)
        self.setMaximumHeight(8)

    def set_score(self, score: int) -> None:
        self.score = score
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        gap, n = 4, 4
        w = (self.width() - gap * (n - 1)) / n
        for i in range(n):
            filled = i < self.score
            p.setBrush(QColor(self.COLORS[self.score]) if filled else self.palette().color(QPalette.ColorRole.Mid))
            p.drawRoundedRect(QRectF(i * (w + gap), 0, w, self.height()), 3, 3)
