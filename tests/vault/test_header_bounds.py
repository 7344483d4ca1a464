"""Any key-header parameter, of any type (item 6 of "Nothing lost, whatever the user types"): a tampered or damaged
vault.kdf.json or backup header is refused before any key is derived, with a message naming what is wrong, so it
can never make unlock hang (time cost 10^9) or exhaust memory (16 GiB); only values within the bounds are used."""

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localtune.errors import LocaltuneError, VaultCorruptError
from localtune.vault import Vault, kdf
from lt_testing import PASS

FIELDS = ["memory_kib", "time_cost", "parallelism", "salt", "check", "kdf"]
WORDS = {"memory_kib": "memory_kib", "time_cost": "time_cost", "parallelism": "parallelism", "salt": "salt",
         "check": "key-check", "kdf": "key derivation"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
SLOT = kdf.KeySlot(salt="AAAAAAAAAAAAAAAAAAAAAA==", check="0" * 64, **kdf.DEFAULT_PARAMS)  # a valid slot
near_bounds = st.sampled_from([0, 1, 2, 3, 4, 10, 11, 16, 17, 65535, 65536, 1048576, 1048577, 10**9, -1, 2**63])


def _valid(slot: kdf.KeySlot) -> bool:
    return all(type(getattr(slot, name)) is int and low <= getattr(slot, name) <= high
               for name, (low, high) in kdf.PARAM_BOUNDS.items())


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=st.sampled_from(FIELDS), value=st.one_of(near_bounds, json_values), in_backup=st.booleans())
def test_any_header_parameter_is_bounded_and_named(field, value, in_backup):
    doc = json.loads(kdf.dumps([SLOT]))
    doc["slots"][0][field] = value
    source = "The backup b.ltbackup's key header" if in_backup else kdf.VAULT_HEADER
    try:
        slots = kdf.loads(json.dumps(doc).encode(), source=source)
    except VaultCorruptError as exc:
        message = str(exc)
        assert message.startswith(source) and WORDS[field] in message, message
        return
    assert _valid(slots[0]) and slots[0].kdf == "argon2id"


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=json_values)
def test_any_header_document_is_read_or_refused_clearly(doc):
    try:
        slots = kdf.loads(json.dumps(doc).encode())
    except VaultCorruptError as exc:
        assert "vault.kdf.json" in str(exc)
        return
    assert all(_valid(s) for s in slots)


@pytest.mark.parametrize("field,value", [("time_cost", 10**9), ("memory_kib", 16 * 1024 * 1024),
                                         ("parallelism", 2**40), ("memory_kib", 64 * 1024.0)])
def test_unlock_with_an_out_of_range_header_returns_at_once_and_writes_nothing(vault, paths, field, value):
    vault.lock()
    doc = json.loads(paths.vault_header.read_text())
    doc["slots"][0][field] = value
    paths.vault_header.write_text(json.dumps(doc))
    before = paths.vault.read_bytes()
    t0 = time.monotonic()
    with pytest.raises(LocaltuneError, match=field):
        Vault.open(paths, PASS)
    assert time.monotonic() - t0 < 2 and paths.vault.read_bytes() == before
