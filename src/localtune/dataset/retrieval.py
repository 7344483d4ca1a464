"""Few-shot retrieval: the journal entries most like a new situation, by TF-IDF cosine (pure Python).

Words that occur in every document (the prompt's fixed wording, "the", ...) get an IDF of zero, so the
shared template never makes two entries look alike; what is left is what the situations are about.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from .prompts import Example

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# A handful of words so frequent that, in a small journal, they would still carry weight.
_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "had", "has", "have", "he", "her",
    "his", "i", "in", "is", "it", "its", "of", "on", "or", "she", "that", "the", "their", "them", "they",
    "this", "to", "was", "were", "which", "who", "with",
))


def stem(word: str) -> str:
    """A crude English suffix-stripper: enough that nurse/nurses/nursing or refund/refunded meet."""
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.casefold()) if w not in _STOP]


def example_text(example: Example) -> str:
    """What an example is about: its user message (field, norms, situation, viewpoint)."""
    return "\n".join(m["content"] for m in example.messages if m["role"] == "user")


def scenario_text(situation: str, context: str = "", industry: str = "") -> str:
    return "\n".join(t for t in (industry, context, situation) if t)


class Retriever:
    """TF-IDF vectors of a fixed set of documents; `nearest` ranks them against a query by cosine."""

    def __init__(self, documents: Sequence[str]):
        counts = [Counter(words(d)) for d in documents]
        n = len(counts)
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        # ln(N/df): zero for a word every document has. Sublinear tf: a word said five times is not 5x the topic.
        self.idf = {w: math.log(n / k) for w, k in df.items()}
        self.vectors = [self._vector(c) for c in counts]

    def __len__(self) -> int:
        return len(self.vectors)

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {w: (1 + math.log(c)) * self.idf.get(w, 0.0) for w, c in counts.items()}
        vec = {w: v for w, v in vec.items() if v > 0}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {w: v / norm for w, v in vec.items()} if norm else {}

    def scores(self, query: str) -> list[float]:
        q = self._vector(Counter(words(query)))
        return [sum(v * doc.get(w, 0.0) for w, v in q.items()) for doc in self.vectors]

    def nearest(self, query: str, k: int, *, exclude: Sequence[int] = ()) -> list[tuple[int, float]]:
        """Up to k (index, cosine) pairs, most similar first; ties keep document order; zero scores omitted."""
        skip = set(exclude)
        ranked = sorted(
            ((i, s) for i, s in enumerate(self.scores(query)) if i not in skip and s > 0),
            key=lambda pair: -pair[1],
        )
        return ranked[:max(k, 0)]


def nearest_examples(pool: Sequence[Example], query: Example | str, k: int,
                     *, retriever: Retriever | None = None) -> list[Example]:
    """The k examples of `pool` most like `query`, never one from the query's own scenario (its group).

    Pass a `retriever` built on `[example_text(e) for e in pool]` to reuse it across many queries.
    """
    retriever = retriever or Retriever([example_text(e) for e in pool])
    if isinstance(query, str):
        text, group = query, ""
    else:
        text, group = example_text(query), query.group
    exclude = [i for i, e in enumerate(pool) if group and e.group == group]
    return [pool[i] for i, _ in retriever.nearest(text, k, exclude=exclude)]
