import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localtune.errors import ImportFailed
from localtune.journal import Perspective, Scenario
from localtune.journal.io import parse_csv, parse_jsonl, parse_text, scenario_to_dict, write_csv, write_jsonl

TRICKY = 'Line one\nline "two", with commas;\r\nand ünïcödé ✓ — 日本語 \u2028 tabs\there' + " long" * 5000


def _rich():
    return [
        Scenario(situation=TRICKY, context="norms, \"quoted\"", industry="Hospital nursing", occurred_on="2024-12-31",
                 people=["Zoë", "Dr. Okafor"], tags=["handover", "night shift"], use="eval",
                 perspectives=[Perspective("nurse", "problematic", "Unsafe.\nReally."),
                               Perspective("charge nurse", "reasonable", "Staffing, \"again\".")]),
        Scenario(situation="Only a situation."),
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_is_lossless(fmt):
    out = io.StringIO(newline="")
    (write_jsonl if fmt == "jsonl" else write_csv)(_rich(), out)
    parsed = parse_text(out.getvalue(), fmt)
    assert parsed.problems == []
    assert [scenario_to_dict(s) for s in parsed.scenarios] == [scenario_to_dict(s) for s in _rich()]


def test_jsonl_reports_every_bad_line():
    text = "\n".join([
        '{"situation": "ok"}',
        "{not json",
        '{"situation": ""}',
        '{"situation": "x", "perspectives": [{"viewpoint": "HR", "assessment": "great"}]}',
        '{"situation": "x", "occurred_on": "last week"}',
        '{"situation": "x", "colour": "blue"}',
        '["a list"]',
        '{"situation": "fine too", "people": "Ana; Bo"}',
    ])
    parsed = parse_jsonl(text.splitlines())
    assert [n for n, _ in parsed.problems] == [2, 3, 4, 5, 6, 7]
    reasons = dict(parsed.problems)
    assert "not valid JSON" in reasons[2] and "situation is empty" in reasons[3]
    assert "assessment" in reasons[4] and "date" in reasons[5] and "colour" in reasons[6]
    assert [s.situation for s in parsed.scenarios] == ["ok", "fine too"]
    assert parsed.scenarios[1].people == ["Ana", "Bo"]
    with pytest.raises(ImportFailed) as caught:
        parsed.require_clean("file.jsonl")
    assert "line 2" in str(caught.value) and len(caught.value.problems) == 6


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    """Other tools write U+2028, U+0085 and friends raw inside JSON strings (valid JSON); only "\\n" ends a row."""
    from localtune.journal.io import read_file

    odd = "first\u2028second\u0085third\u2029fourth"
    path = tmp_path / "from-another-app.jsonl"
    path.write_text(json.dumps({"situation": odd}, ensure_ascii=False) + "\r\n{broken\n"
                    + json.dumps({"situation": "last"}) + "\n", encoding="utf-8")
    parsed = read_file(path)
    assert [s.situation for s in parsed.scenarios] == [odd, "last"]
    assert [n for n, _ in parsed.problems] == [2]


def test_csv_line_numbers_count_multiline_rows():
    text = (
        "situation,viewpoint,assessment,analysis\n"
        '"two\nlines",employee,reasonable,fine\n'
        "bad row,employee,wonderful,x\n"
        "too,many,fields,here,extra\n"
        "ok,HR,mixed,\n"
    )
    parsed = parse_csv(io.StringIO(text, newline=""))
    assert parsed.problems[0][0] == 4 and "assessment" in parsed.problems[0][1]
    assert parsed.problems[1] == (5, "the row has more fields than the header")
    assert [s.situation for s in parsed.scenarios] == ["two\nlines", "ok"]


def test_csv_without_situation_column_is_one_clear_problem():
    parsed = parse_csv(io.StringIO("text,assessment\nx,mixed\n"))
    assert parsed.problems == [(1, "the header row has no 'situation' column")]


text_st = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text_st, max_size=6), st.sampled_from(["jsonl", "csv"]))
def test_arbitrary_text_never_crashes_the_importers(lines, fmt):
    parsed = parse_text("\n".join(lines), fmt)
    assert all(isinstance(n, int) and why for n, why in parsed.problems)


safe_item = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=";"), min_size=1, max_size=20).map(str.strip).filter(bool)


@settings(max_examples=200, deadline=None)
@given(
    situation=text_st.filter(lambda t: t.strip()),
    context=text_st,
    people=st.lists(safe_item, max_size=3),
    perspectives=st.lists(st.tuples(safe_item, st.sampled_from(["reasonable", "problematic", "mixed"]), text_st), max_size=3),
    fmt=st.sampled_from(["jsonl", "csv"]),
)
def test_any_scenario_round_trips(situation, context, people, perspectives, fmt):
    s = Scenario(situation=situation, context=context, people=people,
                 perspectives=[Perspective(v, a, t) for v, a, t in perspectives])
    out = io.StringIO(newline="")
    (write_jsonl if fmt == "jsonl" else write_csv)([s], out)
    parsed = parse_text(out.getvalue(), fmt)
    assert parsed.problems == []
    assert [scenario_to_dict(x) for x in parsed.scenarios] == [scenario_to_dict(s)]
