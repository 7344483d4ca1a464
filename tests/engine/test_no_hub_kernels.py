"""No code fetched from the Hub runs: the `kernels` package (a dependency of transformers >= 5.25 that downloads
compute kernels at run time, and that bitsandbytes tries on every import on CPUs with AVX512-BF16) stays out of a
4-bit training run (here and in its own process, as the app and the CLI train) and a 4-bit reading, and nothing
names the Hub to the user."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import importlib.metadata, json, sys
    from localtune import privacy
    privacy.harden()
    from engine_helpers import make_examples
    from localtune.engine.generate import Reader
    from localtune.engine.train import TrainConfig, train, train_apart
    from transformers.utils import is_kernels_available

    model = sys.argv[1]
    config = TrainConfig(epochs=1, lr=5e-3, lora_r=8, lora_alpha=16, batch_size=2, seed=7, checkpoint_every_s=0,
                         quantization="nf4", max_steps=2)
    events = list(train(model, make_examples(6), make_examples(2, seed=9), config))
    events += list(train_apart(model, make_examples(6), make_examples(2, seed=9), config))  # its own process
    reader = Reader.load(model, quantize=True, device="cpu")
    logits = reader.logits(reader.encode([{"role": "user", "content": "A colleague took credit for my work."}]))
    try:
        import kernels  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    print(json.dumps({
        "steps": sum(type(e).__name__ == "Progress" for e in events),
        "read_positions": int(logits.shape[0]),
        "kernels_modules": sorted(m for m in sys.modules if m.split(".")[0] == "kernels" and sys.modules[m]),
        "importable": importable,
        "found_by_transformers": is_kernels_available(),
        "installed": importlib.metadata.version("kernels"),
    }))
""")


def test_training_and_reading_in_4bit_never_touch_hub_kernels(tiny_model, tmp_path):
    # A fresh process, as the app and the CLI start: harden() first, then the libraries.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}  # for engine_helpers
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_model)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["steps"] >= 1 and result["read_positions"] > 0  # it really trained and read in 4-bit
    assert result["installed"]  # the package is there (transformers requires it) ...
    assert result["kernels_modules"] == []  # ... yet none of it was loaded
    assert not result["importable"] and not result["found_by_transformers"]
    for hub_words in ("kernels-community", "Hugging Face Hub", "publisher trust", "pip install kernels"):
        assert hub_words not in proc.stderr, proc.stderr[-2000:]
