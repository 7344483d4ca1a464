"""Training and model handling. Heavy libraries (torch, transformers, peft, bitsandbytes) load only inside
the functions that use them, so importing this package stays cheap.

- hardware.detect() -> Hardware
- models.Registry / ensure_starter / convert_gguf: base models as safetensors folders
- train.TrainConfig, plan(), estimate(), train() -> events (events.py)
- adapters.load_base / attach / adapter_bytes / export_peft_folder: adapters as bytes
"""
