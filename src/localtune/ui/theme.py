"""Look and feel: Fusion, following the system's light or dark scheme unless the user picks one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

# Colours for assessments that read well on light and dark backgrounds (white text on them).
ASSESSMENT_COLORS = {"reasonable": "#2e7d32", "problematic": "#c62828", "mixed": "#b26a00"}
NEUTRAL_COLOR = "#607080"


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#202124"), QColor("#17181a"), QColor("#e8eaed")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#25272a"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#2c2e31"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.Highlight, QColor("#3d6fb4"))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#2c2e31"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#9aa0a6"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#8ab4f8"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#3c4043"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#34373a"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#101113"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#45484c"))
    disabled = QColor("#6b6f75")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Button):
        p.setColor(QPalette.ColorGroup.Disabled, role, window)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Base, base)
    # Qt's default disabled placeholder is dark grey: unreadable on a dark base (an empty, disabled editor).
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.PlaceholderText, QColor("#7d828a"))
    return p


def apply(choice: str = "system", app: QApplication | None = None) -> None:
    """Fusion with the chosen scheme; 'system' follows the desktop (Qt 6.5+ does that for Fusion)."""
    app = app or QApplication.instance()
    app.setStyle("Fusion")
    hints = app.styleHints()
    scheme = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(choice, Qt.ColorScheme.Unknown)
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(scheme)
    # An explicit choice wins even where the platform cannot switch (offscreen, some X11 desktops);
    # "system" asks the platform, which on Qt 6.5+ tells Fusion about the desktop's dark mode.
    dark = choice == "dark" or (choice != "light" and hints.colorScheme() == Qt.ColorScheme.Dark)
    app.setPalette(_dark_palette() if dark else app.style().standardPalette())
    for window in app.topLevelWidgets():  # widgets styled by a style sheet keep their old palette otherwise
        if window.styleSheet():
            window.setStyleSheet(window.styleSheet())
