import os
from pathlib import Path

import pytest
from engine_helpers import CANARY, collect, fake_cpu, files_with, make_examples

from localtune.engine.train import TrainConfig, estimate, lr_at, plan, train
from localtune.errors import Cancelled, TrainingError
from localtune.events import CheckpointReady, EvalDone, Finished, Progress
from localtune.progress import CancelToken

FAST = dict(epochs=2, lr=5e-3, lora_r=8, lora_alpha=16, batch_size=2, seed=7, checkpoint_every_s=0)


def test_validate_reports_every_problem_at_once():
    with pytest.raises(TrainingError) as err:
        TrainConfig(epochs=0, lr=-1, lora_r=0, batch_size=0, quantization="int3").validate()
    text = str(err.value)
    for word in ("epochs", "lr", "lora_r", "batch_size", "quantization"):
        assert word in text


def test_lr_schedule_warms_up_and_decays():
    lrs = [lr_at(s, 100, 1e-3, 0.1) for s in range(100)]
    assert lrs[0] < lrs[9] == pytest.approx(1e-3, rel=0.1)
    assert lrs[-1] < lrs[50] < lrs[10]
    assert min(lrs[10:]) >= 1e-4 * 0.99


def test_plan_describes_and_estimates(tiny_model, examples, cpu):
    config = TrainConfig(**FAST)
    p = plan(cpu, tiny_model, examples, config)
    assert p.device == "cpu" and p.quantization == "none" and not p.grad_checkpointing
    assert p.steps_per_epoch == 6 and p.total_steps == 12
    assert p.padding_share < 0.1
    p = estimate(tiny_model, examples, p, config)
    assert p.eta_s > 0
    text = p.describe()
    assert "LoRA" in text and "12 steps" in text and "estimated time" in text
    nf4 = plan(cpu, tiny_model, examples, TrainConfig(**FAST, quantization="nf4"))
    assert "QLoRA" in nf4.describe()


def test_plan_turns_on_checkpointing_when_memory_is_short(tiny_model, examples, cpu):
    from dataclasses import replace

    poor = replace(cpu, ram_available=300 * 1024**2)
    p = plan(poor, tiny_model, examples, TrainConfig(**FAST))
    assert p.quantization == "nf4" and p.grad_checkpointing


@pytest.fixture(scope="module")
def nf4_run(tiny_model):
    """One 4-bit QLoRA run on CPU, shared by the tests that inspect its result."""
    config = TrainConfig(**FAST, quantization="nf4")
    events = collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config, hardware=fake_cpu()))
    return config, events


def test_qlora_nf4_trains_on_cpu(nf4_run):
    config, events = nf4_run
    progress = [e for e in events if isinstance(e, Progress)]
    evals = [e for e in events if isinstance(e, EvalDone)]
    done = events[-1]
    assert isinstance(done, Finished)
    assert [p.step for p in progress] == list(range(1, 13))
    assert all(p.loss == p.loss and p.loss < 50 for p in progress)  # finite
    assert progress[-1].loss < progress[0].loss
    assert [e.epoch for e in evals] == [1, 2]
    assert done.steps == 12 and done.train_tokens > 0 and done.tokens_per_s > 0
    assert done.eval_loss == min(e.eval_loss for e in evals)
    assert done.peak_memory_bytes > 0
    assert done.peft_config["r"] == 8 and done.base_model


