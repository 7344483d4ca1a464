"""Classification metrics for the evaluation, and the verdict in plain words (pure Python).

Macro-F1 averages over the labels that occur in the gold answers or the predictions (as scikit-learn does),
so a model that answers one label to everything scores low instead of hiding behind the majority class.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from .prompts import LABELS

GAIN = 0.20  # tuned macro-F1 must beat base by this fraction to "pay off"
MIN_N = 10  # fewer held-out examples than this tell nothing
ONE_LABEL_SHARE = 0.95  # a model giving one answer this often "answers one label to everything"


@dataclass(frozen=True)
class LabelStats:
    precision: float
    recall: float
    f1: float
    support: int  # gold examples with this label
    predicted: int  # predictions of this label


@dataclass(frozen=True)
class Report:
    n: int
    accuracy: float
    accuracy_ci: tuple[float, float]  # Wilson 95%
    macro_f1: float
    labels: tuple[str, ...]  # rows/columns of `confusion`, the labels macro-F1 averages over
    per_label: dict[str, LabelStats]
    confusion: tuple[tuple[int, ...], ...]  # confusion[gold][predicted], in `labels` order
    one_label: str | None  # the label it answers (almost) always, if it does

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_label"] = {k: asdict(v) for k, v in self.per_label.items()}
        d["confusion"] = [list(row) for row in self.confusion]
        d["accuracy_ci"] = list(self.accuracy_ci)
        return d


def _labels(gold: Sequence[str], pred: Sequence[str]) -> tuple[str, ...]:
    seen = set(gold) | set(pred)
    return tuple(label for label in LABELS if label in seen) + tuple(sorted(seen - set(LABELS)))


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    labels = _labels(gold, pred)
    if not labels:
        return 0.0
    tp, n_gold, n_pred = Counter(), Counter(gold), Counter(pred)
    for g, p in zip(gold, pred, strict=True):
        if g == p:
            tp[g] += 1
    return sum(_div(2 * tp[lab], n_gold[lab] + n_pred[lab]) for lab in labels) / len(labels)


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return _div(sum(g == p for g, p in zip(gold, pred, strict=True)), len(gold))


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a proportion (sound at small n and at 0% or 100%)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (0.0 if successes == 0 else centre - half), (1.0 if successes == n else centre + half)


def one_label(pred: Sequence[str], share: float = ONE_LABEL_SHARE) -> str | None:
    """The label a model gives (almost) every time, or None. Needs a few answers to mean anything."""
    if len(pred) < 3:
        return None
    label, count = Counter(pred).most_common(1)[0]
    return label if count >= share * len(pred) else None


def report(gold: Sequence[str], pred: Sequence[str]) -> Report:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    labels = _labels(gold, pred)
    matrix = confusion_matrix(gold, pred, labels)
    per_label = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        precision, recall = _div(tp, predicted), _div(tp, support)
        per_label[label] = LabelStats(precision, recall, _div(2 * tp, support + predicted), support, predicted)
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return Report(
        n=len(gold),
        accuracy=_div(correct, len(gold)),
        accuracy_ci=wilson_interval(correct, len(gold)),
        macro_f1=_div(sum(s.f1 for s in per_label.values()), len(labels)),
        labels=labels,
        per_label=per_label,
        confusion=tuple(tuple(row) for row in matrix),
        one_label=one_label(pred),
    )


def breakdown(gold: Sequence[str], pred: Sequence[str], groups: Sequence[str]) -> dict[str, Report]:
    """A report per group (industry, viewpoint, ...); empty group names become "(none)"."""
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g or "(none)", []).append(i)
    return {g: report([gold[i] for i in idx], [pred[i] for i in idx]) for g, idx in sorted(members.items())}


def bootstrap_ci(gold: Sequence[str], preds: Sequence[Sequence[str]],
                 statistic: Callable[..., float], *, rounds: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(gold, *preds)`, resampling examples (paired across preds)."""
    n = len(gold)
    if n == 0:
        return 0.0, 0.0
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        values.append(statistic([gold[i] for i in idx], *[[p[i] for i in idx] for p in preds]))
    values.sort()
    lo = values[int((1 - level) / 2 * rounds)]
    hi = values[min(rounds - 1, int((1 + level) / 2 * rounds))]
    return lo, hi


