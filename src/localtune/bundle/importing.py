"""The adapter bundle a training server sends back, and sealing it in the vault as if trained here."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInputError, ModelError
from . import format as fmt


def adapter_payload(adapter: bytes, meta: dict) -> bytes:
    """`meta`: peft_config, base_model, history, metrics, fingerprint, examples (as the vault keeps them)."""
    return fmt.pack({"kind": fmt.KIND_ADAPTER, **meta}, {"adapter": adapter})


def adapter_manifest(meta: dict) -> dict:
    return {"kind": fmt.KIND_ADAPTER, "base_model": meta["base_model"], "fingerprint": meta.get("fingerprint"),
            "examples": meta.get("examples"), "steps": meta.get("metrics", {}).get("steps")}


def seal_adapter(adapter: bytes, meta: dict, passphrase: str) -> bytes:
    return fmt.seal(adapter_payload(adapter, meta), passphrase, adapter_manifest(meta))


def open_adapter(path: str | Path, passphrase) -> tuple[bytes, dict]:
    opened = fmt.read_file(path, passphrase)
    if opened.manifest.get("kind") != fmt.KIND_ADAPTER:
        raise InvalidInputError(f"{Path(path).name} is a {opened.manifest.get('kind')} bundle, not an adapter "
                                "bundle (a training server writes one with --out).")
    doc, parts = fmt.unpack(opened.payload)
    if "adapter" not in parts or not parts["adapter"]:
        raise fmt.BundleDamaged(f"{Path(path).name} holds no adapter weights.")
    return parts["adapter"], doc


def known_models(paths) -> set[str]:
    """Base-model names this vault's machine knows: the starter and every added model."""
    from ..engine.models import STARTER, Registry

    names = {"starter", STARTER}
    names |= set(Registry(paths.models, paths.config)._load())
    return names


def import_adapter(vault, path: str | Path, passphrase, *, name: str | None = None) -> tuple[str, dict]:
    """Decrypt an adapter bundle and seal the adapter in the vault, with its run history, exactly as a locally
    trained one (Compare, Evaluate and `analyze --compare` then use it). Returns (name, summary)."""
    adapter, doc = open_adapter(path, passphrase)
    return seal_imported(vault, adapter, doc, name=name)


def seal_imported(vault, adapter: bytes, doc: dict, *, name: str | None = None) -> tuple[str, dict]:
    """The vault half of `import_adapter` (SQL only: the app decrypts off the vault's lane first)."""
    from ..services.adapters import AdapterStore

    base = str(doc.get("base_model", ""))
    if base not in known_models(vault.paths):
        raise ModelError(f"This adapter was trained on the base model {base!r}, which this computer does not "
                         "have. Add that model first (models add), under the same name.")
    store = AdapterStore(vault)
    name = store.new_name(base, name)
    metrics = dict(doc.get("metrics", {}))
    meta = {"peft_config": doc["peft_config"], "base_model": base, "history": list(doc.get("history", [])),
            "fingerprint": doc.get("fingerprint"), "metrics": metrics, "examples": doc.get("examples"),
            "trained_remotely": dict(doc.get("trained_on", {}))}
    store.seal(name, adapter, meta)
    return name, {"adapter": name, **metrics}
