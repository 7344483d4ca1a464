"""The small family of errors the CLI and the app turn into messages.

Every message is written for the person using localtune, not for a developer: it says what happened
and, where there is one, what to do next.
"""


class LocaltuneError(Exception):
    """Base of every error localtune reports to a user."""


class VaultError(LocaltuneError):
    """Something about the encrypted vault as a whole."""


class NoVaultError(VaultError):
    pass


class VaultExistsError(VaultError):
    pass


class WrongPassphraseError(VaultError):
    pass


class VaultCorruptError(VaultError):
    pass


class VaultInUseError(VaultError):
    pass


class VaultTooNewError(VaultError):
    pass


class VaultLockedError(VaultError):
    pass


class DamagedVaultError(VaultCorruptError):
    """The live vault cannot be opened because its files are damaged or incomplete; a restore can replace it
    once the user confirms, and the damaged files are kept aside."""


class DiskFullError(VaultError):
    """The disk filled up during a write; the write was undone and everything saved before is intact."""


class InvalidInputError(LocaltuneError):
    """Input a user gave (a file, a field, a flag) that cannot be used as it is."""


class UnsafeDestinationError(InvalidInputError):
    """A file localtune was asked to write would replace something it must not: the vault's own files, a
    folder or device, or a file the user did not ask to overwrite. Nothing was written."""


class ImportFailed(InvalidInputError):
    """An import found bad rows; `problems` lists (line number, reason) for each one."""

    def __init__(self, message: str, problems: list[tuple[int, str]]):
        super().__init__(message)
        self.problems = problems


class NotFoundError(LocaltuneError):
    pass


class DatasetNotReady(LocaltuneError):
    """The journal cannot be trained on yet; the message says what to fix."""


class TrainingError(LocaltuneError):
    pass


class ModelError(LocaltuneError):
    pass


class OfflineError(LocaltuneError):
    pass


class Cancelled(LocaltuneError):
    pass
