"""fp32 (folded) or bf16 on a CPU: on one without bf16 in hardware the plan folds in fp32; on one with AMX or
AVX512-BF16 the first steps time both and the run keeps the faster. Both kinds are tested on every machine."""

from dataclasses import replace

import pytest
from engine_helpers import collect, make_examples

from localtune.engine import hardware, merged_lora
from localtune.engine.train import TrainConfig, decide, estimate, plan, train
from localtune.engine.train import loop as train_mod  # where the loop looks its pieces up
from localtune.events import Finished, Progress, Status

REAL_CPU_FLAGS = hardware.cpu_flags
CONFIG = TrainConfig(epochs=1, lr=5e-3, lora_r=8, lora_alpha=16, batch_size=2, seed=7, checkpoint_every_s=0)


@pytest.mark.parametrize(("flags", "bf16"), [({"fpu", "avx2", "avx512f", "avx512_vnni"}, False),
                                             ({"avx2", "avx512f", "avx512_bf16"}, True),
                                             ({"avx2", "amx_tile", "amx_bf16"}, True), (set(), False)])
def test_detect_reads_bf16_from_the_cpu_flags(monkeypatch, flags, bf16):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: flags)
    hw = hardware.detect("cpu")
    assert hw.device == "cpu" and hw.bf16 is bf16 and hardware.cpu_bf16(flags) is bf16


def test_cpu_flags_come_as_a_set_of_words():
    flags = REAL_CPU_FLAGS()  # (tests/conftest.py hides the host's flags from everything else)
    assert isinstance(flags, set) and all(f and " " not in f for f in flags)


def test_plan_without_bf16_folds_in_fp32(tiny_model, cpu):
    p = plan(cpu, tiny_model, make_examples(12), CONFIG)
    assert p.merged_lora and not p.bf16 and p.candidates == ()
    assert "folded" in p.describe() and "time" not in p.describe()


def test_plan_with_bf16_times_fp32_against_bf16(tiny_model, bf16_cpu, cpu):
    examples = make_examples(12)
    p = plan(bf16_cpu, tiny_model, examples, CONFIG)
    assert p.candidates == ("fp32", "bf16") and p.merged_lora and not p.bf16  # fp32 until measured
    assert "time fp32 with folded adapters against bf16 autocast" in p.describe()
    # Memory is counted for the working copies and fp32 activations: the same as the CPU without bf16.
    assert p.memory_needed == plan(cpu, tiny_model, examples, CONFIG).memory_needed
    # Asked for, a precision is not timed; nor is a 4-bit base (no folding there).
    assert plan(bf16_cpu, tiny_model, examples, replace(CONFIG, bf16=True)).candidates == ()
    forced = plan(bf16_cpu, tiny_model, examples, replace(CONFIG, bf16=True))
    assert forced.bf16 and not forced.merged_lora
    off = plan(bf16_cpu, tiny_model, examples, replace(CONFIG, bf16=False))
    assert off.candidates == () and off.merged_lora and not off.bf16
    nf4 = plan(bf16_cpu, tiny_model, examples, replace(CONFIG, quantization="nf4"))
    assert nf4.candidates == () and nf4.bf16 and not nf4.merged_lora
    # With dropout nothing can be folded, so plain fp32 is timed against bf16.
    dropout = plan(bf16_cpu, tiny_model, examples, replace(CONFIG, lora_dropout=0.1))
    assert dropout.candidates == ("fp32", "bf16") and not dropout.merged_lora
    assert "time fp32 against bf16 autocast" in dropout.describe()


@pytest.mark.parametrize(("fp32", "bf16", "kept"), [(2.0, 1.0, "bf16"), (1.0, 2.0, "fp32"), (1.0, 0.99, "fp32")])
def test_decide_keeps_the_faster_and_says_so(tiny_model, bf16_cpu, fp32, bf16, kept):
    p = decide(plan(bf16_cpu, tiny_model, make_examples(12), CONFIG), {"fp32": fp32 / 1000, "bf16": bf16 / 1000})
    assert p.candidates == () and p.bf16 is (kept == "bf16") and p.merged_lora
    text = p.describe()
    assert f"fp32 with folded adapters {fp32:.1f} ms, bf16 autocast {bf16:.1f} ms" in text
    assert "the first steps time" not in text
    if kept == "bf16":  # within 3 % fp32 stays: it is exact, and the difference is noise
        assert "bf16 autocast kept" in text and "folded into" not in text and "on CPU, bf16" in text
    else:
        assert "fp32 with folded adapters kept" in text and "folded into" in text


