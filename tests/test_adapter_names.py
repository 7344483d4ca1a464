"""Adapter names: one place knows the vault's blob naming; new names never take an existing one."""

import pytest

from localtune import services, training
from localtune.errors import InvalidInputError


def _seal(vault, name):
    vault.put_blob(training.adapter_blob(name), "adapter", b"weights", {"base_model": "starter", "peft_config": {}})


def _names(vault):
    return [training.adapter_name(b.name) for b in training.adapters(vault)]


def test_new_names_skip_taken_ones_and_user_names_are_checked(vault):
    assert training.new_adapter_name(vault, "starter") == "starter-v1"
    _seal(vault, "starter-v1")
    _seal(vault, "starter-v2")
    services.delete_adapter(vault, "starter-v1")
    assert training.new_adapter_name(vault, "starter") == "starter-v3"  # 1 + count would give v2, which exists
    assert training.new_adapter_name(vault, "starter", "  rota notes ") == "rota notes"
    for bad in ("", "a/b", "x" * 61, "starter-v2"):
        with pytest.raises(InvalidInputError):
            training.new_adapter_name(vault, "starter", bad)


def test_rename_refuses_a_taken_name_and_keeps_both(vault):
    _seal(vault, "first")
    _seal(vault, "second")
    with pytest.raises(InvalidInputError, match="already exists"):
        services.rename_adapter(vault, "first", "second")
    assert sorted(_names(vault)) == ["first", "second"]
    assert services.rename_adapter(vault, "first", "first ") == "first"  # unchanged: nothing to do
    assert services.rename_adapter(vault, "first", "kept") == "kept"
    assert sorted(_names(vault)) == ["kept", "second"]
