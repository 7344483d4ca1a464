"""GGUF files in the types the gguf package can write, dequantized once into a safetensors folder: the weights
come back within each type's rounding, and the converted model trains. The K-quants people also have (Q4_K_M,
Q5_K_M, Q6_K) cannot be written by the gguf package (its quantize raises NotImplementedError), so no test here
makes one; transformers dequantizes them with the same code path."""

import pytest
from gguf_helpers import WRITABLE, write_llama_gguf

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
