"""Evaluation by label likelihood: which of `Assessment: reasonable|problematic|mixed` does the model find
most likely after the prompt? No sampling, so no luck; the same prompts the model was trained on.

Columns (events.COLUMNS): *base* (adapters disabled), *few_shot* (base with the most similar training examples
as earlier turns) and *tuned* (an adapter enabled). Yields events.Scoring, then events.Evaluation; the metrics
and the verdict come from `dataset.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from ..dataset import metrics
from ..dataset.prompts import LABELS, Example
from ..dataset.retrieval import Retriever, example_text, nearest_examples
from ..errors import Cancelled, InvalidInputError
from ..events import COLUMNS, Evaluation, Scored, Scoring
from ..progress import CancelToken
from .generate import ANSWER_START, Decoding, Reader, _finish, _Stopped

FEW_SHOT_K = 3
# Tokens a few-shot prompt may take in evaluation. On the demo's held-out entries 2048 kept all three shots
# (~1470 tokens a prompt: more than the base and tuned columns together); 1024 keeps the nearest one or two
# (~790 tokens). Accuracy at each budget: benchmarks/reading_quality.py --eval --budgets (README, readings).
FEW_SHOT_BUDGET = 1024
BATCH = 4  # prompts per forward pass (similar lengths together, so little padding)


def score_labels(reader: Reader, messages: Sequence[dict], *, adapter: str | None = None,
                 labels: Sequence[str] = LABELS) -> dict[str, float]:
    """Sum of token log-probs of each label's completion after the prompt (see `Reader.label_scores`)."""
    return reader.label_scores(messages, adapter=adapter, labels=labels)


def _scored(scores: dict[str, float]) -> Scored:
    return Scored(max(scores, key=scores.__getitem__), scores)


class _Clock:
    """Time left from the work done so far: prompt tokens scored and readings written, each at its own rate."""

    def __init__(self, tokens_total: int, readings_total: int):
        self.tokens_left, self.readings_left = tokens_total, readings_total
        self.token_s = self.reading_s = None
        self.tokens_done = self.readings_done = 0
        self.spent_tokens = self.spent_readings = 0.0

    def scored(self, tokens: int, seconds: float) -> None:
        self.tokens_done += tokens
        self.tokens_left -= tokens
        self.spent_tokens += seconds

    def read(self, seconds: float) -> None:
        self.readings_done += 1
        self.readings_left -= 1
        self.spent_readings += seconds

    def eta(self) -> float | None:
        if not self.tokens_done:
            return None
        per_token = self.spent_tokens / self.tokens_done
        if self.readings_left and not self.readings_done:
            return None  # no reading written yet: its time is not known, and a guess would mislead
        per_reading = self.spent_readings / self.readings_done if self.readings_done else 0.0
        return max(0.0, self.tokens_left * per_token + self.readings_left * per_reading)


