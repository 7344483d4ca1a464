"""The journal as both front ends use it: creating the vault, passphrases, imports, the demo, drafts, the names
redacted before training, and printable copies."""

from __future__ import annotations

from collections.abc import Iterable

from ..dataset.redact import Redactor, unique_names
from ..errors import InvalidInputError, WrongPassphraseError
from ..journal.demo import load_demo
from ..journal.drafts import load_drafts, save_drafts
from ..journal.io import Parsed, read_file
from ..journal.repository import Journal
from ..paths import Paths
from ..vault import Vault

MIN_PASSPHRASE = 8
DEMO_SETTING = "demo_loaded"
NAMES_SETTING = "redaction_names"


def check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInputError(f"Choose a passphrase of at least {MIN_PASSPHRASE} characters.")


def check_passphrase_text(passphrase: str) -> None:
    """Refuse, in plain words, a passphrase that is not text (bytes from a non-UTF-8 terminal or script)."""
    from ..vault.kdf import passphrase_bytes

    passphrase_bytes(passphrase)


def check_current_passphrase(vault: Vault, passphrase: str) -> None:
    """The open vault's passphrase, asked again before a restore or a passphrase change."""
    if not vault.opens_with(passphrase):
        raise WrongPassphraseError("Wrong passphrase. Nothing was changed; try again.")


def change_passphrase(vault: Vault, new: str, *, current: str | None = None) -> None:
    """Re-encrypt the vault under `new` (after checking `current` when the front end asked for it again)."""
    if current is not None:
        check_current_passphrase(vault, current)
    check_new_passphrase(new)
    vault.change_passphrase(new)


def backup(vault: Vault, dest: str, passphrase: str, *, overwrite: bool = False):
    """An encrypted backup under its own passphrase; returns the path written."""
    check_new_passphrase(passphrase)
    return vault.backup(dest, passphrase, overwrite=overwrite)


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


def redaction_names(vault: Vault) -> list[str]:
    """Names redacted in every entry before training (colleagues, clients), besides each entry's people."""
    return list(vault.get_setting(NAMES_SETTING, []))


def set_redaction_names(vault: Vault, names: Iterable[str]) -> list[str]:
    """Replace that list (kept encrypted in the vault); blanks and second spellings of a name are dropped.
    Returns the list as kept."""
    kept = unique_names(names)
    vault.set_setting(NAMES_SETTING, kept)
    return kept


def redactor_of(vault: Vault) -> Redactor:
    return Redactor(redaction_names(vault))


def entries_to_print(journal: Journal, ids: list[int], dest: str, *, overwrite: bool = False) -> list:
    """The entries for a printable PDF, in the order given - once `dest` is known to be a place it may go (checked
    before anything is read: a .pdf name, never the vault's folder, no existing file but an earlier one)."""
    check_printable_destination(journal.vault.paths, dest, overwrite=overwrite)
    return journal.get_many(ids)


def check_printable_destination(paths: Paths, dest: str, *, overwrite: bool = False):
    from pathlib import Path

    from ..journal.printable import is_printable_pdf
    from ..vault.files import check_destination

    if Path(dest).suffix.lower() != ".pdf":
        raise InvalidInputError(f"{Path(dest).name or dest}: give the PDF a name ending in .pdf. Nothing was written.")
    return check_destination(dest, what="PDF", ours=is_printable_pdf, paths=paths, overwrite=overwrite)


def write_printable(paths: Paths, dest: str, pdf: bytes, *, overwrite: bool = False):
    """Write a PDF of journal entries, PLAINTEXT (the caller has warned): under the vault's destination rules,
    readable only by the user, complete or not at all. Returns the path written."""
    from ..vault.files import write_file

    target = check_printable_destination(paths, dest, overwrite=overwrite)
    write_file(target, lambda out: out.write(pdf), paths=paths)
    return target
