"""Label balance per viewpoint: one stacked horizontal bar per viewpoint, painted with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from ...journal.models import ASSESSMENTS
from ..theme import ASSESSMENT_COLORS

ROW = 26


class BalanceChart(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.balance: dict[str, dict[str, int]] = {}
        self.max_rows = 8

    def set_balance(self, balance: dict[str, dict[str, int]]) -> None:
        self.balance = dict(list(balance.items())[: self.max_rows])
        self.setMinimumHeight(ROW * (len(self.balance) + 1) + 8)
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
        for row, (viewpoint, counts) in enumerate(self.balance.items()):
            y = row * ROW + 4
            p.setPen(fg)
            p.drawText(QRectF(0, y, name_w - 8, ROW - 6), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
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
                p.drawRect(QRectF(x, y + 2, w, ROW - 10))
                if w > metrics.horizontalAdvance(str(n)) + 6:
                    p.setPen(QColor("white"))
                    p.drawText(QRectF(x, y + 2, w, ROW - 10), Qt.AlignmentFlag.AlignCenter, str(n))
                x += w
            p.setPen(fg)
            p.drawText(QRectF(x + 6, y, count_w, ROW - 6), Qt.AlignmentFlag.AlignVCenter, str(total))
        # legend
        y = len(self.balance) * ROW + 6
        x = float(name_w)
        for label in ASSESSMENTS:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(ASSESSMENT_COLORS[label]))
            p.drawRect(QRectF(x, y + 4, 10, 10))
            p.setPen(fg)
            p.drawText(QRectF(x + 14, y, 120, ROW - 6), Qt.AlignmentFlag.AlignVCenter, label)
            x += metrics.horizontalAdvance(label) + 34
