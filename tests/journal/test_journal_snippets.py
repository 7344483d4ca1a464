"""Search snippets: the words around the first match, every match marked, the last word a prefix."""

from localtune.journal.repository import snippet


def test_snippet_marks_matches_around_the_first_one():
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen Handover, fifteen"
    assert snippet(text, ["handover"], around=2) == "… thirteen fourteen «Handover,» fifteen"
    assert snippet(text, ["hand"]).count("«") == 1  # the last word of a query is a prefix, as in search
    assert snippet("night shift, then another shift", ["night", "shift"]) == "«night» «shift,» then another «shift»"
    assert snippet(text, ["nothing"]) == ""
