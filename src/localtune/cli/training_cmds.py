"""Training commands: check, names, train, adapters, analyze, eval (models: model_cmds)."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InvalidInputError
from ..events import COLUMNS, Analysis, EvalDone, Evaluation, Piece, Progress, Scoring, Sealed, Status
from ..journal.repository import Journal
from ..services import evaluation, reading, training
from ..services.adapters import AdapterStore
from ..services.journal import redaction_names, redactor_of, set_redaction_names
from ..vault.files import check_folder_destination
from .common import ask_secret, confirm, journal_of, note, paths_of, print_json, unlocked


def register(commands) -> None:
    p = commands.add_parser("check", help="is the journal ready to train on?")
    p.add_argument("--json", action="store_true")
    p.add_argument("--preview", action="store_true", help="show what the model will see (redacted)")
    p.set_defaults(handler=cmd_check)
    p = commands.add_parser("names", help="names to redact in every entry before training (colleagues, clients)",
                            description="Names listed here are replaced by placeholders in every entry before "
                            "training, besides each entry's own people. Names are read from stdin after the "
                            "passphrase, one per line, so they stay out of your shell history.")
    sub = p.add_subparsers(dest="action", metavar="{list,add,remove}")
    q = sub.add_parser("list", help="show the names (the default)")
    q.add_argument("--json", action="store_true")
    sub.add_parser("add", help="add names: one per line on stdin (an empty line ends on a terminal)")
    sub.add_parser("remove", help="remove names, read the same way (any spelling of a name removes it)")
    p.set_defaults(handler=cmd_names)
    p = commands.add_parser("train", help="train an adapter on the journal, on this computer")
    p.add_argument("--model", help="base model name (default: the starter)")
    p.add_argument("--epochs", type=_at_least_one)
    p.add_argument("--max-steps", type=_at_least_one)
    p.add_argument("--name", help="name for the adapter")
    p.add_argument("--resume", action="store_true", help="continue the last interrupted run")
    p.add_argument("--dry-run", action="store_true", help="print the plan and time estimate only")
    p.add_argument("--json", action="store_true", help="JSON lines; the last line is the summary")
    p.set_defaults(handler=cmd_train)
    p = commands.add_parser("adapters", help="list, rename, delete, export or import trained adapters")
    sub = p.add_subparsers(dest="action", required=True)
    q = sub.add_parser("list")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("rename")
    q.add_argument("old")
    q.add_argument("new")
    q = sub.add_parser("delete")
    q.add_argument("name")
    q = sub.add_parser("export", help="write a PLAINTEXT standard PEFT folder")
    q.add_argument("name")
    q.add_argument("dir")
    q.add_argument("--yes", action="store_true")
    q = sub.add_parser("import", help="seal an adapter bundle a training server returned in the vault")
    q.add_argument("file")
    q.add_argument("--name", help="name for the adapter (default: <base model>-v<N>)")
    p.set_defaults(handler=cmd_adapters)
    p = commands.add_parser("analyze", help="read a new situation with the generic, few-shot and tuned model")
    p.add_argument("text", help="the situation, or - to read it from stdin after the passphrase")
    p.add_argument("--adapter")
    p.add_argument("--industry", default="")
    p.add_argument("--context", default="")
    p.add_argument("--viewpoint", default="")
    p.add_argument("--compare", action="store_true", help="all three columns (default: tuned, or generic without an adapter)")
    p.add_argument("--json", action="store_true")
    g = p.add_argument_group("decoding", "how the readings are written (defaults: Settings > Advanced in the app)")
    g.add_argument("--repetition-penalty", type=float, help="> 1 makes repeated words less likely; 1 turns it off")
    g.add_argument("--no-repeat-ngram", type=int, help="no phrase of this many tokens twice; 0 turns it off")
    g.add_argument("--temperature", type=float, help="0 (default) writes the most likely text; above 0 samples")
    g.add_argument("--top-p", type=float, help="when sampling, only from the most likely tokens up to this share")
    g.add_argument("--seed", type=int, help="when sampling, the same seed gives the same reading")
    g.add_argument("--max-tokens", type=int, dest="max_new_tokens", help="hard length limit of a reading")
    p.set_defaults(handler=cmd_analyze)
    p = commands.add_parser("eval", help="measure base, few-shot and tuned on held-out entries")
    p.add_argument("--adapter")
    p.add_argument("--data", help="an external labelled .jsonl/.csv file (not imported)")
    p.add_argument("--columns", type=_columns, help="evaluate only these, e.g. base,tuned "
                   "(of base, few_shot, tuned; generic means base); a partial run is not stored")
    p.add_argument("--generate", action="store_true", help="also write each column's readings and measure "
                   "them (looping, distinct-2, words, ended, token-F1 vs the journal, text vs badge); slow")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_eval)


def _at_least_one(text: str) -> int:
    """A count the user gives (epochs, steps): a whole number of at least 1 (0 used to mean "the default")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def cmd_check(args) -> int:
    from ..dataset.examples import preview

    with journal_of(args) as journal:
        report = training.check(journal)
        if args.preview:
            print(preview(list(journal.iter_all()), redactor_of(journal.vault), limit=3))
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return 0 if report.ready else 1


