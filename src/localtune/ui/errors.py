"""Every error the core raises, as the words a person sees in a message box.

The core's own messages are already written for users; for the vault's states this adds a plain headline
and what to do, and keeps the core's specifics as a detail. Nothing here logs anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import (
    Cancelled,
    DatasetNotReady,
    DiskFullError,
    ImportFailed,
    InvalidInputError,
    LocaltuneError,
    ModelError,
    NotFoundError,
    NoVaultError,
    OfflineError,
    TrainingError,
    VaultCorruptError,
    VaultError,
    VaultExistsError,
    VaultInUseError,
    VaultLockedError,
    VaultTooNewError,
    WrongPassphraseError,
)

WRONG_PASSPHRASE = (
    "That passphrase does not open this vault. Check Caps Lock and the keyboard layout, then try again. "
    "Nothing was changed."
)
CORRUPT = (
    "Your passphrase was accepted, but the vault file is damaged and cannot be read safely. "
    "localtune left it exactly as it is. Restore your journal from a backup below; the damaged files are "
    "kept beside it."
)


@dataclass(frozen=True)
class Explained:
    title: str
    text: str
    detail: str = ""


# Most specific first: the first class an error is an instance of decides.
_FIXED: list[tuple[type[BaseException], str, str | None]] = [
    (WrongPassphraseError, "Wrong passphrase", WRONG_PASSPHRASE),
    (VaultCorruptError, "The vault is damaged", CORRUPT),
    (VaultInUseError, "The vault is already open",
     "Your journal is open in another localtune window or command. Close it there, then try again."),
    (VaultTooNewError, "A newer localtune wrote this vault",
     "This vault was saved by a newer version of localtune. Update localtune to open it; nothing was changed."),
    (VaultLockedError, "The vault is locked", "Your journal is locked. Unlock it to continue."),
    (NoVaultError, "No vault yet", "There is no journal on this computer yet. Create one to start."),
    (VaultExistsError, "A vault already exists", None),
    (DiskFullError, "The disk is full", None),
    (VaultError, "Vault problem", None),
    (ImportFailed, "Nothing was imported", None),
    (InvalidInputError, "Please check the input", None),
    (NotFoundError, "Not found", None),
    (DatasetNotReady, "The journal is not ready to train on yet", None),
    (TrainingError, "Training stopped", None),
    (ModelError, "Model problem", None),
    (OfflineError, "No connection", None),
    (Cancelled, "Stopped", "Stopped at your request."),
    (LocaltuneError, "Something went wrong", None),
]


def explain(exc: BaseException) -> Explained:
    """Headline, message and (optional) detail for any exception."""
    for cls, title, fixed in _FIXED:
        if isinstance(exc, cls):
            core = str(exc).strip()
            if fixed is None:
                return Explained(title, core or title)
            return Explained(title, fixed, core if core and core != fixed else "")
    return Explained(
        "Something unexpected went wrong",
        "localtune hit an unexpected problem and stopped this action. Your journal is safe in the vault.",
        f"{type(exc).__name__}: {exc}",
    )


def show_error(parent, exc: BaseException):
    """A non-blocking message box for `exc` (returned, so tests can read and close it)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    e = explain(exc)
    box = QMessageBox(QMessageBox.Icon.Warning, e.title, e.text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    if e.detail:
        box.setDetailedText(e.detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
