"""Few-shot retrieval: TF-IDF cosine finds the scenario about the same thing."""

from __future__ import annotations

import pytest

from localtune.dataset.prompts import Example, completion_text, prompt_messages
from localtune.dataset.retrieval import Retriever, example_text, nearest_examples, scenario_text, words

SCENARIOS = [
    ("nursing", "Medication is checked by two nurses.", "A nurse gave a medication without the second check."),
    ("software", "Changes to billing are reviewed.", "An engineer merged a billing change without review."),
    ("retail", "Refunds above a limit need a supervisor.", "A cashier refunded a large sum without a supervisor."),
    ("law", "Partners sign every filing.", "A trainee filed a motion before the partner had signed it."),
]


def example(i: int, viewpoint: str = "employee", group: str | None = None) -> Example:
    industry, context, situation = SCENARIOS[i]
    return Example(prompt_messages(situation=situation, industry=industry, context=context, viewpoint=viewpoint),
                   completion_text("problematic", ""), "problematic", viewpoint, industry,
                   group=group if group is not None else f"s{i}")


def test_nearest_scenarios_come_first():
    r = Retriever([scenario_text(s, c, i) for i, c, s in SCENARIOS])
    hits = r.nearest("The night nurse skipped the second medication check", k=2)
    assert hits[0][0] == 0 and 0 < hits[0][1] <= 1
    assert r.nearest("a billing change went out unreviewed", k=1)[0][0] == 1
    assert r.nearest("the supervisor was not asked about the refund", k=1)[0][0] == 2


def test_scores_are_cosines_and_unrelated_documents_are_left_out():
    docs = ["nurse medication check", "billing review merge", "nurse medication check"]
    r = Retriever(docs)
    assert r.scores("nurse medication check")[0] == pytest.approx(1.0)
    hits = r.nearest("nurse medication", k=5)
    assert [i for i, _ in hits] == [0, 2] and hits[0][1] == hits[1][1]  # a tie keeps document order
    assert r.nearest("holiday rota", k=5) == []  # nothing in common: no example is better than none


def test_words_every_document_shares_carry_no_weight():
    r = Retriever(["situation: alpha", "situation: beta"])
    assert r.idf["situation"] == 0.0
    assert r.nearest("situation: gamma", k=2) == []
    assert words("The nurse's shifts, it was LONG") == ["nurs", "shift", "long"]
    assert words("nurses nursing nurse") == ["nurs"] * 3 and words("refunded refunds") == ["refund"] * 2


def test_nearest_examples_skip_the_query_scenario_and_respect_k():
    pool = [example(i) for i in range(4)] + [example(0, viewpoint="HR")]
    query = example(0, viewpoint="manager")
    found = nearest_examples(pool, query, 3)
    assert all(e.group != "s0" for e in found)  # its own scenario's perspectives would give the answer away
    assert nearest_examples(pool, "a nurse and a missed medication check", 1)[0].industry == "nursing"
    assert nearest_examples([], query, 3) == []
    assert len(nearest_examples(pool, "medication billing refund motion filing", 10)) == 5


def test_example_text_is_the_user_message():
    e = example(3)
    text = example_text(e)
    assert "Field: law" in text and "trainee filed a motion" in text and "You read workplace" not in text
