"""Training and model handling. Heavy libraries (torch, transformers, peft, bitsandbytes) load only inside
the functions that use them, so importing this package stays cheap.

- hardware.detect() -> Hardware
- models.Registry / ensure_starter / convert_gguf: base models as safetensors folders
- train.TrainConfig, plan(), estimate(), train() -> events (events.py)
- adapters.load_base / attach / adapter_bytes / export_peft_folder: adapters as bytes
"""

import warnings

# peft still asks models for `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning
# on every adapter load; it says nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
