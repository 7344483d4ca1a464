"""Journal entries as readable documents: one entry as a page (the app's Read view), and selected entries as one
printable document (HTML; the app renders it to PDF). Every piece of journal text is escaped.

A printable copy is plaintext: whoever writes it to a file warns first and uses the vault's destination rules.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from html import escape

from .models import Scenario

PDF_CREATOR = "localtune"  # the PDF's /Creator: how a file localtune wrote is recognised before replacing it
_PDF_CREATOR_ENTRY = b"/Creator (" + codecs.BOM_UTF16_BE + PDF_CREATOR.encode("utf-16-be") + b")"


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())


def reading_html(s: Scenario) -> str:
    """An entry as one readable page (the Read view; the heading above it says which entry)."""
    facts = " · ".join(escape(x) for x in (s.occurred_on, s.industry, ", ".join(s.people)) if x)
    parts = []
    if facts:
        parts.append(f"<p><i>{facts}</i></p>")
    parts.append(_paragraphs(s.situation))
    if s.context.strip():
        parts.append("<h4>Norms of the field</h4>" + _paragraphs(s.context))
    for p in s.perspectives:
        parts.append(f"<h4>{escape(p.viewpoint or 'No viewpoint yet')}: {escape(p.assessment or 'no assessment yet')}"
                     f"</h4>{_paragraphs(p.analysis)}")
    if s.tags:
        parts.append(f"<p><i>Tags: {escape(', '.join(s.tags))}</i></p>")
    return "".join(parts)


_STYLE = """
body { font-size: 10.5pt; }
h1 { font-size: 16pt; margin-bottom: 4px; }
h2 { font-size: 13pt; margin-top: 18px; margin-bottom: 2px; }
h3 { font-size: 10.5pt; margin-top: 12px; margin-bottom: 2px; }
p { margin-top: 0px; margin-bottom: 6px; }
.facts { color: #444444; }
.note { color: #444444; font-size: 9pt; }
"""


def _entry(s: Scenario, number: int, count: int) -> str:
    title = escape(s.industry.strip() or "No field given") + " — " + escape(s.occurred_on or "no date")
    facts = [f"Entry {number} of {count}"]
    facts.append("People: " + escape(", ".join(s.people)) if s.people else "No people named")
    if s.tags:
        facts.append("Tags: " + escape(", ".join(s.tags)))
    parts = [f"<h2>{title}</h2>", f"<p class='facts'>{' · '.join(facts)}</p>",
             "<h3>Situation</h3>", _paragraphs(s.situation)]
    if s.context.strip():
        parts += ["<h3>Norms of the field</h3>", _paragraphs(s.context)]
    if s.perspectives:
        for p in s.perspectives:
            parts.append(f"<h3>{escape(p.viewpoint or 'No viewpoint')}'s view — assessed "
                         f"{escape(p.assessment or 'without an assessment')}</h3>")
            parts.append(_paragraphs(p.analysis) or "<p class='note'>No analysis written.</p>")
    else:
        parts.append("<p class='note'>No perspectives written.</p>")
    return "".join(parts)


def printable_html(scenarios: Sequence[Scenario], *, made_on: str) -> str:
    """Selected entries as one document, in the order given: a title, then each entry (its field and date, the
    people, the situation, the norms and every perspective with its assessment and analysis)."""
    count = len(scenarios)
    head = (f"<h1>Journal entries</h1><p class='note'>{count} {'entry' if count == 1 else 'entries'} from a "
            f"localtune journal, printed on {escape(made_on)}. This copy is not encrypted.</p>")
    body = "<hr/>".join(_entry(s, n, count) for n, s in enumerate(scenarios, 1))
    return f"<html><head><style>{_STYLE}</style></head><body>{head}{body}</body></html>"


def is_printable_pdf(head: bytes) -> bool:
    """Whether a file's first bytes are those of a PDF localtune wrote (so it may replace it on request)."""
    return head.startswith(b"%PDF-") and _PDF_CREATOR_ENTRY in head[:4096]
