"""Every job the pages run on the vault lane, by name. Each takes the lane's context (the open vault and
journal, owned by the lane's thread) and plain values, calls the services, and returns plain data; the page
submits it with what to do on success and on failure:

    self.lane.submit(partial(ops.delete_entries, ids=ids), self._deleted, self._failed)

The jobs of the model lane (training, readings, evaluations, plans, the hardware look, adding models) are at the
end: they run one at a time on `TaskLane.models`, and those that use the vault get a `WorkerContext` whose vault
calls run on the vault lane.
"""

from __future__ import annotations

from ..journal.models import Scenario
from ..journal.repository import Filters
from ..services import evaluation, local_models, reading, training
from ..services import journal as journal_service
from ..services.adapters import AdapterStore
from ..services.journal import (
    check_current_passphrase,
    create_vault,
    entries_to_print,
    import_parsed,
    keep_drafts,
    kept_drafts,
    load_demo_journal,
    redaction_names,
    redactor_of,
    set_redaction_names,
    write_printable,
)
from .tasks import LaneContext

# -- the vault ------------------------------------------------------------------------------------------------


def create(ctx: LaneContext, *, passphrase: str) -> None:
    ctx.attach(create_vault(ctx.paths, passphrase))


def unlock(ctx: LaneContext, *, passphrase: str) -> None:
    """Open the vault; when it is still open (held for a training run behind the lock screen), only check the
    passphrase against it and keep it."""
    from ..errors import WrongPassphraseError
    from ..vault import Vault

    if ctx.vault is None:
        ctx.attach(Vault.open(ctx.paths, passphrase))
    elif not ctx.vault.opens_with(passphrase):
        raise WrongPassphraseError("Wrong passphrase. Nothing was changed; try again.")


def close(ctx: LaneContext) -> None:
    """Lock: the vault closes and the session's caches (names, the model in memory) go with it."""
    ctx.detach()


def replace_damaged(ctx: LaneContext, *, backup: str, passphrase: str, current: str | None):
    """Recovery when the live vault cannot open: the backup replaces it (the damaged files are moved aside, never
    deleted) and the restored vault is opened. Returns where the damaged files went (None when none)."""
    from ..vault import Vault

    vault = Vault.restore(ctx.paths, backup, passphrase, current, replace_damaged=True)
    ctx.attach(vault)
    return vault.set_aside


def settings(ctx: LaneContext, *, keys: dict) -> dict:
    """The stored value of each setting in `keys` (key -> default)."""
    return {key: ctx.vault.get_setting(key, default) for key, default in keys.items()}


def set_setting(ctx: LaneContext, *, key: str, value) -> None:
    ctx.vault.set_setting(key, value)


def change_passphrase(ctx: LaneContext, *, current: str, new: str) -> None:
    journal_service.change_passphrase(ctx.vault, new, current=current)


def backup(ctx: LaneContext, *, dest: str, passphrase: str, overwrite: bool):
    return journal_service.backup(ctx.vault, dest, passphrase, overwrite=overwrite)


def restore(ctx: LaneContext, *, src: str, backup_passphrase: str, current: str) -> None:
    """Replace the open journal with a verified backup; when anything is wrong the live vault, untouched, is
    opened again."""
    from ..vault import Vault

    check_current_passphrase(ctx.vault, current)
    ctx.detach()
    try:
        ctx.attach(Vault.restore(ctx.paths, src, backup_passphrase, current))
    except BaseException:
        ctx.attach(Vault.open(ctx.paths, current))
        raise


def is_unlocked(ctx: LaneContext) -> bool:
    return ctx.unlocked


# -- journal entries -------------------------------------------------------------------------------------------


def search(ctx: LaneContext, *, query: str, filters: Filters, snippets: int) -> tuple[list[int], int, dict]:
    """Ids matching `query` and `filters`, the journal's total, and text snippets for the first `snippets`."""
    ids = ctx.journal.ids(query, filters)
    found = ctx.journal.snippets(query, ids[:snippets]) if query.strip() else {}
    total = len(ids) if not query.strip() and filters == Filters() else ctx.journal.count()
    return ids, total, found


def entry(ctx: LaneContext, *, scenario_id: int) -> Scenario:
    return ctx.journal.get(scenario_id)


def entries(ctx: LaneContext, *, ids: list[int]) -> list[Scenario]:
    return ctx.journal.get_many(ids)


def filter_values(ctx: LaneContext) -> tuple[list[str], list[str]]:
    return ctx.journal.distinct("industry"), ctx.journal.distinct("viewpoint")


def save_entry(ctx: LaneContext, *, scenario: Scenario) -> Scenario:
    if scenario.id is None:
        ctx.journal.add(scenario)
    else:
        ctx.journal.update(scenario)
    return scenario


def delete_entries(ctx: LaneContext, *, ids: list[int]) -> list[Scenario]:
    return ctx.journal.delete_many(ids)


def add_entries(ctx: LaneContext, *, scenarios: list[Scenario]) -> list:
    return [ctx.journal.add(s) for s in scenarios]


def drafts(ctx: LaneContext) -> dict:
    return kept_drafts(ctx.journal)


def save_drafts(ctx: LaneContext, *, drafts: dict) -> None:
    if ctx.journal is not None:  # at a lock that already closed the vault there is nowhere to keep them
        keep_drafts(ctx.journal, drafts)


def load_demo(ctx: LaneContext) -> int:
    return load_demo_journal(ctx.journal)


def read_journal_file(_ctx: LaneContext, *, path: str):
    """A JSONL or CSV file parsed and checked row by row (nothing is imported yet)."""
    from ..journal.io import read_file

    return read_file(path)


