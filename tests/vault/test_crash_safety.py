"""SIGKILL at random moments: acknowledged commits survive, the vault stays whole, one passphrase opens it."""

import random
import signal
import subprocess
import sys
import time

import pytest

from localtune.errors import WrongPassphraseError
from localtune.journal.repository import Journal
from localtune.vault import Vault
from lt_testing import PASS

WRITER = r"""
import sys
from localtune.journal import Perspective, Scenario
from localtune.journal.repository import Journal
from localtune.paths import resolve
from localtune.vault import Vault

vault = Vault.open(resolve(sys.argv[1]), sys.argv[2])
journal = Journal(vault)
first = journal.add(Scenario(situation="counter 0"))
i = int(sys.argv[3])
while True:
    new_id = journal.add(Scenario(situation=f"entry {i} " + "words " * (i % 50),
                                  perspectives=[Perspective("employee", "mixed", "a" * (i % 700))]))
    edited = journal.get(first)
    edited.situation = f"counter {i}"
    journal.update(edited)
    print(i, flush=True)  # acknowledged: both commits returned
    i += 1
"""

REKEYER = r"""
import sys
from localtune.paths import resolve
from localtune.vault import Vault

passes = [sys.argv[2], sys.argv[3]]
current = 0
vault = Vault.open(resolve(sys.argv[1]), passes[current])
while True:
    vault.change_passphrase(passes[1 - current])
    current = 1 - current
    print(current, flush=True)
"""


def _run_and_kill(script, args, min_lines, rng):
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    target = min_lines + rng.randrange(0, 25)
    while len(lines) < target and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    time.sleep(rng.random() * 0.05)  # land somewhere inside the next write
    proc.send_signal(signal.SIGKILL)
    lines += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.wait()
    return lines


@pytest.mark.slow
def test_sigkill_while_writing_loses_no_acknowledged_commit(paths):
    Vault.create(paths, PASS).lock()
    rng = random.Random(1234)
    next_i = 1
    for _ in range(20):
        acked = _run_and_kill(WRITER, [str(paths.data.parent), PASS, str(next_i)], 1, rng)
        with Vault.open(paths, PASS) as vault:
            assert vault.integrity_problems() == []
            journal = Journal(vault)
            for i in acked:
                assert journal.ids(f"entry {i}", limit=5), f"acknowledged entry {i} is missing"
            counters = [int(s.situation.split()[1]) for s in journal.search("counter", limit=100)]
            if acked:
                assert max(counters) >= int(acked[-1])
            next_i = max([next_i, *map(int, acked)]) + 1


@pytest.mark.slow
def test_sigkill_during_passphrase_changes_leaves_exactly_one_passphrase(paths):
    v = Vault.create(paths, PASS)
    v.set_setting("survives", True)
    v.lock()
    passes = [PASS, "the other passphrase"]
    current = 0
    rng = random.Random(99)
    for _ in range(10):
        acked = _run_and_kill(REKEYER, [str(paths.data.parent), passes[current], passes[1 - current]], 1, rng)
        if acked:  # the writer counts from the passphrase it was given
            current = current if int(acked[-1]) == 0 else 1 - current
        opened = []
        for index in (current, 1 - current):
            try:
                with Vault.open(paths, passes[index]) as vault:
                    assert vault.integrity_problems() == []
                    assert vault.get_setting("survives") is True
                opened.append(index)
            except WrongPassphraseError:
                pass
        assert len(opened) == 1, "exactly one of the two passphrases must open the vault"
        current = opened[0]
