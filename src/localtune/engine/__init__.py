"""Training and model handling. Heavy libraries (torch, transformers, peft, bitsandbytes) load only inside
the functions that use them, so importing this package stays cheap.

- hardware.detect() -> Hardware
- models.Registry / ensure_starter / convert_gguf: base models as safetensors folders
- train.TrainConfig, plan(), estimate(), train() -> events (localtune.events)
- adapters.load_base (the one base-model loader) / attach (the one way to add an adapter) / adapter_bytes /
  export_peft_folder: adapters as bytes
"""

import contextlib
import gc
import warnings


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a bulk load builds objects that all stay alive (importing
    torch and transformers, reading a GGUF). Each full collection would walk more of them, find nothing, and stop
    every thread, the app's window too: on the starter's conversion, 28 pauses of 80-280 ms in 20 s. What the
    load builds is freed by reference counting; collections resume after it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_libraries() -> None:
    """Import torch, transformers and peft now (a front end's first model use; cheap after the first call).

    No lock: the engine is not thread-safe and need not be. transformers builds a model under process-wide
    switches and resolves its names lazily, so two threads loading at once corrupt each other; the CLI and the
    training server are single-threaded, and the app runs every model job on its one model lane."""
    global _loaded
    if _loaded:
        return
    with collector_paused():
        import peft  # noqa: F401
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    # The libraries' ~440 000 objects live as long as the process; each full collection walked them all (230 ms
    # on a 2-core CPU, every thread stopped). Frozen once, now, before any model exists, they are never walked
    # again. (What else is alive now is frozen with them: it is still freed by reference counting, and only an
    # object that ends up in a reference cycle would stay until the process ends.)
    gc.freeze()
    _loaded = True


_loaded = False


# peft still asks models for `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning
# on every adapter load; it says nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
