"""GGUF files of every family localtune supports, as llama.cpp writes them (that architecture's tensor names and
value changes, its tokenizer kind and chat template), in Q8_0 and Q4_K: each converts once into a safetensors
folder whose weights are the originals within the type's rounding, whose tokenizer encodes as the original did,
whose config computes what the original computed (an F16 file gives the original's logits), and which trains a
4-bit LoRA step and generates in its own chat template. A GGUF of an architecture localtune does not convert is
refused with a clear error, in discovery and when added."""

import json

import pytest
from engine_helpers import make_examples
from families import FAMILIES
from gguf_helpers import GGUF_FAMILIES, family_model, quantize_q4_k, write_family_gguf
from stores import ollama_store

from localtune.engine.discovery import Places, discover, read_gguf
from localtune.errors import ModelError

# max |converted - original| per type on weights of std 0.2 (the type's rounding, then bf16's)
TOLERANCE = {"F16": 4e-3, "Q8_0": 6e-3, "Q4_K": 6e-2}
QUANT_LABEL = {"F16": "F16", "Q8_0": "Q8_0", "Q4_K": "Q4_K_S"}
TEXTS = ["Lena asked the team to review her plan before the Friday release.",
         "Assessment: problematic\nKwame criticised a colleague's report  in a meeting, 3 times!",
         "Überstunden? naïve café — 42%"]


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """family -> a tiny random model of that family (Hugging Face folder), built on first use."""
    root, built = tmp_path_factory.mktemp("family-originals"), {}

    def get(family: str):
        if family not in built:
            built[family] = family_model(family, root / family)
        return built[family]

    return get


def test_the_q4_k_writer_writes_what_the_gguf_reader_reads():
    import gguf
    import numpy as np

    x = (np.random.default_rng(0).standard_normal((6, 512)) * 0.2).astype(np.float32)
    x[0] = 0.0  # an all-zero row, as the padding token's embedding
    back = gguf.quants.dequantize(quantize_q4_k(x), gguf.GGMLQuantizationType.Q4_K)
    assert back.shape == x.shape and np.abs(back - x).max() < 0.06 and np.all(back[0] == 0)
    assert np.abs(back - x).mean() < 0.015


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_K"])
@pytest.mark.parametrize("family", sorted(GGUF_FAMILIES))
def test_family_gguf_converts_to_its_weights_and_tokenizer(family, quant, originals, tmp_path):
    import gguf
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from localtune.engine.models import convert_gguf

    original = originals(family)
    path = write_family_gguf(original, tmp_path / f"{family}-{quant}.gguf", family, quant)
    arch = GGUF_FAMILIES[family][0]
    reader = gguf.GGUFReader(str(path))
    assert {t.tensor_type.name for t in reader.tensors if len(t.shape) == 2} == {quant}
    weights = load_file(original / "model.safetensors")

    found = read_gguf(path)
    assert (found.architecture, found.quantization, found.trainable, found.chat) == (arch, QUANT_LABEL[quant],
                                                                                   True, True)
    rope_tensors = sum(t.n_elements for t in reader.tensors if t.name.startswith("rope_"))
    assert found.params == sum(w.numel() for w in weights.values()) + rope_tensors
    assert found.shape["tied"] == ("lm_head.weight" not in weights)

    folder = convert_gguf(path, tmp_path / "converted")
    converted = load_file(folder / "model.safetensors")
    assert set(converted) == set(weights)
    for name, w in weights.items():
        assert converted[name].dtype == torch.bfloat16, name
        assert converted[name].shape == w.shape, name
        assert (converted[name].float() - w.float()).abs().max() <= TOLERANCE[quant], name

    ours, theirs = AutoTokenizer.from_pretrained(folder), AutoTokenizer.from_pretrained(original)
    for text in TEXTS:
        ids = ours(text).input_ids
        assert ids == theirs(text).input_ids, text
        assert ours.decode(ids, skip_special_tokens=True) == text
    *_, specials, bos, eos, _ = FAMILIES[family]
    assert (ours.bos_token, ours.eos_token) == (theirs.bos_token, theirs.eos_token) == (bos or ours.bos_token, eos)
    for token in specials:  # the chat markers stay whole
        assert ours.convert_ids_to_tokens(ours(token, add_special_tokens=False).input_ids) == [token]

    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Was it fair?"}]
    if family.startswith("gemma"):  # Gemma's template has no system role
        with pytest.raises(Exception, match="System role"):
            ours.apply_chat_template(chat, tokenize=False)
        chat = chat[1:]
    rendered = ours.apply_chat_template(chat, tokenize=False, add_generation_prompt=family != "mistral")
    assert rendered == theirs.apply_chat_template(chat, tokenize=False, add_generation_prompt=family != "mistral")
    assert "Was it fair?" in rendered


