"""Our trainer vs the reference recipe on the starter model: same examples, same LoRA rank, one epoch.

Each run is its own process (clean peak memory), alternating reference and ours. Times and peak memory cover
loading the model and training (not the held-out evaluation, which all then run with the same function).

    .venv/bin/python benchmarks/train_throughput.py --examples 32 --seeds 3
    python3 benchmarks/train_throughput.py --model DIR --examples 256 --seeds 2 --with-nf4   # a GPU machine
    .venv/bin/python benchmarks/train_throughput.py --data scenarios.csv --seeds 3   # your own scenarios

The reference at its strongest: the usual QLoRA recipe computes in bf16 (`bnb_4bit_compute_dtype=bfloat16`,
`bf16=True`). On a GPU that supports bf16 that is what runs. On a CPU the first seed times it both ways (bf16
and fp32 compute, the latter being this benchmark's old reference, kept for history) and the later seeds run
only the faster; ratios are taken against the faster. The table says which compute dtype each recipe used.

`--seeds N` trains every recipe with N training seeds (LoRA initialisation, data order) on the same examples
and held-out set, and reports the eval loss as mean ± spread (half the range): whether a loss gap is noise.

`--data` takes a file in the journal's import format (CSV or JSONL): its scenarios go through the same
redaction and held-out split as `localtune-cli train`, and the training split (or its first `--examples`) is
what the recipes train on. Without it, the demo journal's examples come first, then seeded synthetic ones.

`--with-nf4` adds our trainer forced to a 4-bit base (QLoRA), for when the plan picks plain LoRA because the
model fits in memory, so 4-bit is compared like for like too. `--ours-set KEY=VALUE` changes one TrainConfig
field of ours (e.g. `lora_dropout=0.05`, `bf16=false`, `warmup_ratio=0`): for finding what moves the loss.

The FLOP accounting below the table counts the matmul work per real token of the LoRA setup: forward 2·N (N:
the adapted decoder's linear weights) plus attention; backward only the activation gradients (2·N, frozen
weights get none) plus attention's; the adapters' own forward, input and weight gradients; the vocabulary
projection forward and backward (its input gradient) on answer tokens for ours and every token for the
reference, which also recomputes the decoder forward (gradient checkpointing) and computes on padding. The
achieved rate is set against this machine's matmul peak, measured here with a large torch matmul.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


RECIPES = {"ref-fp32": "reference, fp32 compute (the old row)", "ref-bf16": "reference, bf16 compute (usual)",
           "ours": "localtune (its plan)", "ours-nf4": "localtune, 4-bit base forced"}


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def examples_of(data: str | None, n: int | None, seed: int, n_eval: int | None = None):
    """(train, held out): from a scenario file through readiness's redaction and split, or the built-in mix."""
    if not data:
        from _examples import benchmark_examples

        train, held = benchmark_examples(n or 64, seed, n_eval)
        return train, held
    from localtune.dataset.checks import readiness
    from localtune.journal.io import read_file

    parsed = read_file(data)
    parsed.require_clean(data)
    report = readiness(parsed.scenarios)
    if not report.train or not report.eval:
        sys.exit(f"{data} gives {len(report.train)} training and {len(report.eval)} held-out examples; "
                 "both recipes need some of each.")
    return (report.train[:n] if n else report.train), (report.eval[:n_eval] if n_eval else report.eval)


def _parse_sets(sets: list[str]) -> dict:
    out = {}
    for s in sets:
        key, _, value = s.partition("=")
        low = value.lower()
        out[key] = (None if low == "none" else True if low == "true" else False if low == "false"
                    else float(value) if "." in value else int(value) if value.lstrip("-").isdigit() else value)
    return out


