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
    """The situation itself, without the field, the norms or the perspective asked for."""
    user = next((m["content"] for m in example.messages if m.get("role") == "user"), "")
    part = next((p for p in user.split("\n\n") if p.startswith("Situation: ")), user)
    return part.removeprefix("Situation: ")


def merge(bundles: Sequence[TrainingBundle]) -> tuple[TrainingBundle, list[ContributorReport]]:
    """Pool the bundles. The same case is a near-duplicate situation (dataset.similarity) seen from the same
    perspective; where contributors share a case, one contributor's examples of it are kept (one with a held-out
    example when any, so the pool's held-out set stays unseen in training) and the others' dropped. A journal's
    own near-duplicates are left as its readiness check let them be. Example groups are renumbered, so no
    contributor's ids remain."""
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
        if len({items[i][0] for i in cluster}) < 2:
            continue
        cases: dict[str, list[int]] = {}
        for i in cluster:
            cases.setdefault(items[i][2].viewpoint.strip().casefold(), []).append(i)
        for case in cases.values():
            owners = sorted({items[i][0] for i in case})
            if len(owners) < 2:
                continue
            for i in case:
                reports[items[i][0]].overlaps += 1
                if any(items[j][2].label == items[i][2].label for j in case if items[j][0] != items[i][0]):
                    reports[items[i][0]].agreed += 1
            keeper = next((items[i][0] for i in case if items[i][1] == "eval"), owners[0])
            for i in case:
                if items[i][0] != keeper:
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
