"""Dataset, train, compare and settings pages, with stand-in generators where the engine is not wired yet."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from ui_testing import PASS, WAIT_MS, lane_call, settle, unlock

from localtune.dataset.checks import GOOD
from localtune.events import Analysis, EvalDone, Evaluation, Piece, Progress, Scoring, Sealed
from localtune.ui.clipboard import copy_sensitive


def test_dataset_page_shows_readiness_and_jumps_to_an_entry(qtbot, window):
    from localtune.journal.models import Perspective, Scenario

    torn = Scenario(situation="Asked to skip the handover checklist to finish early on a quiet night.",
                    perspectives=[Perspective("nurse", "reasonable", "Quiet night."),
                                  Perspective("nurse", "problematic", "The checklist exists for quiet nights too.")])
    torn_id = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.add(torn))
    page = window.dataset
    window.nav.setCurrentRow(window.pages.index(page))
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    report = page.report
    assert page.meter.value == report.example_count > GOOD
    assert "Ready to train" in page.headline.text()
    assert set(page.chart.balance) == set(list(report.balance)[: page.chart.max_rows])
    assert page.findings.count() == len(report.blocking) + len(report.warnings) > 0
    qtbot.waitUntil(lambda: "System prompt" in page.preview.toPlainText(), timeout=WAIT_MS)
    assert "held out" in page.split.text()

    items = [page.findings.item(i) for i in range(page.findings.count())]
    item = next(i for i in items if i.text().startswith("Contradiction"))
    target = item.data(Qt.ItemDataRole.UserRole)[0]
    assert target == torn_id
    page.findings.setCurrentItem(item)
    qtbot.waitUntil(lambda: f"scenario {target}" in page.preview.toPlainText(), timeout=WAIT_MS)
    page.open_entry.click()
    assert window.stack.currentWidget() is window.journal
    qtbot.waitUntil(lambda: window.journal.editor.scenario_id == target, timeout=WAIT_MS)
    assert window.journal.selected_id() == target


def test_names_to_redact_are_saved_in_the_vault_and_used_by_the_preview(qtbot, window):
    from localtune.journal.models import Perspective, Scenario
    from localtune.services.journal import redaction_names
    from localtune.ui import operations as ops
    from localtune.ui.pages.dataset import PREVIEW_EXAMPLES

    mention = Scenario(situation="Siobhan OBrien moved my shift twice without asking.",
                       perspectives=[Perspective("employee", "problematic", "SIOBHÁN never asked.")])
    sid = lane_call(qtbot, window.lane, lambda ctx: ctx.journal.add(mention))
    page = window.dataset
    window.nav.setCurrentRow(window.pages.index(page))
    qtbot.waitUntil(lambda: page.report is not None, timeout=WAIT_MS)
    assert not page.save_names.isEnabled()

    page.names.setPlainText("A")
    page.save_names.click()
    qtbot.waitUntil(lambda: "too short" in page.names_result.text(), timeout=WAIT_MS)
    assert lane_call(qtbot, window.lane, lambda ctx: redaction_names(ctx.vault)) == []

    page.names.setPlainText("Siobhán O’Brien\n\n  Maria Lopez  \n")
    assert page.save_names.isEnabled()
    page.save_names.click()
    qtbot.waitUntil(lambda: "Saved 2 names" in page.names_result.text(), timeout=WAIT_MS)
    assert lane_call(qtbot, window.lane, lambda ctx: redaction_names(ctx.vault)) == [
        "Siobhán O’Brien", "Maria Lopez"]
    shown = lane_call(qtbot, window.lane, lambda ctx: ops.preview(ctx, ids=[sid], limit=PREVIEW_EXAMPLES))  # what the page shows for the entry
    assert "[Person A] moved my shift twice" in shown and "[Person A] never asked." in shown
    assert "Siobh" not in shown and "SIOBH" not in shown

    window.lock()
    assert page.names.toPlainText() == ""
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: page.names.toPlainText() == "Siobhán O’Brien\nMaria Lopez", timeout=WAIT_MS)


def progress(step: int, total: int, loss: float, eta_s: float) -> Progress:
    return Progress(step, total, epoch=step / total, loss=loss, lr=1e-4, tokens_per_s=100.0, eta_s=eta_s)


def sealed(name: str) -> Sealed:
    return Sealed(name, {"adapter": name})


def fake_training(ctx, *, model, cancel, steps=40, resume=False, **_settings):
    assert ctx.journal is not None  # the vault lane's journal, through the model worker
    for step in range(1, steps + 1):
        cancel.raise_if_cancelled()
        yield progress(step, steps, 2.0 / step, (steps - step) * 0.5)
        if step % 10 == 0:
            yield EvalDone(step // 10, 2.2 / step)
    return sealed("adapter-1")


def test_train_page_shows_progress_the_loss_curve_and_can_cancel(qtbot, window):
    page = window.train
    page.set_source(fake_training)
    assert page.train_button.isEnabled()
    with qtbot.waitSignal(page.trained, timeout=WAIT_MS):
        page.train_button.click()
    assert page.progress.value() == page.progress.maximum() == 40
    assert len(page.plot.train) == 40 and len(page.plot.eval) == 4
    assert page.plot.train[-1][1] < page.plot.train[0][1]
    assert "adapter-1" in page.status.text() and page.history.count() == 1

    stopped = []
    page.set_source(lambda ctx, **kw: fake_training(ctx, steps=100_000, **kw))
    page.start()
    page.runner.yielded.connect(lambda ev: page.cancel() if isinstance(ev, Progress) and ev.step == 5 else None)
    page.runner.cancelled.connect(lambda: stopped.append(True))
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert stopped and "Stopped" in page.status.text()
    assert page.train_button.isEnabled() and not page.cancel_button.isEnabled()


def test_train_page_lists_runs_offers_resume_and_asks_before_downloading(qtbot, window):
    from localtune.services import training
    from localtune.services.adapters import AdapterStore
    from localtune.ui.dialogs.download import DownloadDialog

    page = window.train
    meta = {"base_model": "starter", "examples": 302, "metrics": {"steps": 152, "train_seconds": 2400,
                                                                  "eval_loss": 2.61}}
    lane_call(qtbot, window.lane, lambda ctx: (
        ctx.vault.put_blob(AdapterStore.blob("starter-v1"), "adapter", b"weights", meta),
        ctx.vault.put_blob(training.CHECKPOINT, "checkpoint", b"state", {"step": 7, "model": "starter"})))
    page.on_unlocked()
    qtbot.waitUntil(lambda: page.resume_button.isVisibleTo(page), timeout=WAIT_MS)
    assert page.resume_button.text() == "Resume from step 7"
    assert page.history.item(0).text().startswith("starter-v1 · ")
    assert "302 examples · 152 steps · 40 min · held-out loss 2.61" in page.history.item(0).text()

    calls = []

    def recording(ctx, *, model, cancel, resume=False, **_settings):
        calls.append((model, resume))
        yield progress(1, 1, 1.0, 0.0)
        return sealed("starter-v2")

    page.set_source(recording)
    with qtbot.waitSignal(page.trained, timeout=WAIT_MS):
        page.resume_button.click()
    assert calls == [(None, True)]  # the interrupted run's model (the starter), resumed

    window.lock()
    settle(qtbot, window)
    assert page.history.item(0).text() == "No training runs yet." and not page.resume_button.isVisibleTo(page)

    dialog = DownloadDialog(window)
    assert not dialog.download.isEnabled() and "huggingface.co" in dialog.consent.text()
    dialog.hub_id.setText("not a hub id")
    assert not dialog.download.isEnabled()
    dialog.hub_id.setText("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert dialog.download.isEnabled()
    assert "HuggingFaceTB/SmolLM2-360M-Instruct" in dialog.consent.text()
    assert "Nothing from your journal is sent" in dialog.consent.text()


SHARES = {"reasonable": 0.2, "problematic": 0.5, "mixed": 0.3}


def fake_compare(ctx, *, situation, adapter, cancel, **_steering):
    for column, label in (("base", "mixed"), ("few_shot", "problematic"), ("tuned", "problematic")):
        words = f"Reading of the {column} model about {situation[:10]}".split()
        for w in words:
            cancel.raise_if_cancelled()
            yield Piece(column, w + " ")
        notes = ("The text says \u201creasonable\u201d, but ...",) if column == "tuned" else ()
        yield Analysis(column, label, " ".join(words), probabilities=SHARES, notes=notes)


def looping_compare(ctx, *, situation, adapter, cancel, **_steering):
    for _ in range(400):
        cancel.raise_if_cancelled()
        yield Piece("base", "The plan was to take on a new team, and ")


def test_compare_streams_three_columns_and_copies_markdown(qtbot, window):
    page = window.compare
    assert not page.notice.isVisibleTo(page)  # it speaks only when a comparison fails
    page.set_source(fake_compare)
    window.journal.table.selectRow(0)
    qtbot.waitUntil(lambda: window.journal.selected_id() is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.journal.model.scenario(window.journal.selected_id()) is not None, timeout=WAIT_MS)
    page.pick_entry.emit()
    assert page.situation.toPlainText()
    with qtbot.waitSignal(page.runner.finished if page.runner else page.compare_button.clicked, timeout=WAIT_MS):
        page.compare_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    for key, label in (("base", "mixed"), ("few_shot", "problematic"), ("tuned", "problematic")):
        column = page.columns[key]
        assert column.text.toPlainText().startswith(f"Reading of the {key} model")
        assert column.badge.assessment == label
        assert column.bar.isVisibleTo(page) and column.shares.text() == "reasonable 20% · problematic 50% · mixed 30%"
    assert page.columns["tuned"].notes.isVisibleTo(page) and "reasonable" in page.columns["tuned"].notes.text()
    assert not page.columns["base"].notes.isVisibleTo(page)
    page.copy_markdown()
    copied = QApplication.clipboard().text()
    assert "## Tuned: problematic (reasonable 20% · problematic 50% · mixed 30%)" in copied and "## Situation" in copied

    page.set_source(looping_compare)  # a reading that loops is named while it streams, and Stop is offered
    page.compare_button.click()
    qtbot.waitUntil(lambda: "repeating itself" in page.columns["base"].notes.text(), timeout=WAIT_MS)
    assert "Stop" in page.columns["base"].notes.text()
    page.cancel()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)

    copy_sensitive("secret analysis", clear_after_ms=50)
    assert QApplication.clipboard().text() == "secret analysis"
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == "", timeout=WAIT_MS)


def test_settings_advanced_keeps_the_decoding_in_the_vault(qtbot, window):
    from localtune.services import reading

    page = window.settings
    settle(qtbot, window)
    defaults = reading.decoding_defaults()
    assert page.decoding["repetition_penalty"].value() == pytest.approx(defaults["repetition_penalty"])
    page.decoding["repetition_penalty"].setValue(1.4)
    page.decoding["temperature"].setValue(0.7)
    settle(qtbot, window)
    assert lane_call(qtbot, window.lane, lambda ctx: reading.decoding_settings(ctx.vault)) == {
        "repetition_penalty": pytest.approx(1.4), "temperature": pytest.approx(0.7)}
    window.lock()
    settle(qtbot, window)
    unlock(qtbot, window)
    assert page.decoding["temperature"].value() == pytest.approx(0.7)  # read back from the vault
    page.decoding_reset.click()
    settle(qtbot, window)
    assert lane_call(qtbot, window.lane, lambda ctx: reading.decoding_settings(ctx.vault)) == {}


def test_settings_change_the_passphrase_and_make_a_backup(qtbot, window, tmp_path):
    page = window.settings
    page.current.setText("wrong one")
    page.new.first.setText("a new long passphrase")
    page.new.second.setText("a new long passphrase")
    assert page.change_button.isEnabled()
    page.change_button.click()
    qtbot.waitUntil(lambda: "Wrong passphrase" in page.passphrase_result.text(), timeout=WAIT_MS)

    page.current.setText(PASS)
    page.change_button.click()
    qtbot.waitUntil(lambda: "Passphrase changed" in page.passphrase_result.text(), timeout=WAIT_MS)

    backup = tmp_path / "journal.ltbackup"
    page.backup_path.edit.setText(str(backup))
    page.backup_pass.first.setText("backup passphrase")
    page.backup_pass.second.setText("backup passphrase")
    page.backup_button.click()
    qtbot.waitUntil(lambda: "backup written" in page.backup_result.text(), timeout=WAIT_MS)
    # The backup is encrypted: a journal entry's text is not in it (a whole phrase: a few bytes alone turn up in
    # random ciphertext by chance).
    model = window.journal.model
    qtbot.waitUntil(lambda: model.scenario(model.id_at(0)) is not None, timeout=WAIT_MS)
    phrase = model.scenario(model.id_at(0)).situation[:40]
    assert len(phrase) == 40 and backup.exists() and phrase.encode() not in backup.read_bytes()

    # Again onto the same file: the first click asks, the second replaces the earlier backup.
    first = backup.read_bytes()
    page.backup_pass.first.setText("backup passphrase")  # cleared after each backup
    page.backup_pass.second.setText("backup passphrase")
    page.backup_button.click()
    assert "already exists" in page.backup_result.text() and backup.read_bytes() == first
    page.backup_button.click()
    qtbot.waitUntil(lambda: "backup written" in page.backup_result.text(), timeout=WAIT_MS)
    assert backup.read_bytes() != first  # a new salt and key: a new file
    # A file localtune did not write is never replaced, even when confirmed.
    notes = tmp_path / "notes.txt"
    notes.write_text("my own notes")
    page.backup_path.edit.setText(str(notes))
    page.backup_pass.first.setText("backup passphrase")
    page.backup_pass.second.setText("backup passphrase")
    page.backup_button.click()
    page.backup_button.click()
    qtbot.waitUntil(lambda: "localtune did not write it" in page.backup_result.text(), timeout=WAIT_MS)
    assert notes.read_text() == "my own notes"

    window.lock()
    settle(qtbot, window)
    unlock(qtbot, window, "a new long passphrase")
    assert window.is_unlocked


GOLD = ["problematic"] * 12 + ["reasonable"] * 10 + ["mixed"] * 8
PREDICTIONS = {"base": ["problematic"] * 30,
               "few_shot": GOLD[:16] + ["problematic"] * 14,
               "tuned": GOLD[:26] + ["mixed", "problematic", "reasonable", "problematic"]}


def fake_evaluation(ctx, *, cancel):
    from localtune.dataset import metrics

    for column in PREDICTIONS:
        for done in range(len(GOLD) + 1):
            cancel.raise_if_cancelled()
            yield Scoring(column, done, len(GOLD))
    industries = ["Retail"] * 15 + ["Software"] * 15
    yield Evaluation((), {}, metrics.compare(GOLD, PREDICTIONS, industries=industries, viewpoints=["employee"] * 30))


def cell(table, row, column):
    return table.item(row, column).text()


def test_evaluate_page_shows_verdict_chart_confusion_industries_and_history(qtbot, window):
    from localtune.services import evaluation

    page = window.evaluate
    page.set_source(fake_evaluation)
    page.run_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert "Tuning pays off" in page.verdict.text()
    assert "answers 'problematic' to (almost) everything" in page.notes.text()  # the base model's habit
    assert [cell(page.table, r, 1) for r in range(3)] == ["40%", "53%", "90%"]
    assert cell(page.table, 3, 0) == "Baseline: always 'problematic'" and cell(page.table, 3, 1) == "40%"
    assert [title for title, _ in page.chart.groups] == ["Generic (base model)", "Few-shot", "Tuned"]
    base = page.confusion_tables["base"]  # rows true, columns predicted; base says "problematic" to all
    labels = [base.horizontalHeaderItem(c).text() for c in range(1, 4)]
    column = labels.index("problematic") + 1
    assert sorted(int(cell(base, r, column)) for r in range(3)) == [8, 10, 12]
    rows = {cell(page.industry, r, 0): [cell(page.industry, r, c) for c in range(1, 5)] for r in range(2)}
    assert rows["Retail"] == ["15", "80%", "100%", "100%"] and rows["Software"][0] == "15"

    # Stored results per adapter: the history lists versions, newest first, and picking one shows it.
    older = {**page.result, "adapter": "starter-v1", "evaluated_at": "2026-11-01T10:00:00+00:00"}
    older["tuned"] = {**older["tuned"], "accuracy": 0.5, "macro_f1": 0.41}
    newer = {**page.result, "adapter": "starter-v2", "evaluated_at": "2026-11-20T10:00:00+00:00"}
    lane_call(qtbot, window.lane, lambda ctx: ctx.vault.set_setting(
        evaluation.EVALUATIONS, {"starter-v1": older, "starter-v2": newer}))
    page.on_unlocked()
    qtbot.waitUntil(lambda: page.versions.rowCount() == 2, timeout=WAIT_MS)
    assert [cell(page.versions, r, 0) for r in range(2)] == ["starter-v2", "starter-v1"]
    page.versions.selectRow(1)
    assert cell(page.table, 2, 1) == "50%" and page.chart.groups[2][1]["macro_f1"] == 0.41

    window.lock()
    settle(qtbot, window)
    assert page.versions.rowCount() == 0 and page.table.rowCount() == 0 and page.result is None


def test_export_asks_before_replacing_and_never_writes_into_the_vault(qtbot, window, tmp_path):
    from localtune.ui.dialogs.import_export import ExportDialog

    dialog = ExportDialog(window.lane)
    qtbot.addWidget(dialog)
    dest = tmp_path / "journal.jsonl"
    dialog.path.edit.setText(str(dest))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.result.text().startswith("Exported"), timeout=WAIT_MS)
    first = dest.read_text()
    assert first.count("\n") >= 10

    dest.write_text(first + "\n")  # mark it, to see whether it is replaced
    dialog.export_button.click()
    assert "already exists" in dialog.result.text() and dest.read_text() == first + "\n"
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.result.text().startswith("Exported"), timeout=WAIT_MS)
    assert dest.read_text() == first

    key_file = window.paths.data / "vault.kdf.json"
    header = key_file.read_bytes()
    dialog.path.edit.setText(str(window.paths.data / "copy.jsonl"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: "Nothing was written" in dialog.result.text(), timeout=WAIT_MS)
    assert "vault folder" in dialog.result.text()
    assert not (window.paths.data / "copy.jsonl").exists() and key_file.read_bytes() == header
