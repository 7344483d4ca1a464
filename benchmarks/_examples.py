"""Synthetic-but-plausible chat examples of mixed length for the training benchmark (seeded)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from localtune.dataset.prompts import LABELS, Example, completion_text, prompt_messages

FIELDS = {
    "Software engineering": "Shipping small changes behind flags is normal; skipping review on billing or personal data is not.",
    "Nursing": "Medication checks are done by two nurses; handovers are written and spoken; patient safety overrides schedules.",
    "Construction": "Nobody works at height without a harness; the site manager signs off every change to the plan.",
    "Accounting": "Month-end figures are reviewed by a second person; nobody edits a closed period without approval.",
    "Retail": "Refunds above a threshold need a supervisor; staff rotate unpopular shifts fairly.",
    "Academic research": "Authorship follows contribution; data are shared within the lab; deadlines are negotiated early.",
}
PEOPLE = ["Amira", "Tomasz", "Ines", "Kwame", "Lena", "Rafael", "Sun-hee", "Priya", "Jonas", "Maren"]
OPENERS = [
    "On Monday morning {a} asked {b} to take over a task that had been promised to another team.",
    "During the weekly meeting {a} criticised {b}'s work in front of the whole group.",
    "{a} changed the plan for the week without telling {b}, who found out from a client.",
    "Late on Friday {a} asked {b} to stay two extra hours to finish a report due on Monday.",
    "{a} noticed that {b} had skipped a required check and raised it quietly after the shift.",
    "{a} took credit in an e-mail to the director for an idea {b} had proposed a month earlier.",
]
DETAILS = [
    "It was the third time this month that something like this had happened.",
    "{b} had already told the team that the deadline could not be met with the current staffing.",
    "Nobody had written down who was responsible for the handover.",
    "The client had complained twice about delays in the previous quarter.",
    "{a} said afterwards that there had been no time to discuss it properly.",
    "A colleague who saw it said the tone was sharper than usual.",
    "The written procedure allows exceptions, but only with a manager's approval.",
    "{b} replied calmly and asked to talk about it in private the next day.",
    "The decision saved the team a day of work but left one step unchecked.",
    "Two other colleagues had been asked the same thing before and had agreed.",
]
REASONS = [
    "The field's norms put safety and clear responsibility ahead of speed, and this choice respected that.",
    "Doing this in public rather than in private makes a fair point land as a humiliation.",
    "A change that affects someone else's work should be announced before it is made, not after.",
    "Asking for extra time is fair when it is rare, explained and compensated; here it was none of those.",
    "Raising a skipped check privately and promptly is what a good colleague does.",
    "Credit for ideas matters for careers, and the written record now tells the wrong story.",
    "The outcome was fine, but the process relied on luck rather than on the agreed checks.",
    "Both people acted in good faith, and the real problem is an unclear division of work.",
]
VIEWS = ["employee", "manager", "HR", "colleague"]


def demo_examples() -> list[Example]:
    path = Path(__file__).resolve().parents[1] / "src/localtune/resources/demo"
    out = []
    for f in sorted(path.glob("*.jsonl")) if path.is_dir() else []:
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            s = json.loads(line)
            for p in s.get("perspectives", []):
                out.append(Example(prompt_messages(situation=s["situation"], industry=s.get("industry", ""),
                                                   context=s.get("context", ""), viewpoint=p["viewpoint"]),
                                   completion_text(p["assessment"], p.get("analysis", "")), p["assessment"],
                                   p["viewpoint"], s.get("industry", ""), s["situation"][:40]))
    return out


def synthetic_examples(n: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        industry = rng.choice(list(FIELDS))
        a, b = rng.sample(PEOPLE, 2)
        sentences = [rng.choice(OPENERS)] + rng.sample(DETAILS, rng.randint(0, 6))
        situation = " ".join(s.format(a=a, b=b) for s in sentences)
        label = rng.choice(LABELS)
        analysis = " ".join(rng.sample(REASONS, rng.randint(1, 4)))
        view = rng.choice(VIEWS)
        out.append(Example(prompt_messages(situation=situation, industry=industry,
                                           context=FIELDS[industry] if rng.random() < 0.7 else "", viewpoint=view),
                           completion_text(label, analysis), label, view, industry, f"s{i}"))
    return out


def benchmark_examples(n: int, seed: int = 0, n_eval: int | None = None) -> tuple[list[Example], list[Example]]:
    """(train, eval): `n` training examples (demo journal first, then synthetic) and `n_eval` (n//4) held out."""
    n_eval = n_eval or max(4, n // 4)
    demo = demo_examples()
    pool = demo + synthetic_examples(n + n_eval + 8, seed)
    return pool[:n], pool[n:n + n_eval]
