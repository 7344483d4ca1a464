"""Use cases shared by the CLI and the app: each wires vault, journal, dataset and engine once."""

from __future__ import annotations

from .errors import InvalidInputError, WrongPassphraseError
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


def check_passphrase_text(passphrase: str) -> None:
    """Refuse, in plain words, a passphrase that is not text (bytes from a non-UTF-8 terminal or script)."""
    from .vault.kdf import passphrase_bytes

    passphrase_bytes(passphrase)


def check_current_passphrase(vault: Vault, passphrase: str) -> None:
    """The open vault's passphrase, asked again before a restore or a passphrase change."""
    if not vault.opens_with(passphrase):
        raise WrongPassphraseError("Wrong passphrase. Nothing was changed; try again.")


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


def rename_adapter(vault: Vault, old: str, new: str) -> str:
    """Give a trained adapter another name (refused when the name is empty, too long or taken)."""
    from .training import adapter_blob, check_adapter_name, new_adapter_name

    if check_adapter_name(new) == old:
        return old
    new = new_adapter_name(vault, "", new)
    vault.rename_blob(adapter_blob(old), adapter_blob(new))
    return new


def delete_adapter(vault: Vault, name: str) -> None:
    from .training import adapter_blob

    vault.delete_blob(adapter_blob(name))


def export_adapter(vault: Vault, name: str, folder: str):
    """Write an adapter as a PEFT folder, UNENCRYPTED (the caller has warned: it can reveal its training text);
    never into the vault's own folder."""
    from . import training
    from .vault.files import check_folder_destination

    check_folder_destination(folder, what="adapter", paths=vault.paths)
    return training.export_adapter(vault, name, folder)


def entries_to_print(journal: Journal, ids: list[int], dest: str, *, overwrite: bool = False) -> list:
    """The entries for a printable PDF, in the order given - once `dest` is known to be a place it may go (checked
    before anything is read: a .pdf name, never the vault's folder, no existing file but an earlier one)."""
    check_printable_destination(journal.vault.paths, dest, overwrite=overwrite)
    return journal.get_many(ids)


def check_printable_destination(paths: Paths, dest: str, *, overwrite: bool = False):
    from pathlib import Path

    from .journal.printable import is_printable_pdf
    from .vault.files import check_destination

    if Path(dest).suffix.lower() != ".pdf":
        raise InvalidInputError(f"{Path(dest).name or dest}: give the PDF a name ending in .pdf. Nothing was written.")
    return check_destination(dest, what="PDF", ours=is_printable_pdf, paths=paths, overwrite=overwrite)


def write_printable(paths: Paths, dest: str, pdf: bytes, *, overwrite: bool = False):
    """Write a PDF of journal entries, PLAINTEXT (the caller has warned): under the vault's destination rules,
    readable only by the user, complete or not at all. Returns the path written."""
    from .vault.files import write_file

    target = check_printable_destination(paths, dest, overwrite=overwrite)
    write_file(target, lambda out: out.write(pdf), paths=paths)
    return target
