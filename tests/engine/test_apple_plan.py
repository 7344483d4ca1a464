"""The plan on an Apple GPU (MPS), through injected hardware (this machine has none): LoRA on a 16-bit base
where bitsandbytes' 4-bit is not available (bf16 where the GPU has it, else fp16), QLoRA where it is."""

import pytest

from localtune.engine.discovery import Found, fit
from localtune.engine.hardware import Hardware, _mps_works
from localtune.engine.train import TrainConfig, plan
from localtune.engine.train.model import base_dtype
from localtune.engine.train.planning import MPS_REASON
from localtune.errors import TrainingError

GIB = 1024**3


def mac(*, bf16: bool, nf4: bool, ram_gib: int = 16) -> Hardware:
    return Hardware("mps", "Apple GPU", 10, ram_gib * GIB, int(ram_gib * 0.7 * GIB), bf16=bf16, nf4=nf4)


def test_without_4bit_the_plan_is_lora_on_a_16bit_base(tiny_model, examples):
    import torch

    p = plan(mac(bf16=True, nf4=False), tiny_model, examples)
    assert (p.device, p.quantization, p.bf16) == ("mps", "none", True) and MPS_REASON in p.reasons
    assert "LoRA (16-bit bf16 base) on MPS" in p.describe() and base_dtype(p) == torch.bfloat16
    older = plan(mac(bf16=False, nf4=False), tiny_model, examples)  # macOS before 14: no bf16 on the GPU
    assert older.quantization == "none" and not older.bf16 and base_dtype(older) == torch.float16
    assert "fp16 base" in older.describe()
    assert not p.merged_lora and not p.candidates  # the CPU-only paths stay off
    with pytest.raises(TrainingError, match="Apple GPU"):
        plan(mac(bf16=True, nf4=False), tiny_model, examples, TrainConfig(quantization="nf4"))


def test_the_16bit_base_is_counted_at_two_bytes_a_weight(tiny_model, examples):
    cpu = Hardware("cpu", "same memory", 10, 16 * GIB, int(16 * 0.7 * GIB))
    same = {"grad_checkpointing": False, "micro_batch_tokens": 4096, "quantization": "none"}
    on_mac = plan(mac(bf16=True, nf4=False), tiny_model, examples, TrainConfig(**same))
    on_cpu = plan(cpu, tiny_model, examples, TrainConfig(**same, lora_dropout=0.05))  # no folded copy
    assert on_mac.memory_needed < on_cpu.memory_needed


def test_with_4bit_a_big_model_gets_qlora_and_without_it_does_not_fit():
    shape = {"hidden": 4096, "inter": 14336, "layers": 32, "vocab": 128256, "heads": 32, "kv_heads": 8,
             "head_dim": 128, "tied": False}
    llama8b = Found("folder", "llama-8b", "/nowhere", "folder", "llama", 8_030_261_248, "bf16", 16 * GIB, True,
                    "", shape)
    lengths = [(300, 250)] * 16
    with_bnb = fit(llama8b, mac(bf16=True, nf4=True), lengths)
    assert with_bnb.quantization == "nf4" and with_bnb.fits
    without = fit(llama8b, mac(bf16=True, nf4=False), lengths)
    assert without.quantization == "none" and not without.fits  # 16 GB of weights in 11 GB free
    assert fit(llama8b, mac(bf16=True, nf4=False, ram_gib=64), lengths).fits


def test_detection_on_a_machine_without_an_apple_gpu():
    assert _mps_works("bf16") is False and _mps_works("nf4") is False
    assert "no 4-bit" in mac(bf16=False, nf4=False).describe() and "bf16" in mac(bf16=True, nf4=True).describe()
