"""The demo journal shipped in resources/demo (the package localtune.resources; one JSONL file per field)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from .io import Parsed, parse_jsonl


def load_demo() -> Parsed:
    folder = resources.files("localtune.resources") / "demo"
    parsed = Parsed()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".jsonl"):
            continue
        part = parse_jsonl(entry.read_text(encoding="utf-8").splitlines())
        parsed.scenarios += part.scenarios
        parsed.problems += [(line, f"{entry.name}: {why}") for line, why in part.problems]
    return parsed


@cache
def demo_summary() -> tuple[int, int]:
    """(scenarios, fields) in the demo journal: what the app's offer says, counted rather than written down."""
    scenarios = load_demo().scenarios
    return len(scenarios), len({s.industry for s in scenarios if s.industry})
