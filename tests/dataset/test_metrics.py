"""Metrics on constructed cases whose answers were worked out by hand."""

from __future__ import annotations

import pytest

from localtune.dataset import metrics as m

R, P, X = "reasonable", "problematic", "mixed"


def test_report_on_a_hand_computed_case():
    gold = [R, R, R, P, P, X]
    pred = [R, R, P, P, R, X]
    r = m.report(gold, pred)
    assert r.labels == (R, P, X)
    assert r.confusion == ((2, 1, 0), (1, 1, 0), (0, 0, 1))
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.per_label[R].precision == pytest.approx(2 / 3) and r.per_label[R].recall == pytest.approx(2 / 3)
    assert r.per_label[P].precision == pytest.approx(1 / 2) and r.per_label[P].recall == pytest.approx(1 / 2)
    assert (r.per_label[X].f1, r.per_label[X].support, r.per_label[X].predicted) == (1.0, 1, 1)
    assert r.macro_f1 == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)  # 13/18
    assert m.macro_f1(gold, pred) == pytest.approx(13 / 18)
    assert r.accuracy_ci == pytest.approx((0.3000, 0.9032), abs=1e-4)  # Wilson 95% for 4 of 6
    assert r.one_label is None
    assert r.to_dict()["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_macro_f1_averages_over_labels_seen_and_punishes_one_answer():
    # The fact from the project notes: 120 posts, the base said "reasonable" to all -> macro-F1 0.39;
    # the tuned model said "problematic" to all -> 0.26.
    gold = [R] * 77 + [P] * 43
    base, tuned = [R] * 120, [P] * 120
    assert m.macro_f1(gold, base) == pytest.approx((2 * 77 / 197) / 2)
    assert round(m.macro_f1(gold, base), 2) == 0.39 and round(m.macro_f1(gold, tuned), 2) == 0.26
    assert m.report(gold, base).labels == (R, P)  # "mixed" never occurs: not averaged in
    assert m.report(gold, base).one_label == R
    v = m.verdict(gold, base, tuned)
    assert v.code == "no_gain"
    assert v.headline == "Tuning does not pay off: tuned macro-F1 0.26 vs base 0.39 (-33%)."
    assert "The base model answers 'reasonable'" in v.text and "The tuned model answers 'problematic'" in v.text


def test_unclear_predictions_count_against_the_model():
    r = m.report([R, P], [R, "unclear"])
    assert r.labels == (R, P, "unclear")
    assert r.macro_f1 == pytest.approx((1 + 0 + 0) / 3)


def test_one_label_detector():
    assert m.one_label([R] * 19 + [P]) == R  # 95%
    assert m.one_label([R] * 18 + [P] * 2) is None
    assert m.one_label([R, R]) is None  # too few answers to say


def test_wilson_interval_edges():
    assert m.wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = m.wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    lo, hi = m.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)


def test_breakdown_per_group():
    gold = [R, P, R, P]
    pred = [R, P, P, P]
    by = m.breakdown(gold, pred, ["nursing", "nursing", "law", ""])
    assert list(by) == ["(none)", "law", "nursing"]
    assert by["nursing"].accuracy == 1.0 and by["law"].accuracy == 0.0 and by["(none)"].n == 1


def blocks(correct: int) -> tuple[list[str], list[str]]:
    """60 gold labels (20 of each); per block `correct` right and the rest given the next label.

    Each label then has tp = correct and 20 predictions, so its F1 = correct / 20.
    """
    gold, pred = [], []
    for label, wrong in ((R, P), (P, X), (X, R)):
        gold += [label] * 20
        pred += [label] * correct + [wrong] * (20 - correct)
    return gold, pred


def test_verdict_tuning_pays_off():
    gold, base = blocks(10)
    _, tuned = blocks(18)
    assert m.macro_f1(gold, base) == pytest.approx(0.5) and m.macro_f1(gold, tuned) == pytest.approx(0.9)
    v = m.verdict(gold, base, tuned)
    assert v.code == "pays_off"
    assert v.headline.startswith("Tuning pays off: tuned macro-F1 0.90 vs base 0.50 (+80%); 95% CI of the gain +")
    assert 0 < v.gain_ci[0] < 0.4 < v.gain_ci[1]


