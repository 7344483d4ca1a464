"""Our trainer vs the reference recipe on the starter model: same examples, same LoRA rank, one epoch.

Each run is its own process (clean peak memory), alternating reference and ours. Times and peak memory cover
loading the model and training (not the held-out evaluation, which both then run with the same function). On
a CUDA GPU both run there (the reference in bf16), and peak GPU memory is reported beside peak RSS.

    .venv/bin/python benchmarks/train_throughput.py --examples 64 --repeats 1
    python3 benchmarks/train_throughput.py --model DIR --examples 256 --repeats 2 --with-nf4   # a GPU machine
    .venv/bin/python benchmarks/train_throughput.py --data scenarios.csv --repeats 2   # your own scenarios

`--data` takes a file in the journal's import format (CSV or JSONL): its scenarios go through the same
redaction and held-out split as `localtune-cli train`, and the training split (or its first `--examples`) is
what both recipes train on. Without it, the demo journal's examples come first, then seeded synthetic ones.

`--with-nf4` adds our trainer forced to a 4-bit base (QLoRA), for when the plan picks plain LoRA because the
model fits in memory (it does on a GPU), so 4-bit is compared like for like too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


RECIPES = {"ref": "reference (Trainer + QLoRA, grad ckpt)", "ours": "localtune (its plan)",
           "ours-nf4": "localtune, 4-bit base forced"}


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def examples_of(data: str | None, n: int | None, seed: int):
    """(train, held out): from a scenario file through readiness's redaction and split, or the built-in mix."""
    if not data:
        from _examples import benchmark_examples

        return benchmark_examples(n or 64, seed)
    from localtune.dataset.checks import readiness
    from localtune.journal.io import read_file

    parsed = read_file(data)
    parsed.require_clean(data)
    report = readiness(parsed.scenarios)
    if not report.train or not report.eval:
        sys.exit(f"{data} gives {len(report.train)} training and {len(report.eval)} held-out examples; "
                 "both recipes need some of each.")
    return report.train[:n] if n else report.train, report.eval


