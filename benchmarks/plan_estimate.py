"""`localtune-cli train --dry-run`'s time and memory estimate against measured training steps, per model shape.

For each shape (SmolLM2-135M, SmolLM2-360M, Qwen2.5-0.5B, SmolLM2-1.7B: their configs written out below, random
weights from a fixed seed, saved in bf16 as the real checkpoints are) this runs what the dry run runs (plan, then
`estimate`: timed steps on a throw-away copy of the model) on the demo journal's training examples, in one
process; then, in a fresh process, real training steps with the engine on that same plan (one warm-up step, then
`--steps` timed ones; the wall clock between the engine's Progress events) and that process's peak RSS.

    .venv/bin/python benchmarks/plan_estimate.py                      # all four shapes, 3 timed steps (1 for 1.7B)
    .venv/bin/python benchmarks/plan_estimate.py --shapes smollm2-135m,smollm2-360m --steps 5

The estimate is the time of one step of `batch_size` examples of the mean length. The steps measured are the
run's first batches (length-grouped, so not of mean length): the table gives their raw mean and that rate per
token scaled to a mean-length batch ("measured, mean-length batch"), which is what the estimate is judged on.

Every shape uses the starter's tokenizer (49,152 ids). The Qwen2.5-0.5B shape keeps its own vocabulary
(151,936 rows, so the embedding and the output projection cost what they cost), which the starter's ids all fit
in; token counts are the starter tokenizer's, not Qwen's. The output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

_LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "head_dim": 64,
          "attention_bias": False, "mlp_bias": False, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
          "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2, "tie_word_embeddings": True,
          "vocab_size": 49152, "initializer_range": 0.02, "torch_dtype": "bfloat16", "use_cache": True}
SHAPES = {
    "smollm2-135m": {**_LLAMA, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                     "num_attention_heads": 9, "num_key_value_heads": 3, "rope_theta": 100000.0},
    "smollm2-360m": {**_LLAMA, "hidden_size": 960, "intermediate_size": 2560, "num_hidden_layers": 32,
                     "num_attention_heads": 15, "num_key_value_heads": 5, "rope_theta": 100000.0},
    "qwen2.5-0.5b": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
                     "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768,
                     "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "vocab_size": 151936,
                     "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": 151643,
                     "initializer_range": 0.02, "torch_dtype": "bfloat16", "use_cache": True,
                     "use_sliding_window": False},
    "smollm2-1.7b": {**_LLAMA, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
                     "num_attention_heads": 32, "num_key_value_heads": 32, "rope_theta": 130000.0},
}
LAST = "smollm2-1.7b"  # run last, with one timed step unless --steps says otherwise
GIB = 1024**3


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def build(shape: str, folder: str, starter: str) -> dict:
    """Random weights for `shape` (seed 0), saved in bf16 with the starter's tokenizer files."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(SHAPES[shape])
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **cfg)
    if model_type == "qwen2":  # the starter's special tokens, which its tokenizer will produce
        config.bos_token_id, config.eos_token_id, config.pad_token_id = 1, 2, 2
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    for f in Path(starter).iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
            shutil.copy(f, Path(folder) / f.name)
    return {"params": sum(p.numel() for p in model.parameters())}


def _examples():
    from localtune.dataset.checks import readiness
    from localtune.journal.demo import load_demo

    report = readiness(load_demo().scenarios)
    report.raise_if_not_ready()
    return report.train


def estimate_worker(folder: str, config_json: str) -> dict:
    """What `localtune-cli train --dry-run` runs (training.plan_run): plan, then estimate, on this machine."""
    from localtune import privacy

    privacy.harden()
    from dataclasses import asdict

    from localtune.engine.hardware import detect
    from localtune.engine.train import TrainConfig, estimate, plan

    config = TrainConfig(**json.loads(config_json))
    train = _examples()
    t0 = time.perf_counter()
    first = plan(detect(), folder, train, config)
    done = estimate(folder, train, first, config)
    return {"plan": asdict(done), "estimate_wall_s": time.perf_counter() - t0, "examples": len(train),
            "describe": done.describe(), "peak_rss": _peak_rss()}


def train_worker(folder: str, config_json: str, plan_json: str, steps: int) -> dict:
    """Real training steps with the engine on the estimated plan (the trial already decided), timed per step."""
    from localtune import privacy

    privacy.harden()
    from dataclasses import replace

    from localtune.engine.data import length_grouped_batches, tokenize
    from localtune.engine.train import Plan, TrainConfig, train
    from localtune.engine.train.model import _tokenizer
    from localtune.events import Finished, Progress

    total = 1 + steps
    config = TrainConfig(**{**json.loads(config_json), "max_steps": total, "eval_each_epoch": False,
                            "checkpoint_every_s": 0})
    p = json.loads(plan_json)
    the_plan = replace(Plan(**{**p, "reasons": tuple(p["reasons"]), "candidates": tuple(p["candidates"])}),
                       total_steps=total, eta_s=None, seconds_per_step=None)
    examples = _examples()
    tok = _tokenizer(folder)
    lengths = [len(tokenize(tok, e, config.max_seq_len)) for e in examples]
    batches = length_grouped_batches(lengths, the_plan.batch_size, config.seed * 1000)
    step_s, step_tokens = [], []
    last = time.perf_counter()
    finished = None
    for event in train(folder, examples, [], config, plan_=the_plan):
        now = time.perf_counter()
        if isinstance(event, Progress):
            step_s.append(now - last)
            step_tokens.append(sum(lengths[i] for i in batches[event.step - 1]))
        elif isinstance(event, Finished):
            finished = event
        last = time.perf_counter()
    assert finished is not None and sum(step_tokens) == finished.train_tokens, "step tokens do not add up"
    return {"step_s": step_s, "step_tokens": step_tokens, "peak_rss": _peak_rss(),
            "mean_len": sum(lengths) / len(lengths)}


