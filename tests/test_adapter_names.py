"""Adapter names: one place knows the vault's blob naming; new names never take an existing one."""

import pytest

from localtune.errors import InvalidInputError
from localtune.services.adapters import AdapterStore


def _seal(vault, name):
    vault.put_blob(AdapterStore.blob(name), "adapter", b"weights", {"base_model": "starter", "peft_config": {}})


def _names(vault):
    return [AdapterStore.name_of(b.name) for b in AdapterStore(vault).infos()]


def test_new_names_skip_taken_ones_and_user_names_are_checked(vault):
    assert AdapterStore(vault).new_name("starter") == "starter-v1"
    _seal(vault, "starter-v1")
    _seal(vault, "starter-v2")
    AdapterStore(vault).delete("starter-v1")
    assert AdapterStore(vault).new_name("starter") == "starter-v3"  # 1 + count would give v2, which exists
    assert AdapterStore(vault).new_name("starter", "  rota notes ") == "rota notes"
    for bad in ("", "a/b", "x" * 61, "starter-v2"):
        with pytest.raises(InvalidInputError):
            AdapterStore(vault).new_name("starter", bad)


def test_rename_refuses_a_taken_name_and_keeps_both(vault):
    _seal(vault, "first")
    _seal(vault, "second")
    with pytest.raises(InvalidInputError, match="already exists"):
        AdapterStore(vault).rename("first", "second")
    assert sorted(_names(vault)) == ["first", "second"]
    assert AdapterStore(vault).rename("first", "first ") == "first"  # unchanged: nothing to do
    assert AdapterStore(vault).rename("first", "kept") == "kept"
    assert sorted(_names(vault)) == ["kept", "second"]
