"""The trainer: LoRA / QLoRA on the user's own hardware, in one explicit loop (torchtune-style).

Why it is faster than the usual Trainer + prepare_model_for_kbit_training recipe (see benchmarks/):
- length-grouped batches, split into micro-batches by a token budget: almost no padding, bounded memory;
- right padding with no attention mask, so attention takes the fused causal path;
- the language-model head (a 49k-word vocabulary on the starter) runs only where the loss is taken
  (completion tokens), not on the masked prompt;
- no gradient checkpointing unless memory needs it; no 4-bit dequantization on every matmul unless memory
  needs it (CPU, small model) — `quantization="nf4"` still gives QLoRA on any device;
- on a CPU with an fp32 base, each adapter is folded into a working copy of its weight (merged_lora.py): one
  matmul per layer instead of peft's three plus a scale and an add;
- on a CPU that does bf16 in hardware (AMX, AVX512-BF16), the first steps time fp32 (folded) against bf16
  autocast on the run's own batches, and the run keeps the faster (`_Trial`);
- no disk: examples, tokens, checkpoints and the adapter stay in memory and leave as bytes.

Cancel: between micro-batches the CancelToken is checked; on cancel `train` yields one last CheckpointReady
(the state after the last completed step) and then raises Cancelled. `train(..., resume=state)` continues
from there with the same optimizer state, data order and random state, giving the same adapter.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..dataset.prompts import Example
from ..errors import Cancelled, TrainingError
from ..events import CheckpointReady, EvalDone, Finished, Progress, Status
from ..progress import CancelToken
from .data import IGNORE, Tokenized, collate, length_grouped_batches, padding_share, tokenize
from .hardware import Hardware

_STATE_FORMAT = 1


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


@dataclass(frozen=True)
class Plan:
    device: str
    quantization: str  # "nf4" | "none"
    bf16: bool
    batch_size: int
    micro_batch_tokens: int
    max_seq_len: int
    grad_checkpointing: bool
    completion_only_head: bool
    steps_per_epoch: int
    total_steps: int
    train_tokens_per_epoch: int
    padding_share: float
    memory_needed: int  # bytes, estimate
    memory_free: int
    reasons: tuple[str, ...] = ()
    eta_s: float | None = None  # from `estimate`
    seconds_per_step: float | None = None
    merged_lora: bool = False  # adapters folded into working copies of the weights (merged_lora.py); with bf16
    # (measured faster) the folded form is off and the frozen weights are stored in bf16 (no cast per pass)
    candidates: tuple[str, ...] = ()  # "fp32", "bf16": still to be timed by the first steps (`_Trial`)

    def describe(self) -> str:
        gib = 1024**3
        kind = "QLoRA (4-bit NF4 base, double quant)" if self.quantization == "nf4" else "LoRA (full-precision base)"
        lines = [
            f"{kind} on {self.device.upper()}{', bf16' if self.bf16 else ''}",
            f"{self.total_steps} steps of {self.batch_size} examples ({self.steps_per_epoch} per epoch), "
            f"up to {self.max_seq_len} tokens each, {self.micro_batch_tokens} tokens per pass",
            f"gradient checkpointing {'on' if self.grad_checkpointing else 'off'}; "
            f"padding {self.padding_share:.0%} of tokens",
            f"memory: ~{self.memory_needed / gib:.1f} GiB of {self.memory_free / gib:.1f} GiB free",
        ]
        lines += [f"  - {r}" for r in self.reasons]
        if self.eta_s is not None:
            lines.append(f"estimated time: {_duration(self.eta_s)} ({self.seconds_per_step:.1f} s per step, measured)")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _model_shape(model_dir: Path) -> dict:
    c = json.loads((Path(model_dir) / "config.json").read_text())
    from .models import estimate_params

    return {"hidden": c["hidden_size"], "inter": c.get("intermediate_size", 4 * c["hidden_size"]),
            "layers": c["num_hidden_layers"], "vocab": c["vocab_size"], "params": estimate_params(model_dir),
            "saved_bf16": (c.get("dtype") or c.get("torch_dtype")) == "bfloat16"}


def plan(hardware: Hardware, model_dir, examples: Sequence[Example], config: TrainConfig = TrainConfig(),
         *, tokenizer=None) -> Plan:
    """Choose how to train from the machine, the model and the examples' real token lengths."""
    config.validate()
    if not examples:
        raise TrainingError("There are no examples to train on.")
    if tokenizer is None:
        tokenizer = _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, config.max_seq_len) for e in examples]
    return _plan(hardware, model_dir, items, config)