def same_logits(original, folder) -> float:
    """Relative distance of the converted folder's logits from the original's, the original's weights rounded as
    the copy's were (matrices to float16 in the file, everything to bf16 in the folder)."""
    import torch
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([list(range(3, 163, 2))])  # 80 positions: past Gemma's sliding window (64) and rope knees
    logits = []
    for source in (original, folder):
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval()
        with torch.no_grad():
            if source == original:
                for p in model.parameters():
                    p.copy_((p.half() if p.ndim == 2 else p).bfloat16().float())
            logits.append(model(ids).logits)
    theirs, ours = logits
    return ((ours - theirs).norm() / theirs.norm()).item()


@pytest.mark.parametrize("family", sorted(GGUF_FAMILIES))
def test_a_converted_f16_gguf_computes_what_the_original_did(family, originals, tmp_path):
    """The config rebuilt from the GGUF is the original's where it matters (head size, rope and its scaling, Gemma's
    attention scale and norms): the logits match those of the original with its weights rounded as the copy's were
    (matrices to float16 in the file, everything to bf16 in the folder)."""

    from localtune.engine.models import convert_gguf

    original = originals(family)
    folder = convert_gguf(write_family_gguf(original, tmp_path / "f16.gguf", family, "F16"), tmp_path / "converted")
    assert same_logits(original, folder) < 1e-3


LONG_CONTEXT = {
    # Phi-3.5 mini: LongRoPE, its factors stored as tensors (the long ones apply past the original context)
    "phi3": dict(original_max_position_embeddings=32, rope_parameters={
        "rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0 + i / 50 for i in range(32)],
        "long_factor": [1.0 + i / 4 for i in range(32)]}),
    # Gemma 3 4B and up: linear scaling on the global layers (every 6th; 6 layers for one)
    "gemma3": dict(num_hidden_layers=6, rope_parameters={
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0}}),
    # Phi-3 mini 4k: attention within a sliding window
    "phi3-window": dict(sliding_window=16),
    # Qwen2.5 with YaRN for 128k
    "qwen2": dict(rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 1_000_000.0,
                                   "original_max_position_embeddings": 128}),
}


@pytest.mark.parametrize("family", sorted(LONG_CONTEXT))
def test_long_context_attention_survives_conversion(family, tmp_path):
    from localtune.engine.models import convert_gguf

    original = family_model(family.split("-")[0], tmp_path / "original", **LONG_CONTEXT[family])
    family = family.split("-")[0]
    folder = convert_gguf(write_family_gguf(original, tmp_path / "f16.gguf", family, "F16"), tmp_path / "converted")
    assert same_logits(original, folder) < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(GGUF_FAMILIES))
def test_a_converted_k_quant_gguf_trains_in_4_bit_and_generates(family, originals, tmp_path, cpu):
    import math

    from localtune.engine.generate import Decoding, Reader
    from localtune.engine.models import convert_gguf
    from localtune.engine.train import TrainConfig, train

    path = write_family_gguf(originals(family), tmp_path / "q4k.gguf", family, "Q4_K")
    folder = convert_gguf(path, tmp_path / "converted")
    examples = make_examples(8)
    config = TrainConfig(epochs=1, max_steps=1, batch_size=2, quantization="nf4", max_seq_len=256)
    done = list(train(folder, examples[:6], examples[6:8], config, hardware=cpu))[-1]
    assert type(done).__name__ == "Finished" and done.steps == 1 and done.adapter
    assert math.isfinite(done.history[0]["loss"])

    reader = Reader.load(folder, device="cpu")
    reader.add_adapter("tuned", done.adapter, done.peft_config)
    messages = examples[0].messages
    prompt = reader.render(messages)
    assert FAMILIES[family][-1] in prompt[-60:]  # ends where the family's assistant turn starts
    assert messages[0]["content"][:40] in prompt  # the system text is kept (in the first user turn for Gemma)
    if family.startswith("gemma"):
        assert "system" not in prompt
    text = reader.generate(messages, adapter="tuned",
                           decoding=Decoding(max_new_tokens=5, min_tokens=0, target_tokens=0))
    assert isinstance(text, str)


# --- what localtune does not convert ------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "why"), [("granite", "not one localtune trains"),
                                           ("gemma", "cannot convert GGUF files of the gemma architecture")])
def test_a_gguf_of_another_architecture_is_refused_clearly(arch, why, originals, tmp_path):
    from localtune.engine.models import Registry, convert_gguf

    path = write_family_gguf(originals("mistral"), tmp_path / f"{arch}.gguf", "mistral", "Q8_0",
                             architecture=arch, name=f"Tiny {arch}")
    found = read_gguf(path)
    assert found.architecture == arch and not found.trainable and why in found.problem
    with pytest.raises(ModelError, match=f"the '{arch}' architecture, which localtune cannot convert.*Hugging Face"):
        convert_gguf(path, tmp_path / "converted")
    registry = Registry(tmp_path / "models", tmp_path / "config")
    with pytest.raises(ModelError, match="cannot be trained here"):
        registry.add_found(found)
    with pytest.raises(ModelError, match=arch):
        registry.add_gguf(path)
    assert not (tmp_path / "converted").exists() and registry.list()[-1].name == "smollm2-135m-instruct"


