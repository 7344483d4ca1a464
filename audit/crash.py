"""Crash safety at scale: SIGKILL a writer at random moments, hundreds of times, and check the vault after each.

Usage: python audit/crash.py WORKDIR [--scale 1.0]; prints one JSON line per scenario.

Workers are forked from this process (so a kill cycle costs milliseconds, not an interpreter start); the
parent holds no open connection when it forks. Argon2 derivations for a salt already seen are memoised in
this process: the vault logic under test is unchanged, and every new salt (rekey, backup) is still derived
for real. Each worker reports a commit only after the call that made it returned ("acknowledged").
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from localtune import privacy

privacy.harden()

from localtune.errors import WrongPassphraseError  # noqa: E402 - after harden(), like every entry point
from localtune.journal import Perspective, Scenario  # noqa: E402
from localtune.journal.io import parse_jsonl  # noqa: E402
from localtune.journal.repository import Journal  # noqa: E402
from localtune.paths import resolve  # noqa: E402
from localtune.services.journal import import_parsed  # noqa: E402
from localtune.vault import Vault, kdf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from lt_testing import memoised_derive  # noqa: E402 - the tests' helper, shared

PASS, OTHER, BACKUP_PASS = "audit passphrase one", "audit passphrase two", "audit backup passphrase"
kdf.KeySlot.derive = memoised_derive


def run_and_kill(work, rng: random.Random, *, acks: int, max_delay: float, deadline_s: float = 60) -> list[str]:
    """Fork `work(ack)`, wait for `acks` (+ a random few) acknowledgements, sleep a random moment, SIGKILL it.

    Returns every acknowledgement the worker wrote before it died.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(r)
        try:
            work(lambda msg: os.write(w, f"{msg}\n".encode()))
        finally:
            os._exit(3)  # only reached if the worker stops by itself
    os.close(w)
    data, target, end = b"", acks + rng.randrange(0, 4), time.monotonic() + deadline_s
    while data.count(b"\n") < target and time.monotonic() < end:
        ready, _, _ = select.select([r], [], [], 0.5)
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    time.sleep(rng.random() * max_delay)  # land somewhere inside the next write
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise RuntimeError(f"the worker ended before the kill (status {status}): the cycle proved nothing")
    return data.decode().split()


def _home(work: Path, name: str):
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    return resolve(folder).ensure()


def _check(vault: Vault, problems: list[str], where: str) -> None:
    found = vault.integrity_problems()
    if found:
        problems.append(f"{where}: integrity {found[:2]}")


# -- scenarios ------------------------------------------------------------------------------------------


def writes(work: Path, cycles: int, rng: random.Random) -> dict:
    """Adds and edits: every acknowledged add is there; the edited counter is at least the last acknowledged."""
    paths = _home(work, "writes")
    with Vault.create(paths, PASS) as v:
        counter = Journal(v).add(Scenario(situation="counter 0"))
    problems, acked_total, next_i = [], 0, 1

    def work_fn(start):
        def run(ack):
            journal = Journal(Vault.open(paths, PASS))
            i = start
            while True:
                journal.add(Scenario(situation=f"wentry{i}x " + "words " * (i % 40),
                                     perspectives=[Perspective("employee", "mixed", "a" * (i % 900))]))
                s = journal.get(counter)
                s.situation = f"counter {i}"
                journal.update(s)
                ack(i)
                i += 1
        return run

    for cycle in range(cycles):
        acked = [int(a) for a in run_and_kill(work_fn(next_i), rng, acks=1, max_delay=0.03)]
        acked_total += len(acked)
        with Vault.open(paths, PASS) as v:
            _check(v, problems, f"cycle {cycle}")
            journal = Journal(v)
            missing = [i for i in acked if not journal.ids(f"wentry{i}x")]
            if missing:
                problems.append(f"cycle {cycle}: acknowledged entries missing {missing[:5]}")
            shown = int(journal.get(counter).situation.split()[1])
            if acked and shown < acked[-1]:
                problems.append(f"cycle {cycle}: edit {acked[-1]} acknowledged, counter shows {shown}")
        next_i = max([next_i - 1, *acked]) + 2  # skip the number that may have been in flight
    return {"kills": cycles, "acknowledged": acked_total, "problems": problems}


