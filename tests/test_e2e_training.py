"""End to end on the real starter model and the demo journal, as a user runs it from the command line."""

import json

import pytest

from lt_testing import files_containing, run_cli

PW = "e2e passphrase\n"


@pytest.mark.slow
def test_init_demo_train_analyze_on_the_starter_model(tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    assert run_cli(["init"], home=home, stdin=PW * 2, env=env).returncode == 0
    assert run_cli(["demo"], home=home, stdin=PW, env=env).returncode == 0
    check = run_cli(["check", "--json"], home=home, stdin=PW, env=env)
    assert check.returncode == 0 and json.loads(check.stdout)["ready"] is True

    r = run_cli(["train", "--max-steps", "2", "--json"], home=home, stdin=PW, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["train_tokens"] > 0 and summary["eval_loss"] > 0
    listed = json.loads(run_cli(["adapters", "list", "--json"], home=home, stdin=PW, env=env).stdout)
    assert [a["name"] for a in listed] == [summary["adapter"]]

    situation = "My charge nurse told me to skip the second check on an insulin infusion because we were short."
    r = run_cli(["analyze", "--compare", "--json", "--industry", "Hospital nursing", situation],
                home=home, stdin=PW, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    columns = json.loads(r.stdout.strip().splitlines()[-1])
    for name in ("generic", "few_shot", "tuned"):
        assert columns[name]["assessment"] in ("reasonable", "problematic", "mixed", "unclear")
        assert columns[name]["text"].strip()

    # Nothing of the journal, the run or the adapter is readable on disk: only the public base model.
    demo_phrase = "Independent double-checking of high-alert medicines"
    assert files_containing([home, tmp], demo_phrase) == []
    leftovers = [p for p in home.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt") and "models" not in p.parts]
    assert leftovers == []