def _spy_steps(monkeypatch) -> list:
    """The precision of every optimizer step, in order."""
    seen = []
    real = train_mod._train_step

    def spy(model, optimizer, items, batch, pad_id, plan_, *args, **kwargs):
        seen.append("bf16" if plan_.bf16 else "fp32")
        return real(model, optimizer, items, batch, pad_id, plan_, *args, **kwargs)

    monkeypatch.setattr(train_mod, "_train_step", spy)
    return seen


@pytest.mark.parametrize("faster", ["fp32", "bf16"])
@pytest.mark.parametrize("saved_in", ["fp32", "bf16"])
def test_training_on_a_bf16_cpu_times_both_then_keeps_the_faster(tiny_model, tiny_model_saved_in_bf16, bf16_cpu,
                                                                 monkeypatch, faster, saved_in):
    model_dir = tiny_model_saved_in_bf16 if saved_in == "bf16" else tiny_model
    # Which variant wins depends on the machine; here the measurement is fixed so that both outcomes are tested.
    monkeypatch.setattr(train_mod._Trial, "per_token",
                        lambda self: {"fp32": 1e-3, "bf16": 2e-3} if faster == "fp32" else {"fp32": 2e-3, "bf16": 1e-3})
    steps = _spy_steps(monkeypatch)
    config = replace(CONFIG, epochs=2)
    events = collect(train(model_dir, make_examples(12), make_examples(4, seed=9), config, hardware=bf16_cpu))
    # One warm-up step each, then two timed steps each, alternating; then the faster for the other 6 steps.
    assert steps == ["fp32", "bf16"] * 3 + [faster] * 6
    said = [e.message for e in events if isinstance(e, Status) and "measured per token" in e.message.lower()]
    assert len(said) == 1 and f"{'bf16 autocast' if faster == 'bf16' else 'fp32 with folded adapters'} kept" in said[0]
    losses = [e.loss for e in events if isinstance(e, Progress)]
    assert len(losses) == 12 and losses[-1] < losses[0]
    done = events[-1]
    assert isinstance(done, Finished) and done.eval_loss is not None and 0 < done.eval_loss < 20


def test_bf16_steps_on_the_folded_model_train_like_bf16_autocast(tiny_model_saved_in_bf16, bf16_cpu, monkeypatch):
    """bf16 steps on the model built for the trial compute what plain bf16 autocast computes: its frozen weights
    are exact bf16 values, so keeping them in bf16 saves the cast in every pass and changes nothing else."""
    monkeypatch.setattr(train_mod._Trial, "next", lambda self: "bf16")  # every step bf16 (no choice is made)
    examples, held_out = make_examples(12), make_examples(4, seed=9)
    trial = collect(train(tiny_model_saved_in_bf16, examples, held_out, CONFIG, hardware=bf16_cpu))
    plain = collect(train(tiny_model_saved_in_bf16, examples, held_out, replace(CONFIG, bf16=True),
                          hardware=bf16_cpu))
    losses = [[e.loss for e in run if isinstance(e, Progress)] for run in (trial, plain)]
    assert len(losses[0]) == 6 and losses[0] == pytest.approx(losses[1], rel=1e-3)
    assert trial[-1].eval_loss == pytest.approx(plain[-1].eval_loss, rel=1e-3)