def imports(work: Path, cycles: int, rng: random.Random, batch: int = 25) -> dict:
    """Imports: each batch is all there or not there at all; acknowledged batches are all there."""
    paths = _home(work, "imports")
    Vault.create(paths, PASS).lock()
    problems, acked_total, next_n = [], 0, 1

    def text(n):
        return "\n".join(json.dumps({"situation": f"batch{n}x item {k} " + "text " * k, "industry": "Retail",
                                     "perspectives": [{"viewpoint": "employee", "assessment": "mixed",
                                                       "analysis": f"row {k}"}]}) for k in range(batch))

    def work_fn(start):
        def run(ack):
            journal = Journal(Vault.open(paths, PASS))
            n = start
            while True:
                import_parsed(journal, parse_jsonl(text(n).splitlines()), "audit")
                ack(n)
                n += 1
        return run

    for cycle in range(cycles):
        acked = [int(a) for a in run_and_kill(work_fn(next_n), rng, acks=1, max_delay=0.05)]
        acked_total += len(acked)
        last = max([next_n, *acked]) + 1
        with Vault.open(paths, PASS) as v:
            _check(v, problems, f"cycle {cycle}")
            journal = Journal(v)
            for n in range(next_n, last + 1):
                found = len(journal.ids(f"batch{n}x"))
                if found not in (0, batch) or (n in acked and found != batch):
                    problems.append(f"cycle {cycle}: batch {n} has {found} of {batch} rows (acked: {n in acked})")
        next_n = last + 1
    return {"kills": cycles, "acknowledged": acked_total, "problems": problems}


def rekeys(work: Path, cycles: int, rng: random.Random) -> dict:
    """Passphrase changes: exactly one of old/new opens the vault, which is whole and holds its data."""
    paths = _home(work, "rekeys")
    with Vault.create(paths, PASS) as v:
        Journal(v).add_many(Scenario(situation=f"keep {k}") for k in range(50))
        v.set_setting("survives", True)
    passes, current, problems, acked_total = [PASS, OTHER], 0, [], 0

    def work_fn(start):
        def run(ack):
            vault, now = Vault.open(paths, passes[start]), start
            while True:
                vault.change_passphrase(passes[1 - now])
                now = 1 - now
                ack(now)
        return run

    for cycle in range(cycles):
        acked = run_and_kill(work_fn(current), rng, acks=0, max_delay=1.5)
        acked_total += len(acked)
        opened = []
        for index in (0, 1):
            try:
                with Vault.open(paths, passes[index]) as v:
                    _check(v, problems, f"cycle {cycle}")
                    if v.get_setting("survives") is not True or Journal(v).count() != 50:
                        problems.append(f"cycle {cycle}: data changed by an interrupted rekey")
                opened.append(index)
            except WrongPassphraseError:
                pass
        if len(opened) != 1:
            problems.append(f"cycle {cycle}: {len(opened)} passphrases open the vault")
            break
        current = opened[0]
    return {"kills": cycles, "acknowledged": acked_total, "problems": problems}


def backups(work: Path, cycles: int, rng: random.Random) -> dict:
    """Backups: a file under its final name is a complete, verifiable backup; acknowledged ones exist."""
    paths = _home(work, "backups")
    out = work / "backups-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    with Vault.create(paths, PASS) as v:
        Journal(v).add_many(Scenario(situation=f"backed up {k} " + "text " * 200) for k in range(120))
    problems, acked_total, verified = [], 0, 0

    def work_fn(cycle):
        def run(ack):
            vault, n = Vault.open(paths, PASS), 0
            while True:
                vault.backup(out / f"c{cycle}-{n}.ltbackup", BACKUP_PASS)
                ack(n)
                n += 1
        return run

    for cycle in range(cycles):
        acked = [int(a) for a in run_and_kill(work_fn(cycle), rng, acks=1, max_delay=1.2)]
        acked_total += len(acked)
        present = sorted(out.glob(f"c{cycle}-*.ltbackup"), key=lambda p: int(p.stem.split("-")[1]))
        numbers = {int(p.stem.split("-")[1]) for p in present}
        if set(acked) - numbers:
            problems.append(f"cycle {cycle}: acknowledged backups missing {sorted(set(acked) - numbers)}")
        unacked = [p for p in present if int(p.stem.split("-")[1]) not in acked]
        for p in (present[-1:] if present else []) + unacked:  # the newest, and any the worker never reported
            scratch = _home(work, "restore-check")
            try:
                with Vault.restore(scratch, p, BACKUP_PASS) as v:
                    if Journal(v).count() != 120 or v.integrity_problems():
                        problems.append(f"cycle {cycle}: {p.name} is incomplete")
                verified += 1
            except Exception as exc:  # noqa: BLE001 - any failure to restore is the finding
                problems.append(f"cycle {cycle}: {p.name} does not restore: {exc}")
        with Vault.open(paths, PASS) as v:
            _check(v, problems, f"cycle {cycle}")
    partial = len(list(out.glob(".*partial")))
    return {"kills": cycles, "acknowledged": acked_total, "verified_backups": verified,
            "staging_files_left": partial, "problems": problems}


