"""The journal's plain data: a scenario and the perspectives on it."""

from __future__ import annotations

from dataclasses import dataclass, field

ASSESSMENTS = ("reasonable", "problematic", "mixed")
USES = ("train", "eval", "exclude")


@dataclass
class Perspective:
    viewpoint: str  # employee, manager, HR, peer, or any text
    assessment: str  # one of ASSESSMENTS
    analysis: str = ""
    id: int | None = None


@dataclass
class Scenario:
    situation: str
    context: str = ""  # the field's norms, as a practitioner would state them
    industry: str = ""
    occurred_on: str = ""  # ISO date (YYYY-MM-DD) or empty
    people: list[str] = field(default_factory=list)  # pseudonyms
    tags: list[str] = field(default_factory=list)
    use: str = "train"  # one of USES
    perspectives: list[Perspective] = field(default_factory=list)
    id: int | None = None
    created_at: str = ""
    updated_at: str = ""


def problems(scenario: Scenario) -> list[str]:
    """Everything wrong with a scenario, in words a user understands (empty when it can be saved)."""
    found = []
    if not scenario.situation or not scenario.situation.strip():
        found.append("the situation is empty")
    if scenario.use not in USES:
        found.append(f"use must be one of {', '.join(USES)} (got {scenario.use!r})")
    if scenario.occurred_on and not _is_iso_date(scenario.occurred_on):
        found.append(f"occurred_on must be a date like 2025-03-14 (got {scenario.occurred_on!r})")
    for number, p in enumerate(scenario.perspectives, 1):
        if not p.viewpoint or not p.viewpoint.strip():
            found.append(f"perspective {number} has no viewpoint")
        if not p.assessment:
            found.append(f"perspective {number} has no assessment yet")
        elif p.assessment not in ASSESSMENTS:
            found.append(f"perspective {number}: assessment must be one of {', '.join(ASSESSMENTS)} (got {p.assessment!r})")
    return found


def _is_iso_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
