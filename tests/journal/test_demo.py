"""The demo journal is what a new user trains on first: it must load cleanly and be worth learning from."""

from collections import Counter, defaultdict

from localtune.journal.demo import load_demo
from lt_testing import run_cli


def test_demo_parses_without_a_single_problem():
    parsed = load_demo()
    assert parsed.problems == []
    assert len(parsed.scenarios) >= 240


def test_demo_covers_fields_labels_perspectives_and_held_out_part():
    scenarios = load_demo().scenarios
    by_field = Counter(s.industry for s in scenarios)
    assert len(by_field) >= 6 and min(by_field.values()) >= 30
    for field in by_field:
        labels = Counter(p.assessment for s in scenarios if s.industry == field for p in s.perspectives)
        total = sum(labels.values())
        assert max(labels.values()) / total <= 0.5, (field, labels)
        assert labels["mixed"] > 0
        eval_share = sum(s.use == "eval" for s in scenarios if s.industry == field) / by_field[field]
        assert 0.15 <= eval_share <= 0.3, (field, eval_share)
    disagree = sum(len({p.assessment for p in s.perspectives}) > 1 for s in scenarios)
    assert disagree >= len(scenarios) / 3


def test_demo_contrast_pairs_differ_in_field_and_verdict():
    sides = defaultdict(list)
    for s in load_demo().scenarios:
        for tag in s.tags:
            if tag.startswith("pair:"):
                sides[tag].append(s)
    assert len(sides) >= 40
    for tag, pair in sides.items():
        assert len(pair) == 2, tag
        assert pair[0].industry != pair[1].industry, tag
        first = {p.assessment for p in pair[0].perspectives}
        second = {p.assessment for p in pair[1].perspectives}
        assert first != second, tag
    held_out_pairs = [t for t, pair in sides.items() if all(s.use == "eval" for s in pair)]
    assert len(held_out_pairs) >= 8


def test_demo_names_only_listed_pseudonyms_in_people():
    for s in load_demo().scenarios:
        text = s.situation + " ".join(p.analysis for p in s.perspectives)
        for person in s.people:
            assert person.split()[-1] in text, (person, s.situation[:60])


def test_new_user_init_demo_search(tmp_path):
    home = tmp_path / "h"
    pw = "demo passphrase\n"
    assert run_cli(["init"], home=home, stdin=pw * 2).returncode == 0
    r = run_cli(["demo"], home=home, stdin=pw)
    assert r.returncode == 0 and "Loaded" in r.stdout
    r = run_cli(["search", "deadline"], home=home, stdin=pw)
    assert r.returncode == 0 and len(r.stdout.splitlines()) >= 3
    r = run_cli(["demo"], home=home, stdin=pw)
    assert r.returncode == 1 and "already loaded" in r.stderr