def worker(which: str, model_dir: str, n: int | None, seed: int, data: str | None) -> dict:
    from localtune import privacy

    privacy.harden()
    import torch

    from localtune.engine.data import length_grouped_batches, padding_share, tokenize
    from localtune.engine.train import TrainConfig, _tokenizer, eval_loss

    train_ex, eval_ex = examples_of(data, n, seed)
    tok = _tokenizer(model_dir)
    eval_items = [tokenize(tok, e) for e in eval_ex]
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    bf16 = cuda and torch.cuda.is_bf16_supported()
    t0 = time.perf_counter()
    if which == "ref":
        from _reference_recipe import run_reference

        items = [tokenize(tok, e) for e in train_ex]
        model, loop_s = run_reference(model_dir, items, seed=seed, pad_id=tok.pad_token_id)
        wall = time.perf_counter() - t0
        peak_rss = _peak_rss()
        # The Trainer's sampler is a seeded random permutation: rebuild it to count its padding.
        g = torch.Generator()
        g.manual_seed(seed)
        order = torch.randperm(len(items), generator=g).tolist()
        pad = padding_share(items, [order[i:i + 4] for i in range(0, len(order), 4)])
        real = sum(len(t) for t in items)
        head = False
    else:
        from localtune.engine.events import Finished
        from localtune.engine.hardware import detect
        from localtune.engine.train import _micro_padding, train

        config = TrainConfig(epochs=1, lora_r=16, lora_alpha=32, batch_size=4, seed=seed, eval_each_epoch=False,
                             checkpoint_every_s=0, quantization="nf4" if which == "ours-nf4" else "auto")
        done = None
        for event in train(model_dir, train_ex, [], config, hardware=detect()):
            if isinstance(event, Finished):
                done = event
        wall = time.perf_counter() - t0
        peak_rss = _peak_rss()  # before the evaluation below loads the base model again
        from localtune.engine.adapters import attach, load_base

        model = attach(load_base(model_dir, device=device), done.adapter, done.peft_config)
        items = [tokenize(tok, e) for e in train_ex]
        batches = length_grouped_batches([len(t) for t in items], 4, seed * 1000)
        pad = _micro_padding(items, batches, max(len(t) for t in items))
        real = done.train_tokens
        loop_s = done.train_seconds
        head = True
    model.eval()
    peak_gpu = torch.cuda.max_memory_allocated() if cuda else 0  # before the evaluation's own model
    ev = eval_loss(model, eval_items, tok.pad_token_id, 10**9 if not cuda else 16384, device=device, bf16=bf16,
                   completion_only_head=head)
    return {"which": which, "examples": len(items), "mean_len": real / len(items), "real_tokens": real,
            "wall_s": wall, "tokens_per_s": real / wall,
            "loop_tokens_per_s": real / loop_s, "padding": pad, "device": torch.cuda.get_device_name() if cuda else
            "cpu", "peak_gpu": peak_gpu,
            "peak_rss": peak_rss, "eval_loss": ev}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=None,
                    help="training examples (default: 64, or all of --data's training split)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models-dir", default=None, help="where the starter is converted (default: a cache dir)")
    ap.add_argument("--model", help="a Hugging Face model folder to use instead of the starter")
    ap.add_argument("--data", help="a scenario file (CSV or JSONL, the journal's import format) to train on")
    ap.add_argument("--with-nf4", action="store_true", help="also run our trainer with a 4-bit base forced")
    ap.add_argument("--worker", choices=list(RECIPES), help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model_dir, args.examples, args.seed, args.data)))
        return

    from localtune import privacy

    privacy.harden()
    from cpu_precision import cpu_flags  # the flags that decide bf16 speed, printed with the figures

    from localtune.engine.models import ensure_starter
    from localtune.paths import resolve

    model_dir = Path(args.model) if args.model else ensure_starter(args.models_dir or resolve().models)
    recipes = ["ref", "ours"] + (["ours-nf4"] if args.with_nf4 else [])
    results = []
    for r in range(args.repeats):
        for which in recipes:
            out = subprocess.run([sys.executable, __file__, "--worker", which, "--model-dir", str(model_dir),
                                  "--seed", str(args.seed)]
                                 + (["--examples", str(args.examples)] if args.examples else [])
                                 + (["--data", args.data] if args.data else []),
                                 capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            if out.returncode:
                sys.exit(f"{which} failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(res)
            print(f"run {r + 1} {which}: {res['tokens_per_s']:.1f} tok/s, {res['wall_s']:.0f} s", file=sys.stderr)

    def mean(which, key):
        vals = [x[key] for x in results if x["which"] == which]
        return sum(vals) / len(vals)

    gib = 1024**3
    device = results[0]["device"]
    source = f"from {Path(args.data).name}" if args.data else "(demo journal, then synthetic)"
    print(f"\n{model_dir.name}: {results[0]['examples']} examples {source}, {results[0]['mean_len']:.0f} tokens "
          f"on average, 1 epoch, r=16 all-linear, batch 4, {args.repeats} run(s) "
          f"each, on {device} ({os.cpu_count()} CPU cores)\nCPU: {cpu_flags()}\n")
    gpu = device != "cpu"
    print("| recipe | real tokens/s (end to end) | tokens/s (training loop) | padding | peak RSS (training) |"
          + (" peak GPU memory |" if gpu else "") + " eval loss | wall time |")
    print("| --- | ---: | ---: | ---: | ---: |" + (" ---: |" if gpu else "") + " ---: | ---: |")
    for which in recipes:
        print(f"| {RECIPES[which]} | {mean(which, 'tokens_per_s'):.1f} | {mean(which, 'loop_tokens_per_s'):.1f} | "
              f"{mean(which, 'padding'):.0%} | {mean(which, 'peak_rss') / gib:.2f} GiB | "
              + (f"{mean(which, 'peak_gpu') / gib:.2f} GiB | " if gpu else "")
              + f"{mean(which, 'eval_loss'):.3f} | {mean(which, 'wall_s'):.0f} s |")
    for which in recipes[1:]:
        print(f"\n{RECIPES[which]}: {mean(which, 'tokens_per_s') / mean('ref', 'tokens_per_s'):.2f}x the reference "
              f"end to end, {mean(which, 'loop_tokens_per_s') / mean('ref', 'loop_tokens_per_s'):.2f}x in the "
              "training loop")


if __name__ == "__main__":
    main()
