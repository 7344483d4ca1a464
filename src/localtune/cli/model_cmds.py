"""Base model commands: list, discover (models already on this computer), add, pull."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError
from ..services import local_models, training
from .common import journal_of, note, paths_of, print_json


def register(commands) -> None:
    p = commands.add_parser("models", help="base models: the ones added, the ones on this computer, downloads")
    sub = p.add_subparsers(dest="action", required=True)
    q = sub.add_parser("list", help="the models localtune can train (the starter and those added)")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("discover", help="models already on this computer (Hugging Face cache, Ollama, LM Studio, "
                       "GPT4All, your folders); reads files only, never the network",
                       description="Lists models other programs keep on this computer, with family, size, "
                       "quantization and license as their files say. Add one with: localtune-cli models add KEY")
    q.add_argument("--json", action="store_true")
    q.add_argument("--journal", action="store_true",
                   help="also say whether and how long each trains on your journal here (asks the passphrase; "
                   "times a few steps of the starter)")
    q.add_argument("--add-folder", metavar="DIR", action="append", default=[], help="also look in DIR from now on")
    q.add_argument("--forget-folder", metavar="DIR", action="append", default=[], help="stop looking in DIR")
    q = sub.add_parser("add", help="add a model found by discover (its KEY), a Hugging Face folder or a GGUF file")
    q.add_argument("path", metavar="KEY_OR_PATH")
    q.add_argument("--name")
    q = sub.add_parser("catalog", help="recommended models, and which suit this computer (no network)")
    q.add_argument("--json", action="store_true")
    q = sub.add_parser("pull", help="download a model: a catalog id or a Hub id (the only network feature)",
                       description="Shows what will be downloaded from where and asks first (--yes skips the "
                       "question). A stopped download resumes where it stopped when run again. Nothing from your "
                       "journal is sent.")
    q.add_argument("id", help="an id from `models catalog`, or a Hub id owner/name")
    q.add_argument("--name", help="its name in localtune's list (default: from the id)")
    q.add_argument("--revision", default=None, help="a Hub revision (default: the catalog's, else main)")
    q.add_argument("--yes", action="store_true", help="download without asking")
    q.add_argument("--token", action="store_true", help="a gated model: use your Hub token kept in the vault "
                   "(asks the passphrase, and the token on stdin the first time)")
    q.add_argument("--new-token", action="store_true", help="replace the token kept in the vault (read on stdin)")
    p.set_defaults(handler=cmd_models)


def cmd_models(args) -> int:
    return {"list": _list, "discover": _discover, "add": _add, "pull": _pull, "catalog": _catalog}[args.action](args)


def _list(args) -> int:
    infos = training.registry(paths_of(args)).list(hardware=training.hardware())
    if args.json:
        print_json([local_models.model_dict(i) for i in infos])
    for info in [] if args.json else infos:
        print(info.describe())
    return 0


def _discover(args) -> int:
    paths = paths_of(args)
    if args.add_folder or args.forget_folder:
        for folder in args.add_folder:
            if not Path(folder).expanduser().is_dir():
                raise InvalidInputError(f"{folder} is not a folder.")
        gone = {str(Path(f).expanduser().resolve()) for f in args.forget_folder}
        kept = local_models.set_user_folders(
            paths, [*(f for f in local_models.user_folders(paths) if f not in gone), *args.add_folder])
        note(f"Looking in {len(kept)} folder{'s' if len(kept) != 1 else ''} of yours besides the usual places.")
    found = local_models.discovered(paths)
    fits = {}
    if args.journal and found:
        with journal_of(args) as journal:
            report = training.check(journal)
        note("Timing a few training steps of the starter to estimate each model's time…")
        fits = local_models.fits_here(report, paths, found, calibrate=True)
    added = local_models.added_names(paths) if found else {}
    if args.json:
        import os

        print_json([{**local_models.found_dict(f, fits.get(f.key)), "added_as": added.get(os.path.realpath(f.path))}
                    for f in found])
        return 0
    if not found:
        print("No models found on this computer. Looked in the Hugging Face cache, Ollama, LM Studio, GPT4All"
              " and your folders (add one with --add-folder DIR).")
        return 0
    import os

    for f in found:
        print(f"{f.key}\n    {f.describe()}")
        if fit_ := fits.get(f.key):
            print(f"    {fit_.describe()}")
        if name := added.get(os.path.realpath(f.path)):
            print(f"    added as {name!r}")
    if not args.journal:
        note("Whether and how long each trains on your journal here: add --journal. "
             "Add one with: localtune-cli models add KEY")
    return 0


def _add(args) -> int:
    reg = training.registry(paths_of(args))
    where = Path(args.path).expanduser()
    if where.exists():
        adder = reg.add_gguf if where.is_file() else reg.add_folder
        info = adder(where, args.name or where.stem)
    else:
        note("Adding a model found on this computer (a GGUF is converted once; the original stays as it is)…")
        info = local_models.add(paths_of(args), args.path, args.name)
    print(f"Added {info.name!r}. Train it with: localtune-cli train --model {info.name}")
    return 0


def _catalog(args) -> int:
    hw = training.hardware()
    picks = {e.id for e in local_models.recommended(hw)}
    rows = local_models.catalog_entries()
    if args.json:
        print_json([{**e.to_dict(), "recommended_here": e.id in picks, "trains_here": local_models.trains_on(e, hw)}
                    for e in rows])
        return 0
    print(f"This computer: {hw.describe()}")
    for e in rows:
        mark = "*" if e.id in picks else " "
        print(f"{mark} {e.describe()}{'' if local_models.trains_on(e, hw) else ' (not on this computer)'}")
    note("* recommended for this computer. Download one with: localtune-cli models pull ID")
    return 0


def _token(args) -> str | None:
    from .common import ask_secret, unlocked

    if not (args.token or args.new_token):
        return None
    with unlocked(args) as vault:
        token = None if args.new_token else local_models.hub_token(vault)
        if not token:
            token = ask_secret("Hugging Face access token: ").strip()
            if not token:
                raise InvalidInputError("No token given; nothing was downloaded.")
            local_models.hub_token(vault, token)
            note("The token is kept in your encrypted vault (nowhere else).")
    return token


def _size(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _pull(args) -> int:
    import sys

    from .common import confirm

    token = _token(args)
    entry = local_models.catalog_entry(args.id)
    hub_id = entry.hub_id if entry else args.id
    if not local_models.is_hub_id(hub_id):
        raise InvalidInputError(f"{args.id!r} is neither a catalog id (see: localtune-cli models catalog) nor a Hub "
                                "id like owner/name.")
    revision = args.revision
    where = local_models.hub_host()
    if entry is not None:
        note(entry.describe())
    if not confirm(f"Ask {where} for the file list of {hub_id}? (the request names only the model)", args.yes):
        raise InvalidInputError(f"Nothing was downloaded. Add --yes to download {hub_id} from {where} without "
                                "being asked.")
    plan = local_models.download_plan(hub_id, token, revision)
    note(plan.describe())
    if plan.gated and token is None:
        note("This model is gated: if the download is refused, run again with --token.")
    if not confirm(f"Download {_size(plan.total_bytes)} from {where}?", args.yes):
        raise InvalidInputError("Nothing was downloaded.")
    tty = sys.stderr.isatty()
    events = local_models.pull_events(paths_of(args), plan, token=token, name=args.name)
    while True:
        try:
            e = next(events)
        except StopIteration as done:
            info = done.value
            break
        eta = "--" if e.eta_s is None else f"{int(e.eta_s) // 60}:{int(e.eta_s) % 60:02d}"
        line = (f"{_size(e.done)} of {_size(e.total)}  {e.bytes_per_s / 1e6:.1f} MB/s  ETA {eta}  {e.file}")
        print(f"\r{line:<78}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    verified = {"catalog": "verified against localtune's catalog", "hub": "checked against the Hub's hashes",
                "none": "NOT verified (no hashes known)"}[plan.verified]
    print(f"\nDownloaded {info.name!r} ({verified}). Train it with: localtune-cli train --model {info.name}")
    return 0
