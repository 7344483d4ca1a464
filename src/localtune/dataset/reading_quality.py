"""Is a generated reading worth reading? Repetition, variety and what it states, in plain Python.

Small models under greedy decoding fall into loops ("The plan was to take on a new team, and the plan was to
take on a new team, ..."). These measures name that in words instead of showing it as an analysis, and the
reading-quality benchmark reports them over many readings.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .prompts import LABELS, parse_completion

REPEAT_N = 4  # a phrase of this many words ...
REPEAT_TIMES = 3  # ... occurring this often marks a reading as repeating itself
MIN_DISTINCT_2 = 0.5  # fewer distinct word pairs than this share (over >= MIN_WORDS words) is a loop too
MIN_WORDS = 20
REPEATING = "This model is repeating itself: the reading loops instead of analysing the situation."

_WORD = re.compile(r"[\w'’-]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def most_repeated(text: str, n: int = REPEAT_N) -> tuple[str, int]:
    """The `n`-word phrase that occurs most often in `text`, and how often ("", 0 when there is none)."""
    counts = Counter(ngrams(words(text), n))
    if not counts:
        return "", 0
    gram, times = counts.most_common(1)[0]
    return " ".join(gram), times


def distinct_n(text: str, n: int = 2) -> float:
    """Share of the `n`-word phrases of `text` that are distinct (1.0: no phrase twice; 1.0 for very short text)."""
    grams = ngrams(words(text), n)
    return len(set(grams)) / len(grams) if grams else 1.0


def repetition(text: str) -> str | None:
    """Plain words when `text` is degenerate (a phrase repeated, or little variety), else None."""
    phrase, times = most_repeated(text)
    if times >= REPEAT_TIMES:
        return f"{REPEATING[:-1]} (\u201c{phrase}\u201d {times} times)."
    if len(words(text)) >= MIN_WORDS and distinct_n(text, 2) < MIN_DISTINCT_2:
        return f"{REPEATING[:-1]} (only {distinct_n(text, 2):.0%} of its word pairs are distinct)."
    return None


_STATED = re.compile(r"\b(" + "|".join(LABELS) + r")\b", re.IGNORECASE)
# A label word the prose negates ("not reasonable", "isn't problematic") says the opposite of the word.
_NEGATED = re.compile(r"\b(?:not|never|hardly|isn't|wasn't|aren't|weren't|no longer)\s+(?!only\b)(?:\w+\s+)?"
                      r"(reasonable|problematic|acceptable|appropriate|fair|justified|wrong)\b", re.IGNORECASE)
# What prose says when it judges without the label word itself. Checked after negations are taken out.
_JUDGEMENT = {
    "problematic": re.compile(r"\b(unreasonable|unacceptable|inappropriate|unfair|unjustified|unprofessional|"
                              r"problematic|wrong|a breach|breache[sd]|violat(?:es|ed|ion)|crossed a line|"
                              r"out of line|should not have|shouldn't have|was a mistake|at fault)\b", re.IGNORECASE),
    "reasonable": re.compile(r"\b(reasonable|acceptable|appropriate|fair|justified|sensible|"
                             r"within (?:the|their|his|her) (?:rights|remit|norms)|in line with|"
                             r"did (?:the )?right|was right to)\b", re.IGNORECASE),
}
# "not only X but also Y" adds Y to X: neither a negation nor a mixed judgement.
_NOT_ONLY = re.compile(r"\bnot only\b([^.!?]*?)\bbut also\b", re.IGNORECASE)
_MIXED = re.compile(r"\b(mixed|both reasonable and problematic|on (?:the )?one hand|partly|in part|"
                    r"but also|a mix of)\b", re.IGNORECASE)
_OPPOSITE = {"reasonable": "problematic", "acceptable": "problematic", "appropriate": "problematic",
             "fair": "problematic", "justified": "problematic", "problematic": "reasonable", "wrong": "reasonable"}


def stated_assessment(text: str) -> str | None:
    """The one assessment label the prose names, or None when it names none or several ("a mix of both
    reasonable and problematic" states no single label)."""
    found = {m.group(1).lower() for m in _STATED.finditer(text)}
    return found.pop() if len(found) == 1 else None


def judged_assessment(text: str) -> str | None:
    """What the text itself judges, read from its words and not only from an "Assessment:" line: "this is not
    reasonable" or "a breach of the rota rules" judge *problematic*, "within her rights" *reasonable*, "on one
    hand ... but also" *mixed*. None when it judges nothing, or both ways without saying it is mixed."""
    votes: Counter = Counter()
    text = _NOT_ONLY.sub(r"\1", text)
    for m in _NEGATED.finditer(text):
        votes[_OPPOSITE.get(m.group(1).lower(), "problematic")] += 1
    rest = _NEGATED.sub(" ", text)
    if _MIXED.search(rest):
        return "mixed"
    for label, pattern in _JUDGEMENT.items():
        votes[label] += len(pattern.findall(rest))
    if not votes:
        return None
    (top, count), *others = votes.most_common()
    if others and others[0][1] == count:
        return None  # as much one way as the other: not a judgement we can name
    return top


def disagreement(text: str, badge: str) -> str | None:
    """Plain words when the text judges otherwise than the badge (the most likely label), else None."""
    judged = judged_assessment(text)
    if judged is None or badge not in LABELS or judged == badge:
        return None
    return f"The text reads as \u201c{judged}\u201d, but the badge says \u201c{badge}\u201d."


def token_f1(a: str, b: str) -> float:
    """Word-overlap F1 of two texts (SQuAD's token-F1 on lowercased words): how much of the journal's own
    analysis a reading covers, and how much of the reading is in it."""
    x, y = Counter(words(a)), Counter(words(b))
    common = sum((x & y).values())
    if not common:
        return 0.0
    p, r = common / sum(x.values()), common / sum(y.values())
    return 2 * p * r / (p + r)


@dataclass(frozen=True)
class Reading:
    """One generated reading as the measures see it."""

    text: str
    stated: str  # the label its text states ("unclear": none)
    badge: str  # the most likely label
    ended: bool  # ended before the hard cap
    reference: str = ""  # the journal's own analysis of that perspective


def measures(readings: Sequence[Reading]) -> dict:
    """Share looping (a 4-word phrase 3+ times), distinct-2, mean words, share ending before the cap, token-F1
    against the journal's own analysis, and agreement of the text's assessment with the badge (of the readings
    whose text states or judges one; None when none does)."""
    if not readings:
        return {"n": 0}
    texts = [r.text for r in readings]
    judged = [(r.stated if r.stated in LABELS else judged_assessment(r.text), r.badge) for r in readings]
    judged = [(j, b) for j, b in judged if j]
    return {
        "n": len(readings),
        "looping": sum(most_repeated(t)[1] >= REPEAT_TIMES for t in texts) / len(texts),
        "distinct_2": statistics.mean(distinct_n(t, 2) for t in texts),
        "words": statistics.mean(len(words(t)) for t in texts),
        "ended": sum(r.ended for r in readings) / len(readings),
        "token_f1": statistics.mean(token_f1(r.text, r.reference) for r in readings),
        "agreement": sum(j == b for j, b in judged) / len(judged) if judged else None,
    }


def reading_measures(examples: Sequence, readings: Sequence) -> dict:
    """Reading-quality measures of one column's generated analyses (events.Analysis) of `examples`, overall and
    per industry/viewpoint."""
    rows = [Reading(a.text, a.stated, a.assessment, a.stop != "cap", parse_completion(e.completion)[1])
            for e, a in zip(examples, readings, strict=True)]
    out = measures(rows)
    for key, attr in (("by_industry", "industry"), ("by_viewpoint", "viewpoint")):
        groups: dict[str, list] = {}
        for e, row in zip(examples, rows, strict=True):
            groups.setdefault(getattr(e, attr), []).append(row)
        out[key] = {g: measures(rs) for g, rs in sorted(groups.items())}
    return out
