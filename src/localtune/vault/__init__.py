"""The encrypted store: SQLCipher database, key derivation, backup and blobs."""

from .store import BlobInfo, Vault

__all__ = ["BlobInfo", "Vault"]
