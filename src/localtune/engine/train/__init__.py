"""The trainer: LoRA / QLoRA on the user's own hardware, in one explicit loop.

- config.py      TrainConfig: what a run may be told, and its checks
- planning.py    plan() and the bf16-or-fp32 trial: how to train on this machine
- model.py       the tokenizer, the base with a fresh LoRA adapter, the optimizer, the loss
- checkpoint.py  a run's state as safetensors bytes, to resume from
- loop.py        train() (yields events.Status, Progress, EvalDone, CheckpointReady, Finished) and estimate()

Callers import from here (`from localtune.engine.train import TrainConfig, plan, estimate, train`).
"""

from ..data import length_grouped_batches
from ..data import micro_batches as _micro_batches
from .checkpoint import _Run
from .config import TrainConfig
from .loop import (
    _apply_gradients,
    _completion_tokens,
    _overfitting,
    _peak_memory,
    _train_step,
    estimate,
    lr_at,
    train,
)
from .model import _build, _loss_sum, _optimizer, _supports_head_trick, _tokenizer, eval_loss
from .planning import Plan, _duration, _micro_padding, _plan, choose, decide, plan

__all__ = ["TrainConfig", "Plan", "plan", "estimate", "train", "decide", "choose", "lr_at", "eval_loss"]
# remote/ddp.py runs the same loop across processes from these parts:
_DISTRIBUTED = (_Run, _apply_gradients, _build, _completion_tokens, _loss_sum, _micro_batches, _optimizer, _overfitting, _peak_memory, _plan,
                _supports_head_trick, _tokenizer, length_grouped_batches)
# discovery words its estimates alike; tests and benchmarks time or patch single pieces:
_PIECES = (_duration, _micro_padding, _train_step)
