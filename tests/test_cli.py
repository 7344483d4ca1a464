import json
import os
import stat

from lt_testing import run_cli

PW = "cli passphrase 1\n"


def init(home):
    r = run_cli(["init"], home=home, stdin=PW * 2)
    assert r.returncode == 0, r.stderr
    return r


def test_new_user_flow_init_import_search_show(tmp_path):
    home = tmp_path / "h"
    init(home)
    src = tmp_path / "mine.jsonl"
    src.write_text(json.dumps({"situation": "My lead moved the release deadline up by a week without asking.",
                               "industry": "Software engineering", "tags": ["deadlines"],
                               "perspectives": [{"viewpoint": "employee", "assessment": "problematic", "analysis": "No consultation."}]}) + "\n")
    r = run_cli(["import", str(src)], home=home, stdin=PW)
    assert r.returncode == 0 and "Imported 1" in r.stdout
    r = run_cli(["search", "deadline"], home=home, stdin=PW)
    assert r.returncode == 0 and "release deadline" in r.stdout
    r = run_cli(["search", "deadline", "--json"], home=home, stdin=PW)
    found = json.loads(r.stdout)
    assert found[0]["perspectives"][0]["assessment"] == "problematic"
    r = run_cli(["show", str(found[0]["id"])], home=home, stdin=PW)
    assert "employee: problematic" in r.stdout


def test_errors_are_one_line_without_traceback(tmp_path):
    home = tmp_path / "h"
    r = run_cli(["list"], home=home, stdin=PW)
    assert r.returncode == 1 and r.stderr.startswith("localtune: error: There is no vault")
    init(home)
    r = run_cli(["list"], home=home, stdin="wrong passphrase\n")
    assert r.returncode == 1
    assert r.stderr.strip() == "localtune: error: Wrong passphrase. Nothing was changed; try again."
    r = run_cli(["show", "999"], home=home, stdin=PW)
    assert r.returncode == 1 and "no scenario 999" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(["init"], home=home, stdin="short\nshort\n")
    assert r.returncode == 1 and "already exists" in r.stderr


def test_import_with_bad_rows_imports_nothing_unless_asked(tmp_path):
    home = tmp_path / "h"
    init(home)
    src = tmp_path / "rows.csv"
    src.write_text("situation,viewpoint,assessment\nfine,HR,mixed\nbroken,HR,terrible\n")
    r = run_cli(["import", str(src)], home=home, stdin=PW)
    assert r.returncode == 1 and "line 3" in r.stderr and "nothing was imported" in r.stderr
    assert json.loads(run_cli(["list", "--json"], home=home, stdin=PW).stdout) == []
    r = run_cli(["import", str(src), "--skip-invalid"], home=home, stdin=PW)
    assert r.returncode == 0 and "skipped line 3" in r.stderr
    assert [s["situation"] for s in json.loads(run_cli(["list", "--json"], home=home, stdin=PW).stdout)] == ["fine"]


def test_add_edit_delete_and_plaintext_export_needs_confirmation(tmp_path):
    home = tmp_path / "h"
    init(home)
    r = run_cli(["add", "--situation", "Asked to cover a double shift.", "--industry", "Hospitality",
                 "--viewpoint", "employee", "--assessment", "mixed", "--tags", "shifts; pay"], home=home, stdin=PW)
    assert r.returncode == 0 and "Added scenario 1" in r.stdout
    assert run_cli(["edit", "1", "--assessment", "problematic"], home=home, stdin=PW).returncode == 0
    shown = json.loads(run_cli(["show", "1", "--json"], home=home, stdin=PW).stdout)
    assert shown["perspectives"][0]["assessment"] == "problematic" and shown["tags"] == ["shifts", "pay"]
    out = tmp_path / "export.jsonl"
    r = run_cli(["export", str(out)], home=home, stdin=PW)
    assert r.returncode == 1 and "--yes" in r.stderr and not out.exists()
    r = run_cli(["export", str(out), "--yes"], home=home, stdin=PW)
    assert r.returncode == 0 and "not encrypted" in r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert json.loads(out.read_text())["situation"] == "Asked to cover a double shift."
    assert run_cli(["delete", "1"], home=home, stdin=PW).returncode == 0
    assert json.loads(run_cli(["list", "--json"], home=home, stdin=PW).stdout) == []


def test_passwd_backup_restore(tmp_path):
    home = tmp_path / "h"
    init(home)
    run_cli(["add", "--situation", "kept through everything"], home=home, stdin=PW)
    r = run_cli(["passwd"], home=home, stdin=PW + "second passphrase\n" * 2)
    assert r.returncode == 0, r.stderr
    assert run_cli(["list"], home=home, stdin=PW).returncode == 1
    backup = tmp_path / "journal.ltbackup"
    r = run_cli(["backup", str(backup)], home=home, stdin="second passphrase\n" + "backup passphrase\n" * 2)
    assert r.returncode == 0 and backup.exists()
    run_cli(["delete", "1"], home=home, stdin="second passphrase\n")
    r = run_cli(["restore", str(backup)], home=home, stdin="second passphrase\nbackup passphrase\n")
    assert r.returncode == 0, r.stderr
    r = run_cli(["search", "kept"], home=home, stdin="second passphrase\n")
    assert "kept through everything" in r.stdout


def test_names_listed_once_are_redacted_in_every_entry_and_stay_encrypted(tmp_path):
    home = tmp_path / "home"
    init(home)
    situation = "Siobhan OBrien moved my shift; SIOBHÁN later told Dr. O'Brien's team."
    assert run_cli(["add", "--situation", situation, "--viewpoint", "employee", "--assessment", "problematic",
                    "--analysis", "Nobody asked me."], home=home, stdin=PW).returncode == 0
    assert "Siobhan OBrien moved" in run_cli(["check", "--preview"], home=home, stdin=PW).stdout

    # Names come from stdin after the passphrase (not argv, which shells keep in their history).
    r = run_cli(["names", "add"], home=home, stdin=PW + "Siobhán O’Brien\n\nsiobhan o'brien\nMaria Lopez\n")
    assert r.returncode == 0 and "Added 2 names; 2 listed" in r.stdout
    preview = run_cli(["check", "--preview"], home=home, stdin=PW).stdout
    assert "[Person A] moved my shift; [Person A] later told [Person A]'s team." in preview
    assert "Siobh" not in preview and "Brien" not in preview
    names = json.loads(run_cli(["names", "list", "--json"], home=home, stdin=PW).stdout)
    assert names == ["Siobhán O’Brien", "Maria Lopez"]
    for f in home.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"Siobh" not in data and b"Maria Lopez" not in data, f

    r = run_cli(["names", "add"], home=home, stdin=PW + "A\n")
    assert r.returncode == 1 and "too short" in r.stderr
    r = run_cli(["names", "remove"], home=home, stdin=PW + "maria lopez\nNobody Here\n")
    assert r.returncode == 0 and "Removed 1 name; 1 listed" in r.stdout and "Not in the list: Nobody Here" in r.stderr
    assert run_cli(["names"], home=home, stdin=PW).stdout.splitlines() == ["Siobhán O’Brien"]
