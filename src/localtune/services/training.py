"""Training over the vault: the journal's training set (built once per revision), the plan and its time
estimate, and a run whose checkpoints and adapter go into the vault.

Checkpoints and adapters go from the engine's bytes straight into the vault (encrypted); nothing of a run is
written to disk in plaintext. torch and friends load only when one of these functions runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict

from ..dataset.checks import Dataset, Report, build_dataset, check_dataset
from ..dataset.examples import examples_fingerprint
from ..errors import InvalidInputError, NotFoundError, TrainingError
from ..events import CheckpointReady, Finished, Sealed, Status
from ..journal.repository import Journal
from ..paths import Paths
from ..progress import CancelToken
from ..vault import Vault
from .adapters import AdapterStore
from .journal import redactor_of

CHECKPOINT = "checkpoint:latest"


def dataset(journal: Journal) -> Dataset:
    """The journal's training set (redacted examples, near-duplicates, the held-out split), built once per
    revision of the vault: a comparison or a second check reuses it until the journal or the names change."""
    return _built(journal)[0]


def check(journal: Journal) -> Report:
    """The readiness report on that training set (computed once per revision too). Treat it as read-only."""
    return _built(journal)[1]


def _built(journal: Journal) -> tuple[Dataset, Report]:
    vault = journal.vault
    revision = vault.revision
    cache = vault.session_cache
    kept = cache.get("dataset")
    if kept is not None and kept[0] == revision:
        return kept[1]
    built = build_dataset(list(journal.iter_all()), redactor=redactor_of(vault))
    result = (built, check_dataset(built))
    if vault.revision == revision:  # nothing was written while it was built
        cache["dataset"] = (revision, result)
    return result


def train_config(**settings):
    """A run's settings, checked (the engine's TrainConfig): the front ends build them here."""
    from ..engine.train import TrainConfig

    return TrainConfig(**settings)


def hardware():
    """This computer's training hardware, as the helper process sees it (engine.apart.helper: the app's process
    never imports the ML libraries to look). The CPU's flags are read here, once (tests inject them)."""
    from ..engine.apart import helper
    from ..engine.hardware import cpu_flags, detect

    return helper(detect, flags=cpu_flags(), what="Looking at this computer", error=TrainingError)


def registry(paths: Paths):
    """localtune's models (reading and adding them needs no ML library: conversions run in a child process)."""
    from ..engine.models import Registry

    _keep_caches_in(paths)
    return Registry(paths.models, paths.config)


def _keep_caches_in(paths: Paths) -> None:
    """torch.compile (used by bitsandbytes' 4-bit kernels on CPU) caches compiled kernels under /tmp by default;
    they hold no journal text, but everything localtune writes belongs under its own cache folder."""
    folder = paths.cache / "torch-compile"
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))


def plan_run(report: Report, paths: Paths, *, model: str | None = None, config=None, calibrate: bool = True,
             cancel: CancelToken | None = None, background: bool = False):
    """How `train_adapter` would train this journal here (engine `Plan`); with `calibrate`, timed on a few real
    steps (in a child process, at the lowest priority with `background`; `cancel` ends it) so it carries the time
    estimate. Needs no vault: pass the readiness report."""
    from ..engine.apart import helper
    from ..engine.train import TrainConfig, estimate_apart, plan

    report.raise_if_not_ready()
    config = config or TrainConfig()
    model_dir = registry(paths).resolve(model)
    the_plan = helper(plan, hardware(), model_dir, report.train, config, what="Planning the run", error=TrainingError)
    return estimate_apart(model_dir, report.train, the_plan, config, cancel=cancel, background=background) \
        if calibrate else the_plan


def train_adapter(vault: Vault, journal: Journal, paths: Paths, *, model: str | None = None, config=None,
                  cancel: CancelToken | None = None, resume: bool = False, name: str | None = None,
                  background: bool = False) -> Iterator:
    """Check the journal, train, keep checkpoints in the vault, seal the adapter; yields engine events, then Sealed.

    The model work runs in a child process (engine.train.train_apart), below normal priority with `background`;
    the vault stays here, and only the examples go to the child and the checkpoints and adapter come back, over a
    pipe, in memory."""
    from ..engine.train import TrainConfig, train_apart

    report = check(journal)
    report.raise_if_not_ready()
    store = AdapterStore(vault)
    if name is not None:  # a name that cannot be used is said now, not after the run
        name = store.new_name(model or "starter", name)
    config = config or TrainConfig()
    cancel = cancel or CancelToken()
    cancel.raise_if_cancelled()  # a cancel while the journal was read stops before the model is loaded (or converted)
    model_dir = registry(paths).resolve(model)
    state = None
    if resume:
        try:
            state = vault.read_blob(CHECKPOINT)
        except NotFoundError:
            raise InvalidInputError("There is no interrupted training run to resume.") from None
        yield Status("Resuming the interrupted run from its last checkpoint.")
    for event in train_apart(model_dir, report.train, report.eval, config, cancel, resume=state,
                             background=background):
        if isinstance(event, CheckpointReady):
            vault.put_blob(CHECKPOINT, "checkpoint", event.state, {"step": event.step, "model": model or "starter"})
            continue
        if isinstance(event, Finished):
            adapter_name = store.new_name(model or "starter", name)
            summary = {k: v for k, v in asdict(event).items() if k not in ("adapter", "peft_config", "history")}
            meta = {"peft_config": event.peft_config, "base_model": model or "starter", "history": event.history,
                    "fingerprint": examples_fingerprint(report.train), "metrics": summary, "examples": len(report.train)}
            store.seal(adapter_name, event.adapter, meta)
            with contextlib.suppress(NotFoundError):
                vault.delete_blob(CHECKPOINT)
            yield Sealed(adapter_name, {"adapter": adapter_name, **summary})
            return
        yield event


def interrupted_run(vault: Vault) -> dict | None:
    """The last checkpoint of a cancelled or crashed run ({"step", "model"}), None when there is none."""
    try:
        return dict(vault.blob_info(CHECKPOINT).meta)
    except NotFoundError:
        return None
