"""Bundle commands: export the journal's training examples sealed for a training server, and pool colleagues'
bundles. (The adapter that comes back is imported with `adapters import`.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import ask_new_secret, ask_secret, journal_of, note, print_json


def register(commands) -> None:
    p = commands.add_parser("bundle", help="seal training examples for a GPU server, or pool colleagues' bundles",
                            description="A bundle carries the redacted training and held-out examples, the run "
                            "settings and the base model's name, encrypted with a passphrase of its own. Its "
                            "manifest (counts, fingerprints) is readable without it; no journal text is.")
    sub = p.add_subparsers(dest="action", required=True)
    q = sub.add_parser("export", help="seal this journal's examples (after redaction and the split) into FILE")
    q.add_argument("file")
    q.add_argument("--model", help="the base model the server will train (default: the starter)")
    q.add_argument("--epochs", type=int)
    q.add_argument("--max-steps", type=int)
    q.add_argument("--overwrite", action="store_true", help="replace an earlier bundle of that name")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("merge", help="pool several bundles into one (asks each one's passphrase, then the pool's)")
    q.add_argument("files", nargs="+", metavar="BUNDLE")
    q.add_argument("--out", required=True, metavar="POOL")
    q.add_argument("--overwrite", action="store_true")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("info", help="show a bundle's manifest (no passphrase needed)")
    q.add_argument("file")
    p.set_defaults(handler=cmd_bundle)


def cmd_bundle(args) -> int:
    return {"export": _export, "merge": _merge, "info": _info}[args.action](args)


def _export(args) -> int:
    from ..bundle.export import export
    from ..services import training

    kw = {k: v for k, v in (("epochs", args.epochs), ("max_steps", args.max_steps)) if v}
    with journal_of(args) as journal:
        passphrase = ask_new_secret("bundle passphrase")
        target, manifest = export(journal.vault, journal, args.file, passphrase, model=args.model,
                                  config=training.train_config(**kw), overwrite=args.overwrite)
    if args.json:
        print_json({"path": str(target), **manifest})
    else:
        c = manifest["counts"]
        print(f"Sealed {c['train']} training and {c['eval']} held-out examples for {manifest['base_model']} "
              f"into {target}.")
        note("Send the bundle and its passphrase separately. Train it with localtune-train-server; import the "
             "adapter it returns with `localtune-cli adapters import FILE`.")
    return 0


def _merge(args) -> int:
    from ..bundle import format as fmt
    from ..bundle.export import open_training
    from ..bundle.merge import merge
    from ..vault.files import check_destination

    check_destination(args.out, what="pool", ours=fmt.is_bundle, overwrite=args.overwrite)
    bundles = [open_training(f, lambda _m, f=f: ask_secret(f"Passphrase of {Path(f).name}: ")) for f in args.files]
    pool, reports = merge(bundles)
    passphrase = ask_new_secret("passphrase for the pool")
    target = fmt.write(args.out, pool.seal(passphrase), overwrite=args.overwrite, what="pool")
    manifest = pool.manifest()
    if args.json:
        print_json({"path": str(target), **manifest, "contributors_report": [r.to_dict() for r in reports]})
        return 0
    for r, f in zip(reports, args.files, strict=True):
        print(r.render(Path(f).name))
    c = manifest["counts"]
    print(f"Pooled {c['train']} training and {c['eval']} held-out examples from {len(reports)} bundles into "
          f"{target} (the pool names no contributor).")
    return 0


def _info(args) -> int:
    from ..bundle import format as fmt

    manifest = fmt.read_manifest(fmt.read_bytes(args.file), source=Path(args.file).name)
    json.dump(manifest, sys.stdout, indent=1)
    print()
    return 0
