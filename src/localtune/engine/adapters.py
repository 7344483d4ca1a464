"""LoRA adapters as bytes (never temp files), base-model loading, and the explicit PEFT-folder export."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ModelError

ADAPTER_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"


def default_dtype(device: str):
    """fp32 on a CPU (bf16 is slow there without AMX; training may still choose bf16 autocast), bf16 on a GPU
    that has it, else fp16."""
    import torch

    if device == "cpu":
        return torch.float32
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def load_base(model_dir: str | os.PathLike, *, quantize: str = "none", device: str = "cpu", dtype=None):
    """The one base-model loader, for training and for reading: a frozen model from a safetensors folder (no
    network). `quantize`: "nf4" (4-bit NF4, double quant, as QLoRA trains it) or "none"; `dtype`: the weights'
    (or the 4-bit compute) type, `default_dtype(device)` when None.

    One base model can then carry several adapters (`attach` with different names).
    """
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = dtype or default_dtype(device)
    kwargs = dict(dtype=dtype, local_files_only=True)
    if quantize == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0 if device == "cuda" else device}
    elif quantize != "none":
        raise ModelError(f"Unknown quantization {quantize!r} (use 'nf4' or 'none').")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Could not load the base model from {model_dir}: {exc}") from exc
    if quantize == "none":
        model.to(device)
    model.requires_grad_(False)
    return model.eval()


def peft_config(config: Mapping):
    """An adapter's PEFT config (inference mode) from its stored dict."""
    from peft import PeftConfig

    try:
        cfg = PeftConfig.from_peft_type(**dict(config))
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"The adapter's settings cannot be read ({exc}).") from exc
    cfg.inference_mode = True
    return cfg


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


def attach(model, adapter: bytes, config: Mapping, name: str = "default"):
    """The one way to put an adapter (safetensors bytes + its PEFT config dict) on a base model, or beside the
    adapters a PeftModel already has; returns the PeftModel, with `name` active. Every LoRA weight of the
    adapter must come from the bytes and nothing else may be there; when it does not fit, what was added is
    taken off again and ModelError says why."""
    from peft import PeftModel, set_peft_model_state_dict
    from safetensors.torch import load

    cfg = peft_config(config)
    try:
        state = load(bytes(adapter))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelError(f"The adapter {name!r} is damaged: its weights cannot be read ({exc}).") from exc
    wrapped = isinstance(model, PeftModel)
    try:
        if wrapped:
            model.add_adapter(name, cfg)
            peft = model
        else:
            peft = PeftModel(model, cfg, adapter_name=name)
    except ValueError as exc:  # e.g. target modules this base does not have
        raise ModelError(f"The adapter {name!r} does not fit this base model ({exc}).") from exc

    def undo(why: str) -> ModelError:
        if wrapped:
            peft.delete_adapter(name)
        else:
            peft.unload()  # the base is again exactly the model that was passed in
        return ModelError(f"The adapter {name!r} does not fit this base model ({why}).")

    try:
        result = set_peft_model_state_dict(peft, state, adapter_name=name)
    except RuntimeError as exc:  # shapes that do not match this base
        raise undo(str(exc)) from exc
    missing = [k for k in result.missing_keys if f".{name}." in k and "lora_" in k]
    if missing or result.unexpected_keys:
        raise undo(f"{len(missing)} weights missing, {len(result.unexpected_keys)} unexpected")
    peft.set_adapter(name)
    peft.requires_grad_(False)
    return peft.eval()


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