def test_verdict_small_gain_and_no_gain():
    gold, base = blocks(10)
    v = m.verdict(gold, base, blocks(11)[1])  # 0.55 vs 0.50: a gain the bootstrap cannot tell from zero
    assert v.code == "no_measurable_gain" and v.gain_ci[0] <= 0 <= v.gain_ci[1]
    assert v.headline.startswith("No measurable gain from tuning") and "includes zero" in v.headline
    big_gold, big_base = blocks(10)[0] * 20, blocks(10)[1] * 20  # the same +10%, measured on 1200 examples
    v = m.verdict(big_gold, big_base, blocks(11)[1] * 20)
    assert v.code == "small_gain" and v.gain_ci[0] > 0
    v = m.verdict(gold, base, base)
    assert (v.code, v.headline) == ("no_gain", "Tuning does not pay off: tuned macro-F1 0.50 vs base 0.50 (+0%).")


def test_verdict_few_shot_already_as_good():
    gold, base = blocks(10)
    _, tuned = blocks(18)
    v = m.verdict(gold, base, tuned, few_shot=tuned)
    assert v.code == "few_shot_enough"
    assert v.headline == "Few-shot is already as good as tuning: few-shot macro-F1 0.90 vs tuned 0.90 and base 0.50."
    assert v.notes[0].startswith("Tuning pays off")


def test_verdict_too_few_examples():
    gold, base, tuned = [R, P, X, R, P, X], [R] * 6, [R, P, X, R, P, P]
    v = m.verdict(gold, base, tuned)
    assert v.code == "too_few"
    assert v.headline.startswith("Too few held-out examples to tell (n=6; tuned accuracy 95% CI 0.44-0.97)")
    # Enough examples to compute, but a gain the bootstrap cannot separate from zero.
    gold = [R, P] * 6
    base = [R, R, R, P, P, P] * 2  # 6 of 12 right
    tuned = [R, P, R, P, R, R] * 2  # 8 of 12 right
    v = m.verdict(gold, base, tuned)
    assert v.code == "no_measurable_gain" and "includes zero" in v.headline and v.gain_ci[0] <= 0


def test_verdict_without_adapter():
    gold, base = blocks(10)
    assert m.verdict(gold, base).headline == "No trained adapter yet: base macro-F1 0.50."
    v = m.verdict(gold, base, few_shot=blocks(15)[1])
    assert (v.code, v.headline) == ("no_adapter", "No trained adapter yet: few-shot macro-F1 0.75 vs base 0.50 (+50%).")


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    gold, pred = blocks(15)
    a = m.bootstrap_ci(gold, [pred], m.macro_f1, rounds=300)
    assert a == m.bootstrap_ci(gold, [pred], m.macro_f1, rounds=300)
    assert a[0] < 0.75 < a[1]


def test_compare_reports_columns_groups_and_warnings():
    gold, base = blocks(10)
    _, tuned = blocks(18)
    industries = ["nursing"] * 30 + ["law"] * 30
    # In law the tuned model answers "reasonable" to everything.
    tuned = tuned[:30] + [R] * 30
    c = m.compare(gold, {"base": base, "tuned": tuned}, industries=industries, viewpoints=["employee"] * 60)
    assert set(c.reports) == {"base", "tuned"}
    assert set(c.by_industry["tuned"]) == {"law", "nursing"}
    assert c.by_industry["tuned"]["law"].one_label == R
    assert any("industry 'law'" in n and "'reasonable' to everything" in n for n in c.notes)
    d = c.to_dict()
    assert d["n"] == 60 and {"accuracy", "macro_f1"} <= set(d["base"]) and d["verdict"]["code"]
    assert d["tuned"]["by_industry"]["law"]["one_label"] == R


def test_the_majority_label_is_the_baseline_and_worse_columns_are_named():
    gold = [P] * 6 + [R] * 3 + [X]
    preds = {"base": [R] * 10, "few_shot": [X] * 10, "tuned": [P] * 8 + [R, X]}
    c = m.compare(gold, preds, majority=P)
    d = c.to_dict()
    assert d["majority"]["label"] == P and d["majority"]["accuracy"] == pytest.approx(0.6)
    assert any(n.startswith("The base model does worse than always answering 'problematic' (accuracy 0.30 vs 0.60)")
               for n in c.notes)
    assert any(n.startswith("The few-shot model does worse") for n in c.notes)
    assert not any(n.startswith("The tuned model does worse") for n in c.notes)
    assert m.majority_label([R, P, P, X]) == P and m.majority_label([X, R]) == R  # ties: the usual order
