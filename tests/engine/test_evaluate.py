"""Label-likelihood evaluation on the tiny random Llama of test_generate."""

from __future__ import annotations

import pytest
import torch
from test_generate import make_adapter, tiny_model

from localtune.dataset.prompts import ASSESSMENT_PREFIX, LABELS, Example, completion_text, prompt_messages
from localtune.dataset.retrieval import nearest_examples
from localtune.engine.evaluate import evaluate, run, score_labels
from localtune.engine.generate import Reader
from localtune.errors import Cancelled
from localtune.events import Evaluation, Scoring

SITUATIONS = [
    ("nursing", "the charge nurse skipped the double check of a medication"),
    ("nursing", "a nurse swapped a night shift with a colleague after asking the ward manager"),
    ("software", "an engineer shipped a change to billing without review on a Friday"),
    ("software", "the team lead moved the stand-up to the afternoon for the whole week"),
    ("retail", "a supervisor approved a large refund without looking at the receipt"),
    ("retail", "the store manager rotated the unpopular Sunday shifts fairly"),
]


def example(i: int, viewpoint: str = "employee") -> Example:
    industry, situation = SITUATIONS[i % len(SITUATIONS)]
    label = LABELS[i % 3]
    return Example(prompt_messages(situation=situation, industry=industry, viewpoint=viewpoint),
                   completion_text(label, "Judged by the norms of the field."), label, viewpoint, industry,
                   group=f"s{i}")


@pytest.fixture
def reader():
    return Reader(*tiny_model())


def brute_force(reader: Reader, chat, adapter=None) -> dict[str, float]:
    """Full-sequence log-likelihood of each completion, one forward pass per label."""
    prompt = reader.encode(chat)
    out = {}
    for label in LABELS:
        cont = reader.tokenizer(f"{ASSESSMENT_PREFIX}{label}", add_special_tokens=False)["input_ids"]
        logp = reader.logits(prompt + cont, adapter=adapter).log_softmax(-1)
        out[label] = sum(float(logp[len(prompt) + j - 1, t]) for j, t in enumerate(cont))
    return out


@pytest.mark.parametrize("adapter", [None, "v1"])
def test_shared_prefix_scores_equal_one_pass_per_label(reader, adapter):
    reader.add_adapter("v1", *make_adapter(1)[:2])
    chat = example(0).messages
    fast, slow = score_labels(reader, chat, adapter=adapter), brute_force(reader, chat, adapter)
    assert fast.keys() == slow.keys()
    for label in LABELS:
        assert fast[label] == pytest.approx(slow[label], abs=1e-4)


def test_evaluate_scores_three_columns_and_reports(reader):
    reader.add_adapter("v1", *make_adapter(1)[:2])
    held_out = [example(i) for i in range(6)]
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    events = list(evaluate(reader, held_out, adapter="v1", pool=pool, k=2))
    progress = [e for e in events if isinstance(e, Scoring)]
    assert [(p.column, p.done) for p in progress if p.done == p.total] == [("base", 6), ("few_shot", 6), ("tuned", 6)]
    result = events[-1]
    assert isinstance(result, Evaluation)
    assert set(result.columns) == {"base", "few_shot", "tuned"}
    for column, scored in result.columns.items():
        for s in scored:
            assert s.prediction == max(s.scores, key=s.scores.get), column
    # Base scores are the plain model's; tuned ones differ; few-shot used the nearest pool examples.
    plain = Reader(*tiny_model())
    assert result.columns["base"][0].scores == pytest.approx(score_labels(plain, held_out[0].messages), abs=1e-5)
    assert result.columns["tuned"][0].scores != pytest.approx(result.columns["base"][0].scores, abs=1e-3)
    shots = nearest_examples(pool, held_out[1], 2)
    few = score_labels(reader, reader.few_shot_messages(held_out[1].messages, shots))
    assert result.columns["few_shot"][1].scores == pytest.approx(few, abs=1e-5)
    d = result.to_dict()
    assert d["n"] == 6
    for column in ("base", "few_shot", "tuned"):
        assert 0 <= d[column]["accuracy"] <= 1 and 0 <= d[column]["macro_f1"] <= 1
        assert set(d[column]["by_industry"]) == {"nursing", "software", "retail"}
    assert d["verdict"]["code"] == "too_few"  # six examples tell nothing, and the verdict says so
    assert result.predictions("base") == [s.prediction for s in result.columns["base"]]


def test_without_adapter_or_pool_only_base_is_scored(reader):
    result = run(evaluate(reader, [example(i) for i in range(3)]))
    assert list(result.columns) == ["base"]
    assert result.comparison.verdict.code == "no_adapter"


def test_cancel_stops_evaluation(reader):
    from localtune.progress import CancelToken

    cancel = CancelToken()
    events = evaluate(reader, [example(i) for i in range(5)], cancel=cancel, batch=1)
    seen = [next(events), next(events)]
    assert seen[-1].done == 1
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(events)


