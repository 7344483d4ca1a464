"""LoRA adapters as bytes (never temp files), base-model loading, and the explicit PEFT-folder export."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ..errors import ModelError
from . import model_load_lock

ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"


def load_base(model_dir: str | os.PathLike, *, quantize: str = "none", device: str = "cpu", dtype=None):
    """A frozen base model for training or generation. `quantize`: "nf4" (4-bit NF4, double quant) or "none".

    One base model can then carry several adapters (`attach` with different names; peft's
    set_adapter / disable_adapter switch between them).
    """
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if dtype is None:
        dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    kwargs = dict(dtype=dtype, local_files_only=True)
    if quantize == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0 if device == "cuda" else device}
    elif quantize != "none":
        raise ModelError(f"Unknown quantization {quantize!r} (use 'nf4' or 'none').")
    try:
        with model_load_lock:
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not load the base model from {model_dir}: {exc}") from exc
    if quantize == "none":
        model.to(device)
    model.config.use_cache = False
    model.requires_grad_(False)
    return model.eval()


def lora_config(peft_config: dict):
    """A LoraConfig from its stored dict (unknown keys from other peft versions dropped)."""
    from peft import LoraConfig

    known = {f.name for f in dataclasses.fields(LoraConfig)}
    return LoraConfig(**{k: v for k, v in peft_config.items() if k in known})


def config_dict(config) -> dict:
    """A LoraConfig as a JSON-able dict (sets become sorted lists)."""
    out = config.to_dict()
    return json.loads(json.dumps(out, default=lambda v: sorted(v) if isinstance(v, set) else str(v)))


def adapter_bytes(model, adapter_name: str = "default") -> bytes:
    """The LoRA weights of `model` as safetensors bytes, with PEFT's own key names."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    state = get_peft_model_state_dict(model, adapter_name=adapter_name)
    return save({k: v.detach().to("cpu").contiguous() for k, v in state.items()})


def attach(base, adapter: bytes, peft_config: dict, name: str = "default"):
    """Put an adapter (bytes + config) on a base model, or add it beside the adapters a PeftModel has."""
    from peft import PeftModel, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load

    config = lora_config(peft_config)
    config.inference_mode = True
    if isinstance(base, PeftModel):
        base.add_adapter(name, config)
        model = base
    else:
        model = get_peft_model(base, config, adapter_name=name)
    result = set_peft_model_state_dict(model, load(adapter), adapter_name=name)
    missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k and f".{name}." in k]
    if missing:
        raise ModelError(f"The adapter does not fit this base model ({len(missing)} weights missing).")
    model.set_adapter(name)
    model.requires_grad_(False)
    return model.eval()


def export_peft_folder(adapter: bytes, peft_config: dict, base_model: str, folder: str | os.PathLike) -> Path:
    """Write a standard PEFT folder (adapter_config.json + adapter_model.safetensors), files 0600.

    An explicit user action: the adapter can reveal its training data, so the caller warns first.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = dict(peft_config, base_model_name_or_path=base_model, inference_mode=True)
    for name, data in ((CONFIG_FILE, json.dumps(config, indent=2).encode()), (ADAPTER_FILE, adapter)):
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return folder
