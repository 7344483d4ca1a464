"""Use cases shared by the CLI and the app: each wires vault, journal, dataset and engine once."""

from __future__ import annotations

from .errors import InvalidInputError
from .journal.demo import load_demo
from .journal.drafts import load_drafts, save_drafts
from .journal.io import Parsed, read_file
from .journal.repository import Journal
from .paths import Paths
from .vault import Vault

MIN_PASSPHRASE = 8
DEMO_SETTING = "demo_loaded"


def check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInputError(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.")


def create_vault(paths: Paths, passphrase: str) -> Vault:
    check_new_passphrase(passphrase)
    return Vault.create(paths, passphrase)


def import_parsed(journal: Journal, parsed: Parsed, source: str, *, skip_invalid: bool = False) -> tuple[int, int]:
    """Import what was parsed: everything, or nothing when any row is bad unless skip_invalid.

    Returns (imported, skipped).
    """
    if not skip_invalid:
        parsed.require_clean(source)
    journal.add_many(parsed.scenarios)
    return len(parsed.scenarios), len(parsed.problems)


def import_file(journal: Journal, path: str, *, skip_invalid: bool = False) -> tuple[Parsed, int]:
    parsed = read_file(path)
    imported, _ = import_parsed(journal, parsed, path, skip_invalid=skip_invalid)
    return parsed, imported


def load_demo_journal(journal: Journal, *, again: bool = False) -> int:
    """Add the demo journal; refuses to add it twice unless `again`."""
    if journal.vault.get_setting(DEMO_SETTING) and not again:
        raise InvalidInputError("The demo journal is already loaded (use --again to add another copy).")
    parsed = load_demo()
    count, _ = import_parsed(journal, parsed, "the demo journal")
    journal.vault.set_setting(DEMO_SETTING, True)
    return count


def keep_drafts(journal: Journal, drafts: dict) -> None:
    """Store the unsaved edits {key: Scenario} inside the vault (on lock and quit), replacing earlier ones."""
    save_drafts(journal.vault, drafts)


def kept_drafts(journal: Journal) -> dict:
    """The unsaved edits stored at the last lock or quit ({} when none)."""
    return load_drafts(journal.vault)
