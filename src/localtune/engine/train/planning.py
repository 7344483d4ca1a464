"""How to train on this machine: `plan` (memory, 4-bit or not, checkpointing, passes) from the hardware, the
model's shape and the examples' real lengths, and the bf16-or-fp32 trial a CPU that does bf16 runs first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...dataset.prompts import Example
from ...errors import TrainingError
from ..data import Tokenized, length_grouped_batches, micro_batches, padding_share, tokenize
from ..hardware import Hardware
from .config import TrainConfig
from .model import _tokenizer


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
        kind = "QLoRA (4-bit NF4 base, double quant)" if self.quantization == "nf4" else \
            f"LoRA (16-bit {'bf16' if self.bf16 else 'fp16'} base)" if self.device == "mps" else "LoRA (full-precision base)"
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


def model_shape(model_dir: Path) -> dict:
    from ..models import estimate_params

    return shape_of(json.loads((Path(model_dir) / "config.json").read_text()), estimate_params(model_dir))


def shape_of(c: dict, params: int) -> dict:
    """What the memory terms need of a model: its config.json values (as the file names them) and parameters."""
    h, layers = c["hidden_size"], c["num_hidden_layers"]
    heads = c.get("num_attention_heads", 1)
    kv, head_dim = c.get("num_key_value_heads", heads), c.get("head_dim") or h // heads
    inter = c.get("intermediate_size", 4 * h)
    dtype = c.get("dtype") or c.get("torch_dtype")
    embeddings = c["vocab_size"] * h * (1 if c.get("tie_word_embeddings") else 2)
    return {"hidden": h, "inter": inter, "layers": layers, "vocab": c["vocab_size"], "params": params,
            "saved_bf16": dtype == "bfloat16",
            "embeddings": embeddings,  # the input embedding and an untied output head: never 4-bit
            "linear": max(params - embeddings, 0),  # the decoder's weights, which NF4 quantizes
            # LoRA parameters of a rank-1 adapter on every linear layer (q, k, v, o, gate, up, down)
            "lora_rank1": layers * (2 * (h + heads * head_dim) + 2 * (h + kv * head_dim) + 3 * (h + inter))}


# A long journal entry with its analysis, in tokens (the demo journal's longest example: 574), and its completion:
# what "trains here" means before the journal's own examples are measured.
TYPICAL_EXAMPLE, TYPICAL_COMPLETION = 768, 256


def least_memory(hardware: Hardware, shape: dict, *, seq_len: int = TYPICAL_EXAMPLE,
                 completion_tokens: int = TYPICAL_COMPLETION, lora_r: int = TrainConfig.lora_r) -> int:
    """The least a run of examples up to `seq_len` tokens can hold here: 4-bit where this device has it (else a
    16-bit base), gradient checkpointing, one example a pass. Whether a model trains here at all (the model lists,
    the catalog's "Recommended for this computer"); a plan for the journal's own examples says more."""
    quantization = "none" if hardware.device == "mps" and not hardware.nf4 else "nf4"
    return sum(memory_terms(hardware, shape, quantization=quantization, merged=False, checkpointing=True,
                            micro_tokens=seq_len, completion_tokens=completion_tokens, lora_r=lora_r,
                            bf16=hardware.bf16 and hardware.device != "cpu").values())


MiB, GiB = 1024**2, 1024**3
# Libraries a run imports after the plan is made (transformers, peft, bitsandbytes: ~170 MiB measured on this
# CPU), the tokenizer (~50 MiB) and the interpreter's own growth. The plan compares with memory free at plan time,
# torch already imported.
RUNTIME = 300 * MiB
# On a CPU the C allocator keeps the freed tensors of one pass and the next pass's do not fit its holes exactly:
# after two or three passes of the longest examples the process holds ~1.2-1.4x what one pass holds live
# (benchmarks/plan_memory.py). CUDA's caching allocator reuses its blocks and max_memory_allocated counts live
# tensors only, so 1 there; an Apple GPU's allocator is not measured: 1 too.
RETAINED = 1.25
NF4_BYTES = 0.52  # 4 bits a weight + its 8-bit block scale per 64 (double quant)


def memory_terms(hardware: Hardware, shape: dict, *, quantization: str, merged: bool, checkpointing: bool,
                 micro_tokens: int, completion_tokens: int, lora_r: int, bf16: bool = False) -> dict[str, int]:
    """What one training run holds at its peak, in bytes, term by term (`sum(...)` is `Plan.memory_needed`).

    Measured against real steps by benchmarks/plan_memory.py on a CPU (peak RSS above the process at plan time);
    the CUDA terms follow the same arithmetic but are not calibrated (max_memory_allocated, no GPU measured).
    """
    device = hardware.device
    # The frozen base as training holds it: 16-bit on an Apple GPU and on a GPU with bf16, else fp32 (a CPU
    # computes in fp32 or bf16 autocast on fp32 weights): see model.base_dtype.
    compute = 2 if device == "mps" or (device == "cuda" and hardware.bf16) else 4
    if quantization == "nf4":
        # bitsandbytes quantizes the decoder's linear layers; the embedding (and an untied head) stay as they are.
        weights = int(shape["linear"] * NF4_BYTES) + shape["embeddings"] * compute
    else:
        weights = shape["params"] * compute
    # Folding the adapters into working copies of the decoder's weights (merged_lora.py): one more copy of
    # them, in the checkpoint's own precision for the original.
    folded = (shape["params"] - shape["vocab"] * shape["hidden"]) * (2 if shape["saved_bf16"] else 4) if merged else 0
    # LoRA weights, their gradients and AdamW's two moments, all fp32 (counted on every linear layer: fewer
    # target modules make this a small overestimate).
    adapter = shape["lora_rank1"] * lora_r * 16
    # Activations kept for the backward pass, per token: per layer ~14 hidden-size and 6 intermediate-size
    # vectors (norms, attention, the gated MLP); counted at fp32 on a CPU, whose bf16 autocast keeps norms and
    # softmax in fp32 and may lose the bf16-or-fp32 trial. With checkpointing, each layer's input (and its
    # gradient's buffer) stays, and one layer at a time is recomputed in the backward pass with its gradients
    # (measured: about five layers' worth, with what the allocator keeps of them).
    act_bytes = 2 if bf16 and device != "cpu" or device == "mps" else 4
    layer = (14 * shape["hidden"] + 6 * shape["inter"]) * act_bytes
    per_token = shape["layers"] * 4 * shape["hidden"] * act_bytes + 5 * layer if checkpointing \
        else shape["layers"] * layer
    retained = RETAINED if device == "cpu" else 1
    activations = int(per_token * micro_tokens * retained)
    # The vocabulary projection of one pass's completion tokens only (the completion-only head): logits, their
    # fp32 copy for the loss, the log-softmax and the gradient (freed each pass, so kept by the allocator too).
    head = int(shape["vocab"] * 4 * 4 * completion_tokens * retained)
    # Not counted: loading maps the checkpoint file and reads all of it while converting (and quantizing), so the
    # process's RSS briefly holds the whole file too (1.7B in bf16: +3.2 GiB). Those are clean page-cache pages
    # the kernel drops under pressure, and the free memory the plan is compared with counts them as available.
    return {"runtime": RUNTIME, "weights": int(weights), "folded": folded, "adapter": adapter,
            "activations": activations, "head": head}


def plan(hardware: Hardware, model_dir, examples: Sequence[Example], config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen
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
    shape = model_shape(model_dir)
    reasons = []
    seq_len = max(len(t) for t in items)
    completion_max = max(len(t) - t.prompt_len for t in items)
    free = hardware.memory_free
    budget = int(free * 0.6)  # leave room for the rest of the machine
    auto_bf16 = config.bf16 if config.bf16 is not None else hardware.bf16 and hardware.device != "cpu"

    def need(quant: str, *, merged: bool = False, ckpt: bool = False, micro: int = seq_len) -> int:
        return sum(memory_terms(hardware, shape, quantization=quant, merged=merged, checkpointing=ckpt,
                                micro_tokens=micro, completion_tokens=completion_max * max(1, micro // seq_len), lora_r=config.lora_r,
                                bf16=auto_bf16).values())

    quant = config.quantization
    if hardware.device == "mps" and not hardware.nf4:
        if quant == "nf4":
            raise TrainingError("4-bit training (QLoRA) needs bitsandbytes' support for the Apple GPU, which this "
                                "installation lacks. Train with quantization 'auto' or 'none' (LoRA on a 16-bit "
                                "base).")
        if quant == "auto":
            quant = "none"
            reasons.append(MPS_REASON)
    if quant == "auto":
        # 4-bit weights save memory but cost a dequantization on every matmul; use them when memory is tight.
        quant = "none" if need("none") <= budget * 0.5 else "nf4"
        reasons.append("full-precision base fits comfortably: plain LoRA, no 4-bit dequantization cost"
                       if quant == "none" else "4-bit base (QLoRA) to fit this machine's memory")

    # Folding the adapters into fp32 working copies of the weights saves time on a CPU and costs one more copy
    # of the decoder's weights (not the embeddings); weights saved in bf16 keep their original in bf16.
    bf16 = config.bf16 if config.bf16 is not None else hardware.bf16
    # A CPU with AMX or AVX512-BF16 multiplies bf16 in hardware, but whether bf16 autocast beats fp32 with folded
    # adapters depends on the chip and the model: the first training steps time both (`_Trial`).
    candidates = ("fp32", "bf16") if hardware.device == "cpu" and quant == "none" and config.bf16 is None \
        and hardware.bf16 else ()
    if candidates:
        bf16 = False  # until measured
    merged = (hardware.device == "cpu" and quant == "none" and not bf16 and config.lora_dropout == 0
              and need(quant, merged=True) <= budget)
    if merged:
        reasons.append(FOLDED_REASON)
    if candidates:
        reasons.append(TRIAL_REASON.format(fp32=_variant_name("fp32", merged)))

    ckpt = config.grad_checkpointing
    if ckpt is None:
        ckpt = need(quant, merged=merged) > budget
        if ckpt:
            reasons.append("gradient checkpointing on: activations of one example would not fit otherwise")
    micro = config.micro_batch_tokens
    if micro is None:
        # On a CPU a single sequence already keeps the cores busy, so bigger passes only cost memory;
        # a GPU wants the whole batch in one pass when it fits.
        lo, hi = seq_len, seq_len * (config.batch_size if hardware.device != "cpu" else 1)
        while lo < hi:  # the most tokens per pass that fit the budget (memory grows with them)
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if need(quant, merged=merged, ckpt=ckpt, micro=mid) <= budget else (lo, mid - 1)
        micro = lo
    micro = max(micro, seq_len)
    lengths = [len(t) for t in items]
    batches = length_grouped_batches(lengths, config.batch_size, config.seed)
    pad = _micro_padding(items, batches, micro)
    steps = len(batches) * config.epochs
    if config.max_steps:
        steps = min(steps, config.max_steps)
    return Plan(device=hardware.device, quantization=quant, bf16=bool(bf16), batch_size=config.batch_size,
                micro_batch_tokens=int(micro), max_seq_len=seq_len, grad_checkpointing=bool(ckpt),
                completion_only_head=True, steps_per_epoch=len(batches), total_steps=steps,
                train_tokens_per_epoch=sum(lengths), padding_share=pad,
                memory_needed=need(quant, merged=merged, ckpt=ckpt, micro=micro),
                memory_free=free, reasons=tuple(reasons), merged_lora=merged, candidates=candidates)


MPS_REASON = "LoRA on a 16-bit base: bitsandbytes' 4-bit is not available on this Apple GPU"
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
        from .. import merged_lora

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


def _micro_padding(items, batches, micro_tokens) -> float:
    passes = [m for b in batches for m in micro_batches(items, b, micro_tokens)]
    return padding_share(items, passes)
