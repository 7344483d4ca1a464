"""Scenarios built in memory for the dataset tests: realistic enough text, fully deterministic."""

from __future__ import annotations

import random

from localtune.journal.models import Perspective, Scenario

FIRST = ["Maria", "Tomasz", "Aisha", "Kenji", "Olga", "Rahul", "Fatima", "Liam", "Chen", "Ines", "Kofi", "Sven"]
LAST = ["Lopez", "Nowak", "Okafor", "Tanaka", "Petrova", "Sharma", "Haddad", "Murphy", "Wei", "Costa", "Mensah"]
INDUSTRIES = ["nursing", "software", "retail", "construction", "law", "hospitality", "teaching", "logistics"]
ROLES = ["team lead", "new hire", "senior engineer", "charge nurse", "shift manager", "partner", "intern"]
ACTIONS = [
    "rescheduled the weekly review without telling the rest of the team",
    "asked a colleague to cover a night shift at two hours' notice",
    "criticised a junior colleague's work in front of a client",
    "declined to share the on-call rota until the budget was approved",
    "sent a long message late on a Sunday asking for a status update",
    "took credit in the quarterly meeting for a fix someone else had written",
    "refused a request for remote work during a family emergency",
    "reported a safety concern directly to the regional director",
    "changed the holiday schedule after leave had already been booked",
    "kept a colleague out of a meeting about their own project",
    "asked for overtime to be logged as regular hours to keep the budget",
    "shared a colleague's medical note with the whole department",
]
REACTIONS = [
    "The colleague felt embarrassed and raised it with HR the next day.",
    "Nobody objected at the time, but two people complained afterwards.",
    "The team accepted it, although the deadline slipped by a week.",
    "It led to a heated discussion at the next stand-up.",
    "The manager later apologised in a one-to-one conversation.",
    "Several people said it was normal practice in the department.",
]
DETAILS = [
    "This happened during the busiest month of the year.",
    "The company had just announced a reorganisation.",
    "There was a written policy about it, though rarely enforced.",
    "The person involved had raised similar concerns before.",
    "The client contract had a strict confidentiality clause.",
    "Two new hires had started that same week.",
    "The office was short-staffed because of illness.",
]
ANALYSES = {
    "reasonable": "Given the norms of the field this is within what a practitioner would expect.",
    "problematic": "This crosses a line the field takes seriously and should have been handled differently.",
    "mixed": "Part of this is defensible, but the way it was done undermined trust.",
}
LABEL_CYCLE = ["reasonable", "problematic", "mixed"]
_SYLLABLES = ["ka", "ren", "to", "mi", "sal", "ve", "dor", "lin", "qua", "bes", "tri", "no", "pha", "gul", "ost", "er"]
# Made-up jargon (project, client and tool names): gives every situation words of its own, as real ones have.
JARGON = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("", "x", "um", "ia")})
COMMON = ["the", "a", "their", "our", "this", "that", "project", "client", "report", "meeting", "budget", "rota", "deadline", "email", "team", "shift", "ward", "site", "review", "plan", "message", "call", "schedule", "policy", "request", "ticket", "release", "audit", "contract", "handover", "patient", "order"]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _free_sentence(rng: random.Random) -> str:
    words = [rng.choice(JARGON) if rng.random() < 0.5 else rng.choice(COMMON) for _ in range(rng.randint(8, 14))]
    return " ".join(words).capitalize() + "."


def situation_text(rng: random.Random, who: str, serial: int) -> str:
    parts = [
        f"{who}, a {rng.choice(ROLES)} with {rng.randint(1, 30)} years of experience,",
        rng.choice(ACTIONS) + ".",
        rng.choice(REACTIONS),
        rng.choice(DETAILS),
        _free_sentence(rng),
        _free_sentence(rng),
        f"Reference {serial}: it was the {rng.randint(2, 40)}th time this quarter and "
        f"{rng.randint(3, 90)} people were affected on site {rng.randint(1, 500)}.",
    ]
    return " ".join(parts)


def make_scenario(
    serial: int,
    *,
    labels: tuple[str, ...] | None = None,
    viewpoints: tuple[str, ...] = ("employee",),
    use: str = "train",
    situation: str | None = None,
    people: list[str] | None = None,
    seed: int = 0,
) -> Scenario:
    """A distinct scenario per serial number; `labels` gives each viewpoint's assessment."""
    rng = random.Random(f"{seed}-{serial}")
    people = people if people is not None else [person(rng)]
    if labels is None:
        labels = tuple(LABEL_CYCLE[(serial + k) % 3] for k in range(len(viewpoints)))
    return Scenario(
        id=serial,
        situation=situation if situation is not None else situation_text(rng, people[0] if people else "A colleague", serial),
        context=f"In {rng.choice(INDUSTRIES)}, schedules are agreed a week ahead.",
        industry=rng.choice(INDUSTRIES),
        people=people,
        use=use,
        perspectives=[
            Perspective(viewpoint=v, assessment=label, analysis=ANALYSES.get(label, "See notes."))
            for v, label in zip(viewpoints, labels, strict=True)
        ],
    )


def make_journal(n: int, *, seed: int = 0, viewpoints: tuple[str, ...] = ("employee",)) -> list[Scenario]:
    return [make_scenario(i, seed=seed, viewpoints=viewpoints) for i in range(1, n + 1)]
