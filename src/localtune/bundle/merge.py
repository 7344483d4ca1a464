"""Team pooling: several colleagues' training bundles joined into one, near-duplicates across contributors
removed, and a report per contributor for the person who pools (the pool itself names nobody)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..dataset.prompts import Example
from ..dataset.similarity import near_duplicate_clusters
from ..errors import InvalidInputError
from .export import TrainingBundle


@dataclass
class ContributorReport:
    """What one contributor's bundle brought to the pool (shown to whoever merges; not stored in the pool)."""

    index: int  # 1-based, in the order given
    train: int = 0
    eval: int = 0
    labels: dict = field(default_factory=dict)
    kept: int = 0
    duplicates_removed: int = 0  # examples dropped because another contributor had the same situation
    overlaps: int = 0  # examples of this contributor whose situation another contributor also wrote down
    agreed: int = 0  # ... with the same assessment

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.overlaps if self.overlaps else None

    def to_dict(self) -> dict:
        return {"contributor": self.index, "train": self.train, "eval": self.eval, "labels": self.labels,
                "kept": self.kept, "duplicates_removed": self.duplicates_removed, "overlaps": self.overlaps,
                "agreed": self.agreed, "agreement": self.agreement}

    def render(self, name: str = "") -> str:
        balance = ", ".join(f"{k} {v}" for k, v in self.labels.items()) or "none"
        agree = (f"{self.agreed} of {self.overlaps} shared situations judged alike ({self.agreement:.0%})"
                 if self.overlaps else "no situation shared with another contributor")
        who = f"contributor {self.index}" + (f" ({name})" if name else "")
        return (f"{who}: {self.train} training + {self.eval} held-out examples ({balance}); kept {self.kept}, "
                f"{self.duplicates_removed} near-duplicates removed; {agree}")


def _situation(example: Example) -> str:
    """What makes two examples the same case: the user message (field, norms, situation, perspective)."""
    return next((m["content"] for m in example.messages if m.get("role") == "user"), "")


def merge(bundles: Sequence[TrainingBundle]) -> tuple[TrainingBundle, list[ContributorReport]]:
    """Pool the bundles. Of near-duplicate examples from different contributors one is kept (a held-out one
    when any of them is held out, so the pool's held-out set stays unseen in training); examples' groups are
    renumbered so no contributor's own ids remain."""
    if len(bundles) < 2:
        raise InvalidInputError("Pooling needs at least two bundles.")
    models = {b.base_model for b in bundles}
    if len(models) > 1:
        raise InvalidInputError("These bundles were made for different base models (" + ", ".join(sorted(models))
                                + "); export them again for the same model.")
    items: list[tuple[int, str, Example]] = []  # (contributor, split, example)
    reports = []
    for k, b in enumerate(bundles):
        reports.append(ContributorReport(k + 1, len(b.train), len(b.eval),
                                         dict(sorted(Counter(e.label for e in b.train + b.eval).items()))))
        items += [(k, "train", e) for e in b.train] + [(k, "eval", e) for e in b.eval]

    drop: set[int] = set()
    for cluster in near_duplicate_clusters([_situation(e) for _, _, e in items]):
        owners = {items[i][0] for i in cluster}
        if len(owners) < 2:
            continue  # one contributor's own near-duplicates: their journal's check already reported them
        for i in cluster:
            others = [j for j in cluster if items[j][0] != items[i][0]]
            reports[items[i][0]].overlaps += 1
            if any(items[j][2].label == items[i][2].label for j in others):
                reports[items[i][0]].agreed += 1
        keep = next((i for i in cluster if items[i][1] == "eval"), cluster[0])
        for i in cluster:
            if i != keep:
                drop.add(i)
                reports[items[i][0]].duplicates_removed += 1

    groups: dict[tuple[int, str], str] = {}
    train, held = [], []
    for i, (k, split, e) in enumerate(items):
        if i in drop:
            continue
        reports[k].kept += 1
        group = groups.setdefault((k, e.group), f"pool-{len(groups) + 1}")
        (train if split == "train" else held).append(replace(e, group=group))
    pool = TrainingBundle(train=train, eval=held, config=dict(bundles[0].config), base_model=bundles[0].base_model,
                          contributors=sum(b.contributors for b in bundles))
    return pool, reports
