"""Training and model handling. Heavy libraries (torch, transformers, peft, bitsandbytes) load only inside
the functions that use them, so importing this package stays cheap.

- hardware.detect() -> Hardware
- models.Registry / ensure_starter / convert_gguf: base models as safetensors folders
- train.TrainConfig, plan(), estimate(), train() -> events (localtune.events)
- adapters.load_base (the one base-model loader) / attach (the one way to add an adapter) / adapter_bytes /
  export_peft_folder: adapters as bytes
"""

import warnings


def load_libraries() -> None:
    """Import torch, transformers and peft now (a front end's first model use; cheap after the first call).

    No lock: the engine is not thread-safe and need not be. transformers builds a model under process-wide
    switches and resolves its names lazily, so two threads loading at once corrupt each other; the CLI and the
    training server are single-threaded, and the app runs every model job on its one model lane."""
    import peft  # noqa: F401
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401


# peft still asks models for `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning
# on every adapter load; it says nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
