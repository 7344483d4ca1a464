"""Rendering a printable document to PDF, in memory (the bytes are written by the core, under its rules)."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QLocale, QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

from ..journal.printable import PDF_CREATOR

PDF_TITLE = "Journal entries"  # the PDF's metadata title: never journal text


def page_size() -> QPageSize:
    """Letter where the locale measures in inches (the US), A4 elsewhere."""
    if QLocale().measurementSystem() == QLocale.MeasurementSystem.ImperialUSSystem:
        return QPageSize(QPageSize.PageSizeId.Letter)
    return QPageSize(QPageSize.PageSizeId.A4)


def render_pdf(html: str) -> bytes:
    """`html` laid out on pages (with page numbers) as a PDF, never touching the disk."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setCreator(PDF_CREATOR)
    writer.setTitle(PDF_TITLE)
    writer.setPageSize(page_size())
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    document = QTextDocument()
    document.setHtml(html)
    document.print_(writer)
    del writer  # finishes the PDF
    buffer.close()
    return bytes(data)
