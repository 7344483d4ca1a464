"""Label balance per viewpoint: one stacked horizontal bar per viewpoint, painted with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from ...journal.models import ASSESSMENTS
from ..theme import ASSESSMENT_COLORS

ROW = 26  # a row's height when there is room
MIN_ROW = 17  # squeezed: rows shrink down to this (and the numbers inside the bars go) before the legend would
LEGEND = 24  # overlap what is below the chart


class BalanceChart(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.balance: dict[str, dict[str, int]] = {}
        self.max_rows = 8

    def set_balance(self, balance: dict[str, dict[str, int]]) -> None:
        self.balance = dict(list(balance.items())[: self.max_rows])
        self.setMinimumHeight(MIN_ROW * len(self.balance) + LEGEND + 4)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(420, ROW * (len(self.balance) + 1) + 8)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fg = self.palette().color(QPalette.ColorRole.WindowText)
        metrics = p.fontMetrics()
        if not self.balance:
            p.setPen(fg)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No assessed perspectives yet.")
            return
        name_w = min(160, max(metrics.horizontalAdvance(v) for v in self.balance) + 12)
        count_w = metrics.horizontalAdvance("0000") + 8
        bar_w = max(40, self.width() - name_w - count_w - 4)
        most = max(sum(c.values()) for c in self.balance.values()) or 1
        row_h = max(MIN_ROW, min(ROW, (self.height() - LEGEND - 4) / len(self.balance)))  # the legend always fits
        for row, (viewpoint, counts) in enumerate(self.balance.items()):
            y = row * row_h + 4
            p.setPen(fg)
            p.drawText(QRectF(0, y, name_w - 8, row_h - 6), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       metrics.elidedText(viewpoint, Qt.TextElideMode.ElideRight, name_w - 8))
            x = float(name_w)
            total = sum(counts.values())
            for label in (*ASSESSMENTS, *sorted(set(counts) - set(ASSESSMENTS))):
                n = counts.get(label, 0)
                if not n:
                    continue
                w = bar_w * n / most
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(ASSESSMENT_COLORS.get(label, "#607080")))
                p.drawRect(QRectF(x, y + 2, w, row_h - 10))
                if w > metrics.horizontalAdvance(str(n)) + 6 and row_h - 10 >= metrics.height() - 2:
                    p.setPen(QColor("white"))
                    p.drawText(QRectF(x, y + 2, w, row_h - 10), Qt.AlignmentFlag.AlignCenter, str(n))
                x += w
            p.setPen(fg)
            p.drawText(QRectF(x + 6, y, count_w, row_h - 6), Qt.AlignmentFlag.AlignVCenter, str(total))
        # legend
        y = len(self.balance) * row_h + 6
        x = float(name_w)
        for label in ASSESSMENTS:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(ASSESSMENT_COLORS[label]))
            p.drawRect(QRectF(x, y + 4, 10, 10))
            p.setPen(fg)
            p.drawText(QRectF(x + 14, y, 120, ROW - 6), Qt.AlignmentFlag.AlignVCenter, label)
            x += metrics.horizontalAdvance(label) + 34
