"""The training loop: LoRA / QLoRA on the user's own hardware, in one explicit loop (torchtune-style).

Why it is faster than the usual Trainer + prepare_model_for_kbit_training recipe (see benchmarks/):
- length-grouped batches, split into micro-batches by a token budget: almost no padding, bounded memory;
- right padding with no attention mask, so attention takes the fused causal path;
- the language-model head (a 49k-word vocabulary on the starter) runs only where the loss is taken
  (completion tokens), not on the masked prompt;
- no gradient checkpointing unless memory needs it; no 4-bit dequantization on every matmul unless memory
  needs it (CPU, small model) — `quantization="nf4"` still gives QLoRA on any device;
- on a CPU with an fp32 base, each adapter is folded into a working copy of its weight (merged_lora.py): one
  matmul per layer instead of peft's three plus a scale and an add;
- on a CPU that does bf16 in hardware (AMX, AVX512-BF16), the first steps time fp32 (folded) against bf16
  autocast on the run's own batches, and the run keeps the faster (`_Trial`);
- no disk: examples, tokens, checkpoints and the adapter stay in memory and leave as bytes.

Cancel: between micro-batches the CancelToken is checked; on cancel `train` yields one last CheckpointReady
(the state after the last completed step) and then raises Cancelled. `train(..., resume=state)` continues
from there with the same optimizer state, data order and random state, giving the same adapter.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from ...dataset.prompts import Example
from ...errors import Cancelled, TrainingError
from ...events import CheckpointReady, EvalDone, Finished, Progress, Status
from ...progress import CancelToken
from ..data import IGNORE, collate, length_grouped_batches, micro_batches, tokenize
from ..hardware import Hardware
from .checkpoint import _pack_state, _restore, _Run, _unpack_state
from .config import TrainConfig
from .model import _build, _loss_sum, _optimizer, _supports_head_trick, _tokenizer, eval_loss
from .planning import TRIAL_STEPS, Plan, _plan, _Trial, _use_variant, decide


def lr_at(step: int, total: int, peak: float, warmup_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warm-up, cosine decay to 10% of peak."""
    warmup = int(total * warmup_ratio)
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _peak_memory(device: str) -> int:
    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


# --- calibration --------------------------------------------------------------------------------------------


def estimate(model_dir, examples: Sequence[Example], plan_: Plan, config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen
             steps: int = TRIAL_STEPS, *, tokenizer=None) -> Plan:
    """Time `steps` real optimizer steps (on the longest batch, after one warm-up step) on a throw-away copy
    of the model; returns the plan with `eta_s`. A plan with candidates (a CPU that does bf16) has each timed
    the same way, alternating, and comes back with the faster chosen (`decide`)."""

    tokenizer = tokenizer or _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, plan_.max_seq_len) for e in examples]
    model = _build(model_dir, plan_, config)
    model.train()
    opt = _optimizer(model, plan_, config)
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    batch = order[: plan_.batch_size]
    head = plan_.completion_only_head and _supports_head_trick(model)
    trial = _Trial(plan_.candidates or ("fp32" if not plan_.bf16 else "bf16",), steps)
    while not trial.done():
        variant = trial.next()
        step_plan = _use_variant(model, plan_, variant) if plan_.candidates else plan_
        t0 = time.perf_counter()
        _, ntok = _train_step(model, opt, items, batch, tokenizer.pad_token_id, step_plan, config, head,
                              lr=config.lr)
        trial.record(variant, time.perf_counter() - t0, ntok)
    del model, opt
    if plan_.candidates:
        plan_ = decide(plan_, trial.per_token())
    seconds, _, n = trial.timed["bf16" if plan_.bf16 else "fp32"]
    # The longest batch is the slowest: scale by the mean length of a batch.
    mean_len = sum(len(t) for t in items) / len(items)
    longest = sum(len(items[i]) for i in batch) / len(batch)
    per_step = seconds / n * (mean_len / longest)
    return replace(plan_, eta_s=per_step * plan_.total_steps, seconds_per_step=per_step)


def estimate_apart(model_dir, examples: Sequence[Example], plan_: Plan,
                   config: TrainConfig = TrainConfig(), *, cancel: CancelToken | None = None,  # noqa: B008 - frozen
                   background: bool = False) -> Plan:
    """`estimate` in a child process (engine.apart), as the app and the CLI time a plan: the model it loads for a
    few steps is never in the app's process, and its memory goes back when the child ends; `cancel` ends it."""
    from ..apart import call

    return call(_estimate_in_child, (str(model_dir), list(examples), plan_, config),
                what="Timing this computer", error=TrainingError, cancel=cancel, background=background)


