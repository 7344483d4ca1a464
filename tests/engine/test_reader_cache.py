"""The session keeps one base model in memory between readings; adapters follow the vault, and lock drops it all."""

from __future__ import annotations

import torch
from test_generate import make_adapter, tiny_model

from localtune.dataset.prompts import prompt_messages
from localtune.services import reading, training
from localtune.services.adapters import AdapterStore


def _register_tiny(paths, tmp_path) -> None:
    model, tok = tiny_model()
    folder = tmp_path / "tiny-base"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    training.registry(paths).add_folder(folder, "tiny")


def _store(vault, name: str, seed: int) -> None:
    weights, config, _ = make_adapter(seed)
    if any(AdapterStore.name_of(b.name) == name for b in AdapterStore(vault).infos()):
        vault.delete_blob(AdapterStore.blob(name))
    vault.put_blob(AdapterStore.blob(name), "adapter", weights, {"peft_config": config, "base_model": "tiny"})


def test_one_base_stays_loaded_adapters_follow_the_vault_and_release_drops_it(paths, vault, tmp_path):
    _register_tiny(paths, tmp_path)
    _store(vault, "v1", seed=1)
    reader = reading.open_reader(vault, paths, "v1")
    ids = reader.encode(prompt_messages(situation="a shift swap", industry="nursing", context="", viewpoint=""))
    first = reader.logits(ids, adapter="v1")

    _store(vault, "v2", seed=2)
    assert reading.open_reader(vault, paths, "v2") is reader  # same base in memory, second adapter added
    assert set(reader.adapters) == {"v1", "v2"}
    assert torch.equal(reader.logits(ids, adapter="v1"), first)

    _store(vault, "v1", seed=3)  # retrained under the same name: the stale weights must not be used
    assert reading.open_reader(vault, paths, "v1") is reader
    assert not torch.equal(reader.logits(ids, adapter="v1"), first)

    reading.release_readers(vault)
    assert reading.open_reader(vault, paths, "v1") is not reader
    assert "readers" in vault.session_cache
    vault.lock()  # the pool belongs to the unlocked session: a lock drops it
    assert "readers" not in vault.session_cache
