"""Measured accuracy on held-out entries: base, few-shot and tuned scored on the same examples, and the results
kept per adapter in the vault."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from ..errors import InvalidInputError
from ..events import Evaluation
from ..journal.repository import Journal
from ..paths import Paths
from ..progress import CancelToken
from ..vault import Vault
from .adapters import AdapterStore
from .journal import redactor_of
from .reading import calibrated_decoding, labels_used, open_reader
from .training import check

EVALUATIONS = "evaluations"


def evaluate(vault: Vault, journal: Journal, paths: Paths, *, adapter: str | None = None, data: str | None = None,
             cancel: CancelToken | None = None, columns=None, generate: bool = False) -> Iterator:
    """Score base, few-shot and tuned (or the chosen `columns`) on the held-out split (or an external file);
    yields Scoring progress, then the Evaluation, stored per adapter when every column was scored.

    With `generate`, each column also writes its readings (the stored decoding settings, the length calibrated
    from the journal) and the Evaluation carries their quality measures. Cancelled after a column finished,
    the generator returns the Evaluation of the finished columns (see `engine.evaluate.evaluate`)."""
    from ..dataset.examples import build_examples
    from ..engine.evaluate import evaluate as run_eval
    from ..journal.io import read_file

    adapter = adapter or AdapterStore(vault).latest()
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
    decoding = calibrated_decoding(vault, reader, report.train) if generate else None
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
