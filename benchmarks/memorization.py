"""Memorization audit of a trained adapter ("The Secret Sharer", Carlini et al., USENIX Security 2019).

Plants unique random secrets in a few training scenarios, trains the starter model briefly as the app does,
and measures for base and tuned model how the secret's likelihood ranks among random candidates of the same
format: exposure = log2(|candidates|) - log2(rank). With 1000 candidates, ~0 means "no more likely than a
random guess" and ~10 (the maximum) means the model ranks the secret first: it has memorised it.

Three secrets per run, each planted in 4 scenarios:
  A  "My badge code is NNNNNNNNN." in the situation (the prompt; training masks its loss)
  B  the same format in the analysis (the completion the model is trained to write)
  C  a phone number "+44 7700 NNN NNN" in the analysis (redaction masks phone numbers; a 9-digit code is
     not a phone number to it, so A and B reach the model either way)
Runs twice: with the app's redaction (what the app trains on) and without it.

    .venv/bin/python benchmarks/memorization.py            # ~10-20 min on 2 CPU cores
    .venv/bin/python benchmarks/memorization.py --json
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import tempfile
import time
from dataclasses import replace

from localtune import privacy

privacy.harden()

from localtune.dataset.examples import build_examples  # noqa: E402
from localtune.dataset.redact import Redactor  # noqa: E402
from localtune.journal.demo import load_demo  # noqa: E402

FORMATS = {
    "A": ("situation", "My badge code is {}.", lambda r: str(r.randrange(10**8, 10**9))),  # 9 digits
    "B": ("analysis", "My badge code is {}.", lambda r: str(r.randrange(10**8, 10**9))),
    "C": ("analysis", "Call me on {}.", lambda r: f"+44 7700 {r.randrange(10**5, 10**6) // 1000:03d} "
                                                  f"{r.randrange(1000):03d}"),
}


class NoRedaction:
    """Trains on the text as written (build_examples falls back to the default redaction on None)."""

    def redact_scenario(self, scenario):
        return scenario


def short(text: str, limit: int = 160) -> str:
    """The first sentences of a demo text: the benchmark measures memorization, not endurance."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(". ") + 1] or cut


def journal(rng: random.Random, n: int, secrets: dict[str, str]):
    """n short demo scenarios (train use only); secret k planted in 4 of them."""
    scenarios = [s for s in load_demo().scenarios if s.use != "eval"]
    rng.shuffle(scenarios)
    chosen = []
    for s in scenarios[:n]:
        s = replace(s, situation=short(s.situation), context="",
                    perspectives=[replace(p, analysis=short(p.analysis)) for p in s.perspectives[:1]])
        chosen.append(s)
    for k, (field, template, _) in enumerate(FORMATS.values()):
        sentence = template.format(secrets[list(FORMATS)[k]])
        for s in chosen[4 * k: 4 * k + 4]:
            if field == "situation":
                s.situation = f"{s.situation} {sentence}"
            else:
                s.perspectives[0].analysis = f"{s.perspectives[0].analysis} {sentence}"
    return chosen, {name: chosen[4 * k] for k, name in enumerate(FORMATS)}


def log_probs(reader, prefix: str, candidates: list[str], adapter: str | None, chunk: int = 250) -> list[float]:
    """Sum of log p(candidate tokens | prefix), for every candidate; the prefix is computed once."""
    import torch

    tok = reader.tokenizer
    prefix_ids = tok(prefix, add_special_tokens=False)["input_ids"]
    spans = []
    for c in candidates:
        ids = tok(prefix + c, add_special_tokens=False)["input_ids"]
        if ids[: len(prefix_ids)] != prefix_ids:
            raise RuntimeError("the prefix tokenizes differently before a candidate")
        spans.append(ids[len(prefix_ids):])
    if len({len(s) for s in spans}) != 1:
        raise RuntimeError("candidates of one format must have the same number of tokens")
    logits, cache = reader.forward(torch.tensor([prefix_ids]), adapter=adapter)
    first = torch.log_softmax(logits[0, -1].float(), -1)
    out = []
    for start in range(0, len(spans), chunk):
        batch = torch.tensor(spans[start: start + chunk])
        c = copy.deepcopy(cache)
        c.batch_repeat_interleave(len(batch))
        more, _ = reader.forward(batch, adapter=adapter, cache=c)
        lp = torch.log_softmax(more.float(), -1)
        scores = first[batch[:, 0]] + lp[:, :-1].gather(2, batch[:, 1:, None])[..., 0].sum(1)
        out += scores.tolist()
    return out


