"""Readings of a situation: the base model kept in memory for the unlocked session (`ReaderPool`), the decoding
settings, and the generic / few-shot / tuned comparison."""

from __future__ import annotations

import gc
from collections.abc import Iterator

from ..dataset.prompts import LABELS, prompt_messages
from ..events import FewShotSources
from ..journal.repository import Journal
from ..paths import Paths
from ..progress import CancelToken
from ..vault import Vault
from .adapters import AdapterStore
from .training import dataset, registry

DECODING_SETTING = "reading.decoding"


class ReaderPool:
    """One base model kept in memory between readings (the app compares again and again), owned by the open
    vault's session and dropped with it on lock. Adapters are added to it by name and checked against the
    vault's hash, so a renamed, deleted or retrained adapter is never stale."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.reader = None
        self.hashes: dict[str, str] = {}

    def get(self, vault: Vault, paths: Paths, adapter: str | None):
        from ..engine import load_libraries
        from ..engine.generate import Reader

        load_libraries()  # readings and evaluations run in this process (on the app's model lane): the libraries load here

        info = AdapterStore(vault).info(adapter) if adapter else None
        base = info.meta["base_model"] if info else None
        folder = str(registry(paths).resolve(None if base in (None, "starter") else base))
        if self.folder != folder:
            self.release()
            self.reader, self.folder = Reader.load(folder), folder
        if info is not None and self.hashes.get(adapter) != info.sha256:
            if adapter in self.reader.adapters:
                self.reader.remove_adapter(adapter)
            self.reader.add_adapter(adapter, vault.read_blob(info.name), info.meta["peft_config"])
            self.hashes[adapter] = info.sha256
        return self.reader

    def release(self) -> None:
        self.folder, self.reader, self.hashes = None, None, {}


def open_reader(vault: Vault, paths: Paths, adapter: str | None):
    """The base model with `adapter` loaded (None: none needed), reusing the one this session holds."""
    return vault.session_cache.setdefault("readers", ReaderPool()).get(vault, paths, adapter)


def release_readers(vault: Vault) -> None:
    """Drop the model and every adapter from memory (a lock does this too: adapters derive from the journal)."""
    pool = vault.session_cache.pop("readers", None)
    if pool is not None:
        pool.release()
    gc.collect()


def few_shot_pool(journal: Journal):
    """The examples a few-shot reading may show the model: the training side of the split, never held-out ones."""
    return dataset(journal).split.train


def labels_used(examples, fallback=LABELS) -> tuple[str, ...]:
    """The assessment labels `examples` use, in the usual order (all three when there are none): a journal
    that never says "mixed" is not scored on "mixed"."""
    used = {e.label for e in examples}
    return tuple(label for label in LABELS if label in used) or tuple(fallback)


def decoding_settings(vault: Vault) -> dict:
    """The reading's decoding settings as stored (Settings > Advanced); {} means the defaults."""
    return dict(vault.get_setting(DECODING_SETTING, {}))


def decoding_defaults() -> dict:
    """The default decoding settings (what "Reset" returns to)."""
    from ..engine.generate import Decoding

    return Decoding().to_dict()


def set_decoding_settings(vault: Vault, values: dict) -> dict:
    """Check and keep decoding settings (only the ones that differ from the defaults are stored)."""
    from ..engine.generate import Decoding

    chosen = Decoding.from_dict(values)  # raises ModelError with every problem at once
    defaults = Decoding().to_dict()
    kept = {k: v for k, v in chosen.to_dict().items()
            if defaults[k] != v and k not in ("target_tokens", "min_tokens")}  # those come from the journal
    vault.set_setting(DECODING_SETTING, kept)
    return kept


def calibrated_decoding(vault: Vault, reader, examples, overrides: dict | None = None):
    """The stored decoding settings over the defaults, `overrides` over those, and the length a reading aims for
    calibrated from `examples`' own analyses."""
    from ..engine.generate import Decoding

    values = {**decoding_settings(vault), **(overrides or {})}
    return Decoding.from_dict({**reader.lengths([e.completion for e in examples]), **values})


def compare(vault: Vault, journal: Journal, paths: Paths, situation: str, *, industry: str = "", context: str = "",
            viewpoint: str = "", adapter: str | None = None, k: int = 3, cancel: CancelToken | None = None,
            decoding: dict | None = None) -> Iterator:
    """Generic, few-shot and tuned readings from one base model; yields Piece and Analysis events.

    Decoding: the stored settings, overridden by `decoding`; the length a reading aims for is calibrated from
    the journal's own analyses, and every column is scored on the labels the journal uses."""
    from ..dataset.retrieval import nearest_examples

    adapter = adapter or AdapterStore(vault).latest()
    reader = open_reader(vault, paths, adapter)
    messages = prompt_messages(situation=situation, industry=industry, context=context, viewpoint=viewpoint)
    pool = few_shot_pool(journal)
    shots = nearest_examples(pool, situation, k) if pool else ()
    if shots:  # a saved scenario's example group is its id (dataset.examples.scenario_group)
        yield FewShotSources("few_shot", tuple(dict.fromkeys(int(e.group) for e in shots if e.group.isdigit())))
    yield from reader.compare(messages, adapter=adapter, shots=shots, cancel=cancel,
                              decoding=calibrated_decoding(vault, reader, pool, decoding), labels=labels_used(pool))
