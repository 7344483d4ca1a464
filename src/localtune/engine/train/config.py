"""What a training run may be told: `TrainConfig`, its defaults and their checks."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import TrainingError


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    """Passes over the training examples."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: run all epochs)."""
    lr: float = 2e-4
    """Peak learning rate (short linear warm-up, then cosine decay to 10%)."""
    warmup_ratio: float = 0.05
    """Share of the steps spent warming up the learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    lora_r: int = 16
    """LoRA rank: capacity of the adapter. 8-32 suits 50-2000 examples."""
    lora_alpha: int = 32
    """LoRA scale numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the adapter input. 0 is faster and uses less memory; raise it against overfitting."""
    target_modules: str | tuple[str, ...] = "all-linear"
    """Layers that get an adapter: "all-linear" or module names such as ("q_proj", "v_proj")."""
    batch_size: int = 4
    """Examples per optimizer step (processed in micro-batches that fit memory)."""
    max_seq_len: int | None = None
    """Longest example in tokens; longer ones lose the start of their prompt. None: from the examples."""
    micro_batch_tokens: int | None = None
    """Tokens (padding included) per forward pass. None: chosen from free memory."""
    grad_checkpointing: bool | None = None
    """Recompute activations in the backward pass to save memory. None: only when memory needs it."""
    quantization: str = "auto"
    """"nf4" (QLoRA: 4-bit base, double quant), "none" (LoRA on the full-precision base) or "auto"."""
    bf16: bool | None = None
    """bf16 autocast. None: on a GPU that supports it; on a CPU with AMX or AVX512-BF16, timed against fp32."""
    seed: int = 0
    """Same seed, same examples, same machine: the same adapter, byte for byte (on CPU)."""
    early_stopping_patience: int = 2
    """Stop when held-out loss has not improved for this many epochs (0: never stop early)."""
    eval_each_epoch: bool = True
    """Measure held-out loss after every epoch (needed for early stopping)."""
    checkpoint_every_s: float = 300.0
    """Seconds between CheckpointReady events (0: none until cancel)."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""

    def validate(self) -> None:
        """Raise TrainingError listing every problem at once."""
        problems = []
        if self.epochs < 1:
            problems.append("epochs must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("max_steps must be at least 1")
        if not 0 < self.lr < 1:
            problems.append("lr must be between 0 and 1")
        if not 0 <= self.warmup_ratio < 1:
            problems.append("warmup_ratio must be in [0, 1)")
        if self.weight_decay < 0:
            problems.append("weight_decay cannot be negative")
        if self.lora_r < 1:
            problems.append("lora_r must be at least 1")
        if self.lora_alpha <= 0:
            problems.append("lora_alpha must be positive")
        if not 0 <= self.lora_dropout < 1:
            problems.append("lora_dropout must be in [0, 1)")
        if not self.target_modules:
            problems.append("target_modules cannot be empty")
        if self.batch_size < 1:
            problems.append("batch_size must be at least 1")
        if self.max_seq_len is not None and self.max_seq_len < 16:
            problems.append("max_seq_len must be at least 16 tokens")
        if self.micro_batch_tokens is not None and self.micro_batch_tokens < 16:
            problems.append("micro_batch_tokens must be at least 16")
        if self.quantization not in ("auto", "nf4", "none"):
            problems.append("quantization must be 'auto', 'nf4' or 'none'")
        if self.early_stopping_patience < 0:
            problems.append("early_stopping_patience cannot be negative")
        if self.checkpoint_every_s < 0:
            problems.append("checkpoint_every_s cannot be negative")
        if self.max_grad_norm <= 0:
            problems.append("max_grad_norm must be positive")
        if problems:
            raise TrainingError("The training settings need fixing: " + "; ".join(problems) + ".")
