"""Run by test_fsdp.py under torchrun (not a test module): one optimizer step of the server's own `_step` with
FSDP across the launched processes, against the same step in one process with the whole model. Plain SGD at
learning rate 1 and no clipping, so each weight's change IS its gradient: equal weights after the step mean the
FSDP gradients are the one-process gradients (summed across processes, not averaged). The batch of 3 examples,
one per pass, gives the processes unequal numbers of passes (rank 0 two, rank 1 one and a pass that counts for
nothing). Rank 0 prints one JSON line."""

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))

from engine_helpers import make_examples  # noqa: E402


def main(model_dir: str) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor

    from localtune.engine.data import tokenize
    from localtune.engine.hardware import Hardware
    from localtune.engine.train.config import TrainConfig
    from localtune.engine.train.model import _build, _tokenizer
    from localtune.remote import fsdp
    from localtune.remote.ddp import _step

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    config = TrainConfig(quantization="none", bf16=False, max_grad_norm=1e9, lora_dropout=0.0)
    tokenizer = _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, None) for e in make_examples(8)]
    hardware = Hardware(device="cpu", name="injected", cpu_cores=1, ram_total=16 << 30, ram_available=16 << 30)
    plan_ = replace(fsdp.plan_sharded(hardware, model_dir, items, config, world), micro_batch_tokens=1)
    batch = [0, 1, 2]

    def stepped(sharded: bool):
        torch.manual_seed(0)
        model = _build(model_dir, plan_, config)
        with torch.no_grad():  # LoRA's B starts at zero (and so A's gradient): start it elsewhere, alike in both
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0.0, 0.05)
        units = fsdp.shard(model, plan_) if sharded else []
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(params, lr=1.0)
        before = [(p.full_tensor() if isinstance(p, DTensor) else p).detach().clone() for p in params]
        loss, _ = _step(model, optimizer, params, items, batch, tokenizer.pad_token_id, plan_, config, True, 1.0,
                        rank if sharded else 0, world if sharded else 1, units)
        after = [(p.full_tensor() if isinstance(p, DTensor) else p).detach().clone() for p in params]
        return loss, [a - b for a, b in zip(after, before, strict=True)]

    loss_one, change_one = stepped(False)
    loss_fsdp, change_fsdp = stepped(True)
    if rank == 0:
        print(json.dumps({
            "world": world, "loss_one": loss_one, "loss_fsdp": loss_fsdp, "tensors": len(change_one),
            "tensors_changed": sum(bool(c.abs().max() > 0) for c in change_one),
            "largest_change": max(float(c.abs().max()) for c in change_one),
            "largest_difference": max(float((a - b).abs().max()) for a, b in zip(change_one, change_fsdp,
                                                                                   strict=True))}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
