"""From journal entries to training examples: one redacted Example per perspective."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..journal.models import Scenario
from .prompts import LABELS, SYSTEM_PROMPT, Example, completion_text, prompt_messages
from .redact import Redactor


def content_hash(scenario: Scenario) -> str:
    """A stable fingerprint of what a scenario says (not of its id or dates)."""
    text = "\x1f".join((scenario.situation.strip(), scenario.context.strip(), scenario.industry.strip()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def examples_fingerprint(examples: Iterable[Example]) -> str:
    """A short hash of exactly what a run trains on: an adapter records it, a bundle's manifest shows it."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.messages, e.completion], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def scenario_group(scenario: Scenario) -> str:
    """Which scenario an example came from: its id, or a content hash for one not saved yet."""
    return str(scenario.id) if scenario.id is not None else content_hash(scenario)


def usable(scenario: Scenario) -> bool:
    return scenario.use != "exclude" and bool(scenario.situation.strip())


def _examples_of(redacted: Scenario, group: str) -> list[Example]:
    out = []
    for p in redacted.perspectives:
        if p.assessment not in LABELS:
            continue  # reported by the readiness check; an unknown label would teach a wrong format
        out.append(
            Example(
                messages=prompt_messages(
                    situation=redacted.situation,
                    industry=redacted.industry,
                    context=redacted.context,
                    viewpoint=p.viewpoint,
                ),
                completion=completion_text(p.assessment, p.analysis),
                label=p.assessment,
                viewpoint=p.viewpoint,
                industry=redacted.industry,
                group=group,
            )
        )
    return out


@dataclass(frozen=True)
class Prepared:
    """A scenario with its redacted text and examples, computed once for the split and the checks."""

    scenario: Scenario
    group: str
    situation: str  # redacted
    examples: tuple[Example, ...]

    @property
    def ref(self) -> int | str:
        """How findings name this scenario: its id, or its group hash when it has none."""
        return self.scenario.id if self.scenario.id is not None else self.group


def prepare(scenario: Scenario, redactor: Redactor | None = None) -> Prepared:
    redactor = redactor or Redactor()
    group = scenario_group(scenario)
    if not usable(scenario) or not scenario.perspectives:
        return Prepared(scenario, group, "", ())
    redacted = redactor.redact_scenario(scenario)
    return Prepared(scenario, group, redacted.situation, tuple(_examples_of(redacted, group)))


def scenario_examples(scenario: Scenario, redactor: Redactor | None = None) -> list[Example]:
    """One example per perspective, redacted; none for an excluded scenario or one without perspectives."""
    return list(prepare(scenario, redactor).examples)


def build_examples(scenarios: Iterable[Scenario], redactor: Redactor | None = None) -> list[Example]:
    redactor = redactor or Redactor()
    return [e for s in scenarios for e in scenario_examples(s, redactor)]


def render_example(example: Example) -> str:
    """An example as the model sees it (without the system prompt, which is the same for all)."""
    user = next(m["content"] for m in example.messages if m["role"] == "user")
    return f"{user}\n\n--- answer the model learns ---\n{example.completion}"


def preview(scenarios: Iterable[Scenario], redactor: Redactor | None = None, *, limit: int | None = None) -> str:
    """What the model will see, redacted: the text behind `check --preview`."""
    redactor = redactor or Redactor()
    blocks = []
    shown = total = 0
    for scenario in scenarios:
        prepared = prepare(scenario, redactor)
        for n, example in enumerate(prepared.examples, 1):
            total += 1
            if limit is not None and shown >= limit:
                continue
            shown += 1
            title = f"=== scenario {prepared.ref}, perspective {n} ({example.viewpoint or 'unspecified'}) ==="
            blocks.append(f"{title}\n{render_example(example)}")
    if not blocks:
        return "No examples yet: add scenarios with at least one perspective (and use other than 'exclude')."
    head = f"System prompt (the same for every example):\n{SYSTEM_PROMPT}"
    tail = [f"... and {total - shown} more examples."] if total > shown else []
    return "\n\n".join([head, *blocks, *tail])
