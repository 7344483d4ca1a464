"""The plan's memory estimate (`Plan.memory_needed`) against the measured peak of real training steps, per shape.

For each shape (SmolLM2-135M, SmolLM2-360M, Qwen2.5-0.5B, SmolLM2-1.7B: the configs of benchmarks/plan_estimate.py,
random weights from a fixed seed, saved in bf16 as the real checkpoints are) and each mode (QLoRA with the 4-bit
NF4 base, LoRA on the full-precision base; "+ckpt" forces gradient checkpointing), this makes the plan on this
machine for the demo journal's longest training examples (one per step), then runs `--steps` real training steps
with the engine on that plan in a fresh process and measures what the run added to the process:

- CPU: the peak RSS minus the RSS before the run (after `import torch`, when the app makes its plan and reads the
  free memory it compares the estimate with), per phase: loading (tokenizer, base model, adapter, optimizer) and
  training steps (Linux's peak counter reset in between, /proc/self/clear_refs). Loading maps the checkpoint file,
  whose clean pages count in RSS while it loads (1.7B: +3.2 GiB) but are page cache the kernel drops under
  pressure: loading is measured as its peak of anonymous memory (RssAnon, sampled every 5 ms), and its RSS peak
  is printed beside it. After loading, the file's pages are gone and the steps' RSS peak is anonymous memory.
- CUDA: torch.cuda.max_memory_allocated (nothing is allocated before the run).

    .venv/bin/python benchmarks/plan_memory.py                                  # the default rows (below)
    .venv/bin/python benchmarks/plan_memory.py --shapes smollm2-135m --modes nf4,lora,nf4+ckpt
    .venv/bin/python benchmarks/plan_memory.py --shapes smollm2-360m --set batch_size=2 --set micro_batch_tokens=1200

Default rows: nf4 and lora for 135M, 360M and 0.5B; nf4+ckpt for 360M; nf4 only for 1.7B (its fp32 LoRA base
would take 7 GiB more, and minutes per step). Steps take one example each by default (batch_size=1): on a CPU
the plan runs one sequence per pass whatever the batch, so the batch changes time, not the peak.
Exits 1 when a measured/estimated ratio is outside 0.75-1.25 (the estimate "within 25%").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plan_estimate import LAST, SHAPES, _load  # noqa: E402 - after the path

GIB = 1024**3
MODES = ("nf4", "lora", "nf4+ckpt", "lora+ckpt")
DEFAULT_ROWS = [(s, m) for s in SHAPES if s != LAST for m in ("nf4", "lora")] + \
    [("smollm2-360m", "nf4+ckpt"), (LAST, "nf4")]
LOW, HIGH = 0.75, 1.25


def _rss() -> int:
    """This process's resident memory now (bytes)."""
    import psutil

    return psutil.Process().memory_info().rss


