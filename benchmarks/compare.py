"""Generic vs few-shot vs tuned on the starter model: memory and speed against plain `model.generate`.

    .venv/bin/python benchmarks/compare.py [--models-dir DIR] [--tokens 64] [--repeats 3]

Targets (issue 5): peak RSS of a three-column comparison <= 1.15x one loaded model doing the same plain
generations (two separately loaded models would be ~2x); time to first token and tokens/s of every column
>= 0.9x plain `model.generate` on the same prompt and the same model state.

Each memory figure comes from its own process (peak RSS is per process). No adapter has been trained here,
so the tuned column uses a random LoRA (r=16, all linear layers) with small non-zero B: the same shapes and
cost as a trained one. The few-shot column takes its examples from the demo journal.
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
from dataclasses import replace
from pathlib import Path

from localtune import privacy

privacy.harden()

SITUATION = (
    "Our ward manager asked me to stay two hours past the end of my night shift because the day nurse "
    "called in sick. I had been on for twelve hours. She said it was my duty and did not offer to call the "
    "agency. I stayed, but I made two charting errors in the last hour."
)
INDUSTRY = "Hospital nursing"
CONTEXT = "Safe staffing rules limit consecutive hours; cover for absences is arranged through an agency."
MIB = 1024 * 1024


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def rss_now() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def chats():
    """(generic prompt, few-shot prompt builder input): the query and its 3 nearest demo examples."""
    from localtune.dataset.examples import build_examples
    from localtune.dataset.prompts import prompt_messages
    from localtune.dataset.retrieval import nearest_examples
    from localtune.journal.demo import load_demo

    messages = prompt_messages(situation=SITUATION, industry=INDUSTRY, context=CONTEXT, viewpoint="employee")
    pool = build_examples(load_demo().scenarios)
    user = messages[-1]["content"]
    return messages, nearest_examples(pool, user, 3)


def make_adapter(folder: Path, out: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.002)  # small: changes the output without wrecking the language
    state = {k: v.contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    (out / "adapter.safetensors").write_bytes(save(state))
    config = peft_model.peft_config["default"].to_dict()
    (out / "adapter.json").write_text(json.dumps(config, default=list))


# --- child processes ------------------------------------------------------------------------------------


def child_plain(folder: str, tokens: int) -> dict:
    """One model, loaded the usual way, generating the generic and the few-shot prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from localtune.engine.generate import Reader

    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    loaded = rss_now()
    helper = Reader(model, tokenizer)  # only for the identical prompt rendering
    messages, shots = chats()
    for chat in (messages, helper.few_shot_messages(messages, shots)):
        ids = torch.tensor([helper.encode(chat)])
        with torch.inference_mode():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, do_sample=False)
    return {"peak_rss": peak_rss(), "loaded_rss": loaded, "end_rss": rss_now()}


def _plain_generate(reader, chat, adapter, n):
    import torch

    ids = torch.tensor([reader.encode(chat)])
    with reader.using(adapter) as model, torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                             eos_token_id=list(reader.eos_ids), pad_token_id=reader.tokenizer.pad_token_id)
    return [t for t in out[0, ids.shape[1]:].tolist() if t not in reader.eos_ids]


def time_ours(reader, chat, adapter, tokens) -> tuple[float, float, int]:
    """(time to first token, total time, tokens) of the Reader's own greedy loop."""
    t0 = time.perf_counter()
    it = reader.token_ids(chat, adapter=adapter, max_new_tokens=tokens)
    got = [next(it)]
    first = time.perf_counter() - t0
    got += list(it)
    return first, time.perf_counter() - t0, len(got)


def time_plain(reader, chat, adapter, tokens) -> tuple[float, float, int]:
    """The same for `model.generate` (first token = a 1-token generate), with the same adapter state."""
    t0 = time.perf_counter()
    _plain_generate(reader, chat, adapter, 1)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = len(_plain_generate(reader, chat, adapter, tokens))
    return first, time.perf_counter() - t0, n


