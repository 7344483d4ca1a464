"""Which CPU training variant is fastest per optimizer step on this machine: same process, alternating A/B.

    .venv/bin/python benchmarks/cpu_precision.py [--rounds 5] [--examples 48] [--variants fp32-folded,bf16]

Each variant gets its own copy of the starter model with a fresh LoRA adapter (r=16, all linear layers, same
seed) and its own AdamW. After one warm-up step each, every round takes the next length-grouped batch of 4
demo-journal examples and runs one optimizer step of every variant on it, in an order that rotates from round
to round; the machine's load drifts, and interleaving spreads that drift over all variants alike. The table
gives the median seconds per step, and the median over rounds of each variant's time divided by fp32-folded's
time in the same round (paired ratios are what stay comparable on a shared machine). The last column is the
largest difference in training loss from the variant it should match (fp32-folded vs fp32-peft, bf16-folded vs
bf16) over all rounds: the same numbers to float rounding means the same training.

Variants:
  fp32-peft    LoRA on the fp32 base as peft computes it (W·x + s·B·A·x)
  fp32-folded  the adapter folded into an fp32 working copy of each weight (engine/merged_lora.py)
  bf16         bf16 autocast on the fp32 base (autocast casts every weight to bf16 in every pass)
  bf16-base    bf16 autocast with the adapted frozen weights stored in bf16 (no per-pass cast): what
               training keeps when bf16 wins its timing on the first steps (merged_lora.keep_bf16)
  bf16-folded  the adapter folded into a bf16 working copy (one cast per optimizer step); experimental:
               an update smaller than half a bf16 step of its weight is rounded away in the forward pass

The CPU's flags (AMX, AVX512-BF16) decide whether bf16 matmuls are fast; they are printed with the results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VARIANTS = ("fp32-peft", "fp32-folded", "bf16", "bf16-base", "bf16-folded")
MATCHES = {"fp32-folded": "fp32-peft", "bf16-folded": "bf16", "bf16-base": "bf16"}  # same maths as


def cpu_flags() -> str:
    """The CPU's model name and the flags that decide bf16 speed (as /proc/cpuinfo lists them)."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "avx_vnni")
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    have = [f for f in wanted if f in flags]
    return f"{name}, flags: {' '.join(have) or 'none of ' + ' '.join(wanted)}"


def _bf16_folded(model) -> None:
    """Fold each adapter into a bf16 working copy of its weight (benchmark only; see the module docstring)."""
    import types

    import torch
    import torch.nn.functional as F

    from localtune.engine import merged_lora

    class Folded(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, bias, a, b, scale):
            x = x.to(torch.bfloat16)
            ctx.save_for_backward(x, w, a, b)
            ctx.scale = scale
            return F.linear(x, w, None if bias is None else bias.to(torch.bfloat16))

        @staticmethod
        def backward(ctx, dy):
            x, w, a, b = ctx.saved_tensors
            x2, dy2 = x.reshape(-1, x.shape[-1]), dy.to(torch.bfloat16).reshape(-1, dy.shape[-1])
            dx = (dy2 @ w).view(x.shape)
            u = (dy2 @ b.to(torch.bfloat16)).mul_(ctx.scale)
            z = (x2 @ a.to(torch.bfloat16).t()).mul_(ctx.scale)
            return dx, None, None, (u.t() @ x2).float(), (dy2.t() @ z).float(), None

    def forward(self, x, *args, **kwargs):
        a, b = self.lora_A["default"].weight, self.lora_B["default"].weight
        scale = self.scaling["default"]
        key = (a._version, b._version)
        if self._lt_key != key:
            with torch.no_grad():
                self._lt_weight = (self.base_layer.weight.float() + scale * (b @ a)).to(torch.bfloat16)
            self._lt_key = key
        return Folded.apply(x, self._lt_weight, self.base_layer.bias, a, b, scale)

    for m in merged_lora.eligible(model):
        m._lt_weight, m._lt_key = None, None
        m.forward = types.MethodType(forward, m)


