"""Training over a torch.distributed group, built from our trainer's own pieces (engine/train/, engine/data.py):
the same plan, model build, batches, micro-batches, completion-only loss and learning-rate schedule; each process
runs its share of a step's examples and the LoRA gradients are summed across processes before clipping and the
optimizer step. Two strategies (`--strategy`, chosen by `fsdp.choose` when "auto"):

- ddp: every process holds the whole model; the gradients are summed in one all-reduce of one flat buffer (as
  DistributedDataParallel's buckets do) and every process applies the same update and holds the same adapter.
  Why not wrap the model in DistributedDataParallel: its gradient hooks arm in the wrapper's forward, and the
  completion-only head calls the decoder and the head directly (the prompt's vocabulary logits are never
  computed); a LoRA adapter's gradients are a few MB, so one all-reduce per step costs what DDP's would.
- fsdp: the transformer blocks are sharded with torch's FSDP2 (remote/fsdp.py); FSDP sums the gradients into
  each process' shard, and the adapter is gathered whole to rank 0 to be sealed.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from pathlib import Path

from ..errors import ModelError, TrainingError


def _config(saved: dict, args):
    from ..engine.train.config import TrainConfig

    known = set(TrainConfig.__dataclass_fields__)
    values = {k: v for k, v in saved.items() if k in known}
    if isinstance(values.get("target_modules"), list):
        values["target_modules"] = tuple(values["target_modules"])
    if args.epochs:
        values["epochs"] = args.epochs
    if args.max_steps:
        values["max_steps"] = args.max_steps
    if args.quantization:
        values["quantization"] = args.quantization
    if args.bf16:
        values["bf16"] = args.bf16 == "on"
    values["checkpoint_every_s"] = 0.0  # a server run is not resumed from the vault
    config = TrainConfig(**values)
    config.validate()
    return config


def _hardware(args, use_cuda: bool, config):
    from ..engine.hardware import detect

    hw = detect()
    if not use_cuda and hw.device != "cpu":
        hw = replace(hw, device="cpu", bf16=False)
    if hw.device == "cpu" and config.bf16 is None:
        # No timed fp32-vs-bf16 trial across processes: fp32, unless --bf16 on.
        hw = replace(hw, bf16=False)
    if args.memory_gib:
        free = int(args.memory_gib * 1024**3)
        hw = replace(hw, ram_available=free, vram_free=free if hw.device == "cuda" else hw.vram_free)
    return hw


def train_distributed(bundle, args, emit, *, rank: int, world: int, use_cuda: bool):
    """Train `bundle` in this process of a group of `world`; rank 0 returns (adapter bytes, meta), others None."""
    try:
        return _train(bundle, args, emit, rank, world, use_cuda)
    except (TrainingError, ModelError):
        raise
    except MemoryError as exc:
        raise TrainingError("The server ran out of memory: try --quantization nf4 or a smaller batch.") from exc
    except Exception as exc:  # noqa: BLE001 - any other failure is a training failure to report
        raise TrainingError(f"Training failed: {type(exc).__name__}: {exc}") from exc


def _train(bundle, args, emit, rank: int, world: int, use_cuda: bool):
    import torch
    import torch.distributed as dist

    from ..bundle.export import fingerprint
    from ..engine.adapters import adapter_bytes, config_dict
    from ..engine.data import length_grouped_batches, tokenize
    from ..engine.train.checkpoint import _Run
    from ..engine.train.loop import _overfitting, _peak_memory, lr_at
    from ..engine.train.model import _build, _optimizer, _supports_head_trick, _tokenizer
    from . import fsdp

    model_dir = Path(args.model).expanduser()
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir} is not a model folder (it has no config.json).")
    config = _config(bundle.config, args)
    device = "cuda" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(0)  # one visible GPU per process (server._seal_environment)
    tokenizer = _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, config.max_seq_len) for e in bundle.train]
    eval_items = [tokenize(tokenizer, e, config.max_seq_len) for e in bundle.eval]
    # One plan and one strategy for the group, made by rank 0 (the same steps, micro-batches and precision
    # everywhere); an error there (fsdp asked with a 4-bit base, ...) reaches every process.
    box: list = [None, None]
    if rank == 0:
        try:
            box[0] = fsdp.choose(fsdp.requested(args.strategy, os.environ), _hardware(args, use_cuda, config),
                                 model_dir, items, config, world)
        except TrainingError as exc:
            box[1] = str(exc)
    if world > 1:
        dist.broadcast_object_list(box, src=0, device=torch.device(device, 0) if use_cuda else None)
    if box[1]:
        raise TrainingError(box[1])
    strategy, plan_, why = box[0]
    sharded = strategy == "fsdp"
    emit("plan", device=device, processes=world, strategy=strategy, strategy_reason=why,
         quantization=plan_.quantization, bf16=plan_.bf16,
         steps=plan_.total_steps, batch_size=plan_.batch_size, micro_batch_tokens=plan_.micro_batch_tokens,
         grad_checkpointing=plan_.grad_checkpointing, padding_share=round(plan_.padding_share, 4),
         completion_only_head=plan_.completion_only_head)

    torch.manual_seed(config.seed)
    # FSDP: each process loads the base into its RAM, and sharding moves only its share of the blocks to its GPU.
    model = _build(model_dir, plan_, config, load_device="cpu" if sharded else None)
    head = plan_.completion_only_head and _supports_head_trick(model)
    units = fsdp.shard(model, plan_) if sharded else []
    optimizer = _optimizer(model, plan_, config)  # after sharding: it steps each process' shards
    params = [p for g in optimizer.param_groups for p in g["params"]]

    def adapter() -> bytes | None:  # rank 0's copy of the whole adapter (FSDP: gathered, a collective)
        if sharded:
            return fsdp.gather_adapter(model, keep=rank == 0)
        return adapter_bytes(model) if rank == 0 else None

    if use_cuda:
        torch.cuda.reset_peak_memory_stats()
    pad_id = tokenizer.pad_token_id
    lengths = [len(t) for t in items]
    per_epoch = plan_.steps_per_epoch
    run = _Run()
    best_adapter = None
    stop = False
    model.train()
    started = time.perf_counter()
    while run.step < plan_.total_steps and not stop:
        epoch, index = divmod(run.step, per_epoch)
        batch = length_grouped_batches(lengths, plan_.batch_size, config.seed * 1000 + epoch)[index]
        lr = lr_at(run.step, plan_.total_steps, config.lr, config.warmup_ratio)
        t0 = time.perf_counter()
        loss, ntok = _step(model, optimizer, params, items, batch, pad_id, plan_, config, head, lr, rank, world,
                           units)
        if not math.isfinite(loss):
            raise TrainingError("Training diverged (the loss became infinite). Try a lower learning rate.")
        run.seconds += time.perf_counter() - t0
        run.tokens += ntok
        run.step += 1
        run.history.append({"step": run.step, "epoch": round(run.step / per_epoch, 3), "loss": round(loss, 5),
                            "lr": lr})
        speed = run.tokens / run.seconds if run.seconds else 0.0
        emit("progress", step=run.step, total=plan_.total_steps, epoch=round(run.step / per_epoch, 3),
             loss=round(loss, 6), lr=lr, tokens_per_s=round(speed, 1),
             eta_s=round(run.seconds / run.step * (plan_.total_steps - run.step), 1))
        end_of_epoch = run.step % per_epoch == 0 or run.step == plan_.total_steps
        if end_of_epoch and config.eval_each_epoch and eval_items:
            done_epoch = math.ceil(run.step / per_epoch)
            ev = _eval_loss(model, eval_items, pad_id, plan_, head, rank, world, sharded)
            warning = _overfitting(run, ev)
            run.history.append({"epoch": done_epoch, "eval_loss": round(ev, 5)})
            if run.best_eval is None or ev < run.best_eval:
                run.best_eval, run.best_epoch, run.bad_epochs = ev, done_epoch, 0
                best_adapter = adapter()
            else:
                run.bad_epochs += 1
            emit("eval", epoch=done_epoch, eval_loss=round(ev, 6), overfitting=bool(warning))
            if config.early_stopping_patience and run.bad_epochs >= config.early_stopping_patience:
                emit("status", message=f"stopping early; keeping the adapter from epoch {run.best_epoch}")
                stop = True
    wall = time.perf_counter() - started
    final_eval = run.best_eval
    if final_eval is None and eval_items:
        final_eval = _eval_loss(model, eval_items, pad_id, plan_, head, rank, world, sharded)
    peak = _peak_memory(device)
    # The same decision on every process (gathering the adapter under FSDP is a collective): the best epoch's
    # adapter when held-out loss got worse after it, else the current weights.
    keep_best = bool(run.bad_epochs) and run.best_eval is not None
    last = best_adapter if keep_best else adapter()
    if rank != 0:
        return None
    metrics = {"base_model": model_dir.name, "steps": run.step, "train_tokens": run.tokens,
               "train_seconds": round(run.seconds, 3), "tokens_per_s": run.tokens / run.seconds if run.seconds else 0.0,
               "eval_loss": final_eval, "peak_memory_bytes": peak, "wall_seconds": round(wall, 3)}
    meta = {"peft_config": config_dict(model.peft_config["default"]), "base_model": bundle.base_model,
            "history": run.history, "fingerprint": fingerprint(bundle.train), "metrics": metrics,
            "examples": len(bundle.train),
            "trained_on": {"processes": world, "device": device, "backend": "nccl" if use_cuda else "gloo",
                           "strategy": strategy, "plan": plan_.describe().splitlines()[0]}}
    return last, meta


def _step(model, optimizer, params, items, batch, pad_id, plan_, config, head: bool, lr: float, rank: int,
          world: int, units=()) -> tuple[float, int]:
    """One optimizer step over `batch`, this process taking every world-th example; the loss is the mean over
    the whole batch's completion tokens, as in one process. With FSDP `units` every process runs as many passes
    (a process short of micro-batches runs one that counts for nothing) and FSDP sums the gradients on the last."""
    import torch
    import torch.distributed as dist

    from ..engine.data import collate, micro_batches
    from ..engine.train.loop import _apply_gradients, _completion_tokens
    from ..engine.train.model import _loss_sum
    from . import fsdp

    n_total = _completion_tokens(items, batch)
    mine = sorted(batch, key=lambda i: len(items[i]))[rank::world]
    passes = list(micro_batches(items, mine, plan_.micro_batch_tokens))
    if units:
        passes = fsdp.padded(passes, _device(plan_))
        filler = [min(batch, key=lambda i: len(items[i]))]
    loss_sum = 0.0
    for k, mb in enumerate(passes):
        if units:
            units[-1].set_requires_gradient_sync(k == len(passes) - 1)  # reduce once, after the last pass
        ids, labels = collate([items[i] for i in (filler if mb is None else mb)], pad_id)
        with torch.autocast(device_type=plan_.device, dtype=torch.bfloat16, enabled=plan_.bf16):
            loss, _ = _loss_sum(model, ids.to(plan_.device), labels.to(plan_.device), head)
        ((loss if mb is not None else loss * 0.0) / max(n_total, 1)).backward()
        if mb is not None:
            loss_sum += loss.detach().item()
    if world > 1:
        stats = torch.tensor([loss_sum], dtype=torch.float64, device=_device(plan_))
        if not units:
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            offset = 0
            for p in params:
                n = p.numel()
                p.grad = flat[offset:offset + n].view_as(p).clone()
                offset += n
        dist.all_reduce(stats)
        loss_sum = float(stats[0])
    _apply_gradients(optimizer, params, config.max_grad_norm, lr)
    return loss_sum / max(n_total, 1), sum(len(items[i]) for i in batch)


def _device(plan_):
    import torch

    return torch.device(plan_.device, 0) if plan_.device == "cuda" else torch.device("cpu")


def _eval_loss(model, items, pad_id, plan_, head: bool, rank: int, world: int, sharded: bool = False) -> float:
    """Mean held-out loss per completion token, the examples shared out across the processes (with FSDP every
    process runs as many passes)."""
    import torch
    import torch.distributed as dist

    from ..engine.data import collate, micro_batches
    from ..engine.train.model import _loss_sum
    from . import fsdp

    order = sorted(range(len(items)), key=lambda i: len(items[i]))
    passes = list(micro_batches(items, order[rank::world], plan_.micro_batch_tokens))
    if sharded:
        passes = fsdp.padded(passes, _device(plan_))
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad(), torch.autocast(device_type=plan_.device, dtype=torch.bfloat16, enabled=plan_.bf16):
        for mb in passes:
            ids, labels = collate([items[i] for i in (order[:1] if mb is None else mb)], pad_id)
            loss, n = _loss_sum(model, ids.to(plan_.device), labels.to(plan_.device), head)
            if mb is not None:
                total += float(loss)
                count += n
    model.train()
    if world > 1:
        stats = torch.tensor([total, count], dtype=torch.float64, device=_device(plan_))
        dist.all_reduce(stats)
        total, count = float(stats[0]), int(stats[1])
    return total / max(count, 1)
