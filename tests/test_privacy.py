"""The promise: nothing readable is left on disk, and the core stays light."""

import io
import subprocess
import sys
from pathlib import Path

from localtune.journal import Perspective, Scenario
from localtune.journal.io import write_csv, write_jsonl
from lt_testing import files_containing, run_cli

CANARY = "zebracanary-7c1e93-quokka"


def test_canary_never_reaches_disk(tmp_path, monkeypatch, vault, journal, paths):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    ids = journal.add_many(
        Scenario(situation=f"{CANARY} situation {i} " + "text " * 300, context=f"norms {CANARY}", people=[CANARY],
                 perspectives=[Perspective("employee", "mixed", f"analysis {CANARY} " * 50)])
        for i in range(200)
    )
    assert set(journal.ids(CANARY, limit=1000)) == set(ids)
    s = journal.get(ids[0])
    s.situation += " edited"
    journal.update(s)
    journal.delete(ids[1])
    for writer in (write_jsonl, write_csv):  # export to memory only
        buffer = io.StringIO()
        writer(journal.iter_all(), buffer)
        assert CANARY in buffer.getvalue()
    vault.backup(tmp_path / "home" / "b.ltbackup", "backup passphrase")
    vault.lock()
    assert files_containing([paths.data.parent, tmp], CANARY) == []
    assert not paths.vault.read_bytes().startswith(b"SQLite format 3")


def test_canary_through_the_cli(tmp_path):
    home, tmp = tmp_path / "h", tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    run_cli(["init"], home=home, stdin="p4ssphrase!\n" * 2, env=env)
    run_cli(["add", "--situation", f"{CANARY} at work", "--analysis", CANARY, "--viewpoint", "HR",
             "--assessment", "reasonable"], home=home, stdin="p4ssphrase!\n", env=env)
    r = run_cli(["search", CANARY], home=home, stdin="p4ssphrase!\n", env=env)
    assert CANARY in r.stdout
    assert files_containing([home, tmp], CANARY) == []


def _imports_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_journal_and_vault_import_no_ml_and_no_qt():
    loaded = _imports_after("import localtune.journal, localtune.journal.repository, localtune.journal.io, localtune.vault, localtune.dataset.prompts")
    assert not {"torch", "transformers", "peft", "bitsandbytes", "PySide6"} & loaded


def test_cli_startup_does_not_import_torch():
    loaded = _imports_after("import localtune.cli; localtune.cli.build_parser()")
    assert "torch" not in loaded and "transformers" not in loaded and "PySide6" not in loaded


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 0, r.stdout + r.stderr


def test_privacy_harden_sets_offline_variables_and_disables_core_dumps():
    code = (
        "import os, resource; from localtune import privacy; privacy.harden();"
        "print(os.environ['HF_HUB_OFFLINE'], os.environ['HF_HUB_DISABLE_TELEMETRY'], os.environ['USE_HUB_KERNELS'],"
        " resource.getrlimit(resource.RLIMIT_CORE))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1 1 NO (0, 0)"
    if sys.platform.startswith("linux"):
        # Not dumpable (PR_GET_DUMPABLE = 3 answers 0): no core file, and a debugger of the same user cannot attach.
        flag = subprocess.run([sys.executable, "-c", "import ctypes; from localtune import privacy; privacy.harden();"
                               "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert flag == "0"


def test_the_cli_goes_offline_before_running_a_command(tmp_path):
    code = (
        "import os, sys; os.environ['HF_HUB_OFFLINE'] = '0'; from localtune.cli import main;"
        f"rc = main(['--home', {str(tmp_path)!r}, 'list']); print(rc, os.environ['HF_HUB_OFFLINE'])"
    )
    r = subprocess.run([sys.executable, "-c", code], input="x\n", capture_output=True, text=True)
    assert r.stdout.split() == ["1", "1"]
