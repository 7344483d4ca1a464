"""Training and model handling. Heavy libraries (torch, transformers, peft, bitsandbytes) load only inside
the functions that use them, so importing this package stays cheap.

- hardware.detect() -> Hardware
- models.Registry / ensure_starter / convert_gguf: base models as safetensors folders
- train.TrainConfig, plan(), estimate(), train() -> events (localtune.events)
- adapters.load_base (the one base-model loader) / attach (the one way to add an adapter) / adapter_bytes /
  export_peft_folder: adapters as bytes
"""

import threading
import warnings

_import_lock = threading.Lock()
# transformers builds a model under process-wide switches (meta-device init, patched parameter registration);
# two threads loading at once corrupt each other ("Cannot copy out of meta tensor", lm_head MISSING). The app
# can load in two threads at once (the Train page's timing run while a reading or a training starts).
model_load_lock = threading.RLock()


def load_libraries() -> None:
    """Import torch, transformers and peft once, one thread at a time. transformers resolves its names lazily,
    and two threads doing that for the first time at once can see "cannot import name 'AutoTokenizer'" (the
    app looks at the hardware, lists models and plans in parallel threads). Cheap after the first call."""
    with _import_lock:
        import peft  # noqa: F401
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

# peft still asks models for `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning
# on every adapter load; it says nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
