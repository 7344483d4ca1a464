"""Nothing lost, whatever the user types: each hole a hostile test found, tried again as a user hits it (the real
CLI in its own process, a real vault), and what the user must see afterwards: a clear message, and the journal
intact. The numbers are the items of the issue "Nothing lost, whatever the user types"."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from lt_testing import run_cli

PW = "cli passphrase 1\n"
BACKUP_PW = "backup passphrase\n"
SITUATION = "My lead moved the release date without asking anyone."


def init(home, *, with_entry=True):
    r = run_cli(["init"], home=home, stdin=PW * 2)
    assert r.returncode == 0, r.stderr
    if with_entry:
        r = run_cli(["add", "--situation", SITUATION, "--viewpoint", "employee", "--assessment", "problematic"],
                    home=home, stdin=PW)
        assert r.returncode == 0, r.stderr


def situations(home, passphrase=PW):
    r = run_cli(["list", "--json"], home=home, stdin=passphrase)
    assert r.returncode == 0, r.stderr
    return [s["situation"] for s in json.loads(r.stdout)]


def vault_bytes(home):
    data = home / "data"
    return {name: (data / name).read_bytes() for name in ("vault.db", "vault.kdf.json")}


def one_line_error(r, *words):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "unexpected error" not in r.stderr, r.stderr
    for word in words:
        assert word in r.stderr, (word, r.stderr)


# -- 1: export and backup never destroy the vault or anything else ------------------------------------------

def test_1_export_and_backup_refuse_the_vault_folder_devices_and_existing_files(tmp_path):
    home = tmp_path / "home"
    init(home)
    data = home / "data"
    before = vault_bytes(home)
    link = tmp_path / "innocent-looking"
    link.symlink_to(data)
    backup_in = PW + BACKUP_PW * 2
    for args, stdin in [
        (["export", str(data / "vault.kdf.json"), "--yes"], PW),  # the mistyped path of the issue (.json is JSONL)
        (["export", str(data / "copy.jsonl"), "--yes"], PW),
        (["export", str(link / "copy.csv"), "--yes"], PW),
        (["backup", str(data / "vault.db")], backup_in),
        (["backup", str(data / "vault.db"), "--overwrite"], backup_in),
        (["backup", str(link / "vault.kdf.json")], backup_in),
    ]:
        one_line_error(run_cli(args, home=home, stdin=stdin), "vault folder", "Nothing was written")
    assert vault_bytes(home) == before
    assert situations(home) == [SITUATION]

    one_line_error(run_cli(["backup", "/dev/null"], home=home, stdin=backup_in), "not a regular file")
    one_line_error(run_cli(["backup", str(tmp_path)], home=home, stdin=backup_in), "folder")
    precious = tmp_path / "notes.jsonl"
    precious.write_text("my own notes, not an export\n")
    for args, stdin in [(["backup", str(precious)], backup_in), (["backup", str(precious), "--overwrite"], backup_in),
                        (["export", str(precious), "--yes"], PW), (["export", str(precious), "--yes", "--overwrite"], PW)]:
        one_line_error(run_cli(args, home=home, stdin=stdin), "already exists")
    assert precious.read_text() == "my own notes, not an export\n"

    # An earlier localtune file is replaced only when the user says so.
    out, backup = tmp_path / "copy.jsonl", tmp_path / "journal.ltbackup"
    assert run_cli(["export", str(out), "--yes"], home=home, stdin=PW).returncode == 0
    assert run_cli(["backup", str(backup)], home=home, stdin=backup_in).returncode == 0
    one_line_error(run_cli(["export", str(out), "--yes"], home=home, stdin=PW), "already exists", "--overwrite")
    one_line_error(run_cli(["backup", str(backup)], home=home, stdin=backup_in), "already exists", "--overwrite")
    assert run_cli(["export", str(out), "--yes", "--overwrite"], home=home, stdin=PW).returncode == 0
    assert run_cli(["backup", str(backup), "--overwrite"], home=home, stdin=backup_in).returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600 and stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert vault_bytes(home) == before


# -- 2: an interrupted change to the same passphrase --------------------------------------------------------

def test_2_same_passphrase_change_is_refused_and_an_interrupted_one_still_opens(tmp_path):
    from localtune.paths import resolve
    from localtune.vault import kdf
    from localtune.vault.store import _connect

    home = tmp_path / "home"
    init(home)
    r = run_cli(["passwd"], home=home, stdin=PW * 3)
    one_line_error(r, "same as the current one")
    assert situations(home) == [SITUATION]

    # The moment the issue found: a change to the same passphrase killed between the rename and the header write.
    # Both slots match the passphrase; only the new one opens the database.
    paths = resolve(home)
    old = kdf.loads(paths.vault_header.read_bytes())[0]
    new, new_key = kdf.new_slot(PW.strip())
    conn = _connect(paths.vault, old.derive(PW.strip()))
    conn.execute(f"PRAGMA rekey = {kdf.sql_key(new_key)}")
    conn.close()
    kdf.write_atomic(paths.vault_header, kdf.dumps([old, new]))
    assert situations(home) == [SITUATION]
    assert len(json.loads(paths.vault_header.read_text())["slots"]) == 1  # the change was finished


# -- 3: CSV import keeps every good row -------------------------------------------------------------------

def test_3_one_bad_csv_row_costs_one_row_and_long_entries_round_trip(tmp_path):
    home = tmp_path / "home"
    init(home, with_entry=False)
    src = tmp_path / "notes.csv"
    src.write_text(
        "situation,viewpoint,assessment\n"
        "first,HR,mixed\n"
        '"he said "hi" to me",HR,mixed\n'
        "fourth,HR,mixed\n"
        '"never closed,HR,mixed\n'
        "sixth,HR,mixed\n"
        f"{'x' * 140_000},HR,reasonable\n"
        "eighth,HR,mixed\n")
    r = run_cli(["import", str(src)], home=home, stdin=PW)
    one_line_error(r, "line 3", "line 5", "nothing was imported")
    r = run_cli(["import", str(src), "--skip-invalid"], home=home, stdin=PW)
    assert r.returncode == 0, r.stderr
    assert "skipped line 3" in r.stderr and "skipped line 5" in r.stderr
    assert "Imported 5 scenario(s); skipped 2 bad row(s)." in r.stdout
    assert sorted(situations(home)) == ["eighth", "first", "fourth", "sixth", "x" * 140_000]

    # Whatever the journal holds comes back from its own CSV export: a 300 000-character entry included.
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"situation": "A very long account. " * 15_000}) + "\n")
    assert run_cli(["import", str(long)], home=home, stdin=PW).returncode == 0
    out = tmp_path / "all.csv"
    assert run_cli(["export", str(out), "--yes"], home=home, stdin=PW).returncode == 0
    other = tmp_path / "other"
    init(other, with_entry=False)
    r = run_cli(["import", str(out)], home=other, stdin=PW)
    assert r.returncode == 0 and "Imported 6" in r.stdout, r.stderr
    assert sorted(situations(other)) == sorted(situations(home))


# -- 5: restore as recovery ----------------------------------------------------------------------------------

def _backup(home, tmp_path):
    backup = tmp_path / "journal.ltbackup"
    r = run_cli(["backup", str(backup)], home=home, stdin=PW + BACKUP_PW * 2)
    assert r.returncode == 0, r.stderr
    return backup


@pytest.mark.parametrize("damage", ["flipped byte", "header missing", "database missing"])
def test_5_restore_recovers_a_damaged_vault_and_keeps_its_files(tmp_path, damage):
    home = tmp_path / "home"
    init(home)
    backup = _backup(home, tmp_path)
    data = home / "data"
    if damage == "flipped byte":
        raw = bytearray((data / "vault.db").read_bytes())
        raw[4096 + 300] ^= 0x10
        (data / "vault.db").write_bytes(bytes(raw))
        one_line_error(run_cli(["list"], home=home, stdin=PW), "damaged", "restore from a backup")
    elif damage == "header missing":
        (data / "vault.kdf.json").unlink()
        one_line_error(run_cli(["init"], home=home, stdin=PW * 2), "restore", "--replace-damaged")
    else:
        (data / "vault.db").unlink()
    damaged_files = {p.name: p.read_bytes() for p in data.iterdir() if p.name.startswith("vault.") and
                     p.name != "vault.lock"}
    current = PW if damage == "flipped byte" else ""
    # Without confirmation nothing is replaced, and the message says how to confirm.
    one_line_error(run_cli(["restore", str(backup)], home=home, stdin=current + BACKUP_PW), "--replace-damaged")
    r = run_cli(["restore", str(backup), "--replace-damaged"], home=home, stdin=current + BACKUP_PW)
    assert r.returncode == 0, r.stderr
    assert "opens with the backup's passphrase" in r.stdout and "kept in" in r.stderr
    assert situations(home, BACKUP_PW) == [SITUATION]
    aside = [p for p in data.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1 and {p.name: p.read_bytes() for p in aside[0].iterdir()} == damaged_files


def test_5_restore_onto_a_missing_vault_never_applies_a_stale_wal(tmp_path):
    from localtune.paths import resolve
    from localtune.vault import Vault

    home = tmp_path / "home"
    init(home)
    backup = _backup(home, tmp_path)
    data = home / "data"
    # A -wal left behind by a vault that is gone (its commit never checkpointed), where the restore will go.
    with Vault.open(resolve(home), PW.strip()) as v:
        v.set_setting("written after the backup", True)
        stale = (data / "vault.db-wal").read_bytes()
    assert len(stale) > 4096
    for f in list(data.iterdir()):
        if f.is_file():
            f.unlink()
    (data / "vault.db-wal").write_bytes(stale)
    r = run_cli(["restore", str(backup)], home=home, stdin=BACKUP_PW)
    assert r.returncode == 0, r.stderr
    assert "kept in" in r.stderr
    assert situations(home, BACKUP_PW) == [SITUATION]
    from localtune.vault import Vault as V

    with V.open(resolve(home), BACKUP_PW.strip()) as v:
        assert v.integrity_problems() == []
        assert v.get_setting("written after the backup") is None


# -- 6: key-derivation parameters are bounded ------------------------------------------------------------------

@pytest.mark.parametrize("field,value,words", [
    ("time_cost", 10**9, ["time_cost", "outside"]),
    ("memory_kib", 16 * 1024 * 1024, ["memory_kib", "outside"]),
    ("parallelism", 0, ["parallelism", "outside"]),
    ("memory_kib", "65536", ["memory_kib", "whole number"]),
    ("salt", 12, ["salt"]),
])
def test_6_a_tampered_key_header_is_refused_at_once_naming_the_parameter(tmp_path, field, value, words):
    home = tmp_path / "home"
    init(home)
    header = home / "data" / "vault.kdf.json"
    doc = json.loads(header.read_text())
    doc["slots"][0][field] = value
    header.write_text(json.dumps(doc))
    t0 = time.monotonic()
    r = run_cli(["list"], home=home, stdin=PW, timeout=60)
    assert time.monotonic() - t0 < 30
    one_line_error(r, "vault.kdf.json", *words)


def test_6_a_received_backup_with_a_huge_cost_is_refused(tmp_path):
    home = tmp_path / "home"
    init(home)
    backup = _backup(home, tmp_path)
    magic, header, rest = backup.read_bytes().split(b"\n", 2)
    doc = json.loads(header)
    doc["slots"][0]["memory_kib"] = 4 * 1024 * 1024
    backup.write_bytes(magic + b"\n" + json.dumps(doc).encode() + b"\n" + rest)
    r = run_cli(["restore", str(backup)], home=home, stdin=PW + BACKUP_PW, timeout=60)
    one_line_error(r, "backup", "memory_kib")
    assert situations(home) == [SITUATION]


# -- 7, 10: flags and stdin --------------------------------------------------------------------------------

def test_7_train_with_zero_steps_or_epochs_is_refused(tmp_path):
    home = tmp_path / "home"
    for flag in ("--max-steps", "--epochs"):
        r = run_cli(["train", flag, "0"], home=home, stdin=PW)
        assert r.returncode == 2 and "at least 1" in r.stderr, r.stderr


def test_10_analyze_dash_reads_the_passphrase_first(tmp_path):
    home = tmp_path / "home"
    init(home)
    # Before: stdin was read as the situation, and the passphrase prompt then found nothing.
    r = run_cli(["analyze", "-"], home=home, stdin=PW + "   \n")
    one_line_error(r, "Give a situation to analyze")
    assert "Expected a line on stdin" not in r.stderr


# -- 8: clear messages where "unexpected error" was ------------------------------------------------------------

def test_8_bad_inputs_get_clear_messages_not_unexpected_error(tmp_path):
    home = tmp_path / "home"
    init(home)
    env = {**os.environ, "LOCALTUNE_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "localtune", "list"], input=b"\xff\xfepass\n", capture_output=True,
                       env=env, timeout=60)
    assert r.returncode == 1 and b"not UTF-8" in r.stderr and b"unexpected" not in r.stderr, r.stderr

    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 5000 + "\n" + json.dumps({"situation": "kept"}) + "\n"
                    + '{"situation": "half a pair \\ud800"}\n')
    one_line_error(run_cli(["import", str(deep)], home=home, stdin=PW), "line 1", "nested too deeply", "line 3")
    r = run_cli(["import", str(deep), "--skip-invalid"], home=home, stdin=PW)
    assert r.returncode == 0 and "Imported 1" in r.stdout and "skipped line 3" in r.stderr, r.stderr

    one_line_error(run_cli(["restore", str(tmp_path)], home=home, stdin=PW + BACKUP_PW), "is a folder")
    (tmp_path / "folder.jsonl").mkdir()
    one_line_error(run_cli(["import", str(tmp_path / "folder.jsonl")], home=home, stdin=PW), "is a folder")
    one_line_error(run_cli(["export", str(tmp_path / ("x" * 300 + ".jsonl")), "--yes"], home=home, stdin=PW),
                   "cannot be used for the export")
    missing = tmp_path / "no such folder"
    one_line_error(run_cli(["backup", str(missing / "b.ltbackup")], home=home, stdin=PW + BACKUP_PW * 2),
                   "does not exist")
    one_line_error(run_cli(["export", str(missing / "e.jsonl"), "--yes"], home=home, stdin=PW), "does not exist")
    a_file = tmp_path / "adapter-here"
    a_file.write_text("x")
    one_line_error(run_cli(["adapters", "export", "demo", str(a_file), "--yes"], home=home, stdin=PW),
                   "not a folder")
    for args in (["show", "1" * 20], ["list", "--limit", "9" * 20], ["delete", "-3"]):
        r = run_cli(args, home=home, stdin=PW)
        assert r.returncode == 2 and "must be between" in r.stderr, r.stderr

    header = home / "data" / "vault.kdf.json"
    good = header.read_text()
    header.write_text(json.dumps({"format": 1, "slots": [{"salt": 1}]}))
    one_line_error(run_cli(["list"], home=home, stdin=PW), "vault.kdf.json")
    header.write_text("[1, 2]")
    one_line_error(run_cli(["list"], home=home, stdin=PW), "vault.kdf.json")
    header.write_text(good)
    assert sorted(situations(home)) == sorted(["kept", SITUATION])


def test_8_export_to_a_full_disk_says_so_and_leaves_no_plaintext(tmp_path):
    home = tmp_path / "home"
    init(home)
    big = "Everything that happened, in detail. " * 3000
    for _ in range(3):
        assert run_cli(["add", "--situation", big], home=home, stdin=PW).returncode == 0
    out_dir = tmp_path / "usb"
    out_dir.mkdir()
    # The export cannot grow past 64 KiB, as on a full disk (EFBIG, which localtune treats like ENOSPC).
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
              "from localtune.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", script, "export", str(out_dir / "copy.jsonl"), "--yes"], input=PW,
                       capture_output=True, text=True, env={**os.environ, "LOCALTUNE_HOME": str(home)}, timeout=60)
    one_line_error(r, "no room", "Nothing was written")
    assert list(out_dir.iterdir()) == []
    assert len(situations(home)) == 4


# -- 9: CSV cells that spreadsheets would run as formulas --------------------------------------------------------

def test_9_csv_export_neutralises_formulas_and_import_restores_them(tmp_path):
    home = tmp_path / "home"
    init(home, with_entry=False)
    texts = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1 555 0100", "-5 degrees in the cold store",
             "@channel was pinged", "'=already quoted", "plain"]
    for t in texts:
        assert run_cli(["add", "--situation", t, "--industry", "=cmd|' /C calc'!A0"], home=home, stdin=PW).returncode == 0
    out = tmp_path / "journal.csv"
    assert run_cli(["export", str(out), "--yes"], home=home, stdin=PW).returncode == 0
    cells = out.read_text().replace('"', "").split(",")
    assert not any(c.lstrip("\n")[:1] in ("=", "+", "-", "@") for c in cells)
    other = tmp_path / "other"
    init(other, with_entry=False)
    assert run_cli(["import", str(out)], home=other, stdin=PW).returncode == 0
    rows = json.loads(run_cli(["list", "--json"], home=other, stdin=PW).stdout)
    assert sorted(r["situation"] for r in rows) == sorted(texts)
    assert {r["industry"] for r in rows} == {"=cmd|' /C calc'!A0"}


# -- 11: file modes and leftovers ---------------------------------------------------------------------------------

def test_11_folders_and_files_are_private_under_any_umask(tmp_path):
    home = tmp_path / "new home"
    env = {**os.environ, "LOCALTUNE_HOME": str(home)}
    r = subprocess.run(["sh", "-c", f'umask 000; exec "{sys.executable}" -m localtune init'], input=PW * 2,
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    run_cli(["add", "--situation", SITUATION], home=home, stdin=PW)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(home) == 0o700 and mode(home / "data") == 0o700
    assert all(mode(p) == 0o600 for p in (home / "data").iterdir() if p.is_file()), \
        {p.name: oct(mode(p)) for p in (home / "data").iterdir()}
    os.chmod(home / "data", 0o777)
    os.chmod(home / "data" / "vault.db", 0o666)
    assert situations(home) == [SITUATION]
    assert mode(home / "data") == 0o700 and mode(home / "data" / "vault.db") == 0o600


def _kill_when(args, home, stdin, appears, timeout=60):
    """Start the CLI, SIGKILL it the moment `appears` exists; True if it was killed there (not finished)."""
    proc = subprocess.Popen([sys.executable, "-m", "localtune", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "LOCALTUNE_HOME": str(home)})
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if appears.exists():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
    proc.wait()
    return False


def test_11_a_killed_backup_or_restore_leaves_nothing_after_the_next_start(tmp_path):
    home = tmp_path / "home"
    init(home)
    from localtune.paths import resolve
    from localtune.vault import Vault

    with Vault.open(resolve(home), PW.strip()) as v:  # a few MB, so each step takes long enough to be caught
        v.put_blob("weights", "adapter", os.urandom(24 * 1024 * 1024))
    data, out = home / "data", tmp_path / "out"
    out.mkdir()
    killed = []
    for n, appears in enumerate([data / ".backup-staging.db", out / ".b1.ltbackup.partial",
                                 out / ".b2.ltbackup.partial"]):
        killed.append(_kill_when(["backup", str(out / f"b{n}.ltbackup")], home, PW + BACKUP_PW * 2, appears))
    assert killed[0] and any(killed[1:]), killed
    assert situations(home) == [SITUATION]  # the next start
    assert [p.name for p in out.iterdir() if "partial" in p.name] == []
    assert sorted(p.name for p in data.iterdir()) == ["vault.db", "vault.db-shm", "vault.db-wal", "vault.kdf.json",
                                                      "vault.lock"] or \
        sorted(p.name for p in data.iterdir()) == ["vault.db", "vault.kdf.json", "vault.lock"]

    backup = out / "whole.ltbackup"
    assert run_cli(["backup", str(backup)], home=home, stdin=PW + BACKUP_PW * 2).returncode == 0
    assert _kill_when(["restore", str(backup)], home, PW + BACKUP_PW, data / ".restore-check.db")
    assert situations(home) == [SITUATION]
    assert not [p.name for p in data.iterdir() if p.name.startswith(".")]