def _config(args):
    kw = {}
    if args.epochs:
        kw["epochs"] = args.epochs
    if args.max_steps:
        kw["max_steps"] = args.max_steps
    return training.train_config(**kw)


def _bar(step, total, loss, eta) -> str:
    width = 30
    done = int(width * step / max(total, 1))
    return f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total}  loss {loss:.3f}  ETA {eta:>5.0f}s"


def _read_names() -> list[str]:
    if not sys.stdin.isatty():
        return sys.stdin.read().splitlines()
    note("Names, one per line; an empty line ends:")
    names = []
    while True:
        try:
            line = input().strip()
        except EOFError:
            break
        if not line:
            break
        names.append(line)
    return names


def cmd_names(args) -> int:
    from ..dataset.redact import name_key

    action = args.action or "list"
    with unlocked(args) as vault:
        current = redaction_names(vault)
        if action == "list":
            if getattr(args, "json", False):
                print_json(current)
            elif current:
                print("\n".join(current))
            else:
                note("No names listed. Add colleagues and clients who turn up in your notes: localtune-cli names add")
            return 0
        given = _read_names()
        if action == "add":
            kept = set_redaction_names(vault, current + given)
        else:
            gone = {name_key(n) for n in given}
            kept = set_redaction_names(vault, [n for n in current if name_key(n) not in gone])
            listed = {name_key(n) for n in current}
            if missing := [n for n in given if n.strip() and name_key(n) not in listed]:
                note(f"Not in the list: {', '.join(missing)}")
    change = len(kept) - len(current)
    did = f"Added {change}" if action == "add" else f"Removed {-change}"
    print(f"{did} name{'s' if abs(change) != 1 else ''}; {len(kept)} listed. "
          "See what the model will see: localtune-cli check --preview")
    return 0


def cmd_train(args) -> int:
    paths = paths_of(args)
    config = _config(args)
    with journal_of(args) as journal:
        if args.dry_run:
            the_plan = training.plan_run(training.check(journal), paths, model=args.model, config=config)
            print(training.hardware().describe())
            print(the_plan.describe())
            return 0
        tty = sys.stderr.isatty() and not args.json
        for event in training.train_adapter(journal.vault, journal, paths, model=args.model, config=config,
                                            resume=args.resume, name=args.name):
            if args.json:
                print(json.dumps({"event": type(event).__name__.lower(), **_fields(event)}), flush=True)
                continue
            match event:
                case Progress(step=step, total=total, loss=loss, eta_s=eta_s):
                    line = _bar(step, total, loss, eta_s or 0)
                    print(line if tty else line.strip(), end="" if tty else "\n", file=sys.stderr, flush=True)
                case EvalDone(epoch=epoch, eval_loss=eval_loss, overfitting_warning=warning):
                    note(f"\nepoch {epoch}: held-out loss {eval_loss:.3f}")
                    if warning:
                        note(warning)
                case Status(message=message):
                    note(message)
                case Sealed(summary=s):
                    print(f"\nSealed adapter {event.name!r} in the vault: {s['steps']} steps, {s['train_tokens']} tokens "
                          f"in {s['train_seconds']:.0f}s ({s['tokens_per_s']:.0f} tokens/s), held-out loss {s['eval_loss']}")
    return 0


