"""How likely each assessment is, as one thin stacked bar with the shares written beside it."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from ..theme import ASSESSMENT_COLORS, NEUTRAL_COLOR


class ProbabilityBar(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.probabilities: dict[str, float] = {}
        self.setFixedHeight(8)

    def set_probabilities(self, probabilities: dict[str, float] | None) -> None:
        self.probabilities = dict(probabilities or {})
        self.setToolTip(self.text())
        self.setVisible(bool(self.probabilities))
        self.update()

    def text(self) -> str:
        """'reasonable 21% · problematic 64% · mixed 15%'"""
        return " · ".join(f"{label} {share:.0%}" for label, share in self.probabilities.items())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, 8)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        x = 0.0
        for label, share in self.probabilities.items():
            width = share * self.width()
            p.fillRect(QRectF(x, 0, width, self.height()), QColor(ASSESSMENT_COLORS.get(label, NEUTRAL_COLOR)))
            x += width
