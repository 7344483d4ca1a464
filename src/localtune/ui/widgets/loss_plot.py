"""The live train/eval loss curve, painted from training events (no charting library needed)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QWidget

TRAIN_COLOR = "#3d7fd9"
EVAL_COLOR = "#e08a1e"


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.train: list[tuple[float, float]] = []
        self.eval: list[tuple[float, float]] = []
        self.total_steps = 0
        self.setMinimumHeight(180)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(480, 240)

    def clear(self) -> None:
        self.train.clear()
        self.eval.clear()
        self.total_steps = 0
        self.update()

    def keep_until(self, step: float) -> None:
        """Drop the points after `step` (a resumed run repeats them from its checkpoint)."""
        self.train = [pt for pt in self.train if pt[0] <= step]
        self.eval = [pt for pt in self.eval if pt[0] <= step]
        self.update()

    def add(self, step: float, train: float | None = None, eval: float | None = None) -> None:  # noqa: A002
        if train is not None:
            self.train.append((step, train))
        if eval is not None:
            self.eval.append((step, eval))
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        grid = pal.color(QPalette.ColorRole.Mid)
        metrics = p.fontMetrics()
        # The legend has a band of its own above the plot, so a curve near its top never runs under it.
        legend_y = 4 + metrics.height() / 2
        left, bottom, top, right = (metrics.horizontalAdvance("00.00") + 12, metrics.height() + 10,
                                    metrics.height() + 14, 12)
        area = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        points = self.train + self.eval
        if not points:
            p.setPen(fg)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The loss curve appears here while training runs.")
            return
        xs = [x for x, _ in points] + [self.total_steps]
        ys = [y for _, y in points]
        x_max = max(xs) or 1
        y_min, y_max = min(0.0, min(ys)), max(ys) * 1.05 or 1
        def to_px(x: float, y: float) -> QPointF:
            return QPointF(area.left() + area.width() * x / x_max,
                           area.bottom() - area.height() * (y - y_min) / (y_max - y_min))
        p.setPen(QPen(grid, 1))
        for i in range(5):
            y = y_min + (y_max - y_min) * i / 4
            pt = to_px(0, y)
            p.drawLine(QPointF(area.left(), pt.y()), QPointF(area.right(), pt.y()))
            p.setPen(fg)
            p.drawText(QRectF(0, pt.y() - metrics.height() / 2, left - 6, metrics.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{y:.2f}")
            p.setPen(QPen(grid, 1))
        p.setPen(fg)
        p.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), metrics.height()),
                   Qt.AlignmentFlag.AlignRight, f"step {int(x_max)}")
        for series, color, label_x, label in ((self.train, TRAIN_COLOR, 0, "train loss"),
                                               (self.eval, EVAL_COLOR, 1, "held-out loss")):
            if not series:
                continue
            path = QPainterPath(to_px(*series[0]))
            for x, y in series[1:]:
                path.lineTo(to_px(x, y))
            p.setPen(QPen(QColor(color), 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if len(series) == 1:
                p.drawEllipse(to_px(*series[0]), 2.5, 2.5)
            lx = area.left() + 8 + label_x * 110
            p.drawLine(QPointF(lx, legend_y), QPointF(lx + 16, legend_y))
            p.setPen(fg)
            p.drawText(QPointF(lx + 20, legend_y + metrics.ascent() / 2 - 1), label)
