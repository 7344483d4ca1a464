"""Any CSV with one bad row among good ones keeps every good row, imports nothing else, and reports the bad row by
the number of its first line (item 3 of "Nothing lost, whatever the user types"). Good rows are whatever the
journal's own CSV export writes - quotes, commas, line breaks, formula-like text, fields past the csv module's
131 072-character default - and the bad row is one of the ways people and other tools break a CSV."""

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localtune.journal import Perspective, Scenario
from localtune.journal.io import CSV_COLUMNS, parse_text, scenario_to_dict, write_csv

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
tricky = st.sampled_from(['he said "hi"', '"', '",', ',"', "\r", "\n", '"\n"', "=1+1", "-", "@x", "'=x", ",,,"])
field = st.lists(st.one_of(text, tricky), max_size=4).map("".join)
good = st.builds(
    lambda situation, context, perspective: Scenario(
        situation=situation, context=context,
        perspectives=[Perspective("employee", perspective[0], perspective[1])] if perspective else []),
    field.filter(lambda t: t.strip()), field,
    st.none() | st.tuples(st.sampled_from(["reasonable", "problematic", "mixed"]), field))
N = len(CSV_COLUMNS)
BAD = [
    '"he said "hi" to me"' + "," * (N - 1),  # a stray quote inside a quoted field
    '"never closed' + ",x" * (N - 1),  # a quote that is never closed
    "a,row,with,too,many,fields" + ",x" * N,
    "too,few",
    '"fine","","","","","","","HR","terrible",""',  # a value the journal refuses
    '"fine","","","31/12/2024","","","","","",""',
]


def _row(s: Scenario) -> str:
    out = io.StringIO(newline="")
    write_csv([s], out)
    return out.getvalue().split("\n", 1)[1]  # without the header (the header itself never spans lines)


@settings(max_examples=int(__import__("os").environ.get("LOCALTUNE_FUZZ_EXAMPLES", "200")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(goods=st.lists(good, min_size=1, max_size=5), bad=st.sampled_from(BAD), at=st.integers(0, 5),
       long_field=st.booleans())
def test_one_bad_row_among_good_ones_keeps_every_good_row(goods, bad, at, long_field):
    if long_field:
        goods[0].situation += "y" * 140_000
    at = min(at, len(goods))
    rows = [_row(s) for s in goods]
    header = ",".join(f'"{c}"' for c in CSV_COLUMNS) + "\n"
    before = header + "".join(rows[:at])
    csv_text = before + bad + "\n" + "".join(rows[at:])
    bad_line = len(io.StringIO(before, newline="").readlines()) + 1  # csv splits lines at CR LF, CR or LF

    parsed = parse_text(csv_text, "csv")
    assert [scenario_to_dict(s) for s in parsed.scenarios] == [scenario_to_dict(s) for s in goods]
    assert parsed.problems and parsed.problems[0][0] == bad_line, parsed.problems
