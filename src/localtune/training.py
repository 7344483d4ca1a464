"""Training, comparison and evaluation use cases over the vault: what the CLI and the app both call.

Checkpoints and adapters go from the engine's bytes straight into the vault (encrypted); nothing of a run is
written to disk in plaintext. torch and friends load only when one of these functions runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from .dataset.checks import Dataset, Report, build_dataset, check_dataset
from .dataset.prompts import LABELS, prompt_messages
from .dataset.redact import Redactor, unique_names
from .errors import InvalidInputError, NotFoundError
from .events import CheckpointReady, Evaluation, FewShotSources, Finished, Sealed, Status
from .journal.repository import Journal
from .paths import Paths
from .progress import CancelToken
from .vault import Vault

ADAPTER_PREFIX = "adapter:"
ADAPTER_NAME_MAX = 60
CHECKPOINT = "checkpoint:latest"
NAMES_SETTING = "redaction_names"
EVALUATIONS = "evaluations"
DECODING_SETTING = "reading.decoding"


def redaction_names(vault: Vault) -> list[str]:
    """Names redacted in every entry before training (colleagues, clients), besides each entry's people."""
    return list(vault.get_setting(NAMES_SETTING, []))


def set_redaction_names(vault: Vault, names: Iterable[str]) -> list[str]:
    """Replace that list (kept encrypted in the vault); blanks and second spellings of a name are dropped.
    Returns the list as kept."""
    kept = unique_names(names)
    vault.set_setting(NAMES_SETTING, kept)
    return kept


def redactor_of(vault: Vault) -> Redactor:
    return Redactor(redaction_names(vault))


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
    from .engine.train import TrainConfig

    return TrainConfig(**settings)


def hardware():
    """This computer's training hardware (the ML libraries are loaded first, as every model use does)."""
    from .engine import load_libraries
    from .engine.hardware import detect

    load_libraries()
    return detect()


def registry(paths: Paths):
    from .engine import load_libraries
    from .engine.models import Registry

    _keep_caches_in(paths)
    load_libraries()  # every model use starts here; see load_libraries for the race it prevents
    return Registry(paths.models, paths.config)


def _keep_caches_in(paths: Paths) -> None:
    """torch.compile (used by bitsandbytes' 4-bit kernels on CPU) caches compiled kernels under /tmp by default;
    they hold no journal text, but everything localtune writes belongs under its own cache folder."""
    folder = paths.cache / "torch-compile"
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))


def plan_run(report: Report, paths: Paths, *, model: str | None = None, config=None, calibrate: bool = True):
    """How `train_adapter` would train this journal here (engine `Plan`); with `calibrate`, timed on a few real
    steps so it carries the time estimate. Needs no vault: pass the readiness report."""
    from .engine.hardware import detect
    from .engine.train import TrainConfig, estimate, plan

    report.raise_if_not_ready()
    config = config or TrainConfig()
    model_dir = registry(paths).resolve(model)
    the_plan = plan(detect(), model_dir, report.train, config)
    return estimate(model_dir, report.train, the_plan, config) if calibrate else the_plan


def _fingerprint(examples) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.messages, e.completion], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def train_adapter(vault: Vault, journal: Journal, paths: Paths, *, model: str | None = None, config=None,
                  cancel: CancelToken | None = None, resume: bool = False, name: str | None = None) -> Iterator:
    """Check the journal, train, keep checkpoints in the vault, seal the adapter; yields engine events, then Sealed."""
    from .engine.train import TrainConfig, train

    report = check(journal)
    report.raise_if_not_ready()
    if name is not None:  # a name that cannot be used is said now, not after the run
        name = new_adapter_name(vault, model or "starter", name)
    config = config or TrainConfig()
    model_dir = registry(paths).resolve(model)
    state = None
    if resume:
        try:
            state = vault.read_blob(CHECKPOINT)
        except NotFoundError:
            raise InvalidInputError("There is no interrupted training run to resume.") from None
        yield Status("Resuming the interrupted run from its last checkpoint.")
    for event in train(model_dir, report.train, report.eval, config, cancel or CancelToken(), resume=state):
        if isinstance(event, CheckpointReady):
            vault.put_blob(CHECKPOINT, "checkpoint", event.state, {"step": event.step, "model": model or "starter"})
            continue
        if isinstance(event, Finished):
            adapter_name = new_adapter_name(vault, model or "starter", name)
            summary = {k: v for k, v in asdict(event).items() if k not in ("adapter", "peft_config", "history")}
            meta = {"peft_config": event.peft_config, "base_model": model or "starter", "history": event.history,
                    "fingerprint": _fingerprint(report.train), "metrics": summary, "examples": len(report.train)}
            vault.put_blob(adapter_blob(adapter_name), "adapter", event.adapter, meta)
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


