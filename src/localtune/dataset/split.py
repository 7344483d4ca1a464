"""A deterministic, label-stratified held-out split by scenario.

All perspectives of a scenario, and all scenarios of a near-duplicate group, land on the same side, so the
held-out score never rewards memorising a copy. Scenarios marked `eval` are always held out. The rest are
ranked by a hash of their content, so the split is the same on every run and adding an entry leaves the
others where they were (a label right at its quota may pull in one more). Where the user marked too few,
the lowest-ranked scenarios top up each label to about 15% of its examples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from ..journal.models import Scenario
from .examples import Prepared, content_hash, prepare
from .prompts import LABELS, Example
from .redact import Redactor
from .similarity import near_duplicate_clusters

EVAL_FRACTION = 0.15
MAX_FRACTION = 0.2  # a big near-duplicate group is not held out if that would push a label past this


@dataclass
class SplitSummary:
    eval_fraction: float
    train_examples: int = 0
    eval_examples: int = 0
    train_scenarios: int = 0
    eval_scenarios: int = 0
    marked_eval: int = 0  # scenarios the user marked `eval`
    held_with_marked: int = 0  # near-duplicates of a marked scenario, held out with it
    by_hash: int = 0  # picked by the content hash
    topped_up: int = 0  # added to bring a label up to its share
    per_label: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> {"train": n, "eval": n}
    missing: list[tuple[str, str]] = field(default_factory=list)  # (label, side) with no example there

    def to_dict(self) -> dict:
        d = asdict(self)
        d["missing"] = [list(m) for m in self.missing]
        return d


class Split(NamedTuple):
    train: list[Example]
    eval: list[Example]
    summary: SplitSummary


def _rank(prepared: Prepared) -> float:
    """Where a scenario falls in [0, 1): from its content, so it never depends on the others."""
    return int(content_hash(prepared.scenario), 16) / 16**16


def split_prepared(
    prepared: Sequence[Prepared],
    clusters: Iterable[Iterable[int]] = (),
    *,
    eval_fraction: float = EVAL_FRACTION,
) -> Split:
    """Split already-prepared scenarios; `clusters` are groups of indices into `prepared` kept together."""
    usable = [i for i, p in enumerate(prepared) if p.examples]
    unit_of = {i: (i,) for i in usable}
    for cluster in clusters:
        members = tuple(sorted(i for i in cluster if i in unit_of))
        for i in members:
            unit_of[i] = members
    units = sorted(set(unit_of.values()), key=lambda u: (min(_rank(prepared[i]) for i in u), u))

    def labels(unit: tuple[int, ...]) -> Counter:
        return Counter(e.label for i in unit for e in prepared[i].examples)

    unit_labels = {u: labels(u) for u in units}
    total = sum(unit_labels.values(), Counter())
    need = {label: math.ceil(eval_fraction * n) if n >= 2 else 0 for label, n in total.items()}
    cap = {label: max(need[label], math.floor(max(MAX_FRACTION, eval_fraction) * n)) for label, n in total.items()}
    held: Counter = Counter()
    eval_units: set[tuple[int, ...]] = set()
    summary = SplitSummary(eval_fraction=eval_fraction)

    def hold(unit: tuple[int, ...]) -> None:
        eval_units.add(unit)
        held.update(unit_labels[unit])

    def fits(unit: tuple[int, ...]) -> bool:
        """Holding this unit out keeps every label within its cap and with something left to train on."""
        return all(
            held[label] + n <= cap[label] and (total[label] - held[label] - n > 0 or total[label] < 2)
            for label, n in unit_labels[unit].items()
        )

    for unit in units:
        if any(prepared[i].scenario.use == "eval" for i in unit):
            hold(unit)
            marked = sum(prepared[i].scenario.use == "eval" for i in unit)
            summary.marked_eval += marked
            summary.held_with_marked += len(unit) - marked
    marked_held = Counter(held)
    # The content hash picks about eval_fraction of the rest, for labels the user's marks do not cover.
    for unit in units:
        rank = min(_rank(prepared[i]) for i in unit)
        if rank >= eval_fraction:
            break
        if (
            unit not in eval_units
            and any(marked_held[label] < need[label] for label in unit_labels[unit])
            and fits(unit)
        ):
            hold(unit)
            summary.by_hash += len(unit)
    # Top up each label still short of its share, lowest rank first.
    for unit in units:
        if unit in eval_units:
            continue
        if any(held[label] < need[label] for label in unit_labels[unit]) and fits(unit):
            hold(unit)
            summary.topped_up += len(unit)

    train: list[Example] = []
    held_out: list[Example] = []
    for unit in units:
        side = held_out if unit in eval_units else train
        for i in unit:
            side.extend(prepared[i].examples)
    # Examples in journal order on each side, whatever the ranking.
    order = {id(e): n for n, e in enumerate(e for p in prepared for e in p.examples)}
    train.sort(key=lambda e: order[id(e)])
    held_out.sort(key=lambda e: order[id(e)])

    summary.train_examples, summary.eval_examples = len(train), len(held_out)
    summary.eval_scenarios = sum(len(u) for u in eval_units)
    summary.train_scenarios = len(usable) - summary.eval_scenarios
    train_labels, eval_labels = Counter(e.label for e in train), Counter(e.label for e in held_out)
    for label in sorted(total, key=_label_order):
        summary.per_label[label] = {"train": train_labels[label], "eval": eval_labels[label]}
        summary.missing += [(label, side) for side, c in (("train", train_labels), ("eval", eval_labels)) if not c[label]]
    return Split(train, held_out, summary)


def _label_order(label: str) -> tuple[int, str]:
    return (LABELS.index(label) if label in LABELS else len(LABELS), label)


def split_dataset(
    scenarios: Iterable[Scenario],
    redactor: Redactor | None = None,
    *,
    eval_fraction: float = EVAL_FRACTION,
) -> Split:
    """(train examples, held-out examples, summary) for a journal; near-duplicates found on the way."""
    redactor = redactor or Redactor()
    prepared = [prepare(s, redactor) for s in scenarios]
    clusters = near_duplicate_clusters([p.situation for p in prepared])
    return split_prepared(prepared, clusters, eval_fraction=eval_fraction)
