"""The one prompt format shared by training, analysis and evaluation.

A prompt is a list of chat messages (system + user) the engine renders with the model's own chat
template; the completion the model learns (and is scored on) starts with `Assessment: <label>`.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS = ("reasonable", "problematic", "mixed")
ASSESSMENT_PREFIX = "Assessment: "

SYSTEM_PROMPT = (
    "You read workplace situations the way an experienced practitioner of that field would. "
    "Judge the conduct against the norms of the field and the perspective you are asked for. "
    "Begin with 'Assessment: reasonable', 'Assessment: problematic' or 'Assessment: mixed', "
    "then explain your reasoning in a short paragraph."
)


@dataclass(frozen=True)
class Example:
    """One training or evaluation example: a prompt, the expected completion, and what it came from.

    `group` identifies the source scenario so that all perspectives of a scenario stay on the same
    side of a split; `label` is the assessment (for balance checks and evaluation).
    """

    messages: tuple[dict, ...]  # [{"role": "system"|"user", "content": str}, ...]
    completion: str
    label: str
    viewpoint: str = ""
    industry: str = ""
    group: str = ""


def user_message(*, situation: str, industry: str = "", context: str = "", viewpoint: str = "") -> str:
    parts = []
    if industry:
        parts.append(f"Field: {industry}")
    if context:
        parts.append(f"Norms and context in this field: {context}")
    parts.append(f"Situation: {situation}")
    if viewpoint:
        parts.append(f"Perspective to take: {viewpoint}")
    parts.append("Is this conduct reasonable, problematic or mixed?")
    return "\n\n".join(parts)


def prompt_messages(*, situation: str, industry: str = "", context: str = "", viewpoint: str = "") -> tuple[dict, ...]:
    return (
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(situation=situation, industry=industry, context=context, viewpoint=viewpoint)},
    )


def completion_text(label: str, analysis: str) -> str:
    analysis = analysis.strip()
    return f"{ASSESSMENT_PREFIX}{label}" + (f"\n{analysis}" if analysis else "")


def parse_completion(text: str) -> tuple[str, str]:
    """Split a model's output into (assessment, analysis); assessment is 'unclear' when none is stated."""
    stripped = text.strip()
    head, _, rest = stripped.partition("\n")
    lowered = head.lower()
    if lowered.startswith(ASSESSMENT_PREFIX.lower()):
        word = lowered[len(ASSESSMENT_PREFIX):].strip(" .*:")
        for label in LABELS:
            if word.startswith(label):
                return label, rest.strip()
        return "unclear", rest.strip()
    return "unclear", stripped
