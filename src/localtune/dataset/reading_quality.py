"""Is a generated reading worth reading? Repetition, variety and what it states, in plain Python.

Small models under greedy decoding fall into loops ("The plan was to take on a new team, and the plan was to
take on a new team, ..."). These measures name that in words instead of showing it as an analysis, and the
reading-quality benchmark reports them over many readings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from .prompts import LABELS

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


def stated_assessment(text: str) -> str | None:
    """The one assessment label the prose names, or None when it names none or several ("a mix of both
    reasonable and problematic" states no single label)."""
    found = {m.group(1).lower() for m in _STATED.finditer(text)}
    return found.pop() if len(found) == 1 else None
