"""FSDP in the training server (remote/fsdp.py): two gloo processes with the transformer blocks sharded give one
process' loss curve and adapter (and the data-parallel run's adapter) within LOSS_TOLERANCE; the gradients FSDP
leaves are the one-process gradients (summed, not averaged), also when the processes run unequal numbers of
passes; `--strategy auto` picks ddp when the plan fits one device and fsdp when it does not, from memory that
the test injects (never this machine's)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import make_examples
from server_runs import LOSS_TOLERANCE, PASS, serve

from localtune.bundle.importing import open_adapter
from localtune.engine.hardware import Hardware
from localtune.errors import TrainingError

GIB = 1024**3
TINY_GIB = 0.05  # less than any plan's allowance for the libraries alone: the tiny model never fits in it


def _curve(events, key):
    return [e[key] for e in events if key in e and e["event"] in ("progress", "eval")]


@pytest.mark.slow
@pytest.mark.parametrize("run", ["fsdp", "fsdp_auto"])
def test_two_fsdp_processes_give_the_one_process_curve_and_adapter(runs, run):
    from safetensors.torch import load

    events = runs[run][1]
    plan = next(e for e in events if e["event"] == "plan")
    assert plan["strategy"] == "fsdp" and plan["processes"] == 2 and plan["quantization"] == "none"
    assert plan["completion_only_head"]
    if run == "fsdp_auto":  # auto chose it: the injected memory is less than the plan needs
        assert "more than one device's 0.05 GiB" in plan["strategy_reason"] and plan["grad_checkpointing"]
    else:  # accelerate launch --use_fsdp
        assert plan["strategy_reason"] == "asked for FSDP" and not plan["grad_checkpointing"]
    assert events[-1]["event"] == "sealed"
    for key in ("loss", "eval_loss"):
        one, sharded = _curve(runs["one"][1], key), _curve(events, key)
        assert len(one) == len(sharded) == (6 if key == "loss" else 2)
        assert max(abs(a - b) for a, b in zip(one, sharded, strict=True)) < LOSS_TOLERANCE
    adapter, meta = open_adapter(runs[run][2], PASS)
    adapter = load(adapter)
    assert meta["trained_on"]["strategy"] == "fsdp" and meta["trained_on"]["processes"] == 2
    for other in ("one", "two"):  # one process, and two data-parallel processes
        theirs = load(open_adapter(runs[other][2], PASS)[0])
        assert theirs.keys() == adapter.keys() and adapter
        for k, v in adapter.items():
            assert v.shape == theirs[k].shape and v.dtype == theirs[k].dtype
            assert (v - theirs[k]).abs().max() < LOSS_TOLERANCE


@pytest.mark.slow
def test_fsdp_gradients_are_the_one_process_gradients_with_unequal_passes(tiny_model, tmp_path):
    script = Path(__file__).with_name("fsdp_gradients.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script), str(tiny_model)], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["world"] == 2 and out["tensors"] == out["tensors_changed"] > 0
    assert abs(out["loss_one"] - out["loss_fsdp"]) < 1e-6
    # Averaged gradients would differ by half the change; float32 rounding is ~1e-8 here.
    assert out["largest_difference"] < 1e-6 < out["largest_change"] / 100


def _hardware(gib: float, device="cpu") -> Hardware:
    free = int(gib * GIB)
    return Hardware(device=device, name="injected", cpu_cores=4, ram_total=free, ram_available=free,
                    vram_total=free if device == "cuda" else 0, vram_free=free if device == "cuda" else 0,
                    bf16=device == "cuda")


@pytest.fixture(scope="module")
def items(tiny_model):
    from localtune.engine.data import tokenize
    from localtune.engine.train.model import _tokenizer

    tokenizer = _tokenizer(tiny_model)
    return [tokenize(tokenizer, e, None) for e in make_examples(12)]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_auto_picks_ddp_when_the_model_fits_one_device_and_fsdp_when_it_does_not(tiny_model, items, device):
    from localtune.engine.train.config import TrainConfig
    from localtune.engine.train.planning import _plan
    from localtune.remote.fsdp import choose

    config = TrainConfig(quantization="none")
    strategy, plan_, why = choose("auto", _hardware(16, device), tiny_model, items, config, world=2)
    assert strategy == "ddp" and "fit one device" in why and plan_.memory_needed <= plan_.memory_free
    strategy, plan_, why = choose("auto", _hardware(TINY_GIB, device), tiny_model, items, config, world=8)
    assert strategy == "fsdp" and "sharded across 8 processes" in why
    assert plan_.quantization == "none" and not plan_.merged_lora and plan_.device == device
    assert plan_.memory_free == int(TINY_GIB * GIB) and any(r.startswith("FSDP:") for r in plan_.reasons)
    # One process has nothing to shard; a model that does not fit is left to the plan (4-bit, checkpointing).
    assert choose("auto", _hardware(TINY_GIB, device), tiny_model, items, config, world=1)[0] == "ddp"
    # With quantization "auto" the one-device plan may fit the model in 4 bits first: whatever it chooses, auto
    # is data-parallel exactly when that plan fits, and FSDP shards the unquantized base otherwise.
    seen = set()
    for gib in (TINY_GIB, 0.3, 0.5, 0.8, 1.0, 2.0, 16.0):
        hardware = _hardware(gib, device)
        whole = _plan(hardware, tiny_model, items, TrainConfig())
        strategy, plan_, _ = choose("auto", hardware, tiny_model, items, TrainConfig(), world=2)
        if whole.memory_needed <= whole.memory_free:
            assert (strategy, plan_) == ("ddp", whole)
        else:
            assert (strategy, plan_.quantization) == ("fsdp", "none")
        seen.add(strategy)
    assert seen == {"ddp", "fsdp"}


def test_the_strategy_asked_for_comes_from_the_flag_else_from_accelerates_fsdp_switch():
    from localtune.remote.fsdp import requested

    assert requested(None, {}) == "auto" and requested("ddp", {"ACCELERATE_USE_FSDP": "true"}) == "ddp"
    assert requested(None, {"ACCELERATE_USE_FSDP": "true"}) == "fsdp"  # accelerate launch --use_fsdp
    assert requested(None, {"ACCELERATE_USE_FSDP": "false"}) == "auto"


def test_fsdp_asked_where_it_cannot_work_says_why(tiny_model, items):
    from localtune.engine.train.config import TrainConfig
    from localtune.remote.fsdp import choose

    with pytest.raises(TrainingError, match="cannot shard a 4-bit one"):
        choose("fsdp", _hardware(16), tiny_model, items, TrainConfig(quantization="nf4"), world=2)
    with pytest.raises(TrainingError, match="launch two or more"):
        choose("fsdp", _hardware(16), tiny_model, items, TrainConfig(), world=1)
    with pytest.raises(TrainingError, match="not fit one device even in 4 bits"):
        choose("auto", _hardware(TINY_GIB), tiny_model, items, TrainConfig(quantization="nf4"), world=2)
    # Asked for explicitly, ddp is kept even where the plan says it does not fit (the plan then checkpoints).
    assert choose("ddp", _hardware(TINY_GIB), tiny_model, items, TrainConfig(), world=2)[0] == "ddp"


@pytest.mark.slow
def test_the_server_asked_for_fsdp_on_a_4_bit_base_stops_every_process_with_one_line(runs, tiny_model, tmp_path):
    r, events, out, _ = serve(tmp_path, runs["bundle"], tiny_model, procs=2, name="nf4",
                              extra=("--strategy", "fsdp", "--quantization", "nf4"))
    assert r.returncode != 0 and not out.exists()
    assert [e["event"] for e in events] == ["status", "error"] and "cannot shard a 4-bit one" in events[-1]["message"]