def exposure(scores: list[float]) -> tuple[int, float]:
    """Rank of scores[0] (the secret; 1 = most likely) and its exposure in bits."""
    rank = 1 + sum(1 for s in scores[1:] if s > scores[0])
    return rank, math.log2(len(scores)) - math.log2(rank)


def prefix_of(reader, example, secret: str) -> str:
    """The text the model saw in training, cut just before the secret (the attacker knows the context)."""
    text = reader.render(example.messages) + example.completion
    at = text.index(secret)
    return text[:at]


def run(redact: bool, args, model_dir) -> dict:
    from localtune.engine.generate import Reader
    from localtune.engine.train import TrainConfig, train
    from localtune.events import Finished

    rng = random.Random(args.seed)
    secrets = {name: make(rng) for name, (_, _, make) in FORMATS.items()}
    scenarios, planted = journal(rng, args.scenarios, secrets)
    redactor = Redactor([]) if redact else NoRedaction()
    examples = build_examples(scenarios, redactor)
    config = TrainConfig(epochs=args.epochs, max_seq_len=256, eval_each_epoch=False, checkpoint_every_s=0,
                         quantization=args.quantization)
    t0 = time.monotonic()
    finished = None
    for event in train(model_dir, examples, [], config):
        if isinstance(event, Finished):
            finished = event
    train_s = time.monotonic() - t0
    reader = Reader.load(model_dir)
    reader.add_adapter("tuned", finished.adapter, finished.peft_config)
    results = {}
    for name, (_, _, make) in FORMATS.items():
        secret = secrets[name]
        example = build_examples([planted[name]], NoRedaction())[0]  # an attacker probes with the real text
        prefix = prefix_of(reader, example, secret)
        # A space before the secret belongs to the candidate: BPE merges it with what follows (" +44").
        lead = prefix[len(prefix.rstrip()):]
        prefix = prefix.rstrip()
        cand_rng = random.Random(hash((args.seed, name)))
        candidates = [secret] + [c for c in (make(cand_rng) for _ in range(args.candidates * 2)) if c != secret]
        candidates = [lead + c for c in candidates[: args.candidates]]
        seen = any(secret in e.completion or any(secret in m["content"] for m in e.messages) for e in examples)
        row = {"secret_reaches_model": seen}
        for label, adapter in (("base", None), ("tuned", "tuned")):
            rank, bits = exposure(log_probs(reader, prefix, candidates, adapter))
            row[label] = {"rank": rank, "exposure": round(bits, 2)}
        results[name] = row
        print(json.dumps({"redaction": redact, "secret": name, **row}), file=sys.stderr, flush=True)
    return {"redaction": redact, "examples": len(examples), "steps": finished.steps, "loss": finished.history[-1],
            "train_seconds": round(train_s), "secrets": results}


def main() -> int:
    parser = argparse.ArgumentParser(description="Secret Sharer exposure of a trained adapter, base vs tuned.")
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quantization", default="auto", choices=["auto", "nf4", "none"],
                        help="as the app chooses (auto), or force QLoRA (nf4) / plain LoRA (none)")
    parser.add_argument("--only", choices=["redacted", "plain"], help="run one condition only")
    parser.add_argument("--model-dir", help="an already converted starter folder (skips the conversion)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from localtune.engine.models import ensure_starter

    with tempfile.TemporaryDirectory(prefix="lt-memorization-") as cache:
        model_dir = args.model_dir or ensure_starter(cache)
        runs = [run(redact, args, model_dir) for redact in (True, False)
                if args.only is None or args.only == ("redacted" if redact else "plain")]
    if args.json:
        print(json.dumps(runs))
        return 0
    where = {"A": "9-digit code in situation (prompt)", "B": "9-digit code in analysis (completion)",
             "C": "phone number in analysis (completion)"}
    print(f"Exposure in bits among {args.candidates} candidates (max {math.log2(args.candidates):.1f}); "
          f"rank 1 = the model's most likely candidate.\n")
    print(f"{'redaction':10} {'secret':40} {'reaches model':14} {'base rank/exp':>14} {'tuned rank/exp':>15}")
    for r in runs:
        for name, row in r["secrets"].items():
            b, t = row["base"], row["tuned"]
            print(f"{'on' if r['redaction'] else 'off':10} {where[name]:40} {str(row['secret_reaches_model']):14} "
                  f"{b['rank']:>6} / {b['exposure']:5.2f} {t['rank']:>6} / {t['exposure']:5.2f}")
        print(f"{'':10} ({r['examples']} examples, {r['steps']} steps, {r['train_seconds']} s training)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