def _plan(hardware: Hardware, model_dir, items: Sequence[Tokenized], config: TrainConfig) -> Plan:
    shape = _model_shape(model_dir)
    reasons = []
    seq_len = max(len(t) for t in items)
    free = hardware.memory_free
    # What one token costs without checkpointing: activations kept for the backward pass, per layer
    # (measured ~2.3 MB/token on SmolLM2-135M in fp32); with checkpointing only the layer inputs stay.
    # (a CPU may end up in fp32 after timing both, so its activations are counted at fp32's size)
    bytes_per = 2 if (config.bf16 or (config.bf16 is None and hardware.bf16 and hardware.device != "cpu")) else 4
    act_full = shape["layers"] * (14 * shape["hidden"] + 6 * shape["inter"]) * bytes_per
    act_ckpt = shape["layers"] * 2 * shape["hidden"] * bytes_per + act_full // shape["layers"]
    weights_full = shape["params"] * (2 if hardware.device == "cuda" and hardware.bf16 else 4)
    weights_nf4 = int(shape["params"] * 0.6)
    runtime = 600 * 1024**2  # torch, tokenizer, allocator slack
    budget = int(free * 0.6)  # leave room for the rest of the machine

    quant = config.quantization
    if quant == "auto":
        # 4-bit weights save memory but cost a dequantization on every matmul; use them when memory is tight.
        quant = "none" if weights_full + runtime + act_full * seq_len <= budget * 0.5 else "nf4"
        reasons.append("full-precision base fits comfortably: plain LoRA, no 4-bit dequantization cost"
                       if quant == "none" else "4-bit base (QLoRA) to fit this machine's memory")
    weights = weights_nf4 if quant == "nf4" else weights_full

    # Folding the adapters into fp32 working copies of the weights saves time on a CPU and costs one more copy
    # of the decoder's weights (not the embeddings); weights saved in bf16 keep their original in bf16.
    bf16 = config.bf16 if config.bf16 is not None else hardware.bf16
    # A CPU with AMX or AVX512-BF16 multiplies bf16 in hardware, but whether bf16 autocast beats fp32 with folded
    # adapters depends on the chip and the model: the first training steps time both (`_Trial`).
    candidates = ("fp32", "bf16") if hardware.device == "cpu" and quant == "none" and config.bf16 is None \
        and hardware.bf16 else ()
    if candidates:
        bf16 = False  # until measured
    merged_extra = (shape["params"] - shape["vocab"] * shape["hidden"]) * (2 if shape["saved_bf16"] else 4)
    merged = (hardware.device == "cpu" and quant == "none" and not bf16 and config.lora_dropout == 0
              and weights + merged_extra + runtime + act_full * seq_len <= budget)
    if merged:
        weights += merged_extra
        reasons.append(FOLDED_REASON)
    if candidates:
        reasons.append(TRIAL_REASON.format(fp32=_variant_name("fp32", merged)))

    ckpt = config.grad_checkpointing
    if ckpt is None:
        ckpt = weights + runtime + act_full * seq_len > budget
        if ckpt:
            reasons.append("gradient checkpointing on: activations of one example would not fit otherwise")
    per_token = act_ckpt if ckpt else act_full
    micro = config.micro_batch_tokens
    if micro is None:
        # On a CPU a single sequence already keeps the cores busy, so bigger passes only cost memory;
        # a GPU wants the whole batch in one pass when it fits.
        cap = seq_len * (config.batch_size if hardware.device != "cpu" else 1)
        micro = max(seq_len, min(cap, (budget - weights - runtime) // max(per_token, 1)))
    micro = max(micro, seq_len)
    lengths = [len(t) for t in items]
    batches = length_grouped_batches(lengths, config.batch_size, config.seed)
    pad = _micro_padding(items, batches, micro)
    steps = len(batches) * config.epochs
    if config.max_steps:
        steps = min(steps, config.max_steps)
    # + the vocabulary projection of one pass's completion tokens (logits, softmax, gradient)
    completion = max(len(t) - t.prompt_len for t in items) * max(1, micro // seq_len)
    need = weights + runtime + per_token * micro + shape["vocab"] * 4 * 3 * completion
    return Plan(device=hardware.device, quantization=quant, bf16=bool(bf16), batch_size=config.batch_size,
                micro_batch_tokens=int(micro), max_seq_len=seq_len, grad_checkpointing=bool(ckpt),
                completion_only_head=True, steps_per_epoch=len(batches), total_steps=steps,
                train_tokens_per_epoch=sum(lengths), padding_share=pad, memory_needed=int(need),
                memory_free=free, reasons=tuple(reasons), merged_lora=merged, candidates=candidates)


FOLDED_REASON = "adapters folded into a working copy of the weights: one matmul per layer"
TRIAL_REASON = ("this CPU does bf16 in hardware: the first steps time {fp32} against bf16 autocast, and "
                "training keeps the faster")
TRIAL_STEPS = 2  # timed steps per variant, after one warm-up step each
BF16_MARGIN = 0.03  # bf16 is kept only when it is this much faster per token: within the noise, fp32 is exact


def _variant_name(variant: str, merged: bool) -> str:
    return "bf16 autocast" if variant == "bf16" else "fp32 with folded adapters" if merged else "fp32"


def _use_variant(model, plan_: Plan, variant: str) -> Plan:
    """Switch `model` (built for `plan_`) to one of its plan's variants; returns the plan a step then runs on."""
    if plan_.merged_lora:
        from . import merged_lora

        merged_lora.set_folded(model, variant == "fp32")
    return replace(plan_, bf16=variant == "bf16")


@dataclass
class _Trial:
    """Times the plan's variants against each other on real steps: each variant's first step warms it up (memory,
    kernel choice), then they alternate until each has TRIAL_STEPS timed steps; the faster per token is kept."""

    candidates: tuple[str, ...]
    steps: int = TRIAL_STEPS
    warm: set = field(default_factory=set)
    timed: dict = field(default_factory=dict)  # variant -> [seconds, tokens, steps]

    def next(self) -> str:
        cold = [v for v in self.candidates if v not in self.warm]
        return cold[0] if cold else min(self.candidates, key=lambda v: self.timed.get(v, (0, 0, 0))[2])

    def record(self, variant: str, seconds: float, tokens: int) -> None:
        if variant not in self.warm:
            self.warm.add(variant)
            return
        t = self.timed.setdefault(variant, [0.0, 0, 0])
        t[0], t[1], t[2] = t[0] + seconds, t[1] + tokens, t[2] + 1

    def done(self) -> bool:
        return all(self.timed.get(v, (0, 0, 0))[2] >= self.steps for v in self.candidates)

    def per_token(self) -> dict[str, float]:
        return {v: t[0] / max(t[1], 1) for v, t in self.timed.items()}


def choose(seconds_per_token: dict[str, float]) -> str:
    """The variant to keep: bf16 when it is faster by more than BF16_MARGIN, else fp32 (exact to peft's result)."""
    if "bf16" in seconds_per_token and "fp32" in seconds_per_token:
        return "bf16" if seconds_per_token["bf16"] < seconds_per_token["fp32"] * (1 - BF16_MARGIN) else "fp32"
    return next(iter(seconds_per_token))


def decide(plan_: Plan, seconds_per_token: dict[str, float]) -> Plan:
    """`plan_` with its variant chosen from measured seconds per token, and the figures among its reasons."""
    winner = choose(seconds_per_token)
    measured = ", ".join(f"{_variant_name(v, plan_.merged_lora)} {s * 1000:.1f} ms"
                         for v, s in seconds_per_token.items())
    reasons = [r for r in plan_.reasons if not r.startswith(TRIAL_REASON[:20])
               and not (winner == "bf16" and r == FOLDED_REASON)]
    reasons.append(f"measured per token on this CPU: {measured}; {_variant_name(winner, plan_.merged_lora)} kept")
    return replace(plan_, bf16=winner == "bf16", candidates=(), reasons=tuple(reasons))


def _micro_batches(items: Sequence[Tokenized], batch: Sequence[int], micro_tokens: int) -> list[list[int]]:
    """Split one optimizer batch (already similar lengths) into passes of at most `micro_tokens` tokens."""
    out: list[list[int]] = []
    for i in sorted(batch, key=lambda i: len(items[i])):
        cur = out[-1] if out else None
        if cur is not None and max(len(items[j]) for j in [*cur, i]) * (len(cur) + 1) <= micro_tokens:
            cur.append(i)
        else:
            out.append([i])
    return out


def _micro_padding(items, batches, micro_tokens) -> float:
    passes = [m for b in batches for m in _micro_batches(items, b, micro_tokens)]
    return padding_share(items, passes)


def _tokenizer(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


# --- the model ------------------------------------------------------------------------------------------


def _build(model_dir, plan_: Plan, config: TrainConfig):
    """Base model (4-bit or not) + fresh LoRA adapter; LoRA init is seeded."""
    import torch
    from peft import LoraConfig, get_peft_model

    from .adapters import load_base

    base = load_base(model_dir, quantize=plan_.quantization, device=plan_.device,
                     dtype=torch.bfloat16 if plan_.bf16 and plan_.device == "cuda" else torch.float32)
    if plan_.grad_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        base.enable_input_require_grads()
    target = config.target_modules if isinstance(config.target_modules, str) else list(config.target_modules)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=target, task_type="CAUSAL_LM", bias="none")
    torch.manual_seed(config.seed)
    model = get_peft_model(base, lora)
    for p in model.parameters():  # LoRA weights train in fp32 whatever the base's dtype
        if p.requires_grad:
            p.data = p.data.float()
    if plan_.merged_lora:
        from . import merged_lora

        merged_lora.enable(model)
        if plan_.bf16:  # bf16 was measured faster: frozen weights in bf16, no working copies
            merged_lora.keep_bf16(model)
    if plan_.bf16 or "bf16" in plan_.candidates:
        # Under bf16 autocast peft's cast of every LoRA input to the adapter's fp32 is undone by autocast at
        # once: two wasted kernels per adapted layer, forward and backward (peft's own switch).
        from peft.tuners.tuners_utils import BaseTunerLayer

        for m in model.modules():
            if isinstance(m, BaseTunerLayer):
                m.cast_input_dtype_enabled = False
    return model


def _optimizer(model, plan_: Plan, config: TrainConfig):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # On a GPU the fused kernel updates all LoRA weights at once; a small model is bound by kernel launches.
    extra = {"fused": True} if plan_.device == "cuda" else {}
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **extra)


def _loss_sum(model, ids, labels, completion_only_head: bool):
    """Sum of token losses over the completion (labels != -100), and the number of such tokens.

    With `completion_only_head` the decoder runs on every token but the vocabulary projection only where a
    label exists: the prompt's logits would be computed and thrown away.
    """
    import torch.nn.functional as F

    targets = labels[:, 1:]
    keep = targets != IGNORE
    n = int(keep.sum())
    causal = model.get_base_model()
    if completion_only_head:
        hidden = causal.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
        logits = causal.get_output_embeddings()(hidden[:, :-1][keep])
    else:
        logits = causal(input_ids=ids, use_cache=False).logits[:, :-1][keep]
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum"), n


def _supports_head_trick(model) -> bool:
    config = model.get_base_model().config
    # Models that rescale or cap logits after the head need the full forward.
    return not any(getattr(config, k, None) for k in ("final_logit_softcapping", "logit_scale", "logits_scaling"))


def eval_loss(model, items: Sequence[Tokenized], pad_id: int, micro_tokens: int, *, device="cpu",
              bf16=False, completion_only_head=True) -> float:
    """Mean loss per completion token over held-out examples."""
    import torch

    order = sorted(range(len(items)), key=lambda i: len(items[i]))
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
        for mb in _micro_batches(items, order, micro_tokens):
            ids, labels = collate([items[i] for i in mb], pad_id)
            loss, n = _loss_sum(model, ids.to(device), labels.to(device), completion_only_head)
            total += float(loss)
            count += n
    model.train(was_training)
    return total / max(count, 1)


def lr_at(step: int, total: int, peak: float, warmup_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warm-up, cosine decay to 10% of peak."""
    warmup = int(total * warmup_ratio)
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


# --- checkpoints: everything as safetensors bytes ------------------------------------------------------------


def _pack_state(model, optimizer, meta: dict, best_adapter: bytes | None = None) -> bytes:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    tensors = {f"lora.{k}": v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for k, v in st.items():
            tensors[f"opt.{idx}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
    if best_adapter is not None:
        tensors["best_adapter"] = torch.frombuffer(bytearray(best_adapter), dtype=torch.uint8)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = dict(meta, format=_STATE_FORMAT, param_groups=opt["param_groups"])
    return save(tensors, metadata={"localtune": json.dumps(meta)})


def _unpack_state(state: bytes) -> tuple[dict, dict]:
    from safetensors.torch import load

    try:
        tensors = load(state)
        meta = json.loads(_safetensors_metadata(state)["localtune"])
    except Exception as exc:  # noqa: BLE001 - any parse error means a damaged checkpoint
        raise TrainingError("The saved training checkpoint is damaged; start the training again.") from exc
    if meta.get("format") != _STATE_FORMAT:
        raise TrainingError("The saved checkpoint comes from another localtune version; start again.")
    return tensors, meta


def _safetensors_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]).get("__metadata__", {})


def _restore(model, optimizer, tensors: dict) -> None:
    import torch
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, {k[5:]: v for k, v in tensors.items() if k.startswith("lora.")})
    opt = optimizer.state_dict()
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    opt["state"] = state
    optimizer.load_state_dict(opt)
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _peak_memory(device: str) -> int:
    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


# --- calibration --------------------------------------------------------------------------------------------


def estimate(model_dir, examples: Sequence[Example], plan_: Plan, config: TrainConfig = TrainConfig(),
             steps: int = TRIAL_STEPS, *, tokenizer=None) -> Plan:
    """Time `steps` real optimizer steps (on the longest batch, after one warm-up step) on a throw-away copy
    of the model; returns the plan with `eta_s`. A plan with candidates (a CPU that does bf16) has each timed
    the same way, alternating, and comes back with the faster chosen (`decide`)."""

    tokenizer = tokenizer or _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, plan_.max_seq_len) for e in examples]
    model = _build(model_dir, plan_, config)
    model.train()
    opt = _optimizer(model, plan_, config)
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    batch = order[: plan_.batch_size]
    head = plan_.completion_only_head and _supports_head_trick(model)
    trial = _Trial(plan_.candidates or ("fp32" if not plan_.bf16 else "bf16",), steps)
    while not trial.done():
        variant = trial.next()
        step_plan = _use_variant(model, plan_, variant) if plan_.candidates else plan_
        t0 = time.perf_counter()
        _, ntok = _train_step(model, opt, items, batch, tokenizer.pad_token_id, step_plan, config, head,
                              lr=config.lr)
        trial.record(variant, time.perf_counter() - t0, ntok)
    del model, opt
    if plan_.candidates:
        plan_ = decide(plan_, trial.per_token())
    seconds, _, n = trial.timed["bf16" if plan_.bf16 else "fp32"]
    # The longest batch is the slowest: scale by the mean length of a batch.
    mean_len = sum(len(t) for t in items) / len(items)
    longest = sum(len(items[i]) for i in batch) / len(batch)
    per_step = seconds / n * (mean_len / longest)
    return replace(plan_, eta_s=per_step * plan_.total_steps, seconds_per_step=per_step)


def _train_step(model, optimizer, items, batch, pad_id, plan_: Plan, config: TrainConfig, head: bool, lr: float,
                cancel: CancelToken | None = None) -> tuple[float, int]:
    """One optimizer step over `batch` in micro-batches; loss is the mean over the batch's completion tokens."""
    import torch

    n_total = sum(sum(1 for x in items[i].labels[1:] if x != IGNORE) for i in batch)
    loss_sum = 0.0
    for mb in _micro_batches(items, batch, plan_.micro_batch_tokens):
        if cancel is not None and cancel.cancelled:
            optimizer.zero_grad(set_to_none=True)
            raise Cancelled("Stopped at your request.")
        ids, labels = collate([items[i] for i in mb], pad_id)
        with torch.autocast(device_type=plan_.device, dtype=torch.bfloat16, enabled=plan_.bf16):
            loss, _ = _loss_sum(model, ids.to(plan_.device), labels.to(plan_.device), head)
        (loss / max(n_total, 1)).backward()
        loss_sum += loss.detach().item()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    for g in optimizer.param_groups:
        g["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / max(n_total, 1), sum(len(items[i]) for i in batch)


# --- training -----------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What a checkpoint must carry besides tensors."""

    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    best_eval: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list = field(default_factory=list)


def train(model_dir, train_examples: Sequence[Example], eval_examples: Sequence[Example],
          config: TrainConfig = TrainConfig(), cancel: CancelToken | None = None, resume: bytes | None = None,
          *, hardware: Hardware | None = None, plan_: Plan | None = None) -> Iterator:
    """Train a LoRA adapter; yields Status, Progress, EvalDone, CheckpointReady and finally Finished.

    Raises Cancelled (after a last CheckpointReady) when `cancel` is set, TrainingError on failure.
    """
    config.validate()
    if not train_examples:
        raise TrainingError("There are no examples to train on.")
    cancel = cancel or CancelToken()
    try:
        yield from _train(Path(model_dir), list(train_examples), list(eval_examples), config, cancel, resume,
                          hardware, plan_)
    except (Cancelled, TrainingError):
        raise
    except MemoryError as exc:
        raise TrainingError("The computer ran out of memory while training. Close other programs, or train "
                            "with a smaller batch or shorter examples.") from exc
    except Exception as exc:  # noqa: BLE001 - anything else is a training failure the user should see
        if isinstance(exc, _gpu_out_of_memory()):  # outside a step: loading the model, or held-out loss
            raise TrainingError("The GPU ran out of memory. Close other programs that use the GPU, or choose a "
                                "smaller model or shorter examples.") from exc
        raise TrainingError(f"Training failed: {type(exc).__name__}: {exc}") from exc


def _train(model_dir: Path, train_examples, eval_examples, config: TrainConfig, cancel: CancelToken,
           resume: bytes | None, hardware: Hardware | None, plan_: Plan | None):
    import torch

    from .adapters import adapter_bytes, config_dict
    from .hardware import detect

    torch.manual_seed(config.seed)
    if resume is not None:
        tensors, meta = _unpack_state(resume)
        saved = meta["config"]
        for key in ("lora_r", "lora_alpha", "batch_size", "seed", "lora_dropout"):
            if saved[key] != getattr(config, key):
                raise TrainingError(f"This checkpoint was made with {key}={saved[key]}; resume with the same "
                                    "settings or start again.")
        plan_ = Plan(**{**meta["plan"], "reasons": tuple(meta["plan"]["reasons"]),
                        "candidates": tuple(meta["plan"].get("candidates", ()))})
        run = _Run(**meta["run"])
    else:
        tensors, meta, run = None, None, _Run()

    yield Status("Reading the examples…")
    tokenizer = _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, config.max_seq_len) for e in train_examples]
    eval_items = [tokenize(tokenizer, e, config.max_seq_len) for e in eval_examples]
    if plan_ is None:
        plan_ = _plan(hardware or detect(), model_dir, items, config)
    if resume is not None and meta["n_examples"] != len(items):
        raise TrainingError("The examples changed since this checkpoint was made; start the training again.")
    yield Status("Loading the base model…")
    model = _build(model_dir, plan_, config)
    head = plan_.completion_only_head and _supports_head_trick(model)
    optimizer = _optimizer(model, plan_, config)
    if tensors is not None:
        _restore(model, optimizer, tensors)
        yield Status(f"Resuming at step {run.step} of {plan_.total_steps}.")
    if plan_.device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    pad_id = tokenizer.pad_token_id
    lengths = [len(t) for t in items]
    per_epoch = plan_.steps_per_epoch
    best_adapter = bytes(tensors["best_adapter"].numpy()) if tensors and "best_adapter" in tensors else None
    last_ckpt = time.monotonic()
    model.train()
    yield Status(plan_.describe().splitlines()[0])

    def checkpoint():
        return CheckpointReady(run.step, _pack_state(model, optimizer, {
            "run": asdict(run), "plan": asdict(plan_), "config": asdict(config), "n_examples": len(items)},
            best_adapter))

    # On a CPU that does bf16 the first steps alternate fp32 and bf16 and are timed; then the faster stays.
    # (A resumed run that had not chosen yet times them again.)
    trial = _Trial(plan_.candidates) if plan_.candidates else None
    active = plan_  # what the model computes now: plan_, or plan_ with the variant under test
    oom_retried = False
    stop = False
    while run.step < plan_.total_steps and not stop:
        variant = trial.next() if trial is not None else None
        active = _use_variant(model, plan_, variant) if variant else plan_
        epoch, index = divmod(run.step, per_epoch)
        # Same seed + epoch -> same batch order, so a resumed run sees exactly the batches it would have.
        batch = length_grouped_batches(lengths, plan_.batch_size, config.seed * 1000 + epoch)[index]
        lr = lr_at(run.step, plan_.total_steps, config.lr, config.warmup_ratio)
        t0 = time.perf_counter()
        try:
            loss, ntok = _train_step(model, optimizer, items, batch, pad_id, active, config, head, lr, cancel)
        except Cancelled:
            yield checkpoint()
            raise
        except _gpu_out_of_memory() as exc:
            optimizer.zero_grad(set_to_none=True)
            if plan_.device != "cuda" or oom_retried:
                raise TrainingError("The GPU ran out of memory, also with a smaller batch. Try shorter examples "
                                    "or quantization='nf4'.") from exc
            oom_retried = True
            torch.cuda.empty_cache()
            if plan_.micro_batch_tokens >= 2 * plan_.max_seq_len:
                plan_ = replace(plan_, micro_batch_tokens=plan_.micro_batch_tokens // 2)
                yield Status(f"The GPU ran out of memory; retrying with half the batch per pass "
                             f"({plan_.micro_batch_tokens} tokens).")
            else:  # one example per pass already: trade speed for memory instead
                plan_ = replace(plan_, grad_checkpointing=True)
                model.get_base_model().gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
                model.get_base_model().enable_input_require_grads()
                yield Status("The GPU ran out of memory; retrying with gradient checkpointing (slower, "
                             "uses less memory).")
            continue
        if not math.isfinite(loss):
            raise TrainingError("Training diverged (the loss became infinite). Try a lower learning rate.")
        seconds = time.perf_counter() - t0
        run.seconds += seconds
        if trial is not None:
            trial.record(variant, seconds, ntok)
            if trial.done():
                plan_, trial = decide(plan_, trial.per_token()), None
                active = _use_variant(model, plan_, "bf16" if plan_.bf16 else "fp32")
                if plan_.bf16 and plan_.merged_lora:
                    from . import merged_lora

                    merged_lora.keep_bf16(model)  # no working copies; frozen weights in bf16, as autocast uses them
                yield Status(plan_.reasons[-1][0].upper() + plan_.reasons[-1][1:] + ".")
        run.tokens += ntok
        run.step += 1
        run.history.append({"step": run.step, "epoch": round(run.step / per_epoch, 3), "loss": round(loss, 5),
                            "lr": lr})
        speed = run.tokens / run.seconds if run.seconds else 0.0
        eta = run.seconds / run.step * (plan_.total_steps - run.step)
        yield Progress(run.step, plan_.total_steps, run.step / per_epoch, loss, lr, speed, eta)

        end_of_epoch = run.step % per_epoch == 0 or run.step == plan_.total_steps
        if end_of_epoch and config.eval_each_epoch and eval_items:
            done_epoch = math.ceil(run.step / per_epoch)
            ev = eval_loss(model, eval_items, pad_id, plan_.micro_batch_tokens, device=plan_.device,
                           bf16=active.bf16, completion_only_head=head)
            warning = _overfitting(run, ev)
            run.history.append({"epoch": done_epoch, "eval_loss": round(ev, 5)})
            if run.best_eval is None or ev < run.best_eval:
                run.best_eval, run.best_epoch, run.bad_epochs = ev, done_epoch, 0
                best_adapter = adapter_bytes(model)  # small (LoRA only); what early stopping returns
            else:
                run.bad_epochs += 1
            yield EvalDone(done_epoch, ev, warning)
            if config.early_stopping_patience and run.bad_epochs >= config.early_stopping_patience:
                yield Status(f"Stopping early: held-out loss has not improved for {run.bad_epochs} epochs; "
                             f"keeping the adapter from epoch {run.best_epoch}.")
                stop = True
        if cancel.cancelled:
            yield checkpoint()
            raise Cancelled("Stopped at your request.")
        if config.checkpoint_every_s and time.monotonic() - last_ckpt >= config.checkpoint_every_s \
                and run.step < plan_.total_steps:
            yield checkpoint()
            last_ckpt = time.monotonic()

    # Without held-out examples, or when the last epoch was the best, the current weights are the answer.
    adapter = best_adapter if best_adapter is not None and run.bad_epochs else adapter_bytes(model)
    final_eval = run.best_eval
    if final_eval is None and eval_items:
        final_eval = eval_loss(model, eval_items, pad_id, plan_.micro_batch_tokens, device=plan_.device,
                               bf16=active.bf16, completion_only_head=head)
    yield Finished(adapter=adapter, peft_config=config_dict(model.peft_config["default"]),
                   base_model=model_dir.name, steps=run.step, train_tokens=run.tokens,
                   train_seconds=run.seconds, tokens_per_s=run.tokens / run.seconds if run.seconds else 0.0,
                   eval_loss=final_eval, peak_memory_bytes=_peak_memory(plan_.device), history=run.history)


def _gpu_out_of_memory() -> type:
    """torch's CUDA out-of-memory exception (torch.OutOfMemoryError, or its older home under torch.cuda)."""
    import torch

    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def _overfitting(run: _Run, eval_now: float) -> str | None:
    if run.best_eval is None or eval_now <= run.best_eval * 1.02:
        return None
    losses = [h["loss"] for h in run.history if "loss" in h]
    if len(losses) < 4 or sum(losses[-len(losses) // 4:]) / (len(losses) // 4) >= losses[0]:
        return None
    return (f"The model is starting to memorise its training examples: its error on examples it has not seen "
            f"rose from {run.best_eval:.2f} to {eval_now:.2f} while its training error kept falling. "
            "Fewer epochs or more varied examples would help.")
