"""Models already on this computer, as both front ends use them: what is found, whether and how long each
trains on this journal, and adding one. Discovery reads files only; it never touches the network."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..dataset.checks import Report
from ..engine import catalog as _catalog
from ..engine import discovery as _discovery
from ..engine import download as _download
from ..paths import Paths

STORE_NAMES = _discovery.STORE_NAMES  # store key -> what its program is called


# -- the catalog and the Hub, as the front ends show them (data and names only; nothing here goes online) --


def catalog_entries() -> list:
    return _catalog.entries()


def catalog_entry(key: str):
    """A catalog entry by its id or Hub id; None when it is not in the catalog."""
    return _catalog.entry(key)


def recommended(hardware) -> list:
    """The catalog's picks for this hardware, best first."""
    return _catalog.recommended(hardware)


def trains_on(entry, hardware) -> bool:
    return _catalog.trains_on(entry, hardware)


def hub_host() -> str:
    """The host a download would ask (HF_ENDPOINT or the Hub's)."""
    return _download.host()


def is_hub_id(text: str) -> bool:
    """Whether `text` is written like a Hub id ("owner/name")."""
    return bool(_download.HUB_ID.match(text))


def user_folders(paths: Paths) -> list[str]:
    """The folders the user asked discovery to look in, besides the usual stores."""
    return _discovery.user_folders(paths.config)


def set_user_folders(paths: Paths, folders: Iterable[str]) -> list[str]:
    return _discovery.set_user_folders(paths.config, folders)


def found_dict(found, fit=None) -> dict:
    """A found model (and whether it trains here) as plain data, for --json."""
    return _discovery.with_fit(found, fit)


def model_dict(info) -> dict:
    """An added model as plain data, for --json."""
    from ..engine.models import asdict_info

    return asdict_info(info)


def rate_from_plan(plan, params: int) -> float | None:
    """Seconds per parameter per token, from a measured plan of a listed model (scales estimates to others)."""
    return _discovery.rate_from_plan(plan, params)


def places(paths: Paths):
    """Where to look: the usual stores of this computer plus the folders the user added."""
    return _discovery.Places.here(user_folders(paths))


def discovered(paths: Paths, *, include_added: bool = True) -> list:
    """Every model found on this computer (`engine.discovery.Found`), those already added left out unless asked."""
    from ..engine.discovery import discover

    found = discover(places(paths))
    if include_added:
        return found
    added = added_names(paths)
    return [f for f in found if os.path.realpath(f.path) not in added]


def added_names(paths: Paths) -> dict[str, str]:
    """Real path of each added model's original -> its name in localtune's list."""
    from ..engine.models import Registry

    return Registry(paths.models, paths.config).origins()


def add(paths: Paths, key: str, name: str | None = None):
    """Add the found model `key`; a GGUF is converted once into localtune's cache (the original stays)."""
    from ..engine.discovery import find
    from .training import registry

    return registry(paths).add_found(find(key, places(paths)), name)


def _tokenizer_of(found, paths: Paths):
    """The found model's own tokenizer (from its folder or its GGUF), else the starter's."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from ..engine.train.model import _tokenizer
    from .training import registry

    try:
        if found.kind == "gguf":
            path = Path(found.path)
            return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
        return _tokenizer(found.path)
    except Exception:  # noqa: BLE001 - a tokenizer transformers cannot read: the starter's counts are close enough
        return _tokenizer(registry(paths).resolve(None))


def token_lengths(found, paths: Paths, examples, config=None) -> list[tuple[int, int]]:
    """(tokens, prompt tokens) of each example, as the found model's tokenizer counts them (in the helper process:
    reading a GGUF's vocabulary is pure Python)."""
    from ..engine.data import tokenize
    from ..engine.train import TrainConfig

    config = config or TrainConfig()
    tokenizer = _tokenizer_of(found, paths)
    return [(len(t), t.prompt_len) for t in (tokenize(tokenizer, e, config.max_seq_len) for e in examples)]


def fits_here(report: Report, paths: Paths, found: Iterable, *, calibrate: bool = False, config=None,
              hardware=None, rate: float | None = None) -> dict:
    """Whether each found model trains here on this journal: the engine's plan from the model's sizes and the
    journal's token lengths by its own tokenizer, key -> `discovery.Fit` (None when its sizes are unknown). The
    time comes from `rate` (seconds per parameter per token, `discovery.rate_from_plan`) or, with `calibrate`,
    from a few timed steps of the starter (`training.plan_run`), scaled to each model's size."""
    from ..engine.apart import helper
    from ..engine.discovery import fit, rate_from_plan
    from ..engine.models import estimate_params
    from ..errors import ModelError
    from . import training

    report.raise_if_not_ready()
    if calibrate and rate is None:
        rate = rate_from_plan(training.plan_run(report, paths, config=config),
                              estimate_params(training.registry(paths).resolve(None)))
    hardware = hardware or training.hardware()
    out = {}
    for f in found:
        lengths = helper(token_lengths, f, paths, report.train, config, what=f"Reading {f.name}",
                         error=ModelError) if f.shape else []
        out[f.key] = fit(f, hardware, lengths, config, seconds_per_param_token=rate) if lengths else None
    return out


# --- downloads (the one network feature, only when the user asks) ---------------------------------------------

HUB_TOKEN = "hub.token"  # a vault setting: the user's Hugging Face token, kept encrypted, never in a file


def hub_token(vault, given: str | None = None) -> str | None:
    """The Hub token to use: `given` (then kept in the vault for next time), else the one kept there."""
    if given:
        vault.set_setting(HUB_TOKEN, given)
        return given
    return vault.get_setting(HUB_TOKEN) or None


def download_plan(hub_id_or_catalog_id: str, token: str | None = None, revision: str | None = None):
    """Ask the Hub for the model's file list (after the user agreed to that); a catalog model is held to the
    catalog's hashes (`engine.catalog.plan_of`)."""
    from ..engine import catalog
    from ..engine.download import file_list

    entry = catalog.entry(hub_id_or_catalog_id)
    hub_id = entry.hub_id if entry else hub_id_or_catalog_id
    listed = file_list(hub_id, revision or (entry.revision if entry else "main"), token=token)
    return catalog.plan_of(entry, listed) if entry is not None else listed


def pull_events(paths: Paths, plan, *, token: str | None = None, cancel=None, name: str | None = None):
    """Download `plan` into localtune's models (Downloading events; returns the added model's ModelInfo)."""
    from ..engine import catalog
    from .training import registry

    entry = catalog.entry(plan.hub_id)
    return registry(paths).pull_events(plan, name or (entry.id if entry else None), token=token, cancel=cancel)
