"""The engine keeps Python's garbage collector out of the app's way without keeping models alive."""

import gc
import weakref


def test_libraries_are_frozen_once_and_a_model_built_later_is_still_collected():
    import torch

    from localtune.engine import load_libraries

    load_libraries()
    frozen = gc.get_freeze_count()
    assert frozen > 100_000  # torch's, transformers' and peft's objects: never walked by a full collection again
    load_libraries()
    assert gc.get_freeze_count() == frozen and gc.isenabled()

    # A model made after the freeze, caught in a reference cycle (as a model released on lock may be), is freed.
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 2))
    model.me = [model]
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None