def _fields(event) -> dict:
    from dataclasses import asdict

    match event:
        case Sealed(summary=summary):
            return summary
        case _:
            return {k: v for k, v in asdict(event).items() if not isinstance(v, bytes)}


def cmd_adapters(args) -> int:
    with unlocked(args) as vault:
        if args.action == "list":
            rows = [{"name": AdapterStore.name_of(b.name), "created_at": b.created_at, "size": b.size,
                     "base_model": b.meta.get("base_model"), "examples": b.meta.get("examples"),
                     "eval_loss": b.meta.get("metrics", {}).get("eval_loss")} for b in AdapterStore(vault).infos()]
            if args.json:
                print_json(rows)
            for r in [] if args.json else rows:
                print(f"{r['name']:<28} {r['created_at'][:16]}  {r['base_model']}  {r['examples']} examples  "
                      f"held-out loss {r['eval_loss']}")
        elif args.action == "rename":
            AdapterStore(vault).rename(args.old, args.new)
        elif args.action == "delete":
            AdapterStore(vault).delete(args.name)
        elif args.action == "export":
            if not confirm("An adapter can reveal what it was trained on. Write it UNENCRYPTED?", args.yes):
                raise InvalidInputError("A plaintext export needs confirmation: add --yes if you are sure.")
            check_folder_destination(args.dir, what="adapter", paths=vault.paths)
            print(f"Exported to {AdapterStore(vault).export(args.name, args.dir)}")
        elif args.action == "import":
            from ..bundle.importing import import_adapter

            name, s = import_adapter(vault, args.file, lambda _m: ask_secret("Adapter bundle passphrase: "),
                                     name=args.name)
            print(f"Sealed adapter {name!r} in the vault: {s.get('steps')} steps, held-out loss {s.get('eval_loss')}")
    return 0


def cmd_analyze(args) -> int:
    text = None if args.text == "-" else args.text  # "-": read from stdin after the passphrase
    if text is not None and not text.strip():
        raise InvalidInputError("Give a situation to analyze.")
    with journal_of(args) as journal:
        if text is None:
            text = sys.stdin.read()
            if not text.strip():
                raise InvalidInputError("Give a situation to analyze: on stdin, after the passphrase line.")
        adapter = args.adapter or AdapterStore(journal.vault).latest()
        if not adapter:
            note("No trained adapter yet: showing the generic and few-shot readings. Train one with: localtune-cli train")
        results, current = {}, None
        decoding = {k: getattr(args, k) for k in DECODING_FLAGS if getattr(args, k) is not None}
        for event in reading.compare(journal.vault, journal, paths_of(args), text, industry=args.industry,
                                      context=args.context, viewpoint=args.viewpoint, adapter=adapter,
                                      decoding=decoding):
            match event:
                case Piece(column=column, text=piece) if not args.json:
                    if column != current:
                        current = column
                        print(f"\n== {COLUMN_NAMES.get(column, column)} ==", flush=True)
                    print(piece, end="", flush=True)
                case Analysis(column=column, notes=notes):
                    results[column] = event.to_dict()
                    if not args.json:
                        print(f"\n[{COLUMN_NAMES.get(column, column)}: {_badge(event)}]", flush=True)
                        for line in notes:
                            print(f"! {line}", flush=True)
    if args.json:
        print_json({col: results.get(col) for col in COLUMNS})
    return 0


COLUMN_NAMES = {"base": "generic", "few_shot": "few_shot", "tuned": "tuned"}  # as analyze prints them
DECODING_FLAGS = ("repetition_penalty", "no_repeat_ngram", "temperature", "top_p", "seed", "max_new_tokens")