def _reset_peak() -> bool:
    """Reset Linux's peak-RSS counter (VmHWM) to the current RSS; False where there is no such counter."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak() -> int:
    """Peak RSS since the last reset (VmHWM), else since the process started (ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _longest(n: int) -> list[int]:
    """Which of the demo journal's training examples are the `n` longest (starter tokenizer), longest first."""
    from plan_estimate import _examples as demo

    from localtune.engine.data import tokenize
    from localtune.engine.models import ensure_starter
    from localtune.engine.train.model import _tokenizer
    from localtune.paths import resolve

    train = demo()
    tok = _tokenizer(ensure_starter(resolve().models))
    return sorted(range(len(train)), key=lambda i: -len(tokenize(tok, train[i], None)))[:n]


def _status(*keys: str) -> dict[str, int]:
    """Fields of /proc/self/status in bytes (empty where there is none)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) * 1024 for k, _, v in (line.partition(":") for line in lines) if k in keys}


class _AnonPeak:
    """The peak of anonymous resident memory (RssAnon), sampled every 5 ms in a thread: Linux keeps a peak of the
    whole RSS only, which while a model loads also holds the checkpoint file's mapped pages."""

    def __init__(self):
        import threading

        self.peak = _status("RssAnon").get("RssAnon", 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _status("RssAnon").get("RssAnon", 0))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _examples(indices: str):
    """Those examples (no tokenizer: the run's process imports transformers only when the run does)."""
    from plan_estimate import _examples as demo

    train = demo()
    return [train[int(i)] for i in indices.split(",")]


def _config(mode: str, sets: dict, steps: int):
    from localtune.engine.train import TrainConfig

    quant = "nf4" if mode.startswith("nf4") else "none"
    fields = {"batch_size": 1, **sets, "quantization": quant, "max_steps": steps, "eval_each_epoch": False,
              "checkpoint_every_s": 0, "epochs": 1}
    if mode.endswith("+ckpt"):
        fields["grad_checkpointing"] = True
    return TrainConfig(**fields)


def plan_worker(folder: str, mode: str, sets_json: str, steps: int, device: str | None, indices: str) -> dict:
    """The plan the app would make for this run on this machine (its hardware, read now)."""
    from localtune import privacy

    privacy.harden()
    from dataclasses import asdict

    from localtune.engine.hardware import detect
    from localtune.engine.train import plan

    config = _config(mode, json.loads(sets_json), steps)
    examples = _examples(indices)
    hw = detect(device)
    return {"plan": asdict(plan(hw, folder, examples, config)), "hardware": hw.describe()}


def train_worker(folder: str, mode: str, sets_json: str, steps: int, plan_json: str, indices: str) -> dict:
    """Real training steps with the engine on the plan; what the run added to this process, per phase."""
    from localtune import privacy

    privacy.harden()
    import torch

    from localtune.engine.train import Plan, train
    from localtune.events import Finished, Progress, Status

    config = _config(mode, json.loads(sets_json), steps)
    examples = _examples(indices)
    p = json.loads(plan_json)
    the_plan = Plan(**{**p, "reasons": tuple(p["reasons"]), "candidates": tuple(p["candidates"])})
    cuda = the_plan.device == "cuda"
    base, base_anon = _rss(), _status("RssAnon").get("RssAnon", 0)
    resettable = _reset_peak()
    anon = _AnonPeak()
    phases, steps_done, finished, load_rss = {}, 0, None, 0
    for event in train(folder, examples, [], config, plan_=the_plan):
        if isinstance(event, Status) and event.message.startswith("Loading the base model"):
            phases["tokenizer"] = _peak() - base
        elif isinstance(event, Status) and "tokenizer" in phases and "load" not in phases:
            # the first Status after the model is built: loading's peak, without the checkpoint's mapped pages
            load_rss = _peak() - base
            phases["load"] = anon.stop() - base_anon
            if resettable:
                _reset_peak()
        elif isinstance(event, Progress):
            steps_done += 1
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None and steps_done == steps, "the run did not finish its steps"
    phases["steps"] = _peak() - base
    out = {"base_rss": base, "phases": phases, "resettable": resettable, "load_rss": load_rss,
           "peak": max(phases.values()), "rss_peak_total": _peak()}
    if cuda:
        out["cuda_peak"] = int(torch.cuda.max_memory_allocated())
        out["peak"] = out["cuda_peak"]
    return out


def _sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode:
        sys.exit(f"{args[0]} {args[1]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", help=f"comma-separated, of: {', '.join(SHAPES)} (default: the default rows)")
    ap.add_argument("--modes", help=f"comma-separated, of: {', '.join(MODES)} (default: the default rows)")
    ap.add_argument("--steps", type=int, default=None, help=f"training steps per row (default 4; 2 for {LAST})")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a TrainConfig field for the plan and the run, e.g. micro_batch_tokens=1200 (repeatable)")
    ap.add_argument("--device", choices=["cpu", "cuda"], help="train on this device (default: what detect finds)")
    ap.add_argument("--keep", help="build the models in this folder and keep them (default: a temporary one)")
    ap.add_argument("--worker", choices=["build", "plan", "train"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--starter", help=argparse.SUPPRESS)
    ap.add_argument("--sets", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    ap.add_argument("--indices", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "build":
        from plan_estimate import build

        print(json.dumps(build(args.shape, args.folder, args.starter)))
        return
    if args.worker == "plan":
        print(json.dumps(plan_worker(args.folder, args.mode, args.sets, args.steps, args.device, args.indices)))
        return
    if args.worker == "train":
        print(json.dumps(train_worker(args.folder, args.mode, args.sets, args.steps, args.plan, args.indices)))
        return

    from localtune import privacy

    privacy.harden()
    from train_throughput import _parse_sets

    from localtune.engine.models import ensure_starter
    from localtune.paths import resolve

    if args.shapes or args.modes:
        shapes = [s.strip() for s in (args.shapes or ",".join(SHAPES)).split(",") if s.strip()]
        modes = [m.strip() for m in (args.modes or "nf4,lora").split(",") if m.strip()]
        bad = [s for s in shapes if s not in SHAPES] + [m for m in modes if m not in MODES]
        if bad:
            sys.exit(f"unknown shape(s) or mode(s) {', '.join(bad)}; shapes: {', '.join(SHAPES)}; modes: "
                     f"{', '.join(MODES)}")
        rows = [(s, m) for s in shapes for m in modes]
    else:
        rows = DEFAULT_ROWS
    rows.sort(key=lambda r: list(SHAPES).index(r[0]))  # the largest last
    sets_json = json.dumps(_parse_sets(args.set))
    starter = ensure_starter(resolve().models)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="localtune-plan-memory-"))
    results = []
    try:
        for shape, mode in rows:
            folder = root / shape
            if not (folder / "config.json").is_file():
                _sub(["--worker", "build", "--shape", shape, "--folder", str(folder), "--starter", str(starter)])
            steps = args.steps if args.steps is not None else (2 if shape == LAST else 4)
            indices = ",".join(map(str, _longest(steps * _config(mode, json.loads(sets_json), steps).batch_size)))
            common = ["--folder", str(folder), "--mode", mode, "--sets", sets_json, "--steps", str(steps),
                      "--indices", indices]
            planned = _sub(["--worker", "plan", *common] + (["--device", args.device] if args.device else []))
            if not results:
                print(planned["hardware"], flush=True)
            p = planned["plan"]
            run = _sub(["--worker", "train", *common, "--plan", json.dumps(p)])
            ratio = run["peak"] / p["memory_needed"]
            results.append({"shape": shape, "mode": mode, "plan": p, "run": run, "ratio": ratio, "steps": steps})
            ph = run["phases"]
            print(f"{shape} {mode}: estimated {p['memory_needed'] / GIB:.2f} GiB, measured {run['peak'] / GIB:.2f} "
                  f"GiB (tokenizer {ph['tokenizer'] / GIB:.2f}, loading {ph['load'] / GIB:.2f} anonymous, "
                  f"{run['load_rss'] / GIB:.2f} with the checkpoint's mapped pages; steps "
                  f"{ph['steps'] / GIB:.2f}; process RSS before {run['base_rss'] / GIB:.2f} GiB, peak "
                  f"{run['rss_peak_total'] / GIB:.2f}); {_load()}", flush=True)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)

    print(f"\nThe demo journal's longest training examples (starter tokenizer), {_load()} at the end"
          + (f"; with {', '.join(args.set)}" if args.set else "") + "\n")
    print("| shape | mode | precision | micro-batch (tokens) | checkpointing | seq len | steps | estimated GiB | "
          "measured GiB (loading / steps) | measured / estimated | within 25% |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        p, ph = r["plan"], r["run"]["phases"]
        prec = "bf16/fp32 trial" if p["candidates"] else "bf16 autocast" if p["bf16"] else "fp32"
        if p["merged_lora"]:
            prec += ", folded"
        kind = "QLoRA (NF4)" if p["quantization"] == "nf4" else "LoRA"
        print(f"| {r['shape']} | {kind} | {prec} | {p['micro_batch_tokens']} | "
              f"{'on' if p['grad_checkpointing'] else 'off'} | {p['max_seq_len']} | {r['steps']} | "
              f"{p['memory_needed'] / GIB:.2f} | {r['run']['peak'] / GIB:.2f} ({ph['load'] / GIB:.2f} / "
              f"{ph['steps'] / GIB:.2f}) | {r['ratio']:.2f} | {'yes' if LOW <= r['ratio'] <= HIGH else 'no'} |")
    outside = [f"{r['shape']} {r['mode']}" for r in results if not LOW <= r["ratio"] <= HIGH]
    if outside:
        print(f"\noutside {LOW}-{HIGH}: {', '.join(outside)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