TRAINER = r"""
import sys
from localtune import privacy
privacy.harden()
from localtune.engine.train import TrainConfig
from localtune.journal.repository import Journal
from localtune.paths import resolve
from localtune.services.training import CHECKPOINT, train_adapter
from localtune.vault import Vault

paths = resolve(sys.argv[1])
vault = Vault.open(paths, sys.argv[2])
config = TrainConfig(max_steps=int(sys.argv[3]), batch_size=2, max_seq_len=96, checkpoint_every_s=0.001,
                     eval_each_epoch=False)
seen = None
for event in train_adapter(vault, Journal(vault), paths, config=config, resume=sys.argv[4] == "resume"):
    blobs = vault.list_blobs("checkpoint")
    step = blobs[0].meta["step"] if blobs else None
    if step is not None and step != seen:
        seen = step
        print(step, flush=True)  # acknowledged: this checkpoint is committed
    if type(event).__name__ == "Sealed":
        print("sealed", event.name, flush=True)
"""


def checkpoints(work: Path, cycles: int, rng: random.Random, model_cache: Path | None) -> dict:
    """Training checkpoints: killed mid-run, the vault holds a readable checkpoint that a resumed run finishes."""
    from localtune.services.journal import load_demo_journal
    from localtune.services.training import CHECKPOINT

    paths = _home(work, "checkpoints")
    if model_cache is not None and model_cache.is_dir():  # the public base model, converted once per audit
        shutil.copytree(model_cache, paths.models, dirs_exist_ok=True)
    with Vault.create(paths, PASS) as v:
        load_demo_journal(Journal(v))
    problems, acked_total, last = [], 0, 0
    cmd = [sys.executable, "-c", TRAINER, str(paths.data.parent), PASS]
    for cycle in range(cycles):
        proc = subprocess.Popen([*cmd, "12", "resume" if last else "new"], stdout=subprocess.PIPE, text=True,
                                stderr=subprocess.DEVNULL)
        acked = []
        end = time.monotonic() + 600
        while len(acked) < 1 + rng.randrange(0, 3) and time.monotonic() < end:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line.split()[0]))
        time.sleep(rng.random() * 2.0)
        proc.send_signal(signal.SIGKILL)
        acked += [int(x.split()[0]) for x in proc.stdout.read().splitlines() if x.split()[0].isdigit()]
        proc.wait()
        acked_total += len(acked)
        if not acked:
            problems.append(f"cycle {cycle}: no checkpoint was acknowledged before the kill")
        with Vault.open(paths, PASS) as v:
            _check(v, problems, f"cycle {cycle}")
            try:
                info = v.blob_info(CHECKPOINT)
                v.read_blob(CHECKPOINT)  # checks the stored checksum
                if acked and info.meta["step"] < acked[-1]:
                    problems.append(f"cycle {cycle}: checkpoint step {info.meta['step']} < acknowledged {acked[-1]}")
                last = info.meta["step"]
            except Exception as exc:  # noqa: BLE001
                problems.append(f"cycle {cycle}: checkpoint unreadable: {exc}")
    try:
        finish = subprocess.run([*cmd, "12", "resume"], capture_output=True, text=True, timeout=1800)
        if "sealed" not in finish.stdout:
            problems.append(f"resume after the kills did not finish: {finish.stderr[-500:]}")
    except subprocess.TimeoutExpired:
        problems.append("resume after the kills took over 30 minutes")
    return {"kills": cycles, "acknowledged": acked_total, "resumed_from_step": last, "problems": problems}


def main(argv: list[str]) -> int:
    work = Path(argv[0])
    scale = float(argv[argv.index("--scale") + 1]) if "--scale" in argv else 1.0
    cache = Path(argv[argv.index("--model-cache") + 1]) if "--model-cache" in argv else None
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(int(os.environ.get("AUDIT_SEED", "20261126")))
    plan = [("writes", writes, 200), ("imports", imports, 50), ("rekeys", rekeys, 25), ("backups", backups, 20)]
    for name, fn, n in plan:
        t0 = time.monotonic()
        result = fn(work, max(1, round(n * scale)), rng)
        print(json.dumps({"scenario": name, "seconds": round(time.monotonic() - t0, 1), **result}), flush=True)
    if "--no-training" not in argv:
        t0 = time.monotonic()
        result = checkpoints(work, max(1, round(2 * scale)), rng, cache)
        print(json.dumps({"scenario": "training checkpoints", "seconds": round(time.monotonic() - t0, 1),
                          **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