def test_adapter_round_trips_and_changes_the_output(nf4_run, tiny_model, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load

    from localtune.engine.adapters import attach, export_peft_folder, load_base

    _, events = nf4_run
    done = events[-1]
    assert load(done.adapter)  # plain safetensors bytes
    ids = torch.tensor([[1, 5, 9, 30, 40, 7]])
    with torch.no_grad():
        plain = load_base(tiny_model)(input_ids=ids).logits
        tuned_model = attach(load_base(tiny_model), done.adapter, done.peft_config)
        tuned = tuned_model(input_ids=ids).logits
        assert not torch.allclose(plain, tuned, atol=1e-4)
        with tuned_model.disable_adapter():  # one base, adapter switched off = the base model
            assert torch.allclose(tuned_model(input_ids=ids).logits, plain, atol=1e-5)
        # A second adapter on the same base, switched by name.
        attach(tuned_model, done.adapter, done.peft_config, name="again")
        assert torch.allclose(tuned_model(input_ids=ids).logits, tuned, atol=1e-5)

        folder = export_peft_folder(done.adapter, done.peft_config, str(tiny_model), tmp_path / "export")
        assert sorted(p.name for p in folder.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
        assert (folder / "adapter_model.safetensors").stat().st_mode & 0o077 == 0
        loaded = PeftModel.from_pretrained(load_base(tiny_model), folder)
        assert torch.allclose(loaded(input_ids=ids).logits, tuned, atol=1e-5)


def _adapter(tiny_model, config, resume=None, cancel=None):
    return collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config, cancel, resume,
                         hardware=fake_cpu()))


def test_same_seed_same_adapter_bytes(tiny_model):
    config = TrainConfig(**FAST, max_steps=4)
    a = _adapter(tiny_model, config)[-1]
    b = _adapter(tiny_model, config)[-1]
    assert a.adapter == b.adapter
    c = _adapter(tiny_model, TrainConfig(**{**FAST, "seed": 8}, max_steps=4))[-1]
    assert c.adapter != a.adapter


def test_cancel_stops_within_a_step_and_resume_finishes_the_same(tiny_model):
    config = TrainConfig(**FAST)
    whole = _adapter(tiny_model, config)[-1]

    cancel = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for event in train(tiny_model, make_examples(12), make_examples(4, seed=9), config, cancel,
                           hardware=fake_cpu()):
            seen.append(event)
            if isinstance(event, Progress) and event.step == 5:
                cancel.cancel()
    assert isinstance(seen[-1], CheckpointReady) and seen[-1].step == 5
    assert max(e.step for e in seen if isinstance(e, Progress)) == 5  # no further step ran

    resumed = _adapter(tiny_model, config, resume=seen[-1].state)
    steps = [e.step for e in resumed if isinstance(e, Progress)]
    assert steps == list(range(6, 13))
    done = resumed[-1]
    assert done.steps == 12
    assert done.adapter == whole.adapter  # same optimizer state, data order and random state


def test_cancel_inside_a_step_discards_the_half_done_step(tiny_model, monkeypatch):
    """A cancel between micro-batches stops before the optimizer step."""
    config = TrainConfig(**FAST, micro_batch_tokens=16)  # one sequence per pass: 2 passes per step
    cancel = CancelToken()
    from localtune.engine.train import loop as train_mod  # where the loop looks its pieces up

    real = train_mod._loss_sum
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # first pass of step 2
            cancel.cancel()
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "_loss_sum", counting)
    events = []
    with pytest.raises(Cancelled):
        events.extend(_gen(tiny_model, config, cancel))
    assert len(calls) == 3
    assert isinstance(events[-1], CheckpointReady) and events[-1].step == 1


def _gen(tiny_model, config, cancel):
    yield from train(tiny_model, make_examples(12), make_examples(4, seed=9), config, cancel, hardware=fake_cpu())


def test_resume_refuses_other_settings(tiny_model):
    config = TrainConfig(**FAST)
    cancel = CancelToken()
    cancel.cancel()
    events = []
    with pytest.raises(Cancelled):
        events.extend(_gen(tiny_model, config, cancel))
    with pytest.raises(TrainingError, match="lora_r"):
        _adapter(tiny_model, TrainConfig(**{**FAST, "lora_r": 4}), resume=events[-1].state)
    with pytest.raises(TrainingError, match="damaged"):
        _adapter(tiny_model, config, resume=b"not a checkpoint")


