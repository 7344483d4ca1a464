"""The app's trainer vs the training server on the same examples, one device: tokens/s, peak memory, losses.

Issue 21 asks that the server path (bundle -> localtune-train-server) be no slower than training in the app.
Both train the same examples with the same settings and seed; each run is its own process (clean peak
memory), alternating app and server. Tokens/s is real (non-padding) tokens over the time spent in training
steps (loading and held-out evaluation excluded), as both report it. The loss columns show whether the server
reproduces the app's run (same plan, same batches: the curves should agree to float rounding).

    .venv/bin/python benchmarks/remote_vs_local.py --examples 24 --steps 6                 # the starter, CPU
    python3 benchmarks/remote_vs_local.py --model DIR --examples 256 --rounds 2            # a GPU machine
    python3 benchmarks/remote_vs_local.py --model DIR --procs 2                            # 2 server processes

`--model` takes a Hugging Face folder (random weights built from a config are fine for speed and memory);
without it the starter is converted once into a cache folder. The examples are the demo journal's, through
the same redaction and split as `localtune-cli check`, then seeded synthetic ones (benchmarks/_examples.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PASS = "benchmark passphrase"


def _examples(n: int, n_eval: int, seed: int):
    from _examples import benchmark_examples

    return benchmark_examples(n, seed, n_eval)


def local_worker(model_dir: str, bundle_file: str) -> None:
    """The app's trainer (engine.train.train, as training.train_adapter calls it) on the bundle's examples."""
    from localtune import privacy

    privacy.harden()
    from localtune.bundle.export import open_training
    from localtune.engine.train import TrainConfig, train

    bundle = open_training(bundle_file, PASS)
    config = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in bundle.config.items()})
    losses = []
    t0 = time.perf_counter()
    for event in train(model_dir, bundle.train, bundle.eval, config):
        kind = type(event).__name__
        if kind == "Progress":
            losses.append(event.loss)
        elif kind == "Finished":
            print(json.dumps({"tokens_per_s": event.tokens_per_s, "peak_memory_bytes": event.peak_memory_bytes,
                              "train_seconds": event.train_seconds, "eval_loss": event.eval_loss,
                              "wall_seconds": time.perf_counter() - t0, "losses": losses}))


def run_local(model_dir: str, bundle_file: Path) -> dict:
    r = subprocess.run([sys.executable, __file__, "--worker", "--model", model_dir, "--bundle", str(bundle_file)],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        sys.exit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_server(model_dir: str, bundle_file: Path, procs: int, out: Path) -> dict:
    out.unlink(missing_ok=True)
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] if procs > 1 else []
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *launcher, "-m", "localtune.remote.server", str(bundle_file), "--model",
                        model_dir, "--out", str(out)], input=PASS + "\n", capture_output=True, text=True,
                       check=False)
    wall = time.perf_counter() - t0
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode or not events or events[-1]["event"] != "sealed":
        sys.exit(r.stderr[-3000:] + r.stdout[-2000:])
    sealed = events[-1]
    return {"tokens_per_s": sealed["tokens_per_s"], "peak_memory_bytes": sealed["peak_memory_bytes"],
            "train_seconds": sealed["train_seconds"], "eval_loss": sealed["eval_loss"], "wall_seconds": wall,
            "losses": [e["loss"] for e in events if e["event"] == "progress"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a Hugging Face model folder (default: the starter)")
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--eval", type=int, default=16, dest="n_eval")
    ap.add_argument("--steps", type=int, help="stop after this many optimizer steps (default: one epoch)")
    ap.add_argument("--rounds", type=int, default=1, help="app/server pairs, alternating")
    ap.add_argument("--procs", type=int, default=1, help="server processes (torchrun)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bf16", choices=("on", "off"),
                    help="pin bf16 autocast for both (default: the plan's choice on a GPU, off on a CPU, where the "
                    "app would time fp32 against bf16 in its first steps and the server keeps fp32)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bundle", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        local_worker(args.model, args.bundle)
        return
    from localtune import privacy

    privacy.harden()
    from localtune.bundle.export import TrainingBundle

    model_dir = args.model
    if not model_dir:
        from localtune.engine.models import ensure_starter

        model_dir = str(ensure_starter(Path(tempfile.gettempdir()) / "localtune-bench-models"))
    train, held = _examples(args.examples, args.n_eval, args.seed)
    config = {"epochs": 1, "seed": args.seed, "early_stopping_patience": 0, "checkpoint_every_s": 0.0}
    if args.steps:
        config["max_steps"] = args.steps
    import torch

    if args.bf16 or not torch.cuda.is_available():
        config["bf16"] = args.bf16 == "on"
    with tempfile.TemporaryDirectory() as tmp:  # the bundle is sealed; the adapter bundles too
        bundle_file = Path(tmp) / "bench.ltb"
        bundle_file.write_bytes(TrainingBundle(train=train, eval=held, config=config, base_model="bench").seal(PASS))
        os.chmod(bundle_file, 0o600)
        rows = {"app": [], "server": []}
        for _ in range(args.rounds):
            rows["app"].append(run_local(model_dir, bundle_file))
            rows["server"].append(run_server(model_dir, bundle_file, args.procs, Path(tmp) / "adapter.ltb"))
    gib = 1024**3
    print(f"{len(train)} training / {len(held)} held-out examples, {Path(model_dir).name}, server processes: "
          f"{args.procs}, rounds: {args.rounds}, bf16: {config.get('bf16', 'the plan')}")
    print(f"{'':8} {'tokens/s':>10} {'peak GiB':>9} {'train s':>8} {'wall s':>7} {'eval loss':>10}")
    for name, runs in rows.items():
        for r in runs:
            print(f"{name:8} {r['tokens_per_s']:>10.1f} {r['peak_memory_bytes'] / gib:>9.2f} "
                  f"{r['train_seconds']:>8.1f} {r['wall_seconds']:>7.1f} {r['eval_loss'] or 0:>10.4f}")
    mean = {k: sum(r["tokens_per_s"] for r in v) / len(v) for k, v in rows.items()}
    diff = max(abs(a - b) for a, b in zip(rows["app"][0]["losses"], rows["server"][0]["losses"], strict=False))
    print(f"server / app tokens/s: {mean['server'] / mean['app']:.2f}x; largest loss difference over "
          f"{len(rows['app'][0]['losses'])} steps: {diff:.2e}")


if __name__ == "__main__":
    main()