def adapters(vault: Vault) -> list:
    return [b for b in vault.list_blobs("adapter") if b.name.startswith(ADAPTER_PREFIX)]


def adapter_blob(name: str) -> str:
    """The vault blob that holds the adapter called `name` (the one place that knows how they are named)."""
    return ADAPTER_PREFIX + name


def adapter_name(blob_name: str) -> str:
    return blob_name[len(ADAPTER_PREFIX):]


def check_adapter_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > ADAPTER_NAME_MAX or "/" in name:
        raise InvalidInputError(f"An adapter name needs 1 to {ADAPTER_NAME_MAX} characters and no '/'.")
    return name


def new_adapter_name(vault: Vault, base: str, name: str | None = None) -> str:
    """`name`, checked and not taken; without one, the next free `<base>-vN`."""
    existing = {adapter_name(b.name) for b in adapters(vault)}
    if name is None:
        version = 1 + len(existing)
        while f"{base}-v{version}" in existing:
            version += 1
        return f"{base}-v{version}"
    name = check_adapter_name(name)
    if name in existing:
        raise InvalidInputError(f"An adapter named {name!r} already exists; choose another name.")
    return name


def latest_adapter(vault: Vault) -> str | None:
    found = adapters(vault)
    return adapter_name(found[-1].name) if found else None


def export_adapter(vault: Vault, name: str, folder: str) -> Path:
    from .engine.adapters import export_peft_folder

    info = vault.blob_info(adapter_blob(name))
    return export_peft_folder(vault.read_blob(info.name), info.meta["peft_config"], info.meta["base_model"], folder)


class ReaderPool:
    """One base model kept in memory between readings (the app compares again and again), owned by the open
    vault's session and dropped with it on lock. Adapters are added to it by name and checked against the
    vault's hash, so a renamed, deleted or retrained adapter is never stale."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.reader = None
        self.hashes: dict[str, str] = {}

    def get(self, vault: Vault, paths: Paths, adapter: str | None):
        from .engine.generate import Reader

        info = vault.blob_info(adapter_blob(adapter)) if adapter else None
        base = info.meta["base_model"] if info else None
        folder = str(registry(paths).resolve(None if base in (None, "starter") else base))
        if self.folder != folder:
            self.release()
            self.reader, self.folder = Reader.load(folder), folder
        if info is not None and self.hashes.get(adapter) != info.sha256:
            if adapter in self.reader.adapters:
                self.reader.remove_adapter(adapter)
            self.reader.add_adapter(adapter, vault.read_blob(info.name), info.meta["peft_config"])
            self.hashes[adapter] = info.sha256
        return self.reader

    def release(self) -> None:
        self.folder, self.reader, self.hashes = None, None, {}


def open_reader(vault: Vault, paths: Paths, adapter: str | None):
    """The base model with `adapter` loaded (None: none needed), reusing the one this session holds."""
    return vault.session_cache.setdefault("readers", ReaderPool()).get(vault, paths, adapter)


def release_readers(vault: Vault) -> None:
    """Drop the model and every adapter from memory (a lock does this too: adapters derive from the journal)."""
    pool = vault.session_cache.pop("readers", None)
    if pool is not None:
        pool.release()
    import gc

    gc.collect()


def few_shot_pool(journal: Journal):
    """The examples a few-shot reading may show the model: the training side of the split, never held-out ones."""
    return dataset(journal).split.train


def labels_used(examples, fallback=LABELS) -> tuple[str, ...]:
    """The assessment labels `examples` use, in the usual order (all three when there are none): a journal
    that never says "mixed" is not scored on "mixed"."""
    used = {e.label for e in examples}
    return tuple(label for label in LABELS if label in used) or tuple(fallback)


def decoding_settings(vault: Vault) -> dict:
    """The reading's decoding settings as stored (Settings > Advanced); {} means the defaults."""
    return dict(vault.get_setting(DECODING_SETTING, {}))


