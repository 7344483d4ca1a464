"""The real starter model: GGUF -> safetensors conversion, 4-bit NF4 load, three QLoRA steps."""

import pytest
from engine_helpers import fake_cpu

from localtune.dataset.prompts import Example, completion_text, prompt_messages
from localtune.engine import models
from localtune.engine.train import TrainConfig, train
from localtune.events import Finished, Progress


@pytest.mark.slow
def test_starter_converts_loads_in_nf4_and_trains(starter_dir):
    assert models.check_folder(starter_dir, hashes=True)
    assert models.read_manifest(starter_dir)["source"] == "gguf"
    assert models.ensure_starter(starter_dir.parent) == starter_dir  # no second conversion
    # The shape the model list uses before the first conversion is the converted model's.
    import json

    from localtune.engine.train.planning import shape_of

    converted = json.loads((starter_dir / "config.json").read_text())
    assert shape_of(converted, models.estimate_params(starter_dir)) == \
        shape_of(models.STARTER_CONFIG, models.STARTER_PARAMS) | {"saved_bf16": shape_of(converted, 0)["saved_bf16"]}

    labels = ["reasonable", "problematic", "mixed", "reasonable"] * 2
    examples = [
        Example(prompt_messages(situation=f"A manager moved meeting {i} without notice; the team adapted.",
                                industry="Retail", viewpoint="employee"),
                completion_text(label, "Short notice is common in retail, but it should be rare."), label)
        for i, label in enumerate(labels)
    ]
    config = TrainConfig(max_steps=3, batch_size=2, quantization="nf4", checkpoint_every_s=0)
    events = list(train(starter_dir, examples[:6], examples[6:], config, hardware=fake_cpu()))
    assert [e.step for e in events if isinstance(e, Progress)] == [1, 2, 3]
    done = events[-1]
    assert isinstance(done, Finished) and done.steps == 3
    assert done.eval_loss is not None and 0 < done.eval_loss < 20
    assert done.base_model == models.STARTER
    assert len(done.adapter) > 1_000_000  # r=16 on every linear layer of 30 blocks
