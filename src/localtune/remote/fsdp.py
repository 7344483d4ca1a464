"""Sharded training (FSDP) for a base model that does not fit one device: torch's own FSDP2 (`fully_shard`),
which runs over NCCL on GPUs and over gloo on CPUs.

What is sharded: every transformer block (its frozen weights and its LoRA weights) is its own FSDP unit; the
decoder is the root unit, so the blocks are gathered one at a time, ahead of use, and freed after. The embeddings,
the final norm and the language-model head stay whole on every process: they are frozen, and the completion-only
head calls the decoder and the head directly (the head is often tied to the embeddings). Only LoRA weights train.

Gradients are summed across processes (FSDP's divide factor set to 1), as the data-parallel path sums them: the
loss each process takes is already its share of the whole batch's mean. Every process must run the same number of
forward and backward passes (each one gathers the blocks from all), so a process with fewer micro-batches runs
passes that add nothing (`padded`).

4-bit bases (QLoRA) are not sharded here: FSDP needs the 4-bit weights stored in the compute dtype
(`bnb_4bit_quant_storage`), which bitsandbytes' CPU backend does not give; FSDP trains LoRA on a 16-bit base on a
GPU and on an fp32 base on a CPU, and says so when asked for nf4.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import TrainingError

STRATEGIES = ("auto", "ddp", "fsdp")
NF4_REFUSED = ("FSDP shards a 16-bit (GPU) or full-precision (CPU) base and cannot shard a 4-bit one here: use "
               "--quantization none with --strategy fsdp, or --strategy ddp with --quantization nf4 (each process "
               "then holds the whole model in 4 bits).")


def requested(strategy: str | None, environ) -> str:
    """The strategy asked for: --strategy, else fsdp where `accelerate launch` was told to use FSDP (--use_fsdp,
    or `distributed_type: FSDP` in its config, which set ACCELERATE_USE_FSDP), else auto. accelerate's own FSDP
    settings (wrap policy, sharding strategy, ...) are not used: the server shards the blocks itself."""
    if strategy:
        return strategy
    return "fsdp" if environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true", "yes") else "auto"


def choose(requested: str, hardware, model_dir, items, config, world: int):
    """(strategy, plan, reason): "ddp" with the plan made for one device when the model and its training state fit
    that device's memory (by the plan's estimate), else "fsdp" with a plan for a 1/world share of the weights.
    `hardware` is the memory one process may use (injected in tests, `--memory-gib` on the server)."""
    from ..engine.train.planning import _plan

    if requested not in STRATEGIES:
        raise TrainingError(f"Unknown strategy {requested!r}: choose one of {', '.join(STRATEGIES)}.")
    if requested == "fsdp" or (requested == "auto" and world > 1):
        if requested == "fsdp" and world < 2:
            raise TrainingError("FSDP shards the model across processes: launch two or more (torchrun "
                                "--nproc_per_node N, or accelerate launch --num_processes N).")
        if requested == "fsdp" and config.quantization == "nf4":
            raise TrainingError(NF4_REFUSED)
    whole = None
    if requested in ("auto", "ddp"):
        whole = _plan(hardware, model_dir, items, config)
        if requested == "ddp" or world < 2:
            return "ddp", whole, "asked for data-parallel" if requested == "ddp" else "one process: nothing to shard"
        if whole.memory_needed <= whole.memory_free:
            gib = 1024**3
            return "ddp", whole, (f"the model and its training state fit one device (~{whole.memory_needed / gib:.2f} "
                                  f"of {whole.memory_free / gib:.2f} GiB): data-parallel")
        if config.quantization == "nf4":
            raise TrainingError("The model does not fit one device even in 4 bits. " + NF4_REFUSED)
    sharded = plan_sharded(hardware, model_dir, items, config, world)
    if whole is None:
        return "fsdp", sharded, "asked for FSDP"
    gib = 1024**3
    return "fsdp", sharded, (f"the model and its training state need ~{whole.memory_needed / gib:.2f} GiB, more than "
                             f"one device's {whole.memory_free / gib:.2f} GiB: sharded across {world} processes")


def plan_sharded(hardware, model_dir, items, config, world: int):
    """The plan for one process of an FSDP group: LoRA on an unquantized base (fp32 on a CPU, bf16 on a GPU that has
    it), the frozen weights counted at 1/world per process, adapters not folded (merged_lora keeps whole working
    copies of the weights)."""
    from ..engine.train.planning import FOLDED_REASON, _plan, model_shape

    config = replace(config, quantization="none")
    shape = model_shape(model_dir)
    width = 2 if hardware.device == "cuda" and hardware.bf16 else 4
    held_elsewhere = shape["params"] * width * (world - 1) // world
    # The planner reasons about one whole model: give it the memory the other processes' shares free up.
    more = replace(hardware, ram_available=hardware.ram_available + held_elsewhere,
                   vram_free=hardware.vram_free + held_elsewhere if hardware.device == "cuda" else hardware.vram_free)
    p = _plan(more, model_dir, items, config)
    reasons = tuple(r for r in p.reasons if r != FOLDED_REASON and not r.startswith("full-precision base fits"))
    reasons += (f"FSDP: the transformer blocks sharded across {world} processes, LoRA on an unquantized base",)
    return replace(p, merged_lora=False, candidates=(), memory_free=hardware.memory_free,
                   memory_needed=p.memory_needed - held_elsewhere, reasons=reasons)


def shard(model, plan_) -> list:
    """Shard `model` (a PeftModel) in place: each transformer block an FSDP unit, the decoder the root unit; the
    gradients are summed, not averaged. Returns the FSDP modules."""
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    decoder = model.get_base_model().get_decoder()
    blocks = getattr(decoder, "layers", None)
    if blocks is None:
        raise TrainingError("FSDP here shards models whose decoder keeps its blocks in `layers`; this one does not: "
                            "use --strategy ddp.")
    outside = [n for n, p in model.named_parameters() if p.requires_grad and ".layers." not in n]
    if outside:
        raise TrainingError(f"FSDP shards the transformer blocks, and this adapter also trains {outside[0]} outside "
                            "them: use --strategy ddp, or adapt the blocks' layers only.")
    # The blocks' frozen weights and their LoRA weights may differ in dtype (bf16 base, fp32 adapter on a GPU): FSDP
    # gathers each as stored and reduces the adapter's gradients in fp32.
    mp = MixedPrecisionPolicy(reduce_dtype=torch.float32)
    # The plan's device, not torch's default accelerator: a --cpu run on a GPU machine shards over gloo on the CPU.
    mesh = init_device_mesh(plan_.device, (dist.get_world_size(),))
    # What stays whole (embeddings, final norm, head, rotary tables) goes to the device now, the blocks left out;
    # fully_shard moves each block's shard there.
    decoder.layers = type(blocks)()
    model.to(plan_.device)
    decoder.layers = blocks
    units = []
    for block in blocks:
        units.append(fully_shard(block, mesh=mesh, mp_policy=mp))
    own = {p for n, p in decoder.named_parameters() if not n.startswith("layers.")}
    units.append(fully_shard(decoder, mesh=mesh, mp_policy=mp, ignored_params=own))
    for unit in units:
        unit.set_gradient_divide_factor(1.0)  # sum: each process' loss is already its share of the batch mean
        unit.set_force_sum_reduction_for_comms(True)  # a plain SUM (gloo has no pre-multiplied sum)
    return units


def gather_adapter(model, keep: bool) -> bytes | None:
    """The LoRA weights, gathered whole (a collective: every process calls it); safetensors bytes where `keep`."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save
    from torch.distributed.tensor import DTensor

    full = {}
    for k, v in get_peft_model_state_dict(model).items():
        v = v.full_tensor() if isinstance(v, DTensor) else v
        if keep:
            full[k] = v.detach().to("cpu").contiguous()
    return save(full) if keep else None


def padded(passes: list, device) -> list:
    """`passes` (this process' micro-batches) followed by None up to the most any process has."""
    import torch
    import torch.distributed as dist

    most = torch.tensor([len(passes)], dtype=torch.int64, device=device)
    dist.all_reduce(most, op=dist.ReduceOp.MAX)
    return list(passes) + [None] * (int(most[0]) - len(passes))