def test_a_file_that_is_not_a_gguf_is_refused_clearly(tmp_path):
    from localtune.engine.models import convert_gguf

    path = tmp_path / "notes.gguf"
    path.write_bytes(b"GGUF but not really" * 10)
    with pytest.raises(ModelError, match="not a GGUF model file"):
        convert_gguf(path, tmp_path / "converted")



def test_the_collector_pauses_while_a_gguf_is_read_and_resumes_even_on_failure(originals, tmp_path, monkeypatch):
    """Reading a GGUF builds objects that all live until it ends; full collections over them stopped the app's
    window for 80-280 ms each. The collector is off while it reads and on again afterwards, failed or not."""
    import gc

    from localtune.engine import models

    seen = []
    real = models._gguf_config
    monkeypatch.setattr(models, "_gguf_config", lambda gguf: seen.append(gc.isenabled()) or real(gguf))
    path = write_family_gguf(originals("llama3"), tmp_path / "llama3.gguf", "llama3", "Q8_0")
    models.convert_gguf(path, tmp_path / "converted")
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"GGUF but not really" * 10)
    with pytest.raises(ModelError):
        models.convert_gguf(bad, tmp_path / "bad")
    assert seen == [False] and gc.isenabled()
    assert (tmp_path / "converted" / "config.json").is_file()


def test_the_app_converts_in_a_child_process_with_the_same_result_and_messages(originals, tmp_path):
    """The app converts a GGUF in a child process (the window keeps the interpreter): the same folder as a
    conversion here, and the same plain message for a file that is not a model."""
    from safetensors.torch import load_file

    from localtune.engine import models

    path = write_family_gguf(originals("qwen2"), tmp_path / "qwen2.gguf", "qwen2", "Q8_0")
    here = models.convert_gguf(path, tmp_path / "here")
    apart = models.convert_gguf_apart(path, tmp_path / "apart")
    assert apart == tmp_path / "apart" and models.check_folder(apart, hashes=True)
    ours, theirs = load_file(here / "model.safetensors"), load_file(apart / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(ours[k].equal(theirs[k]) for k in ours)
    bad = tmp_path / "notes.gguf"
    bad.write_bytes(b"GGUF but not really" * 10)
    with pytest.raises(ModelError, match="not a GGUF model file"):
        models.convert_gguf_apart(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()

# --- discovery ----------------------------------------------------------------------------------------------


def test_an_ollama_qwen2_is_found_and_added(originals, tmp_path):
    import torch
    from safetensors.torch import load_file

    from localtune.engine.models import Registry

    original = originals("qwen2")
    gguf = write_family_gguf(original, tmp_path / "src.gguf", "qwen2", "Q4_K", name="Qwen2.5 0.5B Instruct")
    store = tmp_path / "ollama"
    ollama_store(store, gguf, model="qwen2.5", tag="0.5b-instruct-q4_K_S")
    found = discover(Places(tmp_path / "home", {"OLLAMA_MODELS": str(store)}))
    assert [f.key for f in found] == ["ollama:qwen2.5:0.5b-instruct-q4_K_S"]
    (f,) = found
    weights = load_file(original / "model.safetensors")
    assert (f.family, f.quantization, f.chat, f.trainable) == ("Qwen2", "Q4_K_S", True, True)
    assert f.params == sum(w.numel() for w in weights.values())
    config = json.loads((original / "config.json").read_text())
    assert f.shape == {"hidden": 256, "inter": 512, "layers": 2, "vocab": config["vocab_size"], "heads": 4,
                       "kv_heads": 2, "head_dim": 64, "tied": False}
    before = gguf.read_bytes()
    info = Registry(tmp_path / "models", tmp_path / "config").add_found(f)
    assert info.source == "gguf" and abs(info.params - f.params) < 0.01 * f.params  # its estimate leaves out biases
    converted = load_file(f"{info.path}/model.safetensors")
    assert torch.allclose(converted["model.layers.0.self_attn.q_proj.bias"].float(),
                          weights["model.layers.0.self_attn.q_proj.bias"], atol=2e-3)  # Qwen2's biases kept
    assert (store / "blobs").is_dir() and gguf.read_bytes() == before


@pytest.mark.parametrize(("head_dim", "theta", "factor"), [(128, 500_000.0, 8.0), (64, 500_000.0, 32.0)])
def test_llama_3_rope_scaling_is_read_back_from_its_rope_freqs(head_dim, theta, factor):
    """Llama 3.1 (head size 128, factor 8) and 3.2 (64, 32) as llama.cpp stores them: the same parameters back."""
    from gguf_helpers import _llama3_rope_factors

    from localtune.engine.models import _llama3_rope

    rope = {"rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_theta": theta}
    factors = _llama3_rope_factors({"rope_parameters": rope}, head_dim)
    back = _llama3_rope(factors.astype("float64"), theta, head_dim, 131072, "llama.gguf")
    assert back == {k: v for k, v in rope.items() if k != "rope_theta"}
    with pytest.raises(ModelError, match="not Llama 3's scaling"):
        _llama3_rope(factors.astype("float64") ** 1.5, theta, head_dim, 131072, "odd.gguf")
