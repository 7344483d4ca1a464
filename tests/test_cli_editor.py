"""Item 4 of "Nothing lost, whatever the user types": `add`/`edit` without flags open $EDITOR on a RAM-backed file.
Known editors start without history, swap and backup files; any other one is named in a warning; a file left by
a killed edit is removed at the next start. The CLI runs in a real terminal (a pty), as a user runs it, with a
stand-in editor on PATH that records how it was started and edits the file."""

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from lt_testing import run_cli

PW = "cli passphrase 1\n"


def in_terminal(args, env, passphrase, timeout=60):
    """Run the CLI with a pty as its terminal; type the passphrase when it is asked for."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "localtune", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    out, typed = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            out += chunk
            if not typed and b"Passphrase:" in out:
                os.write(master, passphrase.encode())
                typed = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    return proc.returncode, out.decode(errors="replace")


def stand_in(bin_dir: Path, name: str, record: Path, situation: str) -> None:
    """An editor called `name` that records its arguments and rewrites the scenario in the file it was given."""
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n"
        "path = sys.argv[-1]\n"
        "doc = json.load(open(path, encoding='utf-8'))\n"
        f"doc['situation'] = {situation!r}\n"
        "doc['perspectives'][0].update(viewpoint='employee', assessment='mixed')\n"
        "json.dump(doc, open(path, 'w', encoding='utf-8'))\n")
    script.chmod(0o755)


def test_4_editors_start_without_history_swap_or_backup_and_leftovers_go(tmp_path):
    home = tmp_path / "home"
    assert run_cli(["init"], home=home, stdin=PW * 2).returncode == 0
    bin_dir, record = tmp_path / "bin", tmp_path / "editor-args.json"
    bin_dir.mkdir()
    env = {**os.environ, "LOCALTUNE_HOME": str(home), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("VISUAL", None)
    ram = Path(f"/dev/shm/localtune-{os.getuid()}")
    ram.mkdir(mode=0o700, exist_ok=True)
    leftover = ram / "edit-999999999-crashed.json"  # an edit whose process is gone (no such pid)
    leftover.write_text(json.dumps({"situation": "left behind by a killed edit"}))

    stand_in(bin_dir, "vim", record, "Written in vim.")
    code, out = in_terminal(["add"], {**env, "EDITOR": "vim"}, PW)
    assert code == 0 and "Added scenario 1" in out, out
    argv = json.loads(record.read_text())
    assert argv[:3] == ["-i", "NONE", "-n"] and "set nobackup nowritebackup noundofile" in argv
    assert argv[-1].startswith(str(ram)) and not os.path.exists(argv[-1])  # the RAM file is gone
    assert not leftover.exists()
    assert "Warning" not in out

    stand_in(bin_dir, "nano", record, "Rewritten in nano.")
    code, out = in_terminal(["edit", "1"], {**env, "EDITOR": "nano"}, PW)
    assert code == 0 and "Saved scenario 1" in out, out
    assert json.loads(record.read_text())[0] == "--ignorercfiles"

    stand_in(bin_dir, "emacs", record, "Rewritten in emacs.")
    code, out = in_terminal(["edit", "1"], {**env, "EDITOR": "emacs -nw"}, PW)
    assert code == 0, out
    argv = json.loads(record.read_text())
    assert argv[:2] == ["-nw", "-Q"] and "auto-save-default nil" in argv[3] and "make-backup-files nil" in argv[3]

    stand_in(bin_dir, "scribble", record, "Rewritten in an editor localtune does not know.")
    code, out = in_terminal(["edit", "1"], {**env, "EDITOR": "scribble"}, PW)
    assert code == 0 and "Warning" in out and "scribble" in out, out

    shown = json.loads(run_cli(["show", "1", "--json"], home=home, stdin=PW).stdout)
    assert shown["situation"] == "Rewritten in an editor localtune does not know."
    assert [p.name for p in ram.iterdir() if p.name.startswith("edit-")] == []
