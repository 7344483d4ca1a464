"""End to end on the real starter model and the demo journal, as a user runs it from the command line."""

import json

import pytest

from lt_testing import files_containing, run_cli

PW = "e2e passphrase\n"
EVAL_CASES = [
    ("My manager moved my shift to nights with two days' notice, against the rota rules.", "Retail", "problematic"),
    ("A colleague reviewed my pull request within a day and asked for tests on the new parser.",
     "Software engineering", "reasonable"),
    ("The ward sister asked me to stay 20 minutes to finish the handover to the night nurse.",
     "Hospital nursing", "reasonable"),
    ("My supervisor listed himself as first author on a paper I wrote and ran all experiments for.",
     "Academic research", "problematic"),
    ("The chef raised his voice during a busy service when I plated the wrong order, then apologised.",
     "Hospitality", "mixed"),
]


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
    for name in ("base", "few_shot", "tuned"):  # one column vocabulary with eval
        assert columns[name]["assessment"] in ("reasonable", "problematic", "mixed")
        assert columns[name]["text"].strip()
        shares = columns[name]["probabilities"]  # the label-likelihood distribution behind the badge
        assert set(shares) == {"reasonable", "problematic", "mixed"} and sum(shares.values()) == pytest.approx(1, abs=1e-3)
        assert columns[name]["assessment"] == max(shares, key=shares.get)
        assert not columns[name]["repeating"]  # decoding that cannot loop
        assert columns[name]["stop"] != "cap" or any("Cut off" in n for n in columns[name]["notes"])

    # Evaluation on an outside labelled file (not imported): the three columns, scored by label likelihood.
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("\n".join(json.dumps({
        "situation": text, "industry": industry,
        "perspectives": [{"viewpoint": "employee", "assessment": label, "analysis": "Reasoned from the norms."}],
    }) for text, industry, label in EVAL_CASES) + "\n")
    r = run_cli(["eval", "--data", str(labelled), "--json"], home=home, stdin=PW, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["n"] == len(EVAL_CASES)
    for name in ("base", "few_shot", "tuned"):
        assert 0 <= result[name]["accuracy"] <= 1 and 0 <= result[name]["macro_f1"] <= 1
        assert sum(map(sum, result[name]["confusion"])) == len(EVAL_CASES)
    assert result["verdict"]["text"]

    # Nothing of the journal, the run or the adapter is readable on disk: only the public base model.
    demo_phrase = "Independent double-checking of high-alert medicines"
    assert files_containing([home, tmp], demo_phrase) == []
    leftovers = [p for p in home.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt") and "models" not in p.parts]
    assert leftovers == []
