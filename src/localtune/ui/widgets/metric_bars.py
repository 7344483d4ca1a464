"""Accuracy and macro-F1 per model as grouped vertical bars, accuracy with its 95% interval as a whisker."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QWidget

SERIES = (("accuracy", "Accuracy", "#3d6fb4"), ("macro_f1", "Macro-F1", "#8e5bb5"))


class MetricBars(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.groups: list[tuple[str, dict]] = []  # (column title, report dict)
        self.setMinimumHeight(170)

    def set_reports(self, groups: list[tuple[str, dict]]) -> None:
        self.groups = list(groups)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, 200)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fg = self.palette().color(QPalette.ColorRole.WindowText)
        fm = p.fontMetrics()
        if not self.groups:
            p.setPen(fg)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No evaluation yet.")
            return
        left, bottom, top = fm.horizontalAdvance("100%") + 8, fm.height() * 2 + 6, 8
        plot = QRectF(left, top, max(60, self.width() - left - 8), max(40, self.height() - top - bottom))
        grid = QColor(fg)
        grid.setAlpha(50)
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = plot.bottom() - tick * plot.height()
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(fg)
            p.drawText(QRectF(0, y - fm.height() / 2, left - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{tick:.0%}")
        slot = plot.width() / len(self.groups)
        bar = min(36.0, slot / (len(SERIES) + 1))
        for i, (title, report) in enumerate(self.groups):
            x0 = plot.left() + i * slot + (slot - bar * len(SERIES)) / 2
            for j, (key, _, color) in enumerate(SERIES):
                value = float(report.get(key) or 0.0)
                rect = QRectF(x0 + j * bar, plot.bottom() - value * plot.height(), bar - 3, value * plot.height())
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(color))
                p.drawRect(rect)
                if key == "accuracy" and report.get("accuracy_ci"):
                    lo, hi = report["accuracy_ci"]
                    cx = rect.center().x()
                    p.setPen(QPen(fg, 1.2))
                    p.drawLine(QPointF(cx, plot.bottom() - lo * plot.height()),
                               QPointF(cx, plot.bottom() - hi * plot.height()))
            p.setPen(fg)
            p.drawText(QRectF(plot.left() + i * slot, plot.bottom() + 2, slot, fm.height()),
                       Qt.AlignmentFlag.AlignCenter, fm.elidedText(title, Qt.TextElideMode.ElideRight, int(slot)))
        x = plot.left()
        y = plot.bottom() + fm.height() + 4
        for _, name, color in SERIES:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(color))
            p.drawRect(QRectF(x, y + 3, 10, 10))
            p.setPen(fg)
            p.drawText(QRectF(x + 14, y, 120, fm.height()), Qt.AlignmentFlag.AlignVCenter, name)
            x += fm.horizontalAdvance(name) + 34
        p.drawText(QRectF(x, y, 260, fm.height()), Qt.AlignmentFlag.AlignVCenter, "| = 95% interval of accuracy")
