"""Are the readings worth reading? Before/after decoding measures on the demo's held-out situations.

    .venv/bin/python benchmarks/reading_quality.py [--models-dir DIR] [--n 24] [--adapter PEFT_DIR]
        [--columns base,few_shot,tuned] [--grid] [--show 1] [--json OUT]

"before" is plain greedy decoding up to 256 tokens with no stopping rule but the end of turn, the badge being the
label the text states (what `analyze` did before issue 17); "after" is the default `Decoding` with the lengths
calibrated from the journal's own analyses (aim: their 90th percentile; shortest: half their 10th) and the badge
by label likelihood. Per setting and column:

- loops: share of readings with a 4-word phrase repeated 3+ times (goal 0 %)
- distinct-2: share of distinct word pairs (higher is more varied)
- words: mean words of the analysis (the journal's own analyses: printed first; 80-130 on the demo)
- ended: share of readings that ended before the cap (end of turn, paragraph end or calibrated length)
- F1: token-F1 of the analysis against the journal's own analysis of that perspective
- agree: share of readings whose text states the badge's label (of those that state one)
- tok/s: tokens of the reading per second of its column's wall time (prompt, and for "after" label scoring, included)

`--grid` tries several repetition penalties and no-repeat sizes on the base and few-shot columns (how the
defaults were picked). `--adapter` takes a PEFT folder (`localtune-cli adapters export NAME DIR --yes`) for
the tuned column. The starter model runs in fp32 on the CPU, like the app.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from localtune import privacy

privacy.harden()

from localtune.dataset import reading_quality as rq  # noqa: E402
from localtune.dataset.prompts import parse_completion  # noqa: E402


def held_out(n: int):
    """(held-out examples, training pool) of the demo journal, split as `localtune-cli train` splits it."""
    from localtune.dataset.checks import readiness
    from localtune.dataset.redact import Redactor
    from localtune.journal.demo import load_demo

    report = readiness(load_demo().scenarios, redactor=Redactor([]))
    # One perspective per scenario, spread over the held-out split: different situations, not the same twice.
    seen, picked = set(), []
    for e in report.eval:
        if e.group not in seen:
            seen.add(e.group)
            picked.append(e)
    return picked[:n], report.train


def read_all(reader, examples, pool, columns, decoding, labels, adapter):
    from localtune.dataset.retrieval import Retriever, example_text, nearest_examples

    retriever = Retriever([example_text(e) for e in pool])
    rows = []
    for e in examples:
        # Each column as `Reader.compare` writes it (label scores, then the reading), only the columns asked for.
        chats = {"base": (e.messages, None), "tuned": (e.messages, adapter)}
        if "few_shot" in columns:
            chats["few_shot"] = (reader.few_shot_messages(e.messages, nearest_examples(pool, e, 3, retriever=retriever)),
                                 None)
        for column in [c for c in ("base", "few_shot", "tuned") if c in columns]:
            chat, active = chats[column]
            start = time.perf_counter()
            event = reader.analyze(chat, adapter=active, column=column, decoding=decoding, labels=labels)
            rows.append({"column": column, "analysis": event, "gold": parse_completion(e.completion)[1],
                         "tokens": len(reader.tokenizer(event.raw, add_special_tokens=False)["input_ids"]),
                         "seconds": time.perf_counter() - start})
    return rows


def measures(rows) -> dict:
    out = {}
    for column in dict.fromkeys(r["column"] for r in rows):
        rs = [r for r in rows if r["column"] == column]
        m = rq.measures([rq.Reading(r["analysis"].text, r["analysis"].stated, r["analysis"].assessment,
                                    r["analysis"].stop != "cap", r["gold"]) for r in rs])
        out[column] = {"n": m["n"], "loops": m["looping"], "distinct2": m["distinct_2"], "words": m["words"],
                       "ended": m["ended"], "f1": m["token_f1"], "agree": m["agreement"],
                       "tps": sum(r["tokens"] for r in rs) / sum(r["seconds"] for r in rs)}
    return out


def table(results: dict[str, dict]) -> str:
    lines = ["| decoding | column | loops | distinct-2 | words | ended | token-F1 | text = badge | tok/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for setting, cols in results.items():
        for column, m in cols.items():
            agree = "–" if m["agree"] is None else f"{m['agree']:.0%}"
            lines.append(f"| {setting} | {column} | {m['loops']:.0%} | {m['distinct2']:.2f} | {m['words']:.0f} | "
                         f"{m['ended']:.0%} | {m['f1']:.2f} | {agree} | {m['tps']:.1f} |")
    return "\n".join(lines)


def streaming_speed(reader, examples, tokens: int = 64, repeats: int = 3) -> dict:
    """Tokens/s of the streaming loop over a fixed number of tokens: plain greedy (as before) vs the default
    processors (stopping rules off, so both write exactly `tokens`), alternating, best of `repeats`."""
    from localtune.engine.generate import GREEDY, Decoding

    settings = {"greedy": replace(GREEDY, max_new_tokens=tokens),
                "processors": Decoding(paragraph_end=False, max_new_tokens=tokens)}
    best = {name: float("inf") for name in settings}
    for i in range(repeats):
        for name in settings if i % 2 == 0 else reversed(list(settings)):
            start = time.perf_counter()
            n = sum(1 for _ in reader.token_ids(examples[i % len(examples)].messages, decoding=settings[name],
                                                max_new_tokens=tokens))
            best[name] = min(best[name], (time.perf_counter() - start) / max(n, 1))
    return {name: 1 / t for name, t in best.items()}


def eval_timing(reader, adapter, args) -> int:
    """Seconds and accuracy/macro-F1 of `evaluate` over all held-out examples, per few-shot budget."""
    from localtune.dataset.checks import readiness
    from localtune.dataset.redact import Redactor
    from localtune.engine import evaluate as ev
    from localtune.journal.demo import load_demo

    report = readiness(load_demo().scenarios, redactor=Redactor([]))
    labels = tuple(x for x in ("reasonable", "problematic", "mixed")
                   if x in {e.label for e in [*report.train, *report.eval]})
    columns = [c for c in args.eval_columns.split(",") if c != "tuned" or adapter]
    budgets = [int(b) for b in args.budgets.split(",") if b] or [ev.FEW_SHOT_BUDGET]
    batches = [int(b) for b in args.batch.split(",") if b] or [ev.BATCH]
    examples = report.eval[:args.limit] if args.limit else report.eval
    print(f"{len(examples)} held-out examples, columns {','.join(columns)}", file=sys.stderr)
    print("| few-shot budget | batch | columns | seconds | " + " | ".join(f"{c} acc / F1" for c in columns) + " |")
    print("|---:|---:|---|---:|" + "---:|" * len(columns))
    for budget, batch in [(b, n) for b in budgets for n in batches]:
        start = time.perf_counter()
        result = ev.run(ev.evaluate(reader, examples, adapter=adapter, pool=report.train, labels=labels,
                                    columns=columns, budget=budget, batch=batch))
        spent = time.perf_counter() - start
        d = result.to_dict()
        print(f"| {budget} | {batch} | {','.join(columns)} | {spent:.0f} | "
              + " | ".join(f"{d[c]['accuracy']:.2f} / {d[c]['macro_f1']:.2f}" for c in columns) + " |", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", help="where the starter is (or is converted to); default: a cache folder")
    parser.add_argument("--n", type=int, default=24, help="held-out situations (one perspective each)")
    parser.add_argument("--columns", default="base,few_shot,tuned", help="generic is another name for base")
    parser.add_argument("--adapter", help="a PEFT folder for the tuned column")
    parser.add_argument("--grid", action="store_true", help="try several repetition settings (base, few-shot)")
    parser.add_argument("--show", type=int, default=1, help="print this many readings per column and setting")
    parser.add_argument("--json", help="write the measures here")
    parser.add_argument("--speed", action="store_true", help="only the streaming speed, greedy vs processors")
    parser.add_argument("--settings", default="", help="only the settings whose name contains one of these "
                        "(;-separated), e.g. 'before;after' or 'shortest 0%%;shortest 50%%'")
    parser.add_argument("--eval", action="store_true", help="time the label-likelihood evaluation of every "
                        "held-out example (--eval-columns, --batch, --budgets) and print its accuracy")
    parser.add_argument("--eval-columns", default="base,few_shot,tuned")
    parser.add_argument("--batch", default="", help="prompts per forward pass to try, e.g. 1,4 (default: "
                        "evaluate's); each budget runs with each batch size in turn, in this one process")
    parser.add_argument("--limit", type=int, default=0, help="only the first N held-out examples (0: all)")
    parser.add_argument("--budgets", default="", help="few-shot token budgets to try, e.g. 2048,1024,640")
    args = parser.parse_args(argv)

    from localtune.engine import load_libraries
    from localtune.engine.generate import GREEDY, MAX_NEW_TOKENS, Decoding, Reader
    from localtune.engine.models import ensure_starter

    load_libraries()
    folder = ensure_starter(args.models_dir or Path.home() / ".cache" / "localtune-bench" / "models")
    reader = Reader.load(folder, device="cpu")
    adapter = None
    if args.adapter:
        from localtune.engine.adapters import CONFIG_FILE

        peft_dir = Path(args.adapter)
        config = json.loads((peft_dir / CONFIG_FILE).read_text())
        reader.add_adapter("tuned", (peft_dir / "adapter_model.safetensors").read_bytes(), config)
        adapter = "tuned"
    examples, pool = held_out(args.n)
    columns = [c for c in args.columns.replace("generic", "base").split(",") if c != "tuned" or adapter]
    lengths = reader.lengths([e.completion for e in pool])
    target = lengths["target_tokens"]
    labels = tuple(sorted({e.label for e in pool}))
    print(f"{len(examples)} held-out situations, {len(pool)} training examples; calibrated length {target} "
          f"tokens, shortest {lengths['min_tokens']} (cap {MAX_NEW_TOKENS})", file=sys.stderr)
    own = sorted(len(rq.words(parse_completion(e.completion)[1])) for e in pool)
    print(f"the journal's own analyses: {own[0]}-{own[-1]} words (10th-90th percentile {own[len(own) // 10]}-"
          f"{own[int(0.9 * len(own))]}, mean {sum(own) / len(own):.0f})", file=sys.stderr)

    if args.eval:
        return eval_timing(reader, adapter, args)
    if args.speed:
        speed = streaming_speed(reader, examples)
        print(f"streaming tokens/s: greedy {speed['greedy']:.1f}, with the default processors "
              f"{speed['processors']:.1f} ({speed['processors'] / speed['greedy']:.2f}x)")
        return 0
    settings = {"before (greedy)": (replace(GREEDY, max_new_tokens=MAX_NEW_TOKENS), None),
                "after (default)": (Decoding(**lengths), labels)}
    if args.grid:
        columns = [c for c in columns if c != "tuned"]
        settings = {"greedy": settings["before (greedy)"]}
        shortest = reader.answer_length([e.completion for e in pool], quantile=0.1)
        for penalty, ngram, share in ((1.0, 4, 0.5), (1.1, 4, 0.5), (1.15, 4, 0.5), (1.2, 4, 0.5), (1.3, 4, 0.5),
                                      (1.15, 3, 0.5), (1.15, 0, 0.5), (1.15, 4, 0.0), (1.15, 4, 0.8)):
            settings[f"penalty {penalty}, no-repeat {ngram}, shortest {share:.0%} of p10"] = (
                Decoding(repetition_penalty=penalty, no_repeat_ngram=ngram, target_tokens=target,
                         min_tokens=int(share * shortest)), labels)
    if args.settings:
        settings = {k: v for k, v in settings.items() if any(w in k for w in args.settings.split(";"))}
    results, shown = {}, []
    for name, (decoding, scored) in settings.items():
        rows = read_all(reader, examples, pool, columns, decoding, scored, adapter)
        results[name] = measures(rows)
        print(table({name: results[name]}).splitlines()[-len(results[name]):][0], file=sys.stderr, flush=True)
        for column in columns:
            for r in [r for r in rows if r["column"] == column][:args.show]:
                a = r["analysis"]
                shown.append(f"--- {name} / {column}: badge {a.assessment} {a.probabilities and {k: round(v, 2) for k, v in a.probabilities.items()}}, "
                             f"stated {a.stated}, stop {a.stop}\n{a.text}\n" + "".join(f"  ! {n}\n" for n in a.notes))
    print("\n".join(shown))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