def _sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode:
        sys.exit(f"{args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of: {', '.join(SHAPES)}")
    ap.add_argument("--steps", type=int, default=None,
                    help=f"timed training steps after one warm-up (default 3; 1 for {LAST})")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a TrainConfig field for both the estimate and the run, e.g. batch_size=2 (repeatable)")
    ap.add_argument("--keep", help="build the models in this folder and keep them (default: a temporary one)")
    ap.add_argument("--worker", choices=["build", "estimate", "train"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    ap.add_argument("--starter", help=argparse.SUPPRESS)
    ap.add_argument("--config", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "build":
        print(json.dumps(build(args.shape, args.folder, args.starter)))
        return
    if args.worker == "estimate":
        print(json.dumps(estimate_worker(args.folder, args.config)))
        return
    if args.worker == "train":
        print(json.dumps(train_worker(args.folder, args.config, args.plan, args.steps)))
        return

    from localtune import privacy

    privacy.harden()
    import torch
    from cpu_precision import cpu_flags
    from train_throughput import _parse_sets

    from localtune.engine.hardware import detect
    from localtune.engine.models import ensure_starter
    from localtune.paths import resolve

    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        sys.exit(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
    shapes.sort(key=lambda s: list(SHAPES).index(s))  # the largest last
    config_json = json.dumps(_parse_sets(args.set))
    starter = ensure_starter(resolve().models)
    print(f"{detect().describe()}\nCPU: {cpu_flags()}; torch {torch.__version__}\n{_load()} at the start",
          flush=True)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="localtune-plan-estimate-"))
    rows = []
    try:
        for shape in shapes:
            folder = root / shape
            if not (folder / "config.json").is_file():
                built = _sub(["--worker", "build", "--shape", shape, "--folder", str(folder),
                              "--starter", str(starter)])
            else:
                from localtune.engine.models import estimate_params

                built = {"params": estimate_params(folder)}
            steps = args.steps if args.steps is not None else (1 if shape == LAST else 3)
            est = _sub(["--worker", "estimate", "--folder", str(folder), "--config", config_json])
            plan = est["plan"]
            print(f"\n{shape} ({built['params'] / 1e6:.0f}M parameters), estimated in {est['estimate_wall_s']:.0f} s "
                  f"({_load()}):\n{est['describe']}", flush=True)
            run = _sub(["--worker", "train", "--folder", str(folder), "--config", config_json,
                        "--plan", json.dumps(plan), "--steps", str(steps)])
            timed_s, timed_tok = run["step_s"][1:], run["step_tokens"][1:]
            raw = sum(timed_s) / len(timed_s)
            per_mean_batch = sum(timed_s) / sum(timed_tok) * plan["batch_size"] * run["mean_len"]
            rows.append({"shape": shape, "params": built["params"], "plan": plan, "raw": raw,
                         "scaled": per_mean_batch, "steps": steps, "peak_rss": run["peak_rss"],
                         "est_rss": est["peak_rss"], "examples": est["examples"],
                         "timed_tokens": sum(timed_tok) / len(timed_tok), "load": _load(),
                         "range": (min(timed_s), max(timed_s))})
            print(f"measured: {', '.join(f'{s:.2f}' for s in run['step_s'])} s per step (first is the warm-up), "
                  f"{sum(timed_tok) / len(timed_tok):.0f} tokens per timed step, batch of mean length "
                  f"{plan['batch_size'] * run['mean_len']:.0f} tokens; peak RSS {run['peak_rss'] / GIB:.2f} GiB; "
                  f"{_load()}", flush=True)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)

    print(f"\n{rows[0]['examples']} training examples from the demo journal (starter tokenizer for every shape; "
          "the Qwen2.5-0.5B shape keeps its 151,936-row vocabulary, which the starter's 49,152 ids fit in), "
          f"random weights; {_load()} at the end" + (f"; with {', '.join(args.set)}" if args.set else "") + "\n")
    print("| shape | params | plan | estimated s/step | measured s/step (raw, timed steps) | measured, mean-length "
          "batch | timed steps min-max | measured / estimated | within 25% | estimated total | memory estimate | peak RSS (training) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        p = r["plan"]
        kind = "QLoRA (NF4)" if p["quantization"] == "nf4" else "LoRA" + (" folded" if p["merged_lora"] and
                                                                          not p["bf16"] else "")
        prec = "bf16 autocast" if p["bf16"] else "fp32"
        ratio = r["scaled"] / p["seconds_per_step"]
        print(f"| {r['shape']} | {r['params'] / 1e6:.0f}M | {kind}, {prec}{', ckpt' if p['grad_checkpointing'] else ''}"
              f" | {p['seconds_per_step']:.2f} | {r['raw']:.2f} (n={r['steps']}, {r['timed_tokens']:.0f} tok) | "
              f"{r['scaled']:.2f} | {r['range'][0]:.1f}-{r['range'][1]:.1f} | {ratio:.2f} | {'yes' if abs(ratio - 1) <= 0.25 else 'no'} | "
              f"{p['eta_s'] / 60:.0f} min ({p['total_steps']} steps) | {p['memory_needed'] / GIB:.2f} GiB | "
              f"{r['peak_rss'] / GIB:.2f} GiB |")


if __name__ == "__main__":
    main()
