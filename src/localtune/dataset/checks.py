"""The readiness report behind `localtune-cli check`: is the journal good enough to train on, and if not,
what to fix. Blocking problems stop training; warnings do not."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import combinations

from ..errors import DatasetNotReady
from ..journal.models import Scenario
from .examples import Prepared, prepare
from .prompts import LABELS, Example
from .redact import NameIndex, Redactor, name_key
from .similarity import near_duplicate_clusters
from .split import EVAL_FRACTION, Split, SplitSummary, split_prepared

MINIMUM, PREFERRED, GOOD = 50, 100, 200
DOMINANT_SHARE = 0.7
MIN_FOR_BALANCE = 5  # a viewpoint with fewer examples says little about balance
MIN_FOR_KAPPA = 5
OPPOSITE = ("reasonable", "problematic")
MAX_NAME_FINDINGS = 10


@dataclass
class Finding:
    code: str
    message: str  # plain words: what is wrong and what to do
    scenario_ids: list[int | str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Agreement:
    """Cohen's kappa between two viewpoints over the n scenarios that carry both (None: undefined)."""

    viewpoints: tuple[str, str]
    n: int
    kappa: float | None
    observed: float  # share of scenarios where they agree

    def to_dict(self) -> dict:
        return {"viewpoints": list(self.viewpoints), "n": self.n, "kappa": self.kappa, "observed": self.observed}


@dataclass
class Report:
    example_count: int = 0
    scenario_count: int = 0
    level: str = "too few"  # too few / minimum / preferred / good
    blocking: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    balance: dict[str, dict[str, int]] = field(default_factory=dict)  # viewpoint -> label -> examples
    agreement: list[Agreement] = field(default_factory=list)
    near_duplicates: list[list[int | str]] = field(default_factory=list)
    long_examples: int = 0
    max_tokens: int = 1024
    split: SplitSummary | None = None
    # The split itself, for training; never part of to_dict() (it holds the journal's text).
    train: list[Example] = field(default_factory=list, repr=False)
    eval: list[Example] = field(default_factory=list, repr=False)

    @property
    def ready(self) -> bool:
        return not self.blocking

    def raise_if_not_ready(self) -> None:
        if self.blocking:
            raise DatasetNotReady(
                "The journal is not ready to train on yet:\n" + "\n".join(f"- {f.message}" for f in self.blocking)
            )

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "example_count": self.example_count,
            "scenario_count": self.scenario_count,
            "level": self.level,
            "thresholds": {"minimum": MINIMUM, "preferred": PREFERRED, "good": GOOD},
            "blocking": [f.to_dict() for f in self.blocking],
            "warnings": [f.to_dict() for f in self.warnings],
            "labels": dict(self.labels),
            "balance": {v: dict(c) for v, c in self.balance.items()},
            "agreement": [a.to_dict() for a in self.agreement],
            "near_duplicates": [list(g) for g in self.near_duplicates],
            "long_examples": self.long_examples,
            "max_tokens": self.max_tokens,
            "split": self.split.to_dict() if self.split else None,
        }

    def render(self, *, max_findings: int = 10) -> str:
        lines = [f"Ready to train: {'yes' if self.ready else 'no'}"]
        lines.append(
            f"Examples: {self.example_count} from {self.scenario_count} scenarios ({self.level}; "
            f"{MINIMUM} minimum, {PREFERRED} preferred, {GOOD} good)"
        )
        if self.balance:
            lines.append("Assessments by viewpoint:")
            for viewpoint, counts in self.balance.items():
                lines.append(f"  {viewpoint}: " + ", ".join(f"{label} {n}" for label, n in counts.items()))
        if self.agreement:
            lines.append("Agreement between viewpoints (Cohen's kappa):")
            for a in self.agreement:
                kappa = "n/a" if a.kappa is None else f"{a.kappa:.2f}"
                lines.append(f"  {a.viewpoints[0]} vs {a.viewpoints[1]}: {kappa} over {a.n} scenarios")
        if self.split:
            s = self.split
            lines.append(
                f"Held-out split: {s.train_examples} examples to train on, {s.eval_examples} held out "
                f"({s.train_scenarios} / {s.eval_scenarios} scenarios; {s.marked_eval} marked eval by you)"
            )
            for label, sides in s.per_label.items():
                lines.append(f"  {label}: {sides['train']} train, {sides['eval']} held out")
        for title, findings in (("Blocking problems (fix these first)", self.blocking), ("Warnings", self.warnings)):
            if not findings:
                continue
            lines.append(f"{title}:")
            by_code = defaultdict(list)
            for f in findings:
                by_code[f.code].append(f)
            for same in by_code.values():
                for f in same[:max_findings]:
                    ids = ", ".join(map(str, f.scenario_ids[:12])) + (" ..." if len(f.scenario_ids) > 12 else "")
                    lines.append(f"  - {f.message}" + (f" [scenarios: {ids}]" if ids else ""))
                if len(same) > max_findings:
                    lines.append(f"  - ... and {len(same) - max_findings} more like this")
        return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """About 1.4 tokens a word for English with a small model's tokenizer: good enough to warn."""
    return math.ceil(len(text.split()) * 1.4)


