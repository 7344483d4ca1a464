"""The CUDA path: QLoRA with a 4-bit base on the GPU, the GPU plan, the out-of-memory retry, reading with an
adapter. Marked `gpu`: deselected on machines without CUDA (CI); on a CUDA machine they run with the rest, or
alone with `pytest -m gpu`. `scripts/gpu_check.sh` runs them with the benchmark and the CLI."""

import gc
from dataclasses import replace

import pytest
from engine_helpers import collect, make_examples

from localtune.engine.train import TrainConfig, plan, train
from localtune.events import EvalDone, Finished, Progress, Status

pytestmark = pytest.mark.gpu

FAST = dict(lr=5e-3, lora_r=8, lora_alpha=16, seed=7, checkpoint_every_s=0)


@pytest.fixture(autouse=True)
def _fresh_gpu_memory():
    import torch

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    yield
    torch.cuda.set_per_process_memory_fraction(1.0)
    gc.collect()
    torch.cuda.empty_cache()


@pytest.fixture
def gpu():
    from localtune.engine.hardware import detect

    hw = detect()
    assert hw.device == "cuda", "these tests need a CUDA GPU"
    return hw


def test_plan_on_a_gpu_uses_bf16_and_whole_batches(tiny_model, gpu):
    import torch

    p = plan(gpu, tiny_model, make_examples(12), TrainConfig(**FAST, batch_size=4))
    assert p.device == "cuda" and p.bf16 == torch.cuda.is_bf16_supported()
    assert p.micro_batch_tokens >= 4 * p.max_seq_len  # one pass per optimizer step
    assert not p.grad_checkpointing and p.quantization == "none"  # a tiny model fits: no 4-bit cost
    assert "on CUDA" in p.describe() and "GiB free" in gpu.describe()


def test_qlora_trains_a_4bit_base_on_the_gpu_and_the_adapter_reads_back(tiny_model, gpu):
    import bitsandbytes as bnb
    import torch

    from localtune.engine.adapters import attach, load_base

    config = TrainConfig(**FAST, epochs=2, batch_size=2, quantization="nf4")
    events = collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config, hardware=gpu))
    statuses = [e.message for e in events if isinstance(e, Status)]
    assert any(s.startswith("QLoRA (4-bit NF4 base, double quant) on CUDA") for s in statuses), statuses
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(progress) == 12 and progress[-1].loss < progress[0].loss
    done = events[-1]
    assert isinstance(done, Finished) and done.steps == 12
    assert 0 < done.peak_memory_bytes < torch.cuda.get_device_properties(0).total_memory  # GPU memory, not RSS

    base = load_base(tiny_model, quantize="nf4", device="cuda")
    four_bit = [m for m in base.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert four_bit and all(m.weight.device.type == "cuda" for m in four_bit)
    ids = torch.tensor([[1, 5, 9, 30, 40, 7]], device="cuda")
    with torch.no_grad():
        plain = base(input_ids=ids).logits.float()
        tuned = attach(base, done.adapter, done.peft_config)(input_ids=ids).logits.float()
    assert not torch.allclose(plain, tuned, atol=1e-3)


def test_lora_on_the_gpu_learns_the_examples(tiny_model, gpu):
    config = TrainConfig(**FAST, epochs=3, batch_size=4)
    events = collect(train(tiny_model, make_examples(12), make_examples(4, seed=9), config, hardware=gpu))
    done = events[-1]
    assert isinstance(done, Finished) and done.steps == 9 and done.tokens_per_s > 0
    progress = [e for e in events if isinstance(e, Progress)]
    evals = [e.eval_loss for e in events if isinstance(e, EvalDone)]
    assert progress[-1].loss < progress[0].loss and len(evals) == 3 and evals[-1] < evals[0]


@pytest.fixture(scope="module")
def wide_model(tiny_model, tmp_path_factory):
    """The tiny model's tokenizer on wider layers, so a training pass needs tens of MiB (measurable)."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("wide-llama")
    for f in tiny_model.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, folder / f.name)
    small = LlamaConfig.from_pretrained(tiny_model)
    config = LlamaConfig(vocab_size=small.vocab_size, hidden_size=1024, intermediate_size=4096, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=1024,
                         tie_word_embeddings=True, pad_token_id=small.pad_token_id, eos_token_id=small.eos_token_id,
                         bos_token_id=small.bos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _reserved_peak(model_dir, examples, config, gpu) -> int:
    import torch

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    assert isinstance(collect(train(model_dir, examples, [], config, hardware=gpu))[-1], Finished)
    return torch.cuda.max_memory_reserved()


def _cap_gpu_memory(nbytes: int) -> None:
    import torch

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(nbytes / torch.cuda.get_device_properties(0).total_memory)


def test_out_of_memory_retries_once_with_half_the_batch(wide_model, gpu):
    """A real CUDA out-of-memory error: this process's GPU memory is capped between what half a batch and a
    whole batch need, both measured first on this GPU."""
    examples = make_examples(16)
    config = TrainConfig(**FAST, max_steps=1, batch_size=8, eval_each_epoch=False)
    whole = plan(gpu, wide_model, examples, config).micro_batch_tokens
    full = _reserved_peak(wide_model, examples, replace(config, micro_batch_tokens=whole), gpu)
    half = _reserved_peak(wide_model, examples, replace(config, micro_batch_tokens=whole // 2), gpu)
    assert half < full, (half, full)
    _cap_gpu_memory((half + full) // 2)
    events = collect(train(wide_model, examples, [], replace(config, max_steps=2), hardware=gpu))
    messages = [e.message for e in events if isinstance(e, Status)]
    assert any("ran out of memory; retrying with half the batch" in m for m in messages), messages
    assert isinstance(events[-1], Finished) and events[-1].steps == 2


def test_a_gpu_too_small_for_the_examples_says_so_in_words(wide_model, gpu):
    from localtune.engine.adapters import load_base
    from localtune.errors import TrainingError

    examples = make_examples(16)
    config = TrainConfig(**FAST, max_steps=2, batch_size=8, eval_each_epoch=False)
    one = _reserved_peak(wide_model, examples, replace(config, max_steps=1, micro_batch_tokens=16), gpu)
    import torch

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = load_base(wide_model, device="cuda")
    weights = torch.cuda.max_memory_reserved()
    del model
    _cap_gpu_memory((weights + one) // 2)  # the model loads, one example per pass does not fit
    with pytest.raises(TrainingError, match="GPU ran out of memory"):
        collect(train(wide_model, examples, [], config, hardware=gpu))


def test_reading_with_an_adapter_runs_on_the_gpu(tiny_model, gpu):
    from localtune.engine.generate import Reader

    config = TrainConfig(**FAST, max_steps=3, batch_size=4)
    done = collect(train(tiny_model, make_examples(12), [], config, hardware=gpu))[-1]
    reader = Reader.load(tiny_model)
    assert reader.device.type == "cuda"
    reader.add_adapter("t", done.adapter, done.peft_config)
    ids = reader.encode(make_examples(1)[0].messages)
    assert (reader.logits(ids, adapter="t") - reader.logits(ids)).abs().max() > 1e-3