def _estimate_in_child(model_dir: str, examples, plan_: Plan, config: TrainConfig, cancel=None) -> Plan:
    from .. import load_libraries

    load_libraries()
    return estimate(model_dir, examples, plan_, config)


def _completion_tokens(items, batch) -> int:
    """The batch's completion tokens: what its mean loss is taken over."""
    return sum(sum(1 for x in items[i].labels[1:] if x != IGNORE) for i in batch)


def _apply_gradients(optimizer, params, max_grad_norm: float, lr: float) -> None:
    """Clip, step at this learning rate, and clear the gradients (one process or summed across several)."""
    import torch

    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    for g in optimizer.param_groups:
        g["lr"] = lr
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _train_step(model, optimizer, items, batch, pad_id, plan_: Plan, config: TrainConfig, head: bool, lr: float,
                cancel: CancelToken | None = None) -> tuple[float, int]:
    """One optimizer step over `batch` in micro-batches; loss is the mean over the batch's completion tokens."""
    import torch

    n_total = _completion_tokens(items, batch)
    loss_sum = 0.0
    for mb in micro_batches(items, batch, plan_.micro_batch_tokens):
        if cancel is not None and cancel.cancelled:
            optimizer.zero_grad(set_to_none=True)
            raise Cancelled("Stopped at your request.")
        ids, labels = collate([items[i] for i in mb], pad_id)
        with torch.autocast(device_type=plan_.device, dtype=torch.bfloat16, enabled=plan_.bf16):
            loss, _ = _loss_sum(model, ids.to(plan_.device), labels.to(plan_.device), head)
        (loss / max(n_total, 1)).backward()
        loss_sum += loss.detach().item()
    _apply_gradients(optimizer, [p for g in optimizer.param_groups for p in g["params"]], config.max_grad_norm, lr)
    return loss_sum / max(n_total, 1), sum(len(items[i]) for i in batch)


# --- training -----------------------------------------------------------------------------------------------


def train(model_dir, train_examples: Sequence[Example], eval_examples: Sequence[Example],
          config: TrainConfig = TrainConfig(), cancel: CancelToken | None = None,  # noqa: B008 - frozen
          resume: bytes | None = None, *, hardware: Hardware | None = None, plan_: Plan | None = None) -> Iterator:
    """Train a LoRA adapter; yields Status, Progress, EvalDone, CheckpointReady and finally Finished.

    Raises Cancelled (after a last CheckpointReady) when `cancel` is set, TrainingError on failure.
    """
    config.validate()
    if not train_examples:
        raise TrainingError("There are no examples to train on.")
    cancel = cancel or CancelToken()
    try:
        yield from _train(Path(model_dir), list(train_examples), list(eval_examples), config, cancel, resume,
                          hardware, plan_)
    except (Cancelled, TrainingError):
        raise
    except MemoryError as exc:
        raise TrainingError("The computer ran out of memory while training. Close other programs, or train "
                            "with a smaller batch or shorter examples.") from exc
    except Exception as exc:  # noqa: BLE001 - anything else is a training failure the user should see
        if isinstance(exc, _gpu_out_of_memory()):  # outside a step: loading the model, or held-out loss
            raise TrainingError("The GPU ran out of memory. Close other programs that use the GPU, or choose a "
                                "smaller model or shorter examples.") from exc
        raise TrainingError(f"Training failed: {type(exc).__name__}: {exc}") from exc


def train_apart(model_dir, train_examples: Sequence[Example], eval_examples: Sequence[Example],
                config: TrainConfig = TrainConfig(), cancel: CancelToken | None = None,  # noqa: B008 - frozen
                resume: bytes | None = None, *, background: bool = False) -> Iterator:
    """`train` in a child process (engine.apart), as the app and the CLI run it: the same events and errors, and
    the window keeps the interpreter; a run the system killed for memory says so, and the checkpoints already
    yielded stay with the caller. `background`: the child runs below normal priority."""
    from ..apart import stream
    from ..hardware import cpu_flags

    config.validate()  # a setting that cannot be used is said before a process starts
    # The CPU as this process reads it (one look, and what a test injects), not as the child would read it again.
    args = (str(model_dir), list(train_examples), list(eval_examples), config, resume, cpu_flags())
    return stream(_train_in_child, args, what="Training", error=TrainingError, cancel=cancel, background=background)


