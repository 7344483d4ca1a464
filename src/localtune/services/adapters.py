"""The vault's trained adapters: `AdapterStore` is the one place that knows how their blobs are named, which base
model each belongs to, and how one is added, renamed, deleted or written out."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError
from ..vault import Vault


class AdapterStore:
    """Adapters sealed in `vault` (blobs of kind "adapter" named "adapter:<name>"), oldest first."""

    PREFIX = "adapter:"
    NAME_MAX = 60

    def __init__(self, vault: Vault):
        self.vault = vault

    @classmethod
    def blob(cls, name: str) -> str:
        """The vault blob that holds the adapter called `name`."""
        return cls.PREFIX + name

    @classmethod
    def name_of(cls, blob_name: str) -> str:
        return blob_name[len(cls.PREFIX):]

    @classmethod
    def check_name(cls, name: str) -> str:
        name = name.strip()
        if not name or len(name) > cls.NAME_MAX or "/" in name:
            raise InvalidInputError(f"An adapter name needs 1 to {cls.NAME_MAX} characters and no '/'.")
        return name

    def infos(self) -> list:
        """Each adapter's blob info (size, created_at, meta: base_model, peft_config, metrics, history)."""
        return [b for b in self.vault.list_blobs("adapter") if b.name.startswith(self.PREFIX)]

    def names(self) -> list[str]:
        return [self.name_of(b.name) for b in self.infos()]

    def latest(self) -> str | None:
        found = self.infos()
        return self.name_of(found[-1].name) if found else None

    def info(self, name: str):
        return self.vault.blob_info(self.blob(name))

    def base_model(self, name: str) -> str:
        """The name of the base model `name` was trained on ("starter" for the embedded one)."""
        return self.info(name).meta["base_model"]

    def new_name(self, base: str, name: str | None = None) -> str:
        """`name`, checked and not taken; without one, the next free `<base>-vN`."""
        existing = set(self.names())
        if name is None:
            version = 1 + len(existing)
            while f"{base}-v{version}" in existing:
                version += 1
            return f"{base}-v{version}"
        name = self.check_name(name)
        if name in existing:
            raise InvalidInputError(f"An adapter named {name!r} already exists; choose another name.")
        return name

    def seal(self, name: str, weights: bytes, meta: dict) -> None:
        """Keep adapter weights under `name` (already a `new_name`); meta names its base_model and peft_config."""
        self.vault.put_blob(self.blob(name), "adapter", weights, meta)

    def rename(self, old: str, new: str) -> str:
        """Give a trained adapter another name (refused when the name is empty, too long or taken)."""
        if self.check_name(new) == old:
            return old
        new = self.new_name("", new)
        self.vault.rename_blob(self.blob(old), self.blob(new))
        return new

    def delete(self, name: str) -> None:
        self.vault.delete_blob(self.blob(name))

    def export(self, name: str, folder: str) -> Path:
        """Write an adapter as a PEFT folder, UNENCRYPTED (the caller has warned: it can reveal its training text);
        never into the vault's own folder."""
        from ..engine.adapters import export_peft_folder
        from ..vault.files import check_folder_destination

        check_folder_destination(folder, what="adapter", paths=self.vault.paths)
        info = self.info(name)
        return export_peft_folder(self.vault.read_blob(info.name), info.meta["peft_config"], info.meta["base_model"],
                                  folder)