def test_a_run_resumed_before_the_choice_times_both_again(tiny_model, bf16_cpu, monkeypatch):
    from localtune.errors import Cancelled
    from localtune.events import CheckpointReady
    from localtune.progress import CancelToken

    monkeypatch.setattr(train_mod._Trial, "per_token", lambda self: {"fp32": 2e-3, "bf16": 1e-3})
    config = replace(CONFIG, epochs=2)
    cancel, seen = CancelToken(), []
    with pytest.raises(Cancelled):
        for event in train(tiny_model, make_examples(12), make_examples(4, seed=9), config, cancel,
                           hardware=bf16_cpu):
            seen.append(event)
            if isinstance(event, Progress) and event.step == 3:
                cancel.cancel()
    assert isinstance(seen[-1], CheckpointReady) and seen[-1].step == 3
    steps = _spy_steps(monkeypatch)
    resumed = collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config,
                            resume=seen[-1].state, hardware=bf16_cpu))
    assert steps == ["fp32", "bf16"] * 3 + ["bf16"] * 3  # steps 4-12: the trial starts again, then bf16
    assert [e.step for e in resumed if isinstance(e, Progress)] == list(range(4, 13))
    assert isinstance(resumed[-1], Finished) and resumed[-1].steps == 12


def test_estimate_on_a_bf16_cpu_measures_both_and_returns_the_choice(tiny_model, bf16_cpu, cpu):
    examples = make_examples(12)
    p = estimate(tiny_model, examples, plan(bf16_cpu, tiny_model, examples, CONFIG), CONFIG)
    assert p.candidates == () and p.eta_s > 0 and p.seconds_per_step > 0
    text = p.describe()
    assert "measured per token on this CPU: fp32 with folded adapters" in text and " kept" in text
    assert "estimated time" in text
    # Without bf16 in hardware there is nothing to choose: the estimate times the folded fp32 plan alone.
    q = estimate(tiny_model, examples, plan(cpu, tiny_model, examples, CONFIG), CONFIG)
    assert q.candidates == () and not q.bf16 and q.merged_lora and "measured per token" not in q.describe()


def _lora_model(folder):
    """The same random LoRA model at every call: r = 4 on all linear layers, with non-zero B so adapters matter."""
    import torch
    from peft import LoraConfig, get_peft_model

    from localtune.engine.adapters import load_base

    torch.manual_seed(0)
    m = get_peft_model(load_base(folder), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return m


def test_folding_switches_off_for_bf16_autocast_and_back(tiny_model_saved_in_bf16):
    import torch

    def model():
        return _lora_model(tiny_model_saved_in_bf16)

    ids = torch.randint(0, 50, (1, 9))
    peft, folded = model(), model()
    n = merged_lora.enable(folded)
    assert n > 0 and merged_lora.set_folded(folded, False) == n
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want = peft(input_ids=ids).logits
        torch.testing.assert_close(folded(input_ids=ids).logits, want)
    with pytest.raises(RuntimeError, match="bf16 autocast"):  # its weights are in bf16: fp32 needs the folded form
        folded(input_ids=ids)
    merged_lora.set_folded(folded, True)
    with torch.no_grad():
        torch.testing.assert_close(folded(input_ids=ids).logits, peft(input_ids=ids).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("saved_in", ["fp32", "bf16"])
def test_keep_bf16_computes_what_bf16_autocast_computes(tiny_model, tiny_model_saved_in_bf16, saved_in):
    """Once bf16 has won, every adapted frozen weight is stored in bf16 (also those of a model saved in fp32):
    autocast rounds them so in every pass anyway."""
    import torch

    def model():
        return _lora_model(tiny_model_saved_in_bf16 if saved_in == "bf16" else tiny_model)

    ids = torch.randint(0, 50, (2, 9))
    peft, kept = model(), model()
    n = merged_lora.enable(kept)
    assert merged_lora.keep_bf16(kept) == n > 0
    adapted = [m.get_base_layer() for m in kept.modules() if hasattr(m, "_lt_folded")]
    assert all(b.weight.dtype == torch.bfloat16 for b in adapted)
    assert all(m._lt_weight is None for m in kept.modules() if hasattr(m, "_lt_folded"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for m in (peft, kept):
            m.zero_grad(set_to_none=True)
            m(input_ids=ids).logits.float().pow(2).mean().backward()
        torch.testing.assert_close(kept(input_ids=ids).logits, peft(input_ids=ids).logits)
    grads = {n: p.grad for n, p in peft.named_parameters() if p.requires_grad}
    for name, p in kept.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], msg=name)