def _f1_gain(gold, tuned, base) -> float:
    return macro_f1(gold, tuned) - macro_f1(gold, base)


# --- the verdict -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    code: str  # pays_off | small_gain | no_measurable_gain | no_gain | too_few | few_shot_enough | no_adapter | no_base
    headline: str
    notes: tuple[str, ...] = ()
    gain_ci: tuple[float, float] | None = None  # bootstrap 95% CI of tuned - base macro-F1

    @property
    def text(self) -> str:
        return " ".join((self.headline, *self.notes))


def _pct(new: float, old: float) -> str:
    return f"{(new - old) / old:+.0%}" if old else "from zero"


def verdict(gold: Sequence[str], base: Sequence[str], tuned: Sequence[str] | None = None,
            few_shot: Sequence[str] | None = None, *, gain: float = GAIN, min_n: int = MIN_N) -> Verdict:
    """Does tuning pay off, is few-shot already enough, or is the held-out set too small to tell?"""
    n = len(gold)
    b = macro_f1(gold, base)
    notes = []
    for name, pred in (("The base model", base), ("The few-shot model", few_shot), ("The tuned model", tuned)):
        label = one_label(pred) if pred is not None else None
        if label:
            notes.append(f"{name} answers '{label}' to (almost) everything: it is not reading the situations.")
    if tuned is None:
        if few_shot is None:
            return Verdict("no_adapter", f"No trained adapter yet: base macro-F1 {b:.2f}.", tuple(notes))
        f = macro_f1(gold, few_shot)
        return Verdict("no_adapter", f"No trained adapter yet: few-shot macro-F1 {f:.2f} vs base {b:.2f} "
                       f"({_pct(f, b)}).", tuple(notes))
    t = macro_f1(gold, tuned)
    compared = f"tuned macro-F1 {t:.2f} vs base {b:.2f} ({_pct(t, b)})"
    if n < min_n:
        lo, hi = wilson_interval(sum(g == p for g, p in zip(gold, tuned, strict=True)), n)
        return Verdict("too_few", f"Too few held-out examples to tell (n={n}; tuned accuracy 95% CI "
                       f"{lo:.2f}-{hi:.2f}): {compared}.", tuple(notes))
    ci = bootstrap_ci(gold, [tuned, base], _f1_gain)
    ci_words = f"95% CI of the gain {ci[0]:+.2f} to {ci[1]:+.2f}"
    if one_label(tuned):
        code, headline = "no_gain", f"Tuning does not pay off: {compared}."
    elif t > b and ci[0] <= 0:
        # A gain the bootstrap cannot tell from zero is no gain anyone can count on, however large it looks.
        code, headline = "no_measurable_gain", (f"No measurable gain from tuning: {compared}, but the {ci_words} "
                                                f"includes zero (n={n}).")
    elif t >= b * (1 + gain) and t - b >= 0.05:
        code, headline = "pays_off", f"Tuning pays off: {compared}; {ci_words}."
    elif t > b:
        code, headline = "small_gain", (f"Tuning helps a little: {compared}; {ci_words}, less than the "
                                        f"{gain:.0%} that would make it worth it.")
    else:
        code, headline = "no_gain", f"Tuning does not pay off: {compared}."
    if few_shot is not None and not one_label(few_shot):
        f = macro_f1(gold, few_shot)
        if f >= t - 0.02 and f > b:  # within noise of tuned, and better than nothing
            return Verdict("few_shot_enough", f"Few-shot is already as good as tuning: few-shot macro-F1 "
                           f"{f:.2f} vs tuned {t:.2f} and base {b:.2f}.", (headline, *notes), ci)
    return Verdict(code, headline, tuple(notes), ci)


# --- everything an evaluation reports --------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    n: int
    reports: dict[str, Report]  # column -> report ("base", "few_shot", "tuned")
    by_industry: dict[str, dict[str, Report]]  # column -> industry -> report
    by_viewpoint: dict[str, dict[str, Report]]
    verdict: Verdict
    notes: tuple[str, ...] = field(default=())  # per-group warnings
    majority: Report | None = None  # always answering the most common training label: the floor to beat
    majority_label: str = ""

    def to_dict(self) -> dict:
        out: dict = {"n": self.n}
        if self.majority is not None:
            out["majority"] = {"label": self.majority_label, **_short(self.majority)}
        for name, r in self.reports.items():
            out[name] = {**r.to_dict(),
                         "by_industry": {g: _short(x) for g, x in self.by_industry[name].items()},
                         "by_viewpoint": {g: _short(x) for g, x in self.by_viewpoint[name].items()}}
        out["verdict"] = {"code": self.verdict.code, "headline": self.verdict.headline, "text": self.verdict.text,
                          "gain_ci": list(self.verdict.gain_ci) if self.verdict.gain_ci else None}
        out["notes"] = list(self.notes)
        return out


