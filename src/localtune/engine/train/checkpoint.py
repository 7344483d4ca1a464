"""Checkpoints as safetensors bytes (never files): LoRA weights, optimizer state, random state, the best
adapter so far and what the run had done (`_Run`). The caller stores them encrypted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ...errors import TrainingError

_STATE_FORMAT = 1


@dataclass
class _Run:
    """What a checkpoint must carry besides tensors."""

    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    best_eval: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list = field(default_factory=list)


def _pack_state(model, optimizer, meta: dict, best_adapter: bytes | None = None) -> bytes:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save

    tensors = {f"lora.{k}": v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    opt = optimizer.state_dict()
    for idx, st in opt["state"].items():
        for k, v in st.items():
            tensors[f"opt.{idx}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
    if best_adapter is not None:
        tensors["best_adapter"] = torch.frombuffer(bytearray(best_adapter), dtype=torch.uint8)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = dict(meta, format=_STATE_FORMAT, param_groups=opt["param_groups"])
    return save(tensors, metadata={"localtune": json.dumps(meta)})


def _unpack_state(state: bytes) -> tuple[dict, dict]:
    from safetensors.torch import load

    try:
        tensors = load(state)
        meta = json.loads(_safetensors_metadata(state)["localtune"])
    except Exception as exc:  # noqa: BLE001 - any parse error means a damaged checkpoint
        raise TrainingError("The saved training checkpoint is damaged; start the training again.") from exc
    if meta.get("format") != _STATE_FORMAT:
        raise TrainingError("The saved checkpoint comes from another localtune version; start again.")
    return tensors, meta


def _safetensors_metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]).get("__metadata__", {})


def _restore(model, optimizer, tensors: dict) -> None:
    import torch
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, {k[5:]: v for k, v in tensors.items() if k.startswith("lora.")})
    opt = optimizer.state_dict()
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    opt["state"] = state
    optimizer.load_state_dict(opt)
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
