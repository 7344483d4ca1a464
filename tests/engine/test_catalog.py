"""The catalog of recommended models: data that says where each value comes from, and "Recommended for this
computer" for the kinds of machine people have (injected, never this host)."""

import re

import pytest

from localtune.engine import catalog
from localtune.engine.discovery import FAMILIES
from localtune.engine.hardware import Hardware

GIB = 1024**3
CPU_LAPTOP = Hardware("cpu", "laptop CPU", 8, 16 * GIB, 11 * GIB)
GPU_8GB = Hardware("cuda", "8 GB GPU", 8, 32 * GIB, 24 * GIB, vram_total=8 * GIB, vram_free=7.5 * GIB, bf16=True)
GPU_24GB = Hardware("cuda", "24 GB GPU", 16, 64 * GIB, 48 * GIB, vram_total=24 * GIB, vram_free=23 * GIB, bf16=True)
APPLE_16GB = Hardware("mps", "Apple GPU", 10, 16 * GIB, 11 * GIB, bf16=True, nf4=False)  # no 4-bit: 16-bit base
APPLE_16GB_4BIT = Hardware("mps", "Apple GPU", 10, 16 * GIB, 11 * GIB, bf16=True, nf4=True)
SMALL_CPU = Hardware("cpu", "old laptop", 2, 4 * GIB, 2 * GIB)


def test_every_entry_says_where_its_values_come_from():
    entries = catalog.entries()
    assert len({e.id for e in entries}) == len(entries) >= 8
    for e in entries:
        assert e.architecture in FAMILIES and e.smallest_hardware in catalog.HARDWARE and e.params > 0
        assert e.source, e.id
        for f in e.files:
            if f.get("sha256"):
                assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) and "SHA256" in e.source and "http" in e.source
        if not e.hashes_sourced:
            assert "NOT sourced" in e.source and "hashes NOT in the catalog" in e.describe()
    assert all(e.hashes_sourced for e in entries)  # every weight file of every entry
    pinned = [e for e in entries if re.fullmatch(r"[0-9a-f]{40}", e.revision)]
    assert len(pinned) >= 7 and all(e.commit_seen == e.revision[:7] for e in pinned)
    assert catalog.entry("HuggingFaceTB/SmolLM2-360M-Instruct").id == "smollm2-360m-instruct"
    assert catalog.entry("nobody/nothing") is None
    families = {e.family.split()[0].rstrip("0123456789.") for e in entries}
    assert {"SmolLM", "Qwen", "Llama", "Gemma", "Phi-", "Mistral"} <= families | {"Phi-"}


@pytest.mark.parametrize(("hardware", "expected"), [
    (CPU_LAPTOP, ["smollm2-1.7b-instruct", "qwen2.5-1.5b-instruct", "llama-3.2-1b-instruct"]),
    (APPLE_16GB, ["phi-3.5-mini-instruct", "llama-3.2-3b-instruct", "gemma-2-2b-it"]),
    (APPLE_16GB_4BIT, ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"]),
    # An 8B or Qwen's 7B, 4-bit, holds ~8.5 GiB for long entries (a 128k/152k vocabulary's embedding and head in
    # 16 bits: 2.1 GB); Mistral's 32k vocabulary leaves it at ~6.7 GiB.
    (GPU_8GB, ["mistral-7b-instruct-v0.3", "phi-3.5-mini-instruct", "llama-3.2-3b-instruct"]),
    (GPU_24GB, ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"]),
    (SMALL_CPU, ["smollm2-360m-instruct"]),
])
def test_recommended_for_this_computer(hardware, expected):
    assert [e.id for e in catalog.recommended(hardware)] == expected
    for e in catalog.recommended(hardware):
        assert catalog.trains_on(e, hardware)


SMALLEST = {"cpu-laptop": CPU_LAPTOP, "gpu-8gb": GPU_8GB, "gpu-24gb": GPU_24GB, "apple-16gb": APPLE_16GB}


def test_each_model_trains_on_the_smallest_hardware_it_names_and_not_on_a_smaller_kind():
    order = ["cpu-laptop", "gpu-8gb", "gpu-24gb"]
    for e in catalog.entries():
        assert catalog.trains_on(e, SMALLEST[e.smallest_hardware]), e.id
        below = order[: order.index(e.smallest_hardware)] if e.smallest_hardware in order else []
        assert not any(catalog.trains_on(e, SMALLEST[kind]) for kind in below), e.id


def test_the_need_is_the_trainers_own_estimate_of_a_model_of_that_shape(tiny_model):
    """The catalog's figure and the plan's come from the same terms: a model described by its config.json gets
    the catalog's figure for the same hardware and example length."""
    import json

    from localtune.engine.models import estimate_params
    from localtune.engine.train.planning import least_memory, model_shape, shape_of

    config = json.loads((tiny_model / "config.json").read_text())
    assert shape_of(config, estimate_params(tiny_model)) == model_shape(tiny_model)
    small = least_memory(GPU_8GB, model_shape(tiny_model), seq_len=256, completion_tokens=64)
    longer = least_memory(GPU_8GB, model_shape(tiny_model), seq_len=1024, completion_tokens=256)
    assert 0 < small < longer
    e = catalog.entry("llama-3.1-8b-instruct")
    assert catalog.training_need(e, GPU_24GB) == catalog.training_need(e, GPU_8GB)  # the same card, more of it free
    assert catalog.training_need(e, APPLE_16GB) > catalog.training_need(e, APPLE_16GB_4BIT)  # a 16-bit base there