def evaluate(reader: Reader, examples: Sequence[Example], *, adapter: str | None = None,
             pool: Sequence[Example] = (), k: int = FEW_SHOT_K, budget: int = FEW_SHOT_BUDGET,
             cancel: CancelToken | None = None, labels: Sequence[str] | None = None,
             columns: Sequence[str] | None = None, batch: int = BATCH,
             generate: Decoding | None = None) -> Iterator[Scoring | Evaluation]:
    """Score every example in each column; yields Scoring progress, then one Evaluation.

    `pool` (usually the training split) supplies the few-shot examples; without it there is no few-shot
    column, and without `adapter` no tuned column; `columns` picks some of them. Every column chooses among the
    same `labels` (default: the labels the examples use): data labelled only reasonable/problematic is not
    answered "mixed". The most common label of `pool` (else of the examples) is the baseline shown beside the
    columns. With `generate`, each column also writes its reading of every example with those decoding
    settings, and the Evaluation carries the reading-quality measures.

    Cancelled: the columns already finished are kept. The generator then *returns* an Evaluation of those
    (StopIteration.value, so a caller that was told to stop still gets it); with none finished it raises
    Cancelled.
    """
    examples = tuple(examples)
    labels = tuple(labels) if labels else tuple(x for x in LABELS if x in {e.label for e in examples}) or LABELS
    available = {"base": None}
    if pool:
        available["few_shot"] = None
    if adapter is not None:
        available["tuned"] = adapter
    wanted = tuple(columns) if columns else tuple(available)
    if missing := [c for c in wanted if c not in available]:
        why = {"few_shot": "there are no training examples to draw shots from", "tuned": "there is no adapter"}
        raise InvalidInputError("Cannot evaluate " + "; ".join(
            f"{c!r}: {why.get(c, 'columns are ' + ', '.join(COLUMNS))}" for c in missing) + ".")
    chosen = {c: available[c] for c in COLUMNS if c in wanted}
    retriever = Retriever([example_text(e) for e in pool]) if pool else None
    chats = {c: [e.messages for e in examples] for c in chosen}
    if "few_shot" in chosen:
        chats["few_shot"] = [reader.few_shot_messages(e.messages, nearest_examples(pool, e, k, retriever=retriever),
                                                      budget=budget) for e in examples]
    lengths = {c: [len(reader.encode(m)) for m in ms] for c, ms in chats.items()}
    n = len(examples)
    per_column = 2 * n if generate else n
    steps, step = per_column * len(chosen), 0
    clock = _Clock(sum(sum(v) for v in lengths.values()), n * len(chosen) if generate else 0)
    results: dict[str, tuple[Scored, ...]] = {}
    readings: dict[str, tuple] = {}
    try:
        for column, active in chosen.items():
            scored: list[Scored | None] = [None] * n
            yield Scoring(column, 0, n, step, steps, clock.eta())
            # Similar lengths in one batch: little padding. Results go back to the examples' order.
            order = sorted(range(n), key=lambda i: lengths[column][i])
            done = 0
            for at in range(0, n, max(1, batch)):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                part = order[at:at + max(1, batch)]
                began = time.perf_counter()
                got = reader.label_scores_many([chats[column][i] for i in part], adapter=active, labels=labels)
                clock.scored(sum(lengths[column][i] for i in part), time.perf_counter() - began)
                for i, scores in zip(part, got, strict=True):
                    scored[i] = _scored(scores)
                done += len(part)
                step += len(part)
                yield Scoring(column, done, n, step, steps, clock.eta())
            if generate is not None:
                written = []
                for i, chat in enumerate(chats[column]):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    began = time.perf_counter()
                    stopped = _Stopped()
                    pieces = list(reader.stream(chat, adapter=active, cancel=cancel, decoding=generate,
                                                start=ANSWER_START, stopped=stopped))
                    written.append(_finish(column, pieces, stopped.reason, scored[i].scores, generate))
                    clock.read(time.perf_counter() - began)
                    step += 1
                    yield Scoring(column, i + 1, n, step, steps, clock.eta(), phase="reading")
                readings[column] = tuple(written)
            results[column] = tuple(scored)
    except Cancelled:
        if not results:
            raise
        return _evaluation(examples, results, readings, pool, tuple(chosen))
    yield _evaluation(examples, results, readings, pool, tuple(chosen))


def _evaluation(examples, results, readings, pool, requested) -> Evaluation:
    gold = [e.label for e in examples]
    comparison = metrics.compare(
        gold, {c: [s.prediction for s in r] for c, r in results.items()},
        industries=[e.industry for e in examples], viewpoints=[e.viewpoint for e in examples],
        majority=metrics.majority_label([e.label for e in pool]) if pool else None)
    return Evaluation(examples, results, comparison, readings, requested)


def run(events: Iterator[Scoring | Evaluation]) -> Evaluation:
    """Drain an `evaluate` generator (for callers that need no progress) and return its Evaluation."""
    result = None
    for event in events:
        result = event
    assert isinstance(result, Evaluation)
    return result
