"""Journal speed on 10 000 scenarios: import, FTS search p95, first page of 100 rows, unlock.

    .venv/bin/python benchmarks/journal_speed.py [--scenarios 10000]

Prints a table of measured figures against the targets of the vault/journal issue.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from localtune import privacy
from localtune.journal import Perspective, Scenario
from localtune.journal.repository import Filters, Journal
from localtune.paths import resolve
from localtune.vault import Vault

WORDS = ["deadline", "manager", "shift", "handover", "review", "estimate", "overtime", "patient", "client", "audit", "budget", "roster", "feedback", "meeting", "promotion", "complaint", "policy", "sprint", "release", "ward", "lab", "grant", "customer", "invoice", "warehouse", "safety", "schedule", "bonus", "target", "colleague", "email", "training", "contract", "incident", "weekend", "night", "supervisor"]
INDUSTRIES = ["Software engineering", "Hospital nursing", "Academic research", "Retail", "Hospitality", "Finance", "Law"]


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    """Everyday words plus invented ones, drawn with Zipf-like weights as in real prose."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    invented = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)}
    words = WORDS + sorted(invented)
    rng.shuffle(words)  # workplace words land at all frequencies, not only the top
    return words


def make(rng: random.Random, i: int, vocab: list[str], weights: list[float]) -> Scenario:
    text = lambda n: " ".join(rng.choices(vocab, weights, k=n))  # noqa: E731
    return Scenario(
        situation=f"Entry {i}. " + text(rng.randint(30, 250)),
        context=text(30), industry=rng.choice(INDUSTRIES), occurred_on=f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        people=["Ana", "Bo"], tags=[rng.choice(WORDS)],
        perspectives=[Perspective(v, rng.choice(["reasonable", "problematic", "mixed"]), text(rng.randint(60, 150)))
                      for v in (["employee", "manager"] if i % 3 == 0 else ["employee"])],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=int, default=10_000)
    n = parser.parse_args().scenarios
    privacy.harden()
    rng = random.Random(7)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    scenarios = [make(rng, i, vocab, weights) for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as home:
        paths = resolve(home).ensure()
        vault = Vault.create(paths, "benchmark passphrase")
        journal = Journal(vault)
        t = time.perf_counter()
        journal.add_many(scenarios)
        rows.append((f"import {n} scenarios", time.perf_counter() - t, 10.0, "s"))

        queries = [" ".join(rng.choices(vocab, weights, k=rng.randint(1, 3))) for _ in range(200)]
        queries += [w[:4] for w in WORDS]  # search as you type: short prefixes of the commonest words
        timings = []
        for q in queries:
            t = time.perf_counter()
            journal.search(q, limit=100)
            timings.append(time.perf_counter() - t)
        rows.append(("FTS search p95 (ranked, 100 rows)", statistics.quantiles(timings, n=20)[18] * 1000, 50.0, "ms"))
        timings = []
        for q in queries[:50]:
            t = time.perf_counter()
            journal.ids(q, Filters(industry="Retail", assessment="problematic"))
            timings.append(time.perf_counter() - t)
        rows.append(("filtered search p95 (all ids)", statistics.quantiles(timings, n=20)[18] * 1000, 50.0, "ms"))

        timings = []
        for _ in range(30):
            t = time.perf_counter()
            journal.get_many(journal.ids(limit=100))
            timings.append(time.perf_counter() - t)
        rows.append(("first page of 100 rows (median)", statistics.median(timings) * 1000, 20.0, "ms"))
        vault.lock()

        timings = []
        for _ in range(5):
            t = time.perf_counter()
            Vault.open(paths, "benchmark passphrase").lock()
            timings.append(time.perf_counter() - t)
        rows.append(("unlock incl. integrity check (median)", statistics.median(timings), 1.5, "s"))

    print(f"\n{'measure':<40} {'value':>10} {'target':>10}  ok")
    for name, value, target, unit in rows:
        print(f"{name:<40} {value:>8.2f}{unit:>2} {target:>8.1f}{unit:>2}  {'yes' if value <= target else 'NO'}")


if __name__ == "__main__":
    main()
