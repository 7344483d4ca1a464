"""The trainer: LoRA / QLoRA on the user's own hardware, in one explicit loop.

- config.py      TrainConfig: what a run may be told, and its checks
- planning.py    plan() and the bf16-or-fp32 trial: how to train on this machine
- model.py       the tokenizer, the base with a fresh LoRA adapter, the optimizer, the loss
- checkpoint.py  a run's state as safetensors bytes, to resume from
- loop.py        train() (yields events.Status, Progress, EvalDone, CheckpointReady, Finished), train_apart()
                 (the same in a child process: how the app and the CLI train), estimate() and
                 estimate_apart()

Callers import from here (`from localtune.engine.train import TrainConfig, plan, estimate, train`).
"""

from .config import TrainConfig
from .loop import estimate, estimate_apart, lr_at, train, train_apart
from .model import eval_loss
from .planning import Plan, choose, decide, plan

__all__ = ["TrainConfig", "Plan", "plan", "estimate", "estimate_apart", "train", "train_apart", "decide", "choose", "lr_at", "eval_loss"]