def test_scores_are_log_probabilities(reader):
    scores = score_labels(reader, example(2).messages)
    assert all(v < 0 for v in scores.values())
    assert sum(torch.tensor(list(scores.values())).exp()) < 1  # three disjoint continuations of one prompt


def test_every_column_scores_only_the_labels_the_data_use(reader):
    two = [e for e in (example(i) for i in range(12)) if e.label != "mixed"]
    pool = [example(i) for i in range(12, 24)]
    reader.add_adapter("v1", *make_adapter(1)[:2])
    result = run(evaluate(reader, two, adapter="v1", pool=pool))
    for column in ("base", "few_shot", "tuned"):
        assert all(set(s.scores) == {"reasonable", "problematic"} for s in result.columns[column])
        assert "mixed" not in result.predictions(column)
    assert result.to_dict()["majority"]["label"] in LABELS  # the baseline shown beside the columns


def test_batched_scores_equal_one_prompt_at_a_time(reader):
    """Several prompts in one pass (shared prefix once, right padding, logits only where the labels are)."""
    reader.add_adapter("v1", *make_adapter(1)[:2])
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    chats = [example(i).messages for i in range(5)]
    chats.append(reader.few_shot_messages(chats[0], pool[:2]))  # a much longer prompt in the same batch
    for adapter in (None, "v1"):
        many = reader.label_scores_many(chats, adapter=adapter)
        for chat, got in zip(chats, many, strict=True):
            assert got == pytest.approx(score_labels(reader, chat, adapter=adapter), abs=1e-4)
    held_out = [example(i) for i in range(7)]
    one = run(evaluate(reader, held_out, adapter="v1", pool=pool, batch=1))
    four = run(evaluate(reader, held_out, adapter="v1", pool=pool, batch=4))
    for column in one.columns:
        assert one.predictions(column) == four.predictions(column)  # in the examples' order, not the batches'
        for a, b in zip(one.columns[column], four.columns[column], strict=True):
            assert a.scores == pytest.approx(b.scores, abs=1e-4)


def test_one_progress_over_all_columns_with_time_left(reader):
    reader.add_adapter("v1", *make_adapter(1)[:2])
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    progress = [e for e in evaluate(reader, [example(i) for i in range(5)], adapter="v1", pool=pool, batch=2)
                if isinstance(e, Scoring)]
    assert {p.steps for p in progress} == {15}
    steps = [p.step for p in progress]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 15
    assert progress[0].eta_s is None and all(p.eta_s is not None for p in progress[1:])
    assert progress[-1].eta_s == 0


def test_cancel_keeps_the_finished_columns(reader):
    from localtune.progress import CancelToken

    reader.add_adapter("v1", *make_adapter(1)[:2])
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    cancel = CancelToken()
    events = evaluate(reader, [example(i) for i in range(4)], adapter="v1", pool=pool, cancel=cancel, batch=2)
    for event in events:
        if event.column == "few_shot":  # base is done, few-shot has begun
            cancel.cancel()
            break
    with pytest.raises(StopIteration) as stopped:
        next(events)
    partial = stopped.value.value
    assert isinstance(partial, Evaluation) and list(partial.columns) == ["base"] and partial.partial
    d = partial.to_dict()
    assert d["stopped"] == {"finished": ["base"], "not_finished": ["few_shot", "tuned"]}
    assert d["base"]["n"] == 4 and "tuned" not in d


def test_only_the_chosen_columns(reader):
    from localtune.errors import InvalidInputError

    reader.add_adapter("v1", *make_adapter(1)[:2])
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    result = run(evaluate(reader, [example(i) for i in range(3)], adapter="v1", pool=pool, columns=["tuned"]))
    assert list(result.columns) == ["tuned"] and not result.partial
    assert result.comparison.verdict.code == "no_base"
    with pytest.raises(InvalidInputError, match="no adapter"):
        run(evaluate(reader, [example(0)], pool=pool, columns=["base", "tuned"]))


def test_generate_measures_each_columns_readings(reader):
    from localtune.engine.generate import Decoding

    reader.add_adapter("v1", *make_adapter(1)[:2])
    held_out = [example(i) for i in range(4)]
    events = list(evaluate(reader, held_out, adapter="v1", columns=["base", "tuned"],
                           generate=Decoding(max_new_tokens=12)))
    assert [e.phase for e in events if isinstance(e, Scoring) and e.done == e.total and e.step] == \
        ["scoring", "reading", "scoring", "reading"]
    result = events[-1]
    for column in ("base", "tuned"):
        assert len(result.readings[column]) == 4
        for scored, reading in zip(result.columns[column], result.readings[column], strict=True):
            assert reading.assessment == scored.prediction  # the badge is the scored label
    d = result.to_dict()["readings"]["tuned"]
    assert d["n"] == 4 and 0 <= d["looping"] <= 1 and 0 <= d["ended"] <= 1 and d["words"] >= 0
    assert set(d["by_industry"]) == {"nursing", "software"} and sum(g["n"] for g in d["by_industry"].values()) == 4