def child_compare(folder: str, tokens: int, repeats: int, adapter_dir: str) -> dict:
    from localtune.engine.generate import GREEDY, Reader
    from localtune.events import Analysis

    reader = Reader.load(folder, device="cpu")
    loaded = rss_now()
    adapter_dir = Path(adapter_dir)
    reader.add_adapter("bench", (adapter_dir / "adapter.safetensors").read_bytes(),
                       json.loads((adapter_dir / "adapter.json").read_text()))
    messages, shots = chats()
    results = [e for e in reader.compare(messages, adapter="bench", shots=shots,
                                              decoding=replace(GREEDY, max_new_tokens=tokens))
               if isinstance(e, Analysis)]
    rss, end = peak_rss(), rss_now()  # before the timing runs below, which are not part of a comparison

    columns = {"base": (messages, None), "few_shot": (reader.few_shot_messages(messages, shots), None),
               "tuned": (messages, "bench")}
    rows = {}
    for column, (chat, adapter) in columns.items():
        runs: dict[str, list[tuple[float, float, int]]] = {"ours": [], "plain": []}
        for i in range(repeats):  # alternating order, so drift in machine load hits both alike
            for name in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
                timer = time_ours if name == "ours" else time_plain
                runs[name].append(timer(reader, chat, adapter, tokens))
        # Best of N: other processes only ever make a run slower, so the minimum is the cleanest estimate.
        (ttft, total, n), (ttft_p, total_p, n_p) = (
            (min(r[0] for r in runs[k]), min(r[1] for r in runs[k]), runs[k][-1][2]) for k in ("ours", "plain"))
        rows[column] = {"prompt_tokens": len(reader.encode(chat)), "tokens": n, "same_tokens": n == n_p,
                        "ttft": ttft, "ttft_plain": ttft_p, "tps": n / total, "tps_plain": n_p / total_p}
    return {"peak_rss": rss, "loaded_rss": loaded, "end_rss": end, "rows": rows,
            "assessments": {a.column: a.assessment for a in results},
            "texts": {a.column: a.raw[:160] for a in results}}


# --- the parent -----------------------------------------------------------------------------------------


def run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"child {args[:2]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", help="where the converted starter model lives (default: the app's cache)")
    ap.add_argument("--tokens", type=int, default=64, help="new tokens per column")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--adapter-dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child == "plain":
        print(json.dumps(child_plain(a.folder, a.tokens)))
        return
    if a.child == "compare":
        print(json.dumps(child_compare(a.folder, a.tokens, a.repeats, a.adapter_dir)))
        return

    from localtune.engine.models import ensure_starter
    from localtune.paths import resolve

    folder = ensure_starter(a.models_dir or resolve().ensure().models)
    common = ["--folder", str(folder), "--tokens", str(a.tokens)]
    with tempfile.TemporaryDirectory(prefix="localtune-bench-") as tmp:  # random weights only, no user data
        make_adapter(folder, Path(tmp))
        plain = run_child(["--child", "plain", *common])
        comp = run_child(["--child", "compare", *common, "--repeats", str(a.repeats), "--adapter-dir", tmp])

    print(f"SmolLM2-135M-Instruct (fp32, CPU, {os.cpu_count()} cores), {a.tokens} new tokens per column, "
          f"best of {a.repeats}")
    print()
    head = f"{'column':<9} {'prompt':>6} {'tokens':>6} {'TTFT s':>7} {'generate':>8} {'ratio':>5} " \
           f"{'tok/s':>6} {'generate':>8} {'ratio':>5}"
    print(head)
    print("-" * len(head))
    for column, r in comp["rows"].items():
        print(f"{column:<9} {r['prompt_tokens']:>6} {r['tokens']:>6} {r['ttft']:>7.3f} {r['ttft_plain']:>8.3f} "
              f"{r['ttft_plain'] / r['ttft']:>5.2f} {r['tps']:>6.1f} {r['tps_plain']:>8.1f} "
              f"{r['tps'] / r['tps_plain']:>5.2f}" + ("" if r["same_tokens"] else "  (token counts differ!)"))
    print("ratio = plain generate time / ours (TTFT) and ours / plain (tok/s); target >= 0.90")
    print()
    ratio = comp["peak_rss"] / plain["peak_rss"]
    print(f"peak RSS: one model, plain generate {plain['peak_rss'] / MIB:.0f} MiB; three-column comparison "
          f"{comp['peak_rss'] / MIB:.0f} MiB; ratio {ratio:.2f} (target <= 1.15)")
    print(f"RSS after loading: {plain['loaded_rss'] / MIB:.0f} vs {comp['loaded_rss'] / MIB:.0f} MiB; after the "
          f"generations: {plain['end_rss'] / MIB:.0f} vs {comp['end_rss'] / MIB:.0f} MiB "
          f"(ratio {comp['end_rss'] / plain['end_rss']:.2f})")
    print()
    for column, text in comp["texts"].items():
        print(f"{column:<9} [{comp['assessments'][column]}] {text!r}")


if __name__ == "__main__":
    main()
