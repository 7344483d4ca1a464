"""Journal commands: init, demo, import, export, list, search, show, add, edit, delete, passwd, backup, restore."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

from ..errors import DamagedVaultError, InvalidInputError
from ..journal.io import export_file, scenario_from_dict, scenario_to_dict
from ..journal.models import ASSESSMENTS, USES, Perspective, Scenario
from ..journal.repository import Filters
from ..services.journal import backup, change_passphrase, create_vault, import_file, load_demo_journal
from ..vault import Vault
from . import editor as editors
from .common import ask_new_secret, ask_secret, confirm, journal_of, note, paths_of, print_json, unlocked


def register(commands) -> None:
    def add(name, handler, help_text):
        p = commands.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("init", cmd_init, "create a new encrypted vault")
    p = add("demo", cmd_demo, "load the demo journal")
    p.add_argument("--again", action="store_true", help="add another copy even if it was loaded before")
    p = add("import", cmd_import, "import scenarios from a .jsonl or .csv file")
    p.add_argument("file")
    p.add_argument("--skip-invalid", action="store_true", help="import the good rows even when some are bad")
    p = add("export", cmd_export, "export the journal to a PLAINTEXT .jsonl or .csv file")
    p.add_argument("file", help="a new file, outside localtune's vault folder")
    p.add_argument("--yes", action="store_true", help="confirm that a readable copy may be written")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it is an earlier localtune export")
    for name, handler, text in (("list", cmd_list, "list scenarios, newest first"), ("search", cmd_search, "full-text search")):
        p = add(name, handler, text)
        if name == "search":
            p.add_argument("query")
        _filter_flags(p)
        p.add_argument("--limit", type=_count, default=50)
        p.add_argument("--json", action="store_true")
    p = add("show", cmd_show, "show one scenario")
    p.add_argument("id", type=_scenario_id)
    p.add_argument("--json", action="store_true")
    p = add("add", cmd_add, "add a scenario (from flags, or in your editor without flags)")
    _scenario_flags(p)
    p = add("edit", cmd_edit, "change a scenario (from flags, or in your editor without flags)")
    p.add_argument("id", type=_scenario_id)
    _scenario_flags(p)
    p = add("delete", cmd_delete, "delete a scenario")
    p.add_argument("id", type=_scenario_id)
    add("passwd", cmd_passwd, "change the vault's passphrase")
    p = add("backup", cmd_backup, "write an encrypted backup file with its own passphrase")
    p.add_argument("file", help="a new file, outside localtune's vault folder")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it is an earlier localtune backup")
    p = add("restore", cmd_restore, "replace the vault with a verified backup (also when the vault is damaged)")
    p.add_argument("file")
    p.add_argument("--replace-damaged", action="store_true",
                   help="if the vault here is damaged or incomplete, replace it (its files are kept aside)")


_INT64 = 2**63 - 1  # SQLite's largest integer


def _whole(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number (got {text!r})") from None
    if not low <= value <= _INT64:
        raise argparse.ArgumentTypeError(f"{what} must be between {low} and {_INT64} (got {text})")
    return value


def _scenario_id(text: str) -> int:
    return _whole(text, 1, "a scenario number")


def _count(text: str) -> int:
    return _whole(text, 1, "the limit")


def _filter_flags(p) -> None:
    p.add_argument("--industry")
    p.add_argument("--assessment", choices=ASSESSMENTS)
    p.add_argument("--viewpoint")
    p.add_argument("--tag")
    p.add_argument("--use", choices=USES)


def _scenario_flags(p) -> None:
    p.add_argument("--situation")
    p.add_argument("--context")
    p.add_argument("--industry")
    p.add_argument("--date", dest="occurred_on", help="YYYY-MM-DD")
    p.add_argument("--people", help="pseudonyms separated by ';'")
    p.add_argument("--tags", help="tags separated by ';'")
    p.add_argument("--use", choices=USES)
    p.add_argument("--viewpoint", help="replaces the first perspective's viewpoint (or creates it)")
    p.add_argument("--assessment", choices=ASSESSMENTS)
    p.add_argument("--analysis")


def _filters(args) -> Filters:
    return Filters(industry=args.industry, assessment=args.assessment, viewpoint=args.viewpoint, tag=args.tag, use=args.use)


# -- vault ---------------------------------------------------------------------------------------------------

def cmd_init(args) -> None:
    paths = paths_of(args)
    if Vault.exists(paths):
        if not Vault.restore_needs_passphrase(paths):
            raise InvalidInputError(
                f"An incomplete or damaged vault is in {paths.data} (perhaps an interrupted init or restore). "
                "To recover, restore a backup: localtune-cli restore FILE --replace-damaged (the damaged files "
                "are kept aside).")
        raise InvalidInputError(f"A vault already exists in {paths.data}.")
    note("Choose a passphrase. If you lose it, nobody can recover your journal - not even us.")
    create_vault(paths, ask_new_secret()).lock()
    print(f"Created an encrypted vault in {paths.data}.")


def cmd_passwd(args) -> None:
    with unlocked(args) as vault:
        change_passphrase(vault, ask_new_secret())
    print("Passphrase changed.")


def cmd_backup(args) -> None:
    with unlocked(args) as vault:
        dest = backup(vault, args.file, ask_new_secret("backup passphrase"), overwrite=args.overwrite)
    print(f"Encrypted backup written to {dest}.")


def cmd_restore(args) -> None:
    paths = paths_of(args)
    current = ask_secret("Current vault passphrase: ") if Vault.restore_needs_passphrase(paths) else None
    backup_passphrase = ask_secret("Backup passphrase: ")
    try:
        vault = Vault.restore(paths, args.file, backup_passphrase, current, replace_damaged=args.replace_damaged)
    except DamagedVaultError as exc:
        if args.replace_damaged or not confirm(f"{exc}\nReplace the damaged vault with the backup?", False):
            raise
        vault = Vault.restore(paths, args.file, backup_passphrase, current, replace_damaged=True)
    aside = vault.set_aside
    vault.lock()
    kept = "your current passphrase" if current is not None and aside is None else "the backup's passphrase"
    if aside is not None:
        note(f"The old vault's files were kept in {aside}.")
    print(f"Restored the vault from {args.file}; it opens with {kept}.")


# -- journal -------------------------------------------------------------------------------------------------

def cmd_demo(args) -> None:
    with journal_of(args) as journal:
        count = load_demo_journal(journal, again=args.again)
    print(f"Loaded {count} demo scenarios.")


def cmd_import(args) -> None:
    with journal_of(args) as journal:
        parsed, imported = import_file(journal, args.file, skip_invalid=args.skip_invalid)
    for line, why in parsed.problems:
        note(f"skipped line {line}: {why}")
    print(f"Imported {imported} scenario(s)" + (f"; skipped {len(parsed.problems)} bad row(s)." if parsed.problems else "."))


def cmd_export(args) -> None:
    if not confirm(f"This writes your journal UNENCRYPTED to {args.file}. Continue?", args.yes):
        raise InvalidInputError("A plaintext export needs confirmation: add --yes if you are sure.")
    with journal_of(args) as journal:
        count = export_file(args.file, journal.iter_all(), paths=journal.vault.paths,
                            overwrite=args.overwrite)
    note("Warning: this file is not encrypted. Delete it when you no longer need it.")
    print(f"Exported {count} scenario(s) to {args.file} (readable only by you).")


def _print_rows(scenarios, as_json: bool) -> None:
    if as_json:
        print_json([{"id": s.id, **scenario_to_dict(s)} for s in scenarios])
        return
    for s in scenarios:
        marks = "/".join(p.assessment for p in s.perspectives) or "-"
        first = " ".join(s.situation.split())
        print(f"{s.id:>6}  {s.occurred_on or '          '}  {s.industry[:18]:<18}  {marks:<24}  {first[:60]}")


def cmd_list(args) -> None:
    with journal_of(args) as journal:
        _print_rows(journal.get_many(journal.ids(filters=_filters(args), limit=args.limit)), args.json)


def cmd_search(args) -> None:
    with journal_of(args) as journal:
        found = journal.search(args.query, _filters(args), limit=args.limit)
        _print_rows(found, args.json)
    if not found and not args.json:
        note("No scenario matches.")


def cmd_show(args) -> None:
    with journal_of(args) as journal:
        s = journal.get(args.id)
    if args.json:
        print_json({"id": s.id, "created_at": s.created_at, "updated_at": s.updated_at, **scenario_to_dict(s)})
        return
    print(f"Scenario {s.id}  {s.occurred_on}  {s.industry}  [{s.use}]")
    if s.people:
        print("People: " + ", ".join(s.people))
    if s.tags:
        print("Tags: " + ", ".join(s.tags))
    print("\nSituation:\n" + textwrap.indent(s.situation, "  "))
    if s.context:
        print("\nContext:\n" + textwrap.indent(s.context, "  "))
    for p in s.perspectives:
        print(f"\n{p.viewpoint}: {p.assessment}\n" + textwrap.indent(p.analysis, "  "))


def _apply_flags(s: Scenario, args) -> bool:
    changed = False
    for name in ("situation", "context", "industry", "occurred_on", "use"):
        value = getattr(args, name)
        if value is not None:
            setattr(s, name, value)
            changed = True
    for name in ("people", "tags"):
        value = getattr(args, name)
        if value is not None:
            setattr(s, name, [v.strip() for v in value.split(";") if v.strip()])
            changed = True
    if any(getattr(args, n) is not None for n in ("viewpoint", "assessment", "analysis")):
        if not s.perspectives:
            s.perspectives.append(Perspective(viewpoint="", assessment=""))
        first = s.perspectives[0]
        first.viewpoint = args.viewpoint if args.viewpoint is not None else first.viewpoint
        first.assessment = args.assessment if args.assessment is not None else first.assessment
        first.analysis = args.analysis if args.analysis is not None else first.analysis
        changed = True
    return changed


def cmd_add(args) -> None:
    scenario = Scenario(situation="")
    if not _apply_flags(scenario, args):
        scenario = _edit_in_editor(scenario)
    with journal_of(args) as journal:
        new_id = journal.add(scenario)
    print(f"Added scenario {new_id}.")


def cmd_edit(args) -> None:
    with journal_of(args) as journal:
        scenario = journal.get(args.id)
        if not _apply_flags(scenario, args):
            edited = _edit_in_editor(scenario)
            edited.id, edited.created_at = scenario.id, scenario.created_at
            scenario = edited
        journal.update(scenario)
    print(f"Saved scenario {args.id}.")


def cmd_delete(args) -> None:
    with journal_of(args) as journal:
        journal.delete(args.id)
    print(f"Deleted scenario {args.id}.")


def _edit_in_editor(scenario: Scenario) -> Scenario:
    """Edit as JSON in $EDITOR, in a RAM-backed file (/dev/shm) that is removed afterwards.

    Journal text must never reach a disk in plaintext, so without a RAM folder the editor is refused, and
    editors that keep history, swap or backup files are started without them (`editor.editor_command`).
    """
    if not sys.stdin.isatty():
        raise InvalidInputError("No terminal for an editor: give the scenario with flags (--situation ...).")
    if not editors.RAM.is_dir():
        raise InvalidInputError("Editing in an editor needs a memory-backed folder; give the scenario with flags.")
    editors.clean_leftovers()
    doc = scenario_to_dict(scenario)
    if not doc["perspectives"]:
        doc["perspectives"] = [{"viewpoint": "employee", "assessment": "", "analysis": ""}]
    fd, path = tempfile.mkstemp(prefix=f"edit-{os.getpid()}-", suffix=".json", dir=editors.edit_folder())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
        command, warning = editors.editor_command(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi", path)
        if warning:
            note(warning)
        try:
            subprocess.run(command, check=True)
        except FileNotFoundError:
            raise InvalidInputError(f"The editor {command[0]!r} was not found; set EDITOR, or give the scenario "
                                    "with flags.") from None
        with open(path, encoding="utf-8") as f:
            edited = json.load(f)
        return scenario_from_dict(edited)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"The edited scenario was not saved: {exc}") from None
    except subprocess.CalledProcessError:
        raise InvalidInputError("The editor exited with an error; nothing was saved.") from None
    finally:
        os.unlink(path)
