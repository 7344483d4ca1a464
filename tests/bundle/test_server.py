"""The training server, run as a user runs it (its own processes; torchrun's launcher for two; the runs are in
server_runs.py): two gloo processes on the CPU give one process' loss curve and an adapter of the same shape; no
example text lands in any file the server (or its launcher) wrote, nor in its output; the adapter it returns
imports into a vault, is listed, and loads. FSDP: test_fsdp.py."""

import json

import pytest
from engine_helpers import CANARY
from server_runs import LOSS_TOLERANCE, PASS, serve

from localtune.bundle import format as fmt
from localtune.bundle.importing import import_adapter, open_adapter, seal_adapter
from lt_testing import PASS as VAULT_PASS
from lt_testing import files_containing, run_cli

pytestmark = pytest.mark.slow


def test_two_processes_give_the_same_loss_curve_and_adapter_shape(runs):
    from safetensors.torch import load

    curves = {}
    for key in ("one", "two"):
        _, events, out, _ = runs[key]
        curves[key] = [e["loss"] for e in events if e["event"] == "progress"]
        plan = next(e for e in events if e["event"] == "plan")
        assert plan["processes"] == (1 if key == "one" else 2) and plan["completion_only_head"]
        assert plan["strategy"] == "ddp"  # auto: the tiny model fits the injected 16 GiB
        assert events[-1]["event"] == "sealed"
    assert len(curves["one"]) == len(curves["two"]) == 6  # 12 examples, batches of 4, 2 epochs
    assert max(abs(a - b) for a, b in zip(curves["one"], curves["two"], strict=True)) < LOSS_TOLERANCE
    evals = [[e["eval_loss"] for e in runs[k][1] if e["event"] == "eval"] for k in ("one", "two")]
    assert len(evals[0]) == 2 and max(abs(a - b) for a, b in zip(*evals, strict=True)) < LOSS_TOLERANCE
    adapters = [load(open_adapter(runs[k][2], PASS)[0]) for k in ("one", "two")]
    assert adapters[0].keys() == adapters[1].keys() and adapters[0]
    for k in adapters[0]:
        assert adapters[0][k].shape == adapters[1][k].shape
        assert (adapters[0][k] - adapters[1][k]).abs().max() < 1e-4
    _, meta = open_adapter(runs["two"][2], PASS)
    assert meta["trained_on"]["processes"] == 2 and meta["base_model"] == "tiny"
    assert len([h for h in meta["history"] if "loss" in h]) == 6


def test_no_example_text_in_any_file_or_output_of_the_server(runs):
    for key in ("one", "two", "fsdp", "fsdp_auto"):
        r, _, out, dirs = runs[key]
        assert out.is_file() and fmt.is_bundle(out.read_bytes())
        assert files_containing([*dirs.values(), runs["tmp"]], CANARY) == []
        assert CANARY not in r.stdout and CANARY not in r.stderr
        assert [p.name for p in out.parent.iterdir()] == ["adapter.ltb"]  # no partial or cache left beside it


def test_wrong_passphrase_stops_every_process_with_one_clear_line(runs, tiny_model, tmp_path):
    r, events, out, _ = serve(tmp_path, runs["bundle"], tiny_model, procs=2, name="wrong", stdin="nope nope\n")
    assert r.returncode != 0 and not out.exists()
    assert events == [{"event": "error", "message": "That passphrase does not open train.ltb."}]


def test_the_adapter_imports_into_a_vault_is_listed_and_loads(runs, tiny_model, vault, paths):
    from localtune.engine.models import Registry
    from localtune.errors import ModelError
    from localtune.services import reading
    from localtune.services.adapters import AdapterStore

    with pytest.raises(ModelError, match="does not have"):
        import_adapter(vault, runs["two"][2], PASS)  # "tiny" is not a model of this vault yet
    Registry(paths.models, paths.config).add_folder(tiny_model, "tiny")
    name, summary = import_adapter(vault, runs["two"][2], PASS)
    assert name == "tiny-v1" and summary["steps"] == 6
    listed = {AdapterStore.name_of(b.name): b for b in AdapterStore(vault).infos()}
    info = listed["tiny-v1"]
    assert info.meta["base_model"] == "tiny" and info.meta["examples"] == 12
    assert [h for h in info.meta["history"] if "loss" in h]
    assert info.meta["trained_remotely"]["processes"] == 2
    reader = reading.open_reader(vault, paths, "tiny-v1")
    assert "tiny-v1" in reader.adapters
    reading.release_readers(vault)
    again, _ = import_adapter(vault, runs["two"][2], PASS)
    assert again == "tiny-v2"


def test_import_refuses_a_training_bundle_and_an_unknown_model(runs, vault, tmp_path):
    from localtune.errors import InvalidInputError, ModelError

    with pytest.raises(InvalidInputError, match="not an adapter bundle"):
        import_adapter(vault, runs["bundle"], PASS)
    other = fmt.write(tmp_path / "x.ltb", seal_adapter(b"\x00" * 8, {"base_model": "a-70b-model",
                                                                     "peft_config": {}}, PASS))
    with pytest.raises(ModelError, match="a-70b-model"):
        import_adapter(vault, other, PASS)


def test_cli_exports_the_demo_journal_and_imports_the_servers_adapter(runs, tmp_path):
    home = tmp_path / "home"
    assert run_cli(["init"], home=home, stdin=VAULT_PASS + "\n" + VAULT_PASS + "\n").returncode == 0
    assert run_cli(["demo"], home=home, stdin=VAULT_PASS + "\n").returncode == 0
    bundle = tmp_path / "journal.ltb"
    r = run_cli(["bundle", "export", str(bundle), "--max-steps", "5", "--json"], home=home,
                stdin=f"{VAULT_PASS}\n{PASS}\n{PASS}\n", timeout=300)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["counts"]["train"] > 0 and shown["counts"]["eval"] > 0 and shown["base_model"] == "starter"
    check = json.loads(run_cli(["check", "--json"], home=home, stdin=VAULT_PASS + "\n").stdout)
    assert shown["counts"]["train"] + shown["counts"]["eval"] == check["example_count"]
    info = run_cli(["bundle", "info", str(bundle)], home=home)
    assert json.loads(info.stdout)["fingerprints"] == shown["fingerprints"]
    wrong = run_cli(["bundle", "merge", str(bundle), str(bundle), "--out", str(tmp_path / "p.ltb")], home=home,
                    stdin="wrong passphrase\n")
    assert wrong.returncode == 1 and "does not open journal.ltb" in wrong.stderr
    pooled = run_cli(["bundle", "merge", str(bundle), str(bundle), "--out", str(tmp_path / "pool.ltb"), "--json"],
                     home=home, stdin=f"{PASS}\n{PASS}\npool passphrase\npool passphrase\n")
    assert pooled.returncode == 0, pooled.stderr
    pool = json.loads(pooled.stdout)
    # The same journal twice: every example has a twin from the other "contributor", judged alike.
    assert pool["counts"] == shown["counts"] and pool["contributors"] == 2
    first, second = pool["contributors_report"]
    assert second["duplicates_removed"] == second["train"] + second["eval"] and first["agreement"] == 1.0
    assert fmt.read_manifest((tmp_path / "pool.ltb").read_bytes())["counts"] == shown["counts"]
    # The server's adapter says base model "tiny": this vault does not know it.
    bad = run_cli(["adapters", "import", str(runs["two"][2])], home=home, stdin=f"{VAULT_PASS}\n{PASS}\n")
    assert bad.returncode == 1 and "'tiny'" in bad.stderr
