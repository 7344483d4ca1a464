"""Every event long work yields, as one typed family: small frozen dataclasses under one base class, `Event`.

Training (engine.train, then training.train_adapter): Status, Progress, EvalDone, CheckpointReady, Finished,
and last Sealed once the adapter is in the vault. Reading (engine.generate.Reader.compare, training.compare):
FewShotSources, Piece while a column is written, Analysis when it is done. Evaluation (engine.evaluate):
Scoring while it works, Evaluation at the end. Front ends dispatch with `match event: case Progress(): ...`.

One vocabulary for the three columns of Compare and Evaluate: "base" (the base model, adapters disabled),
"few_shot" (the base model shown the most similar journal entries first) and "tuned" (an adapter enabled).
Torch-free: the engine builds these, the CLI, the app and tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dataset import metrics
from .dataset.prompts import Example
from .dataset.reading_quality import reading_measures

__all__ = ["COLUMNS", "Event", "Status", "Progress", "EvalDone", "CheckpointReady", "Finished", "Sealed",
           "FewShotSources", "Piece", "Analysis", "Scoring", "Evaluation"]

COLUMNS = ("base", "few_shot", "tuned")


@dataclass(frozen=True)
class Event:
    """What every event is: something a generator yields while it works."""


@dataclass(frozen=True)
class Status(Event):
    """A human-readable note about what the work is doing now."""

    message: str


# -- training ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress(Event):
    step: int  # optimizer steps done
    total: int  # optimizer steps planned
    epoch: float  # fractional epoch
    loss: float  # this step's training loss (mean over completion tokens)
    lr: float
    tokens_per_s: float  # real (non-padding) tokens per second so far
    eta_s: float  # seconds left at the current speed


@dataclass(frozen=True)
class EvalDone(Event):
    epoch: int
    eval_loss: float
    overfitting_warning: str | None = None  # plain words, when held-out loss rises while training loss falls


@dataclass(frozen=True)
class CheckpointReady(Event):
    """Everything needed to resume: pass `state` back as `train(..., resume=state)`. Sensitive: store encrypted."""

    step: int
    state: bytes = field(repr=False)


@dataclass(frozen=True)
class Finished(Event):
    adapter: bytes = field(repr=False)  # safetensors bytes of the LoRA weights (PEFT key names)
    peft_config: dict = field(default_factory=dict)  # LoraConfig as JSON-able dict
    base_model: str = ""  # the base model's folder name
    steps: int = 0
    train_tokens: int = 0  # real (non-padding) tokens trained on
    train_seconds: float = 0.0
    tokens_per_s: float = 0.0
    eval_loss: float | None = None  # of the returned adapter (the best epoch when early stopping)
    peak_memory_bytes: int = 0
    history: list = field(default_factory=list)  # [{"step", "epoch", "loss", "lr"} | {"epoch", "eval_loss"}]


@dataclass(frozen=True)
class Sealed(Event):
    """The last event of a training run: the adapter is stored in the vault under `name`."""

    name: str
    summary: dict


# -- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FewShotSources(Event):
    """The journal entries the few-shot column was shown as worked examples (scenario ids, most similar first)."""

    column: str
    scenario_ids: tuple[int, ...]


@dataclass(frozen=True)
class Piece(Event):
    """Text of `column` that has just been generated."""

    column: str
    text: str


@dataclass(frozen=True)
class Analysis(Event):
    """A finished reading: the badge (the most likely label, or the stated one when none was scored), the
    analysis text, the text as generated, why it stopped, and what a reader should know about it."""

    column: str
    assessment: str  # reasonable | problematic | mixed | unclear -- the badge
    text: str
    raw: str = ""
    stop: str = "end_of_turn"  # end_of_turn | paragraph | length | cap
    probabilities: dict[str, float] = field(default_factory=dict)  # label -> likelihood share (sums to 1)
    stated: str = "unclear"  # the assessment the text itself states
    notes: tuple[str, ...] = ()  # plain words: cut off, repeating itself, text and badge disagree
    repeating: bool = False

    def to_dict(self) -> dict:
        out = {"assessment": self.assessment, "text": self.text}
        if self.probabilities:
            out["probabilities"] = {k: round(v, 4) for k, v in self.probabilities.items()}
        out.update(stated=self.stated, stop=self.stop, repeating=self.repeating, notes=list(self.notes))
        return out


# -- evaluation ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring(Event):
    """Progress: `done` of `total` examples of `column`; `step` of `steps` over every column (and reading,
    with generation), and the time left estimated from the work done so far (None until there is some)."""

    column: str
    done: int
    total: int
    step: int = 0
    steps: int = 0
    eta_s: float | None = None
    phase: str = "scoring"  # scoring | reading


@dataclass(frozen=True)
class Scored:
    prediction: str
    scores: dict[str, float]  # label -> summed log-probability of its completion


@dataclass(frozen=True)
class Evaluation(Event):
    examples: tuple[Example, ...]
    columns: dict[str, tuple[Scored, ...]]  # "base", "few_shot", "tuned" -> one Scored per example
    comparison: metrics.Comparison
    readings: dict[str, tuple] = field(default_factory=dict)  # column -> one generated Analysis per example
    requested: tuple[str, ...] = ()  # the columns asked for; fewer in `columns` when stopped early

    @property
    def partial(self) -> bool:
        return bool(self.requested) and set(self.columns) != set(self.requested)

    def predictions(self, column: str) -> list[str]:
        return [s.prediction for s in self.columns[column]]

    def to_dict(self) -> dict:
        out = self.comparison.to_dict()
        if self.readings:
            out["readings"] = {c: reading_measures(self.examples, r) for c, r in self.readings.items()}
        if self.partial:
            out["stopped"] = {"finished": list(self.columns),
                              "not_finished": [c for c in self.requested if c not in self.columns]}
        return out