def decoding_defaults() -> dict:
    """The default decoding settings (what "Reset" returns to)."""
    from .engine.generate import Decoding

    return Decoding().to_dict()


def set_decoding_settings(vault: Vault, values: dict) -> dict:
    """Check and keep decoding settings (only the ones that differ from the defaults are stored)."""
    from .engine.generate import Decoding

    chosen = Decoding.from_dict(values)  # raises ModelError with every problem at once
    defaults = Decoding().to_dict()
    kept = {k: v for k, v in chosen.to_dict().items()
            if defaults[k] != v and k not in ("target_tokens", "min_tokens")}  # those come from the journal
    vault.set_setting(DECODING_SETTING, kept)
    return kept


def compare(vault: Vault, journal: Journal, paths: Paths, situation: str, *, industry: str = "", context: str = "",
            viewpoint: str = "", adapter: str | None = None, k: int = 3, cancel: CancelToken | None = None,
            decoding: dict | None = None) -> Iterator:
    """Generic, few-shot and tuned readings from one base model; yields Piece and Analysis events.

    Decoding: the stored settings, overridden by `decoding`; the length a reading aims for is calibrated from
    the journal's own analyses, and every column is scored on the labels the journal uses."""
    from .dataset.retrieval import nearest_examples
    from .engine.generate import Decoding

    adapter = adapter or latest_adapter(vault)
    reader = open_reader(vault, paths, adapter)
    messages = prompt_messages(situation=situation, industry=industry, context=context, viewpoint=viewpoint)
    pool = few_shot_pool(journal)
    shots = nearest_examples(pool, situation, k) if pool else ()
    if shots:  # a saved scenario's example group is its id (dataset.examples.scenario_group)
        yield FewShotSources("few_shot", tuple(dict.fromkeys(int(e.group) for e in shots if e.group.isdigit())))
    values = {**decoding_settings(vault), **(decoding or {})}
    values = {**reader.lengths([e.completion for e in pool]), **values}
    yield from reader.compare(messages, adapter=adapter, shots=shots, cancel=cancel,
                              decoding=Decoding.from_dict(values), labels=labels_used(pool))


def evaluate(vault: Vault, journal: Journal, paths: Paths, *, adapter: str | None = None, data: str | None = None,
             cancel: CancelToken | None = None, columns=None, generate: bool = False) -> Iterator:
    """Score base, few-shot and tuned (or the chosen `columns`) on the held-out split (or an external file);
    yields Scoring progress, then the Evaluation, stored per adapter when every column was scored.

    With `generate`, each column also writes its readings (the stored decoding settings, the length calibrated
    from the journal) and the Evaluation carries their quality measures. Cancelled after a column finished,
    the generator returns the Evaluation of the finished columns (see `engine.evaluate.evaluate`)."""
    from .dataset.examples import build_examples
    from .engine.evaluate import evaluate as run_eval
    from .engine.generate import Decoding
    from .journal.io import read_file

    adapter = adapter or latest_adapter(vault)
    report = check(journal)
    if data:
        parsed = read_file(data)
        parsed.require_clean(data)
        examples = build_examples(parsed.scenarios, redactor_of(vault))
    else:
        examples = report.eval
    if not examples:
        raise InvalidInputError("There are no held-out examples to evaluate on.")
    reader = open_reader(vault, paths, adapter)
    # Scored on the labels the data use: an outside file's own, or the journal's (train and held-out together).
    labels = labels_used(examples) if data else labels_used([*report.train, *report.eval])
    decoding = None
    if generate:
        values = decoding_settings(vault)
        values = {**reader.lengths([e.completion for e in report.train]), **values}
        decoding = Decoding.from_dict(values)
    events = run_eval(reader, examples, adapter=adapter, pool=report.train, cancel=cancel, labels=labels,
                      columns=columns, generate=decoding)
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return stop.value  # the finished columns of a stopped run (None after a complete one)
        if isinstance(event, Evaluation) and adapter and not data and not columns:
            history = vault.get_setting(EVALUATIONS, {})
            history[adapter] = {**event.to_dict(), "adapter": adapter,
                                "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            vault.set_setting(EVALUATIONS, history)
        yield event


def evaluations(vault: Vault) -> dict[str, dict]:
    """Stored evaluation results, adapter name -> result (Comparison.to_dict plus adapter and evaluated_at)."""
    return vault.get_setting(EVALUATIONS, {})
