"""The training set is built once per revision of the vault: reused until the journal or the names change,
never across a lock, and the same as a fresh build."""

from localtune.dataset.checks import readiness
from localtune.services import training
from localtune.services.journal import load_demo_journal, redactor_of, set_redaction_names
from lt_testing import PASS


def test_the_training_set_is_reused_until_a_write_and_matches_a_fresh_build(journal):
    load_demo_journal(journal)
    report = training.check(journal)
    assert training.check(journal) is report and training.dataset(journal).split.train is report.train
    fresh = readiness(list(journal.iter_all()), redactor=redactor_of(journal.vault))
    assert fresh.to_dict() == report.to_dict() and fresh.train == report.train

    first = journal.get(journal.ids()[0])
    first.use = "exclude"  # an edit: the next check sees it
    journal.update(first)
    after_edit = training.check(journal)
    assert after_edit is not report and after_edit.example_count == report.example_count - len(first.perspectives)

    set_redaction_names(journal.vault, ["Quentin Marsh"])  # a names change is a write too
    assert training.check(journal) is not after_edit


def test_a_passphrase_change_and_a_lock_drop_the_built_set(journal, vault, paths):
    from localtune.journal.repository import Journal
    from localtune.vault import Vault

    load_demo_journal(journal)
    report = training.check(journal)
    before = vault.revision
    vault.change_passphrase(PASS + " 2")  # a new connection: its row counter starts again
    assert vault.revision != before and "dataset" not in vault.session_cache
    assert training.check(journal) is not report
    vault.lock()
    assert vault.session_cache == {}
    with Vault.open(paths, PASS + " 2") as again:
        assert training.check(Journal(again)).to_dict() == report.to_dict()
