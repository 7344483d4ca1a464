"""Evaluation by label likelihood: which of `Assessment: reasonable|problematic|mixed` does the model find
most likely after the prompt? No sampling, so no luck; the same prompts the model was trained on.

Columns: *base* (adapters disabled), *few_shot* (base with the most similar training examples as earlier
turns) and *tuned* (an adapter enabled). The metrics and the verdict come from `dataset.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..dataset import metrics
from ..dataset.prompts import LABELS, Example
from ..dataset.retrieval import Retriever, example_text, nearest_examples
from ..progress import CancelToken
from .generate import CONTEXT_BUDGET, Reader

FEW_SHOT_K = 3


@dataclass(frozen=True)
class Scored:
    prediction: str
    scores: dict[str, float]  # label -> summed log-probability of its completion


@dataclass(frozen=True)
class Scoring:
    """Progress: `done` of `total` examples scored in `column`."""

    column: str
    done: int
    total: int


@dataclass(frozen=True)
class Evaluation:
    examples: tuple[Example, ...]
    columns: dict[str, tuple[Scored, ...]]  # "base", "few_shot", "tuned" -> one Scored per example
    comparison: metrics.Comparison

    def predictions(self, column: str) -> list[str]:
        return [s.prediction for s in self.columns[column]]

    def to_dict(self) -> dict:
        return self.comparison.to_dict()


def score_labels(reader: Reader, messages: Sequence[dict], *, adapter: str | None = None,
                 labels: Sequence[str] = LABELS) -> dict[str, float]:
    """Sum of token log-probs of each label's completion after the prompt (see `Reader.label_scores`)."""
    return reader.label_scores(messages, adapter=adapter, labels=labels)


def _scored(scores: dict[str, float]) -> Scored:
    return Scored(max(scores, key=scores.__getitem__), scores)


def evaluate(reader: Reader, examples: Sequence[Example], *, adapter: str | None = None,
             pool: Sequence[Example] = (), k: int = FEW_SHOT_K, budget: int = CONTEXT_BUDGET,
             cancel: CancelToken | None = None, labels: Sequence[str] | None = None) -> Iterator[Scoring | Evaluation]:
    """Score every example in each column; yields Scoring progress, then one Evaluation.

    `pool` (usually the training split) supplies the few-shot examples; without it there is no few-shot
    column, and without `adapter` no tuned column. Every column chooses among the same `labels` (default: the
    labels the examples use): data labelled only reasonable/problematic is not answered "mixed". The most
    common label of `pool` (else of the examples) is the baseline shown beside the columns.
    """
    examples = tuple(examples)
    labels = tuple(labels) if labels else tuple(x for x in LABELS if x in {e.label for e in examples}) or LABELS
    columns = {"base": None}
    if pool:
        columns["few_shot"] = None
    if adapter is not None:
        columns["tuned"] = adapter
    retriever = Retriever([example_text(e) for e in pool]) if pool else None
    results: dict[str, tuple[Scored, ...]] = {}
    for column, active in columns.items():
        scored = []
        yield Scoring(column, 0, len(examples))
        for i, example in enumerate(examples, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            messages = example.messages
            if column == "few_shot":
                shots = nearest_examples(pool, example, k, retriever=retriever)
                messages = reader.few_shot_messages(messages, shots, budget=budget)
            scored.append(_scored(score_labels(reader, messages, adapter=active, labels=labels)))
            yield Scoring(column, i, len(examples))
        results[column] = tuple(scored)
    gold = [e.label for e in examples]
    comparison = metrics.compare(
        gold, {c: [s.prediction for s in r] for c, r in results.items()},
        industries=[e.industry for e in examples], viewpoints=[e.viewpoint for e in examples],
        majority=metrics.majority_label([e.label for e in pool]) if pool else None)
    yield Evaluation(examples, results, comparison)


def run(events: Iterator[Scoring | Evaluation]) -> Evaluation:
    """Drain an `evaluate` generator (for callers that need no progress) and return its Evaluation."""
    result = None
    for event in events:
        result = event
    assert isinstance(result, Evaluation)
    return result