def _train_in_child(model_dir: str, train_examples, eval_examples, config: TrainConfig, resume: bytes | None,
                    flags: set[str], cancel: CancelToken):
    from .. import load_libraries
    from ..hardware import detect

    load_libraries()
    return train(model_dir, train_examples, eval_examples, config, cancel, resume, hardware=detect(flags=flags))


def _train(model_dir: Path, train_examples, eval_examples, config: TrainConfig, cancel: CancelToken,
           resume: bytes | None, hardware: Hardware | None, plan_: Plan | None):
    import torch

    from ..adapters import adapter_bytes, config_dict
    from ..hardware import detect

    torch.manual_seed(config.seed)
    if resume is not None:
        tensors, meta = _unpack_state(resume)
        saved = meta["config"]
        for key in ("lora_r", "lora_alpha", "batch_size", "seed", "lora_dropout"):
            if saved[key] != getattr(config, key):
                raise TrainingError(f"This checkpoint was made with {key}={saved[key]}; resume with the same "
                                    "settings or start again.")
        plan_ = Plan(**{**meta["plan"], "reasons": tuple(meta["plan"]["reasons"]),
                        "candidates": tuple(meta["plan"].get("candidates", ()))})
        run = _Run(**meta["run"])
    else:
        tensors, meta, run = None, None, _Run()

    yield Status("Reading the examples…")
    tokenizer = _tokenizer(model_dir)
    items = [tokenize(tokenizer, e, config.max_seq_len) for e in train_examples]
    eval_items = [tokenize(tokenizer, e, config.max_seq_len) for e in eval_examples]
    if plan_ is None:
        plan_ = _plan(hardware or detect(), model_dir, items, config)
    if resume is not None and meta["n_examples"] != len(items):
        raise TrainingError("The examples changed since this checkpoint was made; start the training again.")
    yield Status("Loading the base model…")
    model = _build(model_dir, plan_, config)
    head = plan_.completion_only_head and _supports_head_trick(model)
    optimizer = _optimizer(model, plan_, config)
    if tensors is not None:
        _restore(model, optimizer, tensors)
        yield Status(f"Resuming at step {run.step} of {plan_.total_steps}.")
    if plan_.device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    pad_id = tokenizer.pad_token_id
    lengths = [len(t) for t in items]
    per_epoch = plan_.steps_per_epoch
    best_adapter = bytes(tensors["best_adapter"].numpy()) if tensors and "best_adapter" in tensors else None
    last_ckpt = time.monotonic()
    model.train()
    yield Status(plan_.describe().splitlines()[0])

    def checkpoint():
        return CheckpointReady(run.step, _pack_state(model, optimizer, {
            "run": asdict(run), "plan": asdict(plan_), "config": asdict(config), "n_examples": len(items)},
            best_adapter))

    # On a CPU that does bf16 the first steps alternate fp32 and bf16 and are timed; then the faster stays.
    # (A resumed run that had not chosen yet times them again.)
    trial = _Trial(plan_.candidates) if plan_.candidates else None
    active = plan_  # what the model computes now: plan_, or plan_ with the variant under test
    oom_retried = False
    stop = False
    while run.step < plan_.total_steps and not stop:
        variant = trial.next() if trial is not None else None
        active = _use_variant(model, plan_, variant) if variant else plan_
        epoch, index = divmod(run.step, per_epoch)
        # Same seed + epoch -> same batch order, so a resumed run sees exactly the batches it would have.
        batch = length_grouped_batches(lengths, plan_.batch_size, config.seed * 1000 + epoch)[index]
        lr = lr_at(run.step, plan_.total_steps, config.lr, config.warmup_ratio)
        t0 = time.perf_counter()
        try:
            loss, ntok = _train_step(model, optimizer, items, batch, pad_id, active, config, head, lr, cancel)
        except Cancelled:
            yield checkpoint()
            raise
        except _gpu_out_of_memory() as exc:
            optimizer.zero_grad(set_to_none=True)
            if plan_.device != "cuda" or oom_retried:
                raise TrainingError("The GPU ran out of memory, also with a smaller batch. Try shorter examples "
                                    "or quantization='nf4'.") from exc
            oom_retried = True
            torch.cuda.empty_cache()
            if plan_.micro_batch_tokens >= 2 * plan_.max_seq_len:
                plan_ = replace(plan_, micro_batch_tokens=plan_.micro_batch_tokens // 2)
                yield Status(f"The GPU ran out of memory; retrying with half the batch per pass "
                             f"({plan_.micro_batch_tokens} tokens).")
            else:  # one example per pass already: trade speed for memory instead
                plan_ = replace(plan_, grad_checkpointing=True)
                model.get_base_model().gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
                model.get_base_model().enable_input_require_grads()
                yield Status("The GPU ran out of memory; retrying with gradient checkpointing (slower, "
                             "uses less memory).")
            continue
        if not math.isfinite(loss):
            raise TrainingError("Training diverged (the loss became infinite). Try a lower learning rate.")
        seconds = time.perf_counter() - t0
        run.seconds += seconds
        if trial is not None:
            trial.record(variant, seconds, ntok)
            if trial.done():
                plan_, trial = decide(plan_, trial.per_token()), None
                active = _use_variant(model, plan_, "bf16" if plan_.bf16 else "fp32")
                if plan_.bf16 and plan_.merged_lora:
                    from .. import merged_lora

                    merged_lora.keep_bf16(model)  # no working copies; frozen weights in bf16, as autocast uses them
                yield Status(plan_.reasons[-1][0].upper() + plan_.reasons[-1][1:] + ".")
        run.tokens += ntok
        run.step += 1
        run.history.append({"step": run.step, "epoch": round(run.step / per_epoch, 3), "loss": round(loss, 5),
                            "lr": lr})
        speed = run.tokens / run.seconds if run.seconds else 0.0
        eta = run.seconds / run.step * (plan_.total_steps - run.step)
        yield Progress(run.step, plan_.total_steps, run.step / per_epoch, loss, lr, speed, eta)

        end_of_epoch = run.step % per_epoch == 0 or run.step == plan_.total_steps
        if end_of_epoch and config.eval_each_epoch and eval_items:
            done_epoch = math.ceil(run.step / per_epoch)
            ev = eval_loss(model, eval_items, pad_id, plan_.micro_batch_tokens, device=plan_.device,
                           bf16=active.bf16, completion_only_head=head)
            warning = _overfitting(run, ev)
            run.history.append({"epoch": done_epoch, "eval_loss": round(ev, 5)})
            if run.best_eval is None or ev < run.best_eval:
                run.best_eval, run.best_epoch, run.bad_epochs = ev, done_epoch, 0
                best_adapter = adapter_bytes(model)  # small (LoRA only); what early stopping returns
            else:
                run.bad_epochs += 1
            yield EvalDone(done_epoch, ev, warning)
            if config.early_stopping_patience and run.bad_epochs >= config.early_stopping_patience:
                yield Status(f"Stopping early: held-out loss has not improved for {run.bad_epochs} epochs; "
                             f"keeping the adapter from epoch {run.best_epoch}.")
                stop = True
        if cancel.cancelled:
            yield checkpoint()
            raise Cancelled("Stopped at your request.")
        if config.checkpoint_every_s and time.monotonic() - last_ckpt >= config.checkpoint_every_s \
                and run.step < plan_.total_steps:
            yield checkpoint()
            last_ckpt = time.monotonic()

    # Without held-out examples, or when the last epoch was the best, the current weights are the answer.
    adapter = best_adapter if best_adapter is not None and run.bad_epochs else adapter_bytes(model)
    final_eval = run.best_eval
    if final_eval is None and eval_items:
        final_eval = eval_loss(model, eval_items, pad_id, plan_.micro_batch_tokens, device=plan_.device,
                               bf16=active.bf16, completion_only_head=head)
    yield Finished(adapter=adapter, peft_config=config_dict(model.peft_config["default"]),
                   base_model=model_dir.name, steps=run.step, train_tokens=run.tokens,
                   train_seconds=run.seconds, tokens_per_s=run.tokens / run.seconds if run.seconds else 0.0,
                   eval_loss=final_eval, peak_memory_bytes=_peak_memory(plan_.device), history=run.history)


def _gpu_out_of_memory() -> type:
    """torch's CUDA out-of-memory exception (torch.OutOfMemoryError, or its older home under torch.cuda)."""
    import torch

    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def _overfitting(run: _Run, eval_now: float) -> str | None:
    if run.best_eval is None or eval_now <= run.best_eval * 1.02:
        return None
    losses = [h["loss"] for h in run.history if "loss" in h]
    if len(losses) < 4 or sum(losses[-len(losses) // 4:]) / (len(losses) // 4) >= losses[0]:
        return None
    return (f"The model is starting to memorise its training examples: its error on examples it has not seen "
            f"rose from {run.best_eval:.2f} to {eval_now:.2f} while its training error kept falling. "
            "Fewer epochs or more varied examples would help.")
