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
    sourced = {e.id for e in entries if e.hashes_sourced}
    assert sourced == {"smollm2-360m-instruct", "qwen2.5-0.5b-instruct", "smollm2-1.7b-instruct"}
    assert catalog.entry("HuggingFaceTB/SmolLM2-360M-Instruct").id == "smollm2-360m-instruct"
    assert catalog.entry("nobody/nothing") is None
    families = {e.family.split()[0].rstrip("0123456789.") for e in entries}
    assert {"SmolLM", "Qwen", "Llama", "Gemma", "Phi-", "Mistral"} <= families | {"Phi-"}


@pytest.mark.parametrize(("hardware", "expected"), [
    (CPU_LAPTOP, ["smollm2-1.7b-instruct", "qwen2.5-1.5b-instruct", "llama-3.2-1b-instruct"]),
    (APPLE_16GB, ["phi-3.5-mini-instruct", "llama-3.2-3b-instruct", "gemma-2-2b-it"]),
    (APPLE_16GB_4BIT, ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"]),
    (GPU_8GB, ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"]),  # 4-bit 8B: ~5.9 GiB
    (GPU_24GB, ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-instruct-v0.3"]),
    (SMALL_CPU, ["qwen2.5-0.5b-instruct", "smollm2-360m-instruct"]),
])
def test_recommended_for_this_computer(hardware, expected):
    assert [e.id for e in catalog.recommended(hardware)] == expected
    for e in catalog.recommended(hardware):
        assert catalog.trains_on(e, hardware)
