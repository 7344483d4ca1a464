"""A tiny random-weight Llama with a tiny byte-level tokenizer, built once per session (seconds, no network)."""

import os
from pathlib import Path

import pytest
from engine_helpers import CHAT_TEMPLATE, SITUATIONS, fake_cpu, make_examples


def _build_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [s for sit in SITUATIONS for s in sit] + ["Assessment: reasonable problematic mixed"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def _tiny_llama(folder: Path, **config_kwargs) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _build_tokenizer(folder)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         bos_token_id=tok.bos_token_id, **config_kwargs)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return _tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_model_saved_in_bf16(tiny_model, tmp_path_factory):
    """The tiny Llama saved in bf16, as most published models are."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("tiny-bf16")
    shutil.copytree(tiny_model, folder, dirs_exist_ok=True)
    AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def fitting_tiny_model(tmp_path_factory) -> Path:
    """The tiny Llama with larger initial weights: with the default 0.02 its logits stay near uniform whatever the
    adapter does, so it cannot memorise its examples, and overfitting shows only as noise in the 3rd decimal."""
    return _tiny_llama(tmp_path_factory.mktemp("fitting-tiny-llama"), initializer_range=0.2)


@pytest.fixture(scope="session")
def starter_dir(tmp_path_factory) -> Path:
    """The real starter model converted from its GGUF (~45 s, once per session). Reuses LOCALTUNE_TEST_MODELS
    when set, so a developer can skip the conversion across runs."""
    from localtune.engine.models import ensure_starter

    base = os.environ.get("LOCALTUNE_TEST_MODELS") or tmp_path_factory.mktemp("models")
    return ensure_starter(base)


@pytest.fixture
def examples():
    return make_examples(12)


@pytest.fixture
def cpu():
    """A CPU without AMX or AVX512-BF16 (bf16 emulated), whatever this machine is: a test's path never depends on
    the host. `bf16_cpu` is the other kind."""
    return fake_cpu()


@pytest.fixture
def bf16_cpu():
    """A CPU that multiplies bf16 in hardware (AMX or AVX512-BF16)."""
    return fake_cpu(bf16=True)


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_models(request):
    """The tiny model gains nothing from threads, and on a busy 2-core machine OpenMP's spinning threads make
    each small matmul ~10x slower. The real-model test keeps all cores."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