def _short(r: Report) -> dict:
    return {"n": r.n, "accuracy": r.accuracy, "macro_f1": r.macro_f1, "one_label": r.one_label}


def group_warnings(gold: Sequence[str], base: Sequence[str], tuned: Sequence[str], groups: Sequence[str],
                   kind: str, *, min_n: int = 5, drop: float = 0.2) -> list[str]:
    """Groups where the tuned model is clearly worse than base: habits learned in one place, applied everywhere."""
    out = []
    b, t = breakdown(gold, base, groups), breakdown(gold, tuned, groups)
    for g in b:
        if b[g].n >= min_n and t[g].accuracy <= b[g].accuracy - drop:
            out.append(f"In {kind} '{g}' the tuned model is worse than base "
                       f"(accuracy {t[g].accuracy:.2f} vs {b[g].accuracy:.2f}, n={b[g].n}).")
        if t[g].n >= min_n and t[g].one_label and not b[g].one_label:
            out.append(f"In {kind} '{g}' the tuned model answers '{t[g].one_label}' to everything (n={t[g].n}).")
    return out


COLUMN_NAMES = {"base": "The base model", "few_shot": "The few-shot model", "tuned": "The tuned model"}


def majority_label(labels: Sequence[str]) -> str:
    """The most common label (ties: the first in the usual order)."""
    counts = Counter(labels)
    order = {label: i for i, label in enumerate(LABELS)}
    return min(counts, key=lambda label: (-counts[label], order.get(label, len(order)), label)) if counts else ""


def below_majority(gold: Sequence[str], preds: Mapping[str, Sequence[str]], label: str) -> list[str]:
    """Columns less accurate than always answering `label`."""
    floor = accuracy(gold, [label] * len(gold))
    return [f"{COLUMN_NAMES.get(name, name)} does worse than always answering '{label}' "
            f"(accuracy {accuracy(gold, pred):.2f} vs {floor:.2f})."
            for name, pred in preds.items() if accuracy(gold, pred) < floor]


def compare(gold: Sequence[str], preds: Mapping[str, Sequence[str]], *, industries: Sequence[str] | None = None,
            viewpoints: Sequence[str] | None = None, gain: float = GAIN, min_n: int = MIN_N,
            majority: str | None = None) -> Comparison:
    """Reports, breakdowns and the verdict for columns named "base", "few_shot" and (when trained) "tuned".

    `majority` (the most common label of the training data; default: of `gold`) is the baseline every column
    is shown beside: always answering it."""
    n = len(gold)
    majority = majority or majority_label(gold)
    industries = list(industries) if industries is not None else [""] * n
    viewpoints = list(viewpoints) if viewpoints is not None else [""] * n
    notes: list[str] = []
    if "tuned" in preds and "base" in preds:
        notes += group_warnings(gold, preds["base"], preds["tuned"], industries, "industry")
        notes += group_warnings(gold, preds["base"], preds["tuned"], viewpoints, "viewpoint")
    return Comparison(
        n=n,
        reports={k: report(gold, p) for k, p in preds.items()},
        by_industry={k: breakdown(gold, p, industries) for k, p in preds.items()},
        by_viewpoint={k: breakdown(gold, p, viewpoints) for k, p in preds.items()},
        verdict=(verdict(gold, preds["base"], preds.get("tuned"), preds.get("few_shot"), gain=gain, min_n=min_n)
                 if "base" in preds else Verdict("no_base", f"Only {', '.join(preds)} evaluated: no comparison "
                                                 "with the base model.")),
        notes=tuple(below_majority(gold, preds, majority) + notes) if majority else tuple(notes),
        majority=report(gold, [majority] * n) if majority and n else None,
        majority_label=majority or "",
    )