def example_text(example: Example) -> str:
    return "\n".join(m["content"] for m in example.messages) + "\n" + example.completion


def cohen_kappa(pairs: list[tuple[str, str]]) -> tuple[float | None, float]:
    """(kappa, observed agreement) for two raters' labels; kappa is None when chance agreement is 1."""
    n = len(pairs)
    if not n:
        return None, 0.0
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first) / (n * n)
    if expected >= 1.0:
        return None, observed
    return (observed - expected) / (1 - expected), observed


def _ids(refs: Iterable[int | str]) -> list[int | str]:
    return sorted(set(refs), key=lambda r: (isinstance(r, str), r))


def _unlisted_people(usable: list) -> list[Finding]:
    """One finding per person (most exposed first, up to MAX_NAME_FINDINGS) whose name is left in the redacted
    text of entries that do not list them."""
    index = NameIndex(name for p in usable for name in p.scenario.people)
    listed_in = Counter(name_key(name) for p in usable for name in set(p.scenario.people))
    exposed: dict[str, list] = defaultdict(list)
    for p in usable:
        texts = {m["content"] for e in p.examples for m in e.messages if m["role"] != "system"}
        texts |= {e.completion for e in p.examples}
        for name in index.mentioned("\n".join(sorted(texts))):
            exposed[name].append(p.ref)
    ranked = sorted(exposed.items(), key=lambda kv: (-len(kv[1]), name_key(kv[0])))
    findings = [
        Finding(
            "unlisted_name",
            f"'{name}' is among the people of {_plural(listed_in[name_key(name)], 'scenario')} but is named, "
            f"unlisted, in {_plural(len(refs), 'other')}, where the model would read the name: add '{name}' to "
            "their people, or to the names to redact in every entry.",
            _ids(refs),
        )
        for name, refs in ranked[:MAX_NAME_FINDINGS]
    ]
    if rest := ranked[MAX_NAME_FINDINGS:]:
        findings.append(Finding(
            "unlisted_name",
            f"{len(rest)} more {'person is' if len(rest) == 1 else 'people are'} named in scenarios that do not "
            f"list them: {', '.join(name for name, _ in rest)}.",
            _ids(ref for _, refs in rest for ref in refs),
        ))
    return findings


def _plural(n: int, word: str, verb: str = "") -> str:
    """'1 perspective has' / '2 perspectives have'."""
    verbs = {"has": "have", "is": "are"}
    return f"{n} {word}" + ("" if n == 1 else "s") + (f" {verb if n == 1 else verbs.get(verb, verb)}" if verb else "")


@dataclass(frozen=True)
class Dataset:
    """What training reads from a journal: every scenario redacted with its examples, the near-duplicate
    clusters (indices into `prepared`) and the held-out split. Built once per journal revision; checked apart."""

    prepared: tuple[Prepared, ...]
    clusters: tuple[tuple[int, ...], ...]
    split: Split

    @property
    def usable(self) -> list[Prepared]:
        return [p for p in self.prepared if p.examples]

    @property
    def examples(self) -> list[Example]:
        return [e for p in self.prepared for e in p.examples]


