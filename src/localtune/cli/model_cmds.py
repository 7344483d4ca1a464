"""Base model commands: list, discover (models already on this computer), add, pull."""

from __future__ import annotations

from pathlib import Path

from .. import local_models, training
from ..errors import InvalidInputError
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
    q = sub.add_parser("pull", help="download a model by Hub id (the only network feature)")
    q.add_argument("id")
    p.set_defaults(handler=cmd_models)


def cmd_models(args) -> int:
    return {"list": _list, "discover": _discover, "add": _add, "pull": _pull}[args.action](args)


def _list(args) -> int:
    from ..engine.hardware import detect

    infos = training.registry(paths_of(args)).list(free_memory=detect().memory_free)
    if args.json:
        from ..engine.models import asdict_info

        print_json([asdict_info(i) for i in infos])
    for info in [] if args.json else infos:
        print(info.describe())
    return 0


def _discover(args) -> int:
    from ..engine.discovery import set_user_folders, user_folders, with_fit

    paths = paths_of(args)
    if args.add_folder or args.forget_folder:
        for folder in args.add_folder:
            if not Path(folder).expanduser().is_dir():
                raise InvalidInputError(f"{folder} is not a folder.")
        gone = {str(Path(f).expanduser().resolve()) for f in args.forget_folder}
        kept = set_user_folders(paths.config, [*(f for f in user_folders(paths.config) if f not in gone),
                                               *args.add_folder])
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

        print_json([{**with_fit(f, fits.get(f.key)), "added_as": added.get(os.path.realpath(f.path))}
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


def _pull(args) -> int:
    note(f"Downloading {args.id} from the Hugging Face Hub. No journal data is sent.")
    training.registry(paths_of(args)).pull(args.id, args.id.split("/")[-1])
    print("Downloaded.")
    return 0
