"""The training bundle holds exactly what local training would train on: the readiness check's redacted split."""

import pytest

from localtune.bundle import format as fmt
from localtune.bundle.export import export, open_training

PASS = "bundle passphrase 1"


def test_export_seals_the_redacted_split_local_training_uses(journal, vault, tmp_path):
    from localtune.dataset.examples import examples_fingerprint
    from localtune.engine.train import TrainConfig
    from localtune.services import training
    from localtune.services.journal import load_demo_journal, set_redaction_names

    load_demo_journal(journal)
    set_redaction_names(vault, ["Siobhan OBrien"])
    target, manifest = export(vault, journal, str(tmp_path / "j.ltb"), PASS, config=TrainConfig(max_steps=5))
    report = training.check(journal)
    bundle = open_training(target, PASS)
    assert bundle.train == report.train and bundle.eval == report.eval
    assert bundle.config["max_steps"] == 5 and bundle.base_model == "starter"
    assert manifest["counts"] == {"train": len(report.train), "eval": len(report.eval)}
    assert manifest["fingerprints"]["train"] == examples_fingerprint(report.train)  # as a local adapter records
    text = "".join(m["content"] for e in bundle.train + bundle.eval for m in e.messages)
    assert "Siobhan" not in text and "[Person" in text
    assert b"Siobhan" not in target.read_bytes()


def test_export_refuses_a_short_passphrase_and_the_vaults_folder(journal, vault, tmp_path):
    from localtune.errors import InvalidInputError
    from localtune.services.journal import load_demo_journal

    load_demo_journal(journal)
    with pytest.raises(InvalidInputError, match="at least 8"):
        export(vault, journal, str(tmp_path / "j.ltb"), "short")
    with pytest.raises(InvalidInputError):
        export(vault, journal, str(vault.paths.data / "j.ltb"), PASS)
    assert not (tmp_path / "j.ltb").exists() and not (vault.paths.data / "j.ltb").exists()
    first, _ = export(vault, journal, str(tmp_path / "j.ltb"), PASS)
    with pytest.raises(InvalidInputError):
        export(vault, journal, str(first), PASS)  # an earlier bundle is replaced only when asked
    export(vault, journal, str(first), PASS, overwrite=True)
    assert fmt.read_manifest(first.read_bytes())["kind"] == "training"
