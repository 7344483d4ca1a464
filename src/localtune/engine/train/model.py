"""The model a run trains: the tokenizer, the base (one loader: adapters.load_base) with a fresh LoRA adapter,
the optimizer, and the loss over completion tokens (held-out loss too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..data import IGNORE, Tokenized, collate, micro_batches
from .config import TrainConfig

if TYPE_CHECKING:
    from .planning import Plan


def _tokenizer(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


# --- the model ------------------------------------------------------------------------------------------


def base_dtype(plan_: Plan):
    """The frozen base's dtype (the 4-bit compute dtype under QLoRA): bf16 on a GPU that has it, 16 bits on an
    Apple GPU (bf16 or fp16: unified memory is shared with everything else), fp32 on a CPU (bf16 there is
    autocast, chosen by timing)."""
    import torch

    if plan_.device == "mps":
        return torch.bfloat16 if plan_.bf16 else torch.float16
    return torch.bfloat16 if plan_.bf16 and plan_.device == "cuda" else torch.float32


def _build(model_dir, plan_: Plan, config: TrainConfig, *, load_device: str | None = None):
    """Base model (4-bit or not) + fresh LoRA adapter; LoRA init is seeded. `load_device`: where the base is
    loaded when not the plan's device (remote/fsdp.py loads on the CPU and moves each process' shard to its GPU)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ..adapters import load_base

    base = load_base(model_dir, quantize=plan_.quantization, device=load_device or plan_.device,
                     dtype=base_dtype(plan_))
    base.config.use_cache = False  # training takes no generation cache
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
        from .. import merged_lora

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
        for mb in micro_batches(items, order, micro_tokens):
            ids, labels = collate([items[i] for i in mb], pad_id)
            loss, n = _loss_sum(model, ids.to(device), labels.to(device), completion_only_head)
            total += float(loss)
            count += n
    model.train(was_training)
    return total / max(count, 1)