def test_early_stopping_keeps_the_best_adapter_and_warns(fitting_tiny_model):
    # A high learning rate on few examples overfits quickly (held-out loss 5.96, 5.62, 5.36, then 5.55 while the
    # training loss falls from 7.4 to 2.7); held-out examples differ in wording.
    config = TrainConfig(**{**FAST, "epochs": 12, "lr": 3e-2, "early_stopping_patience": 1})
    train_ex = make_examples(6)
    held_out = [e.__class__(e.messages, "Assessment: mixed\nSomething else entirely.", "mixed") for e in train_ex]
    events = collect(train(fitting_tiny_model, train_ex, held_out, config, hardware=fake_cpu()))
    evals = [e for e in events if isinstance(e, EvalDone)]
    done = events[-1]
    assert [e.epoch for e in evals] == [1, 2, 3, 4]  # stopped at the first epoch that got worse
    assert done.eval_loss == evals[2].eval_loss < evals[3].eval_loss  # and kept epoch 3's adapter
    assert "memorise" in evals[3].overfitting_warning
    assert all(e.overfitting_warning is None for e in evals[:3])


def test_nothing_of_the_run_reaches_the_disk(tiny_model, tmp_path, monkeypatch):
    import tempfile

    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    for var in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(var, str(tmp))
    monkeypatch.setenv("LOCALTUNE_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setattr(tempfile, "tempdir", None)
    before = {p: p.stat().st_mtime for p in Path(tiny_model).rglob("*")}
    config = TrainConfig(**{**FAST, "checkpoint_every_s": 1e-9})
    events = collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config, hardware=fake_cpu()))
    assert any(isinstance(e, CheckpointReady) for e in events)
    roots = [home, tmp, tiny_model, Path(os.environ.get("HF_HOME", home))]
    assert files_with(roots, CANARY) == []
    assert {p: p.stat().st_mtime for p in Path(tiny_model).rglob("*")} == before
    assert list(tmp.iterdir()) == [] and list(home.iterdir()) == []


def test_a_step_weights_every_answer_token_alike_as_the_trainer_does(tiny_model, cpu):
    """One example per pass, yet the step's gradient is that of the batch's mean over all its answer tokens — the
    transformers Trainer's weighting (its loss over `labels[..., 1:]`, divided by the batch's count) — not a mean
    of per-example means, which would weigh a short answer's tokens more. Checked with plain SGD (AdamW's first
    step hides a gradient's scale) against one padded pass through the model's own loss."""
    import torch

    from localtune.engine.data import collate, tokenize
    from localtune.engine.train.loop import _train_step
    from localtune.engine.train.model import _build, _tokenizer

    config = TrainConfig(**{**FAST, "batch_size": 3}, max_grad_norm=1e9)
    tok = _tokenizer(tiny_model)
    items = [tokenize(tok, e) for e in make_examples(6, seed=3)]
    batch = sorted(range(len(items)), key=lambda i: len(items[i]) - items[i].prompt_len)[:1] + [4, 5]
    answers = {len(items[i]) - items[i].prompt_len for i in batch}
    assert len(answers) > 1  # answers of different lengths, or the two weightings would agree
    p = plan(cpu, tiny_model, make_examples(6, seed=3), config, tokenizer=tok)
    p = p.__class__(**{**p.__dict__, "micro_batch_tokens": max(len(items[i]) for i in batch)})  # one per pass

    ours = _build(tiny_model, p, config)
    before = {n: w.detach().clone() for n, w in ours.named_parameters() if w.requires_grad}
    sgd = torch.optim.SGD([w for w in ours.parameters() if w.requires_grad], lr=1.0)
    loss, _ = _train_step(ours, sgd, items, batch, tok.pad_token_id, p, config, head=True, lr=1.0)

    ref = _build(tiny_model, p, config)
    ids, labels = collate([items[i] for i in batch], tok.pad_token_id)
    mask = torch.zeros_like(ids)
    for row, i in enumerate(batch):
        mask[row, : len(items[i])] = 1
    out = ref(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    assert loss == pytest.approx(out.loss.item(), rel=1e-4)
    grads = dict((n, w.grad) for n, w in ref.named_parameters() if w.requires_grad)
    for name, w in ours.named_parameters():
        if w.requires_grad:
            torch.testing.assert_close(before[name] - w.detach(), grads[name], rtol=1e-3, atol=1e-6)
