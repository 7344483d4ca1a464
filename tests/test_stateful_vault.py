"""A stateful property test: random sequences of add/edit/delete/search/lock/unlock/rekey/backup/restore
against a real vault, checked after every step against a plain dict of what the journal must hold.

CI runs a modest number of sequences; the audit (audit/run_audit.py) sets LOCALTUNE_STATEFUL_EXAMPLES
to run many more. Each Argon2 derivation costs ~0.5-1 s, so derivations for a salt already seen are
memoised here (new salts from rekey and backup still pay the full price), and the vault lives in /dev/shm
where there is one (fsync is what crash tests measure, not this); neither changes any vault logic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from localtune.errors import InvalidInputError, VaultLockedError, WrongPassphraseError
from localtune.journal import Perspective, Scenario
from localtune.journal.repository import Journal
from localtune.paths import resolve
from localtune.vault import Vault, kdf
from lt_testing import memoised_derive

EXAMPLES = int(os.environ.get("LOCALTUNE_STATEFUL_EXAMPLES", "5"))
STEPS = int(os.environ.get("LOCALTUNE_STATEFUL_STEPS", "20"))
RAM = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No word is a prefix of another, so the prefix match on the last search word is exact.
WORDS = ["kiwi", "mango", "plum", "fig", "lime", "pear", "olive", "quince"]
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
passphrases = st.sampled_from(["first passphrase", "second passphrase", "third passphrase", "ünïcode ✓ phrase"])

class VaultMachine(RuleBasedStateMachine):
    scenarios = Bundle("scenarios")
    backups = Bundle("backups")

    def __init__(self):
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="lt-stateful-", dir=RAM))
        self.paths = resolve(self.root / "home").ensure()
        self.passphrase = "first passphrase"
        self.vault: Vault | None = Vault.create(self.paths, self.passphrase)
        self.model: dict[int, str] = {}  # id -> situation: what the journal must hold
        self.backup_count = 0

    @property
    def journal(self) -> Journal:
        return Journal(self.vault)

    def teardown(self):
        if self.vault is not None:
            self.vault.lock()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- journal --------------------------------------------------------------------------------------------

    @precondition(lambda self: self.vault is not None)
    @rule(target=scenarios, text=texts)
    def add(self, text):
        new_id = self.journal.add(Scenario(situation=text, perspectives=[Perspective("employee", "mixed", "why")]))
        assert new_id not in self.model
        self.model[new_id] = text
        return new_id

    @precondition(lambda self: self.vault is not None)
    @rule(scenario_id=scenarios, text=texts)
    def edit(self, scenario_id, text):
        if scenario_id not in self.model:
            return  # deleted, or not in the restored backup
        s = self.journal.get(scenario_id)
        s.situation = text
        self.journal.update(s)
        self.model[scenario_id] = text

    @precondition(lambda self: self.vault is not None)
    @rule(scenario_id=consumes(scenarios))
    def delete(self, scenario_id):
        if scenario_id in self.model:
            self.journal.delete(scenario_id)
            del self.model[scenario_id]

    @precondition(lambda self: self.vault is not None)
    @rule(word=st.sampled_from(WORDS))
    def search(self, word):
        expected = {i for i, text in self.model.items() if word in text.split()}
        assert set(self.journal.ids(word)) == expected

    # -- lock, passphrase, backup ---------------------------------------------------------------------------

    @precondition(lambda self: self.vault is not None)
    @rule()
    def lock(self):
        old = self.vault
        old.lock()
        self.vault = None
        with pytest.raises(VaultLockedError):
            Journal(old).count()  # the old handle is dead, not merely forgotten

    @precondition(lambda self: self.vault is None)
    @rule(wrong=passphrases)
    def unlock(self, wrong):
        if wrong != self.passphrase:
            with pytest.raises(WrongPassphraseError):
                Vault.open(self.paths, wrong)
        self.vault = Vault.open(self.paths, self.passphrase)
        assert self.vault.integrity_problems() == []

    @precondition(lambda self: self.vault is not None)
    @rule(new=passphrases)
    def rekey(self, new):
        if new == self.passphrase:  # refused: it would only re-encrypt everything under the same passphrase
            with pytest.raises(InvalidInputError, match="same as the current one"):
                self.vault.change_passphrase(new)
            return
        self.vault.change_passphrase(new)
        self.passphrase = new

    @precondition(lambda self: self.vault is not None)
    @rule(target=backups, passphrase=passphrases)
    def backup(self, passphrase):
        self.backup_count += 1
        dest = self.root / f"b{self.backup_count}.ltbackup"
        self.vault.backup(dest, passphrase)
        return dest, passphrase, dict(self.model)

    @precondition(lambda self: self.vault is None)
    @rule(made=backups)
    def restore(self, made):
        dest, passphrase, snapshot = made
        self.vault = Vault.restore(self.paths, dest, passphrase, self.passphrase)
        self.model = dict(snapshot)  # the live passphrase stays; the content is the backup's

    @invariant()
    def journal_matches_the_model(self):
        if self.vault is None:
            return
        assert {s.id: s.situation for s in self.journal.iter_all()} == self.model


@pytest.fixture(autouse=True)
def _memoised_argon2(monkeypatch):
    monkeypatch.setattr(kdf.KeySlot, "derive", memoised_derive)


@pytest.mark.slow
def test_vault_state_machine():
    run = VaultMachine.TestCase
    run.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                            suppress_health_check=list(HealthCheck))
    run().runTest()
