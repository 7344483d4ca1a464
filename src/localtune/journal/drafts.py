"""Unsaved edits (drafts) kept inside the vault, so locking or quitting never loses a half-finished entry.

A draft may be invalid (that is why it is not saved yet), so it is stored as plain fields, not through the
journal's checks. It lives in the vault's encrypted settings table: no journal text reaches the disk in clear.
Keys: a scenario's id, or a negative number for a new entry that was never saved.
"""

from __future__ import annotations

from dataclasses import asdict

from ..vault.store import Vault
from .models import Perspective, Scenario

DRAFTS_SETTING = "journal_drafts"


def _to_doc(key: int, scenario: Scenario) -> dict:
    return {"key": key, "scenario": asdict(scenario)}


def _from_doc(doc: dict) -> tuple[int, Scenario]:
    fields = dict(doc["scenario"])
    perspectives = [Perspective(**p) for p in fields.pop("perspectives", [])]
    return int(doc["key"]), Scenario(**fields, perspectives=perspectives)


def save_drafts(vault: Vault, drafts: dict[int, Scenario]) -> None:
    """Replace the stored drafts with `drafts` (an empty dict clears them)."""
    vault.set_setting(DRAFTS_SETTING, [_to_doc(key, s) for key, s in drafts.items()])


def load_drafts(vault: Vault) -> dict[int, Scenario]:
    return dict(_from_doc(doc) for doc in vault.get_setting(DRAFTS_SETTING, []) or [])