def flops_per_run(model_dir, items, *, head_all: bool, recompute: bool, pad_share: float, r: int = 16) -> float:
    """Matmul FLOPs of one epoch over `items` (see the module docstring); items carry ids and prompt_len."""
    c = json.loads((Path(model_dir) / "config.json").read_text())
    d, f, layers, vocab = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    dkv = c["num_key_value_heads"] * c.get("head_dim", d // c["num_attention_heads"])
    shapes = [(d, d), (d, dkv), (d, dkv), (d, d), (d, f), (d, f), (f, d)]  # q k v o gate up down (in, out)
    linear = layers * sum(i * o for i, o in shapes)
    lora = layers * sum(r * (i + o) for i, o in shapes)
    tokens = sum(len(t) for t in items)
    answer = sum(len(t) - t.prompt_len for t in items)
    pairs = sum(len(t) * (len(t) + 1) // 2 for t in items)  # (query, key) pairs under the causal mask
    fwd = 2 * linear * tokens + 2 * lora * tokens + 4 * d * layers * pairs
    bwd = 2 * linear * tokens + 4 * lora * tokens + 8 * d * layers * pairs
    total = fwd + bwd + 4 * d * vocab * (tokens if head_all else answer) + (fwd if recompute else 0)
    # Padding is computed like real tokens (the reference's batches; ours has almost none).
    return float(total / (1 - pad_share))


def matmul_peak() -> dict:
    """This machine's matmul rate (FLOP/s) in fp32 and bf16: best of a few 2048³ torch matmuls."""
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(2048, 2048, dtype=dtype)
        b = torch.randn(2048, 2048, dtype=dtype)
        a @ b
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
        out[name] = 2 * 2048**3 / best
    return out


def worker(which: str, model_dir: str, n: int | None, seed: int, data_seed: int, data: str | None,
           n_eval: int | None, sets: dict) -> dict:
    from localtune import privacy

    privacy.harden()
    import torch

    from localtune.engine.data import length_grouped_batches, padding_share, tokenize
    from localtune.engine.train import TrainConfig, eval_loss
    from localtune.engine.train.model import _tokenizer

    train_ex, eval_ex = examples_of(data, n, data_seed, n_eval)
    tok = _tokenizer(model_dir)
    eval_items = [tokenize(tok, e) for e in eval_ex]
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    t0 = time.perf_counter()
    items = [tokenize(tok, e) for e in train_ex]
    if which.startswith("ref"):
        from _reference_recipe import run_reference

        model, loop_s, compute = run_reference(model_dir, items, seed=seed, pad_id=tok.pad_token_id,
                                               compute=which.split("-")[1])
        wall = time.perf_counter() - t0
        peak_rss = _peak_rss()
        # The Trainer's sampler is a seeded random permutation: rebuild it to count its padding.
        g = torch.Generator()
        g.manual_seed(seed)
        order = torch.randperm(len(items), generator=g).tolist()
        pad = padding_share(items, [order[i:i + 4] for i in range(0, len(order), 4)])
        real = sum(len(t) for t in items)
        head = False
        flops = flops_per_run(model_dir, items, head_all=True, recompute=True, pad_share=pad)
    else:
        from localtune.engine.hardware import detect
        from localtune.engine.train import train
        from localtune.engine.train.planning import _micro_padding
        from localtune.events import Finished, Status

        config = TrainConfig(epochs=1, lora_r=16, lora_alpha=32, batch_size=4, seed=seed, eval_each_epoch=False,
                             checkpoint_every_s=0, quantization="nf4" if which == "ours-nf4" else "auto", **sets)
        done = None
        statuses = []
        for event in train(model_dir, train_ex, [], config, hardware=detect()):
            if isinstance(event, Finished):
                done = event
            elif isinstance(event, Status):
                statuses.append(str(getattr(event, "message", event)))
        wall = time.perf_counter() - t0
        peak_rss = _peak_rss()  # before the evaluation below loads the base model again
        # The plan's first status line names its precision; a CPU trial's verdict comes later.
        compute = "bf16" if any("bf16 autocast kept" in s or s.endswith(", bf16") for s in statuses) else "fp32"
        if which == "ours-nf4" or config.quantization == "nf4":
            compute += " (NF4 base)"
        from localtune.engine.adapters import attach, load_base

        model = attach(load_base(model_dir, device=device), done.adapter, done.peft_config)
        batches = length_grouped_batches([len(t) for t in items], 4, seed * 1000)
        pad = _micro_padding(items, batches, max(len(t) for t in items))
        real = done.train_tokens
        loop_s = done.train_seconds
        head = True
        flops = flops_per_run(model_dir, items, head_all=False, recompute=False, pad_share=0.0)
    model.eval()
    peak_gpu = torch.cuda.max_memory_allocated() if cuda else 0  # before the evaluation's own model
    ev = eval_loss(model, eval_items, tok.pad_token_id, 10**9 if not cuda else 16384, device=device, bf16=bf16,
                   completion_only_head=head)
    return {"which": which, "seed": seed, "examples": len(items), "eval_examples": len(eval_items),
            "mean_len": real / len(items), "real_tokens": real,
            "answer_tokens": sum(len(t) - t.prompt_len for t in items),
            "wall_s": wall, "tokens_per_s": real / wall, "loop_s": loop_s, "flops": flops, "compute": compute,
            "loop_tokens_per_s": real / loop_s, "padding": pad, "device": torch.cuda.get_device_name() if cuda else
            "cpu", "peak_gpu": peak_gpu, "peak_rss": peak_rss, "eval_loss": ev}


def _load() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=None,
                    help="training examples (default: 64, or all of --data's training split)")
    ap.add_argument("--eval-examples", type=int, default=None,
                    help="held-out examples (default: examples/4, or all of --data's held-out split)")
    ap.add_argument("--seeds", type=int, default=1, help="training seeds per recipe (seed, seed+1, ...)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per recipe and seed")
    ap.add_argument("--seed", type=int, default=0, help="the first training seed; also picks the examples")
    ap.add_argument("--models-dir", default=None, help="where the starter is converted (default: a cache dir)")
    ap.add_argument("--model", help="a Hugging Face model folder to use instead of the starter")
    ap.add_argument("--data", help="a scenario file (CSV or JSONL, the journal's import format) to train on")
    ap.add_argument("--with-nf4", action="store_true", help="also run our trainer with a 4-bit base forced")
    ap.add_argument("--ours-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a TrainConfig field for our trainer (repeatable)")
    ap.add_argument("--no-fp32-reference", action="store_true",
                    help="on a CPU, skip timing the reference with fp32 compute (bf16 assumed the faster)")
    ap.add_argument("--worker", choices=list(RECIPES), help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    ap.add_argument("--data-seed", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model_dir, args.examples, args.seed, args.data_seed, args.data,
                                args.eval_examples, _parse_sets(args.ours_set))))
        return

    from localtune import privacy

    privacy.harden()
    import torch
    from cpu_precision import cpu_flags  # the flags that decide bf16 speed, printed with the figures

    from localtune.engine.models import ensure_starter
    from localtune.paths import resolve

    model_dir = Path(args.model) if args.model else ensure_starter(args.models_dir or resolve().models)
    cuda = torch.cuda.is_available()
    peak = matmul_peak() if not cuda else {}
    loads = [_load()]
    ours = ["ours"] + (["ours-nf4"] if args.with_nf4 else [])
    results = []

    def run(which: str, seed: int) -> dict:
        out = subprocess.run([sys.executable, __file__, "--worker", which, "--model-dir", str(model_dir),
                              "--seed", str(seed), "--data-seed", str(args.seed)]
                             + (["--examples", str(args.examples)] if args.examples else [])
                             + (["--eval-examples", str(args.eval_examples)] if args.eval_examples else [])
                             + (["--data", args.data] if args.data else [])
                             + [x for s in args.ours_set for x in ("--ours-set", s)],
                             capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if out.returncode:
            sys.exit(f"{which} failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"seed {seed} {which} ({res['compute']}): {res['tokens_per_s']:.1f} tok/s, "
              f"{res['loop_tokens_per_s']:.1f} in the loop, {res['wall_s']:.0f} s, eval loss "
              f"{res['eval_loss']:.4f}; {_load()}", file=sys.stderr, flush=True)
        return res

    # The reference at its strongest: bf16 compute where it runs; on a CPU time fp32 too on the first seed
    # (alternating with ours) and keep the faster for the other seeds.
    ref = "ref-bf16" if not cuda or torch.cuda.is_bf16_supported() else "ref-fp32"
    both = not cuda and not args.no_fp32_reference
    seeds = [args.seed + k for k in range(args.seeds)]
    for k, seed in enumerate(seeds):
        for _ in range(args.repeats):
            if k == 0 and both:
                a, _, b = run("ref-fp32", seed), [run(w, seed) for w in ours], run("ref-bf16", seed)
                ref = "ref-bf16" if b["loop_tokens_per_s"] >= a["loop_tokens_per_s"] else "ref-fp32"
            else:
                run(ref, seed)
                for w in ours:
                    run(w, seed)
    loads.append(_load())

    def vals(which, key):
        return [x[key] for x in results if x["which"] == which]

    def mean(which, key):
        v = vals(which, key)
        return sum(v) / len(v)

    gib = 1024**3
    device = results[0]["device"]
    source = f"from {Path(args.data).name}" if args.data else "(demo journal, then synthetic)"
    first = results[0]
    print(f"\n{model_dir.name}: {first['examples']} training examples {source}, {first['mean_len']:.0f} tokens on "
          f"average ({first['answer_tokens'] / first['examples']:.0f} of them answer), {first['eval_examples']} "
          f"held out; 1 epoch, r=16 all-linear, batch 4; seeds {seeds[0]}-{seeds[-1]}, {args.repeats} run(s) each,"
          f" on {device} ({os.cpu_count()} CPU cores)\nCPU: {cpu_flags()}; torch {torch.__version__}\n"
          f"{loads[0]} at the start, {loads[1]} at the end"
          + (f"; ours with {', '.join(args.ours_set)}" if args.ours_set else "") + "\n")
    gpu = device != "cpu"
    shown = [w for w in RECIPES if vals(w, "wall_s")]
    print("| recipe | compute | real tokens/s (end to end) | tokens/s (training loop) | padding | peak RSS (training)"
          " |" + (" peak GPU memory |" if gpu else "") + " eval loss (mean ± spread, seeds) | wall time |")
    print("| --- | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if gpu else "") + " ---: | ---: |")
    for which in shown:
        ev = vals(which, "eval_loss")
        spread = (max(ev) - min(ev)) / 2
        print(f"| {RECIPES[which]} | {'/'.join(sorted(set(vals(which, 'compute'))))} | "
              f"{mean(which, 'tokens_per_s'):.1f} | {mean(which, 'loop_tokens_per_s'):.1f} | "
              f"{mean(which, 'padding'):.0%} | {mean(which, 'peak_rss') / gib:.2f} GiB | "
              + (f"{mean(which, 'peak_gpu') / gib:.2f} GiB | " if gpu else "")
              + f"{statistics.mean(ev):.3f} ± {spread:.3f} (n={len(ev)}) | {mean(which, 'wall_s'):.0f} s |")
    print(f"\nThe strongest reference here: {RECIPES[ref]}.")
    # Ratios: ours against the strong reference in the same seed (same load period), then their median.
    for which in ours:
        e2e = [o["tokens_per_s"] / r_["tokens_per_s"] for o in results if o["which"] == which
               for r_ in results if r_["which"] == ref and r_["seed"] == o["seed"]]
        loop = [o["loop_tokens_per_s"] / r_["loop_tokens_per_s"] for o in results if o["which"] == which
                for r_ in results if r_["which"] == ref and r_["seed"] == o["seed"]]
        print(f"{RECIPES[which]}: {statistics.median(e2e):.2f}x the strongest reference end to end, "
              f"{statistics.median(loop):.2f}x in the training loop (medians of same-seed ratios)")
        if both and vals("ref-fp32", "wall_s"):
            old = [o["loop_tokens_per_s"] / r_["loop_tokens_per_s"] for o in results if o["which"] == which
                   for r_ in results if r_["which"] == "ref-fp32" and r_["seed"] == o["seed"]]
            print(f"  (against the old fp32-compute reference: {statistics.median(old):.2f}x in the loop)")
    if peak:
        print(f"\nFLOPs (matmul work per real token, this run's lengths; peak measured here: fp32 "
              f"{peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f} GFLOP/s, 2048³ torch matmul)")
        print("| recipe | GFLOP per real token | achieved GFLOP/s (loop) | of this machine's peak for its compute |")
        print("| --- | ---: | ---: | ---: |")
        for which in shown:
            per_tok = mean(which, "flops") / mean(which, "real_tokens")
            rate = statistics.mean(x["flops"] / x["loop_s"] for x in results if x["which"] == which)
            dtype = "bf16" if vals(which, "compute")[0].startswith("bf16") else "fp32"
            print(f"| {RECIPES[which]} | {per_tok / 1e9:.3f} | {rate / 1e9:.1f} | "
                  f"{rate / peak[dtype]:.0%} of {dtype} |")


if __name__ == "__main__":
    main()
