"""GGUF files dequantized once into a safetensors folder. In the types the gguf package can write, the weights
come back within each type's rounding. In the K-quant mixes people download most (Q4_K_M, Q5_K_M, Q6_K, also
Q3_K_M and Q2_K), which the gguf package cannot quantize to, the test writes valid random blocks itself: each
converted weight is exactly what gguf.quants.dequantize reads from those bytes, rounded to bf16. Converted
models of both kinds train."""

import json

import pytest
from gguf_helpers import K_MIXES, WRITABLE, write_k_quant_llama_gguf, write_llama_gguf

from localtune.engine.discovery import read_gguf
from localtune.engine.models import convert_gguf

# max |converted - original| per type (the type's rounding, then bf16's) on weights of std ~0.02
TOLERANCE = {"F16": 1e-3, "BF16": 1e-3, "Q8_0": 2e-3, "Q5_1": 6e-3, "Q5_0": 8e-3, "Q4_1": 1.2e-2, "Q4_0": 1.5e-2}


@pytest.mark.parametrize("quant", WRITABLE)
def test_gguf_types_convert_back_to_the_weights(quant, tiny_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    path = write_llama_gguf(tiny_model, tmp_path / f"tiny-{quant}.gguf", quant)
    found = read_gguf(path)
    assert found.quantization == quant and found.trainable
    folder = convert_gguf(path, tmp_path / "converted")  # kept in bf16, as most published models are
    original = load_file(tiny_model / "model.safetensors")
    converted = load_file(folder / "model.safetensors")
    assert set(converted) == set(original)
    for name, weights in original.items():
        back = converted[name].float()
        assert back.shape == weights.shape, name
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            # the loader undoes llama.cpp's rope permutation of these rows, which this writer did not apply:
            # the same values, in another row order
            back, weights = back.flatten().sort().values, weights.flatten().sort().values
        assert torch.max(torch.abs(back - weights)) <= TOLERANCE[quant], name


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["F16", "Q8_0"])
def test_a_converted_gguf_trains(quant, tiny_model, tmp_path, examples, cpu):
    from localtune.engine.train import TrainConfig, train

    folder = convert_gguf(write_llama_gguf(tiny_model, tmp_path / "t.gguf", quant), tmp_path / "converted")
    events = list(train(folder, examples[:6], examples[6:8], TrainConfig(epochs=1, max_steps=1, batch_size=2),
                        hardware=cpu))
    assert type(events[-1]).__name__ == "Finished" and events[-1].steps == 1


@pytest.fixture(scope="module")
def k_config(tiny_model) -> dict:
    """The tiny Llama's tokenizer and layout with rows of 256 weights, the K-quants' block (QK_K)."""
    vocab = json.loads((tiny_model / "config.json").read_text())["vocab_size"]
    return dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5, vocab_size=vocab)


@pytest.mark.parametrize("mix", list(K_MIXES))
def test_k_quant_ggufs_convert_to_exactly_their_dequantized_weights(mix, tiny_model, k_config, tmp_path):
    import gguf
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tmp_path / f"tiny-{mix}.gguf"
    wrote = write_k_quant_llama_gguf(tiny_model, path, mix, k_config)
    _, base, more = K_MIXES[mix]
    in_file = {t.tensor_type.name for t in gguf.GGUFReader(str(path)).tensors}
    assert in_file == {"F32", base, *more.values()}  # the mix is really in the file

    # q_proj/k_proj were written in llama.cpp's rope row order; the loader must put them back in this order
    expected = {name: torch.from_numpy(data if kind == "F32" else
                                       gguf.quants.dequantize(data, gguf.GGMLQuantizationType[kind]))
                for name, (kind, data) in wrote.items()}
    assert all(torch.isfinite(w).all() and w.abs().max() < 0.3 for n, w in expected.items() if "norm" not in n)

    found = read_gguf(path)
    assert (found.quantization, found.trainable, found.architecture) == (mix, True, "llama")
    assert found.params == sum(w.numel() for w in expected.values())
    assert found.shape["hidden"] == 256 and not found.shape["tied"]

    folder = convert_gguf(path, tmp_path / "converted")
    converted = load_file(folder / "model.safetensors")
    assert set(converted) == set(wrote)
    for name, weights in expected.items():
        assert converted[name].dtype == torch.bfloat16, name
        assert torch.equal(converted[name], weights.to(torch.bfloat16)), (name, wrote[name][0])

    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    ids = tokenizer("My lead cut the estimate in half.", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], k_config["vocab_size"]) and torch.isfinite(logits).all()


@pytest.mark.slow
def test_a_converted_q4_k_m_gguf_trains(tiny_model, k_config, tmp_path, examples, cpu):
    from localtune.engine.train import TrainConfig, train

    path = tmp_path / "t.gguf"
    write_k_quant_llama_gguf(tiny_model, path, "Q4_K_M", k_config)
    folder = convert_gguf(path, tmp_path / "converted")
    events = list(train(folder, examples[:6], examples[6:8], TrainConfig(epochs=1, max_steps=1, batch_size=2),
                        hardware=cpu))
    finished = events[-1]
    assert type(finished).__name__ == "Finished" and finished.steps == 1 and finished.adapter
    losses = [h["loss"] for h in finished.history if "loss" in h]
    assert losses and all(loss == loss and loss < float("inf") for loss in losses)
