"""Selected entries as one printable document: every field of every entry, escaped, in the order given."""

from localtune.journal import Perspective, Scenario
from localtune.journal.printable import is_printable_pdf, printable_html, reading_html


def test_the_document_holds_every_field_of_each_entry_in_order_and_escapes_them():
    first = Scenario(situation="Shift swapped <b>twice</b> & nobody asked.", context="Rotas are set a month ahead.",
                     industry="Hospital nursing", occurred_on="2025-03-14", people=["Ana", "Bo"],
                     perspectives=[Perspective("nurse", "problematic", "Two swaps in a week break the rota."),
                                   Perspective("manager", "mixed", "")])
    second = Scenario(situation="Second situation.", industry="", occurred_on="")
    html = printable_html([first, second], made_on="2026-01-02")
    assert "<b>twice</b>" not in html and "Shift swapped &lt;b&gt;twice&lt;/b&gt; &amp; nobody asked." in html
    for text in ("Hospital nursing — 2025-03-14", "Rotas are set a month ahead.", "People: Ana, Bo",
                 "nurse's view — assessed problematic", "Two swaps in a week break the rota.",
                 "manager's view — assessed mixed", "No analysis written.", "Entry 1 of 2", "Entry 2 of 2",
                 "No field given — no date", "No perspectives written.", "2 entries", "2026-01-02",
                 "not encrypted"):
        assert text in html, text
    assert html.index("Shift swapped") < html.index("Second situation.")
    assert "Shift swapped &lt;b&gt;" in reading_html(first)


def test_only_a_pdf_localtune_wrote_is_recognised_as_its_own():
    ours = b"%PDF-1.4\n1 0 obj\n<<\n/Creator (\xfe\xff" + "localtune".encode("utf-16-be") + b")\n>>"
    assert is_printable_pdf(ours)
    assert not is_printable_pdf(b"%PDF-1.7\n/Creator (LibreOffice)")
    assert not is_printable_pdf(b"/Creator (\xfe\xff" + "localtune".encode("utf-16-be") + b")")  # not a PDF
