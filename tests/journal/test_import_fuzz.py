"""Importers against hostile files: structured near-miss JSON, random CSV and random bytes.

Either the rows parse, or each bad row is reported with its line number, or the whole file is refused
with a localtune error; never another exception. CI runs a few hundred cases; the audit sets
LOCALTUNE_FUZZ_EXAMPLES to run thousands.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localtune.errors import LocaltuneError
from localtune.journal.io import parse_text, read_file

EXAMPLES = int(os.environ.get("LOCALTUNE_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

KEYS = ["situation", "context", "industry", "occurred_on", "people", "tags", "use", "perspectives", "viewpoint",
        "assessment", "analysis", "id", "created_at", "colour"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["reasonable", "problematic", "mixed", "2024-02-30", "train", "eval", ""]))
# Two levels deep is enough to reach every shape check (perspectives are a list of objects); deeper
# recursive strategies cost more to generate than to parse.
flat = st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4)
values = st.one_of(scalars, st.lists(st.one_of(scalars, flat), max_size=3), flat)
near_miss = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)  # mostly the right keys, wrong shapes


def _well_reported(parsed, lines: int) -> None:
    for number, why in parsed.problems:
        assert isinstance(number, int) and 1 <= number <= max(lines, 1) and isinstance(why, str) and why


@fuzz
@given(st.lists(st.one_of(near_miss, values), max_size=8))
def test_near_miss_jsonl_is_parsed_or_reported_per_line(docs):
    text = "\n".join(json.dumps(d) for d in docs)
    parsed = parse_text(text, "jsonl")
    _well_reported(parsed, len(docs))
    assert all(s.situation.strip() for s in parsed.scenarios)


@fuzz
@given(st.lists(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(KEYS)), max_size=8), max_size=6))
def test_random_csv_is_parsed_or_reported_per_row(rows):
    text = "\n".join(",".join(json.dumps(cell) if i % 2 else cell for i, cell in enumerate(row)) for row in rows)
    _well_reported(parse_text(text, "csv"), len(text.splitlines()))


@fuzz
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".jsonl", ".csv", ".json"]),
       bom=st.booleans())
def test_random_bytes_in_a_file_never_crash_the_reader(tmp_path_factory, data, suffix, bom):
    path = tmp_path_factory.getbasetemp() / f"fuzz-import{suffix}"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    try:
        parsed = read_file(path)
    except LocaltuneError as exc:
        assert str(exc)
        return
    # The importer counts lines as str.splitlines() does (also at \x0b, \x1c, U+2028 ...), not only at \n.
    _well_reported(parsed, len(data.decode("utf-8", errors="replace").splitlines()))