def _badge(analysis) -> str:
    """"problematic (reasonable 21%, problematic 64%, mixed 15%)": the badge and how likely each label is."""
    if not analysis.probabilities:
        return analysis.assessment
    shares = ", ".join(f"{label} {p:.0%}" for label, p in analysis.probabilities.items())
    return f"{analysis.assessment} ({shares})"


def _columns(text: str) -> tuple[str, ...]:
    names = [{"generic": "base", "few-shot": "few_shot", "fewshot": "few_shot"}.get(c, c)
             for c in (c.strip().lower() for c in text.split(",")) if c]
    if not names or any(c not in COLUMNS for c in names):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(COLUMNS)} (got {text!r})")
    return tuple(dict.fromkeys(names))


def _eta(seconds) -> str:
    if seconds is None:
        return "ETA --"
    return f"ETA {int(seconds) // 60}:{int(seconds) % 60:02d}"


def cmd_eval(args) -> int:
    import signal

    from ..progress import CancelToken

    cancel = CancelToken()
    tty = sys.stderr.isatty()

    def stop(signum, frame):  # the first Ctrl+C stops after the current batch and keeps finished columns
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        note("\nStopping after the current step; finished columns are kept (Ctrl+C again to quit at once).")

    previous = signal.signal(signal.SIGINT, stop)
    try:
        with journal_of(args) as journal:
            result, partial = None, None
            events = evaluation.evaluate(journal.vault, journal, paths_of(args), adapter=args.adapter, data=args.data,
                                       cancel=cancel, columns=args.columns, generate=args.generate)
            while True:
                try:
                    event = next(events)
                except StopIteration as stopped:
                    partial = stopped.value
                    break
                match event:
                    case Scoring(steps=steps) if steps and not args.json:
                        what = "reading" if event.phase == "reading" else "scoring"
                        line = (f"{event.step}/{steps} {what} {event.column} {event.done}/{event.total}  "
                                f"{_eta(event.eta_s)}")
                        if tty:
                            print(f"\r{line:<60}", end="", file=sys.stderr, flush=True)
                        elif event.done == event.total:
                            print(line, file=sys.stderr, flush=True)
                    case Evaluation():
                        result = event.to_dict()
    finally:
        signal.signal(signal.SIGINT, previous)
    if partial is not None:
        result = partial.to_dict()
    if args.json:
        print_json(result)
        return 130 if partial is not None else 0
    print()
    if partial is not None:
        done, left = result["stopped"]["finished"], result["stopped"]["not_finished"]
        print(f"Stopped: finished {', '.join(done)}; not finished {', '.join(left)} (not stored).")
    for col in COLUMNS:
        if result.get(col):
            print(f"{col:<9} accuracy {result[col]['accuracy']:.2f}  macro-F1 {result[col]['macro_f1']:.2f}")
    if base := result.get("majority"):
        print(f"{'baseline':<9} accuracy {base['accuracy']:.2f}  macro-F1 {base['macro_f1']:.2f}  "
              f"(always answering '{base['label']}', the most common training label)")
    if readings := result.get("readings"):
        print("readings: looping (4-word phrase 3+ times), distinct-2, mean words, ended before the cap, "
              "token-F1 vs the journal's analysis, text agrees with the badge")
        for col, m in readings.items():
            print(f"{col:<9} {_reading_line(m)}")
            for key in ("by_industry", "by_viewpoint"):
                for group, g in m.get(key, {}).items():
                    print(f"  {group or '(none)':<26} {_reading_line(g)}")
    verdict = result.get("verdict") or {}
    print(f"n = {result['n']}. {verdict.get('text', '') if isinstance(verdict, dict) else verdict}")
    for line in result.get("notes", []):
        print(f"- {line}")
    return 0


def _reading_line(m: dict) -> str:
    agree = "–" if m.get("agreement") is None else f"{m['agreement']:.0%}"
    return (f"n {m['n']:>3}  looping {m['looping']:.0%}  distinct-2 {m['distinct_2']:.2f}  words {m['words']:.0f}  "
            f"ended {m['ended']:.0%}  token-F1 {m['token_f1']:.2f}  agree {agree}")


__all__ = ["Journal", "register"]