def build_dataset(scenarios: Iterable[Scenario], *, redactor: Redactor | None = None,
                  eval_fraction: float = EVAL_FRACTION) -> Dataset:
    """Redact, make the examples, find near-duplicates and split: the training set, without judging it."""
    redactor = redactor or Redactor()
    prepared = tuple(prepare(s, redactor) for s in scenarios)
    clusters = tuple(tuple(c) for c in near_duplicate_clusters([p.situation for p in prepared]))
    return Dataset(prepared, clusters, split_prepared(prepared, clusters, eval_fraction=eval_fraction))


def readiness(
    scenarios: Iterable[Scenario],
    *,
    redactor: Redactor | None = None,
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int = 1024,
    eval_fraction: float = EVAL_FRACTION,
) -> Report:
    """Build the dataset and check it."""
    return check_dataset(build_dataset(scenarios, redactor=redactor, eval_fraction=eval_fraction),
                         count_tokens=count_tokens, max_tokens=max_tokens)


def check_dataset(dataset: Dataset, *, count_tokens: Callable[[str], int] | None = None,
                  max_tokens: int = 1024) -> Report:
    """Is this dataset fit to train on: counts, balance, duplicates, contradictions, names, agreement, length."""
    count_tokens = count_tokens or estimate_tokens
    prepared = dataset.prepared
    usable = dataset.usable
    examples = dataset.examples
    report = Report(example_count=len(examples), scenario_count=len(usable), max_tokens=max_tokens)
    block, warn = report.blocking.append, report.warnings.append

    # Entries that give fewer examples than they seem to.
    unsupported = [p.ref for p in prepared if p.scenario.use != "exclude" for q in p.scenario.perspectives if q.assessment not in LABELS]
    if unsupported:
        warn(Finding(
            "unsupported_label",
            f"{_plural(len(unsupported), 'perspective', 'has')} an assessment other than "
            f"{', '.join(LABELS)}; such perspectives are left out of training: change the assessment to one of those.",
            _ids(unsupported),
        ))
    empty = [p.ref for p in usable for q in p.scenario.perspectives if q.assessment in LABELS and not q.analysis.strip()]
    if empty:
        warn(Finding(
            "empty_analysis",
            f"{_plural(len(empty), 'perspective', 'has')} no written analysis, so the model learns only the label "
            "from them: add a few sentences explaining the assessment.",
            _ids(empty),
        ))
    bare = [p.ref for p in prepared if p.scenario.use != "exclude" and not p.scenario.perspectives]
    if bare:
        warn(Finding(
            "no_perspective",
            f"{_plural(len(bare), 'scenario', 'has')} no perspective yet, so no example: add an assessment.",
            _ids(bare),
        ))

    # How many examples.
    n = len(examples)
    report.level = "good" if n >= GOOD else "preferred" if n >= PREFERRED else "minimum" if n >= MINIMUM else "too few"
    if n < MINIMUM:
        block(Finding(
            "too_few_examples",
            f"There are {n} examples; training needs at least {MINIMUM}. Add {MINIMUM - n} more perspectives "
            "(each perspective of a scenario is one example).",
        ))
    elif n < PREFERRED:
        warn(Finding(
            "few_examples",
            f"{n} examples are enough to start, but {PREFERRED} or more give clearly better results: "
            f"add {PREFERRED - n} more when you can.",
        ))

    # Label balance, overall and per viewpoint.
    report.labels = dict(sorted(Counter(e.label for e in examples).items(), key=lambda kv: LABELS.index(kv[0])))
    if len(report.labels) == 1:
        (only,) = report.labels
        block(Finding(
            "single_label",
            f"Every example is assessed '{only}': the model would learn to say that always. Add scenarios "
            f"assessed {' or '.join(label for label in LABELS if label != only)}.",
        ))
    by_viewpoint: dict[str, Counter] = defaultdict(Counter)
    shown: dict[str, str] = {}
    for e in examples:
        key = e.viewpoint.strip().casefold()
        shown.setdefault(key, e.viewpoint.strip() or "(no viewpoint)")
        by_viewpoint[key][e.label] += 1
    for key, counts in sorted(by_viewpoint.items(), key=lambda kv: -sum(kv[1].values())):
        name = shown[key]
        report.balance[name] = {label: counts[label] for label in LABELS if counts[label]}
        total = sum(counts.values())
        label, top = counts.most_common(1)[0]
        if total >= MIN_FOR_BALANCE and top / total > DOMINANT_SHARE and len(report.labels) > 1:
            warn(Finding(
                "label_imbalance",
                f"For the {name} viewpoint, {top} of {total} examples ({top / total:.0%}) are '{label}': the model "
                f"may lean towards it. Add {name} perspectives with other assessments.",
            ))

    # Near-duplicates and contradictions.
    clusters = dataset.clusters
    report.near_duplicates = [[prepared[i].ref for i in c] for c in clusters]
    for group in report.near_duplicates:
        warn(Finding(
            "near_duplicate",
            f"Scenarios {', '.join(map(str, group))} describe nearly the same situation: keep the best one or set "
            "the others to 'exclude'. (They stay on the same side of the held-out split.)",
            list(group),
        ))
    in_cluster = {i for c in clusters for i in c}
    for group in [*clusters, *([i] for i in range(len(prepared)) if i not in in_cluster)]:
        views: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for i in group:
            for e in prepared[i].examples:
                views[e.viewpoint.strip().casefold()][e.label].append(prepared[i].ref)
        for key, labelled in views.items():
            if all(labelled.get(label) for label in OPPOSITE):
                same = len(group) == 1
                where = f"Scenario {prepared[group[0]].ref} has" if same else "Nearly identical scenarios have"
                warn(Finding(
                    "contradiction",
                    f"{where} both 'reasonable' and 'problematic' from the {shown.get(key, key)} viewpoint: decide "
                    "which is right, or say in the situation what makes the cases different.",
                    _ids(labelled["reasonable"] + labelled["problematic"]),
                ))

    # Names: someone among one entry's people, written but not listed in another, reaches the model there.
    for finding in _unlisted_people(usable):
        warn(finding)

    # Agreement between viewpoints that assess the same scenarios.
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p in usable:
        first: dict[str, str] = {}
        for e in p.examples:
            first.setdefault(e.viewpoint.strip().casefold(), e.label)
        for a, b in combinations(sorted(first), 2):
            pairs[a, b].append((first[a], first[b]))
    for (a, b), labelled in sorted(pairs.items()):
        if len(labelled) >= MIN_FOR_KAPPA:
            kappa, observed = cohen_kappa(labelled)
            report.agreement.append(Agreement((shown[a], shown[b]), len(labelled), kappa, observed))

    # Length against the sequence limit.
    long_refs = [p.ref for p in usable for e in p.examples if count_tokens(example_text(e)) > max_tokens]
    report.long_examples = len(long_refs)
    if long_refs:
        warn(Finding(
            "too_long",
            f"{_plural(len(long_refs), 'example', 'is')} longer than the {max_tokens}-token limit and would be cut "
            "off: shorten their situation, context or analysis.",
            _ids(long_refs),
        ))

    # The held-out split.
    split = dataset.split
    report.split, report.train, report.eval = split.summary, split.train, split.eval
    if examples and not split.train:
        block(Finding(
            "nothing_to_train",
            "Every usable scenario is marked 'eval' (held out): set most of them to 'train'.",
            _ids(p.ref for p in usable),
        ))
    elif examples and not split.eval:
        warn(Finding(
            "nothing_held_out",
            "No example could be held out, so training cannot be checked on unseen entries: add more scenarios.",
        ))
    for label, side in split.summary.missing:
        if report.labels.get(label, 0) < 2:
            message = f"Only one example is '{label}', so it cannot be both trained on and held out: add more."
        elif side == "train":
            message = f"Every '{label}' example is held out (marked 'eval'): set some of them to 'train'."
        else:
            message = f"No '{label}' example is held out: mark a few of them 'eval'."
        warn(Finding("split_missing_label", message))
    return report