def import_entries(ctx: LaneContext, *, parsed, source: str, skip_invalid: bool) -> tuple[int, int]:
    return import_parsed(ctx.journal, parsed, source, skip_invalid=skip_invalid)


def export_entries(ctx: LaneContext, *, path: str, overwrite: bool) -> int:
    from ..journal.io import export_file

    return export_file(path, ctx.journal.iter_all(), paths=ctx.paths, overwrite=overwrite)


def printable_entries(ctx: LaneContext, *, ids: list[int], dest: str, overwrite: bool) -> list[Scenario]:
    return entries_to_print(ctx.journal, ids, dest, overwrite=overwrite)


def write_pdf(ctx: LaneContext, *, dest: str, pdf: bytes, overwrite: bool):
    return write_printable(ctx.paths, dest, pdf, overwrite=overwrite)


# -- the training set ----------------------------------------------------------------------------------------


def readiness(ctx: LaneContext):
    """The readiness report on the journal's training set (cached per revision by the services)."""
    return training.check(ctx.journal)


def preview(ctx: LaneContext, *, ids: list[int], limit: int) -> str:
    """How the first `limit` examples of these entries (or of the journal's first entry) look to the model."""
    from ..dataset.examples import preview as render

    scenarios = ctx.journal.get_many(list(ids)) if ids else next(([s] for s in ctx.journal.iter_all()), [])
    return render(scenarios, redactor_of(ctx.vault), limit=limit)


def names(ctx: LaneContext) -> list[str]:
    return redaction_names(ctx.vault)


def save_names(ctx: LaneContext, *, names: list[str]) -> list[str]:
    return set_redaction_names(ctx.vault, names)


# -- adapters, runs, readings, evaluations ------------------------------------------------------------------


def runs(ctx: LaneContext) -> tuple[list, dict | None]:
    """Finished runs (the adapters, oldest first) and the interrupted one, if any."""
    return AdapterStore(ctx.vault).infos(), training.interrupted_run(ctx.vault)


def adapter_names(ctx: LaneContext) -> list[str]:
    return AdapterStore(ctx.vault).names()


def rename_adapter(ctx: LaneContext, *, old: str, new: str) -> str:
    return AdapterStore(ctx.vault).rename(old, new)


def delete_adapter(ctx: LaneContext, *, name: str) -> None:
    AdapterStore(ctx.vault).delete(name)


def export_adapter(ctx: LaneContext, *, name: str, folder: str):
    return AdapterStore(ctx.vault).export(name, folder)


def seal_adapter(ctx: LaneContext, *, adapter: bytes, doc: dict) -> tuple[str, dict]:
    """An adapter bundle's contents, decrypted off the lane, sealed in the vault."""
    from ..bundle.importing import seal_imported

    return seal_imported(ctx.vault, adapter, doc)


def decoding(ctx: LaneContext) -> dict:
    return reading.decoding_settings(ctx.vault)


def set_decoding(ctx: LaneContext, *, values: dict) -> dict:
    return reading.set_decoding_settings(ctx.vault, values)


def evaluations(ctx: LaneContext) -> dict:
    return evaluation.evaluations(ctx.vault)


def hub_token(ctx: LaneContext, given: str | None) -> str | None:
    """The Hub token to use for a download (`given` is kept in the vault for next time)."""
    return local_models.hub_token(ctx.vault, given)


# -- the model lane -------------------------------------------------------------------------------------------


def hardware():
    return training.hardware()


def list_models(paths):
    """The models localtune can train, and those found on this computer that are not added yet."""
    return (training.registry(paths).list(hardware=training.hardware()),
            local_models.discovered(paths, include_added=False))


def plan(report, paths, model, config, calibrate: bool, cancel=None):
    """How a run would train here; with `calibrate`, timed on a few real steps (which `cancel` stops)."""
    return training.plan_run(report, paths, model=model, config=config, calibrate=calibrate, cancel=cancel,
                             background=True)


def found_fit(report, paths, found, rate):
    """Whether a found model trains here on this journal (`discovery.Fit`, None when its sizes are unknown)."""
    return local_models.fits_here(report, paths, [found], rate=rate)[found.key]


def add_found(paths, key: str):
    return local_models.add(paths, key)


def add_model(paths, source: str, where: str):
    """Add a model folder, or convert a GGUF file once into localtune's models."""
    registry = training.registry(paths)
    return (registry.add_gguf if source == "gguf" else registry.add_folder)(where)


def train(ctx, *, model=None, cancel=None, config=None, resume=False, name=None):
    """The training use case on the lane's open vault and journal: events, then `events.Sealed`."""
    return training.train_adapter(ctx.vault, ctx.journal, ctx.paths, model=model, config=config, cancel=cancel,
                                  resume=resume, name=name or None, background=True)


def compare(ctx, *, situation, adapter=None, cancel=None, industry="", context="", viewpoint=""):
    """The comparison use case on the lane's open vault and journal: Piece and Analysis events."""
    return reading.compare(ctx.vault, ctx.journal, ctx.paths, situation, industry=industry, context=context,
                           viewpoint=viewpoint, adapter=adapter, cancel=cancel)


def evaluate(ctx, *, cancel=None, columns=None):
    """The evaluation use case on the lane's open vault and journal (latest adapter): Scoring, then Evaluation;
    stopped early, it returns the Evaluation of the finished columns."""
    return evaluation.evaluate(ctx.vault, ctx.journal, ctx.paths, cancel=cancel, columns=columns)


# -- the network (only when the user asked for a download; a thread of its own, it touches no model) -----------


def download_plan(hub_id: str, token: str | None):
    """Ask the Hub for the model's file list."""
    return local_models.download_plan(hub_id, token)
