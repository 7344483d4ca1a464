"""LoRA training on a full-precision base with the adapter folded into a working copy of each weight.

peft computes W·x + s·B·(A·x) in every adapted layer: two thin matmuls, a scale and an add over the layer's
whole output for every token, and as many again backwards — about 30 % on top of the frozen model on a CPU.
While the weights are fp32 the same function is (W + s·B·A)·x: one matmul forward, one backward for the
input, and the adapter's gradients from four thin matmuls, with no elementwise pass over the output.

The working copy is rebuilt from the untouched W whenever A or B changed (after each optimizer step, or a
restored checkpoint), so the results are peft's to float rounding and resuming gives the same adapter. It costs
one more copy of the adapted weights in memory, which the plan counts. Only fp32 weights qualify: folding a
small update into bf16 weights would round most of it away. Weights that are bf16 values held in fp32 (a
model saved in bf16, as most are) keep their frozen original in bf16, which holds them exactly in half the
memory: the working copy costs 2 bytes per weight more than peft's layer instead of 4.

`set_folded(model, False)` switches a folded model back to peft's own computation (the working copies are
kept): on a CPU with fast bf16 the trainer times fp32 with folded adapters against bf16 autocast on the same
model and keeps the faster. Under bf16 autocast the frozen weights kept in bf16 then need no cast per pass;
once bf16 has won, `keep_bf16` drops the working copies and stores the other frozen weights in bf16 too.
"""

from __future__ import annotations

import functools
import types


@functools.cache
def _function():
    import torch
    import torch.nn.functional as F

    class MergedLoRALinear(torch.autograd.Function):
        """y = x·W_effᵀ + bias with W_eff = W + s·B·A; gradients for x, A and B (W and bias stay frozen)."""

        @staticmethod
        def forward(ctx, x, w_eff, bias, a, b, scale):
            ctx.save_for_backward(x, w_eff, a, b)
            ctx.scale = scale
            return F.linear(x, w_eff, bias)

        @staticmethod
        def backward(ctx, dy):
            x, w_eff, a, b = ctx.saved_tensors
            x2 = x.reshape(-1, x.shape[-1])
            dy2 = dy.reshape(-1, dy.shape[-1])
            dx = (dy2 @ w_eff).view(x.shape) if ctx.needs_input_grad[0] else None
            u = (dy2 @ b).mul_(ctx.scale)  # (tokens, r)
            z = (x2 @ a.t()).mul_(ctx.scale)  # (tokens, r)
            return dx, None, None, u.t() @ x2, dy2.t() @ z, None

    return MergedLoRALinear


def _merged_forward(self, x, *args, **kwargs):
    import torch

    if (not self._lt_folded or self.disable_adapters or self.merged or list(self.active_adapters) != ["default"]
            or kwargs):
        # The original may have been compacted to bf16 by `enable`: peft's computation needs bf16 autocast then.
        if self.base_layer.weight.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            raise RuntimeError("A folded LoRA layer whose weight is kept in bf16 computes one active adapter, "
                               "folded, or peft's way under bf16 autocast.")
        return type(self).forward(self, x, *args, **kwargs)
    a = self.lora_A["default"].weight
    b = self.lora_B["default"].weight
    scale = self.scaling["default"]
    key = (a._version, b._version, a.data_ptr(), b.data_ptr(), scale)
    if self._lt_key != key:  # A or B changed since the copy was made
        w = self.base_layer.weight
        if self._lt_weight is None:
            self._lt_weight = torch.empty_like(w, dtype=a.dtype)
        with torch.no_grad():  # W + s·B·A; copy_ widens a compacted bf16 original exactly
            self._lt_weight.copy_(w).addmm_(b, a, alpha=scale)
        self._lt_key = key
    return _function().apply(x, self._lt_weight, self.base_layer.bias, a, b, scale)


def eligible(model) -> list:
    """The adapted layers the folded form computes exactly: plain fp32 nn.Linear base, no dropout, one plain
    LoRA adapter. Empty when any layer is not (a 4-bit base, DoRA, bf16 weights...)."""
    import torch
    from peft.tuners.lora import layer as lora_layer

    layers = [m for m in model.modules() if isinstance(m, lora_layer.LoraLayer)]
    for m in layers:
        base = m.get_base_layer()
        ok = (type(m) is lora_layer.Linear and type(base) is torch.nn.Linear
              and base.weight.dtype == torch.float32 and not base.weight.requires_grad
              and (base.bias is None or not base.bias.requires_grad)
              and list(m.lora_A) == ["default"] and not m.lora_variant
              and isinstance(m.lora_dropout["default"], torch.nn.Identity)
              and m.lora_A["default"].weight.dtype == torch.float32)
        if not ok:
            return []
    return layers


def bf16_exact(weight) -> bool:
    """Whether every fp32 value is a bf16 value (its low 16 bits are zero), so bf16 holds it without loss."""
    import torch

    return not torch.any(weight.detach().view(torch.int32) & 0xFFFF)


def enable(model) -> int:
    """Compute every adapted layer of `model` in the folded form; returns how many (0: not eligible, unchanged).
    For a training run's model only: its layers keep the working copies for as long as the model lives, and
    frozen weights that are exact bf16 values are stored as bf16 from then on."""
    import torch

    layers = eligible(model)
    for m in layers:
        base, m._lt_weight, m._lt_key, m._lt_folded = m.get_base_layer(), None, None, True
        if bf16_exact(base.weight):
            # The fp32 tensor's own memory becomes the working copy: nothing freed, nothing fragmented.
            m._lt_weight = base.weight.detach()
            base.weight = torch.nn.Parameter(m._lt_weight.to(torch.bfloat16), requires_grad=False)
        m.forward = types.MethodType(_merged_forward, m)
    return len(layers)


def set_folded(model, folded: bool) -> int:
    """Compute the layers `enable` folded in the folded form (True) or peft's way (False; with weights kept in
    bf16 only under bf16 autocast). The working copies stay. Returns how many layers it switched."""
    layers = [m for m in model.modules() if hasattr(m, "_lt_folded")]
    for m in layers:
        m._lt_folded = folded
    return len(layers)


def keep_bf16(model) -> int:
    """For good after bf16 autocast won: peft's computation, no working copies, and every adapted frozen weight
    stored in bf16 — what autocast would round it to in every pass anyway, so nothing changes but the cast and
    the memory. Returns how many layers."""
    import torch

    layers = [m for m in model.modules() if hasattr(m, "_lt_folded")]
    for m in layers:
        m._lt_folded, m._lt_weight, m._lt_key = False, None, None
        base = m.get_base_layer()
        if base.weight.dtype == torch.float32:
            base.weight = torch.nn.Parameter(base.weight.detach().to(torch.bfloat16), requires_grad=False)
    return len(layers)
