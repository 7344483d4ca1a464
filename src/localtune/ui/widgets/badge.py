"""A small coloured pill naming an assessment (reasonable / problematic / mixed)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ..theme import ASSESSMENT_COLORS, NEUTRAL_COLOR


class Badge(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.assessment: str | None = None
        self.set_assessment(None)

    def set_assessment(self, assessment: str | None, text: str | None = None) -> None:
        self.assessment = assessment
        color = ASSESSMENT_COLORS.get(assessment or "", NEUTRAL_COLOR)
        self.setText(text or (assessment.capitalize() if assessment else "no assessment yet"))
        self.setStyleSheet(
            f"QLabel {{ background: {color}; color: white; border-radius: 9px; padding: 2px 10px; font-weight: 600; }}"
        )
