"""Every family localtune supports, end to end on a tiny random model built from its config: a plain LoRA and a
4-bit (QLoRA) training step, label scoring, generation in its own chat template (Gemma's has no system role),
and an exported adapter that PEFT's own loader reads."""

import math

import pytest
from families import FAMILIES, build

from localtune.dataset.prompts import LABELS
from localtune.engine.generate import Decoding, Reader
from localtune.engine.train import TrainConfig, train


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_model(request, tmp_path_factory):
    return request.param, build(request.param, tmp_path_factory.mktemp(request.param))


def one_step(folder, examples, cpu, quantization: str):
    config = TrainConfig(epochs=1, max_steps=1, batch_size=2, quantization=quantization, max_seq_len=256)
    events = list(train(folder, examples[:6], examples[6:8], config, hardware=cpu))
    done = events[-1]
    assert type(done).__name__ == "Finished" and done.steps == 1 and done.train_tokens > 0
    assert math.isfinite(done.history[0]["loss"])
    return done


@pytest.mark.slow
def test_family_trains_scores_generates_and_exports(family_model, examples, cpu, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from localtune.engine.adapters import export_peft_folder

    family, folder = family_model
    *_, marker = FAMILIES[family]
    plain = one_step(folder, examples, cpu, "none")
    qlora = one_step(folder, examples, cpu, "nf4")
    assert plain.adapter and qlora.adapter

    reader = Reader.load(folder, device="cpu")
    reader.add_adapter("tuned", plain.adapter, plain.peft_config)
    messages = examples[0].messages
    assert messages[0]["role"] == "system"
    prompt = reader.render(messages)
    assert marker in prompt[-60:]  # the prompt ends where the family's assistant turn starts
    assert messages[0]["content"][:40] in prompt  # the system text is kept (inside the first user turn for Gemma)
    if family.startswith("gemma"):
        assert "system" not in prompt and "<start_of_turn>user" in prompt
    for adapter in (None, "tuned"):
        scores = reader.label_scores(messages, adapter=adapter)
        assert set(scores) == set(LABELS) and all(math.isfinite(v) and v < 0 for v in scores.values())
    text = reader.generate(messages, adapter="tuned", decoding=Decoding(max_new_tokens=6, min_tokens=0,
                                                                          target_tokens=0))
    assert isinstance(text, str)

    exported = export_peft_folder(plain.adapter, plain.peft_config, str(folder), tmp_path / "peft")
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    loaded = PeftModel.from_pretrained(base, exported)
    ids = torch.tensor([reader.encode(messages)])
    with torch.no_grad():
        ours = reader.forward(ids, adapter="tuned")[0]
        theirs = loaded(ids).logits
    assert torch.allclose(ours.float(), theirs.float(), atol=1e-4)
