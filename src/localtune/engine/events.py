"""The events `train` yields (plus `localtune.progress.Status`). Small, frozen, torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..progress import Status

__all__ = ["Status", "Progress", "EvalDone", "CheckpointReady", "Finished"]


@dataclass(frozen=True)
class Progress:
    step: int  # optimizer steps done
    total: int  # optimizer steps planned
    epoch: float  # fractional epoch
    loss: float  # this step's training loss (mean over completion tokens)
    lr: float
    tokens_per_s: float  # real (non-padding) tokens per second so far
    eta_s: float  # seconds left at the current speed


@dataclass(frozen=True)
class EvalDone:
    epoch: int
    eval_loss: float
    overfitting_warning: str | None = None  # plain words, when held-out loss rises while training loss falls


@dataclass(frozen=True)
class CheckpointReady:
    """Everything needed to resume: pass `state` back as `train(..., resume=state)`. Sensitive: store encrypted."""

    step: int
    state: bytes = field(repr=False)


@dataclass(frozen=True)
class Finished:
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