def build(variant: str, model_dir, plan_, config):
    from localtune.engine.train.model import _build

    bf16 = variant.startswith("bf16")
    # bf16-base is what training keeps after bf16 won its timing: built folded, then merged_lora.keep_bf16.
    p = replace(plan_, bf16=bf16, merged_lora=variant in ("fp32-folded", "bf16-base"))
    model = _build(model_dir, p, config)
    if variant == "bf16-folded":
        _bf16_folded(model)
    return model, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="timed steps per variant (after one warm-up step)")
    ap.add_argument("--examples", type=int, default=48, help="demo-journal examples to draw batches from")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: all cores; 1 gives steadier ratios on a machine busy with other work)")
    ap.add_argument("--model", help="a Hugging Face model folder to use instead of the starter")
    ap.add_argument("--models-dir", default=None, help="where the starter is converted (default: a cache dir)")
    args = ap.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := set(variants) - set(VARIANTS):
        sys.exit(f"unknown variants: {', '.join(sorted(unknown))} (choose from {', '.join(VARIANTS)})")

    from localtune import privacy

    privacy.harden()
    import torch
    from _examples import benchmark_examples

    from localtune.engine.data import length_grouped_batches, tokenize
    from localtune.engine.hardware import Hardware, cores
    from localtune.engine.models import ensure_starter
    from localtune.engine.train import TrainConfig
    from localtune.engine.train.loop import _train_step
    from localtune.engine.train.model import _optimizer, _supports_head_trick, _tokenizer
    from localtune.engine.train.planning import _plan
    from localtune.paths import resolve

    torch.set_num_threads(args.threads or cores())
    model_dir = Path(args.model) if args.model else ensure_starter(args.models_dir or resolve().models)
    train_ex, _ = benchmark_examples(args.examples)
    tok = _tokenizer(model_dir)
    items = [tokenize(tok, e) for e in train_ex]
    config = TrainConfig(epochs=1, lora_r=16, lora_alpha=32, batch_size=4, seed=0, quantization="none")
    hw = Hardware("cpu", "benchmark", cores(), 24 * 1024**3, 16 * 1024**3)
    plan_ = _plan(hw, model_dir, items, config)
    batches = length_grouped_batches([len(t) for t in items], 4, 0)

    runs = {}
    for v in variants:
        model, p = build(v, model_dir, plan_, config)
        model.train()
        runs[v] = {"model": model, "plan": p, "opt": _optimizer(model, p, config), "times": [], "losses": [],
                   "head": _supports_head_trick(model)}

    def step(v, batch):
        r = runs[v]
        t0 = time.perf_counter()
        loss, ntok = _train_step(r["model"], r["opt"], items, batch, tok.pad_token_id, r["plan"], config, r["head"],
                                 lr=config.lr)
        return time.perf_counter() - t0, loss, ntok

    for v in variants:  # warm-up: first-call allocations and kernel selection
        dt, _, ntok = step(v, batches[0])
        print(f"warm-up {v}: {dt:.2f} s ({ntok} tokens)", file=sys.stderr, flush=True)
    tokens = []
    for i in range(args.rounds):
        batch = batches[(i + 1) % len(batches)]
        order = variants[i % len(variants):] + variants[:i % len(variants)]
        for v in order:
            dt, loss, ntok = step(v, batch)
            runs[v]["times"].append(dt)
            runs[v]["losses"].append(loss)
        tokens.append(ntok)
        print(f"round {i + 1}: {ntok} tokens; " + ", ".join(f"{v} {runs[v]['times'][-1]:.2f} s" for v in variants),
              file=sys.stderr, flush=True)

    base = "fp32-folded" if "fp32-folded" in variants else variants[0]
    print(f"\n{model_dir.name}, LoRA r=16 all-linear, batch 4 (one example per pass), {args.rounds} rounds after a "
          f"warm-up, {statistics.mean(tokens):.0f} tokens per step on average, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads (os.cpu_count {os.cpu_count()})\nCPU: {cpu_flags()}\n")
    print(f"| variant | median s/step | min-max | median ratio to {base} (same round) | tokens/s | "
          "max loss diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for v in variants:
        t = runs[v]["times"]
        ratio = statistics.median(b / a for a, b in zip(runs[base]["times"], t, strict=True))
        ref = MATCHES.get(v)
        diff = (f"{max(abs(x - y) for x, y in zip(runs[v]['losses'], runs[ref]['losses'], strict=True)):.2e} vs {ref}"
                if ref in runs else "")
        print(f"| {v} | {statistics.median(t):.2f} | {min(t):.2f}-{max(t):.2f} | {ratio:.2f}x time | "
              f"{sum(tokens) / sum(t):.0f} | {diff} |")


if __name__ == "__main__":
    main()
