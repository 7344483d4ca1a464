import json
from dataclasses import replace

import pytest
from engine_helpers import fake_cpu

from localtune.engine import models
from localtune.engine.hardware import detect
from localtune.errors import ModelError, OfflineError


def test_detect_describes_this_machine():
    hw = detect("cpu")
    assert hw.device == "cpu" and hw.cpu_cores >= 1 and 0 < hw.ram_available <= hw.ram_total
    assert "CPU" in hw.describe() and "GiB" in hw.describe()


def test_manifest_catches_damage(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 100)
    models.write_manifest(folder, source="gguf", origin="here")
    assert models.check_folder(folder, hashes=True)
    (folder / "model.safetensors").write_bytes(b"y" * 100)  # same size, other bytes
    assert models.check_folder(folder) and not models.check_folder(folder, hashes=True)
    (folder / "model.safetensors").write_bytes(b"x" * 99)
    assert not models.check_folder(folder)
    (folder / "model.safetensors").unlink()
    assert not models.check_folder(folder)


def test_ensure_gguf_reconverts_only_when_needed(tmp_path, monkeypatch):
    calls = []

    def fake_convert(gguf, folder):
        calls.append(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.safetensors").write_bytes(b"w" * 10)
        models.write_manifest(folder, source="gguf", origin=str(gguf))
        return folder

    monkeypatch.setattr(models, "convert_gguf_apart", fake_convert)
    target = tmp_path / "conv"
    models.ensure_gguf(tmp_path / "x.gguf", target)
    models.ensure_gguf(tmp_path / "x.gguf", target)
    assert len(calls) == 1
    (target / "model.safetensors").write_bytes(b"w" * 3)  # truncated
    models.ensure_gguf(tmp_path / "x.gguf", target)
    assert len(calls) == 2


def test_registry_adds_lists_and_removes_a_folder(tiny_model, tmp_path):
    reg = models.Registry(tmp_path / "models", tmp_path / "config")
    info = reg.add_folder(tiny_model, name="Tiny Llama")
    assert info.name == "tiny-llama" and info.source == "folder" and info.params > 0 and info.size_bytes > 0
    assert reg.resolve("tiny-llama") == tiny_model
    listed = {m.name: m for m in reg.list(hardware=fake_cpu())}
    assert set(listed) == {models.STARTER, "tiny-llama"}
    assert listed[models.STARTER].params > 100_000_000 and listed[models.STARTER].fits
    assert not reg.info("tiny-llama", hardware=replace(fake_cpu(), ram_available=1)).fits
    assert json.loads((tmp_path / "config" / "models.json").read_text())["tiny-llama"]["path"] == str(tiny_model)
    with pytest.raises(ModelError, match="already exists"):
        reg.add_folder(tiny_model, name="tiny-llama")
    with pytest.raises(ModelError, match="not a model folder"):
        reg.add_folder(tmp_path)
    reg.remove("tiny-llama")
    assert tiny_model.is_dir()  # a user's own folder is never deleted
    with pytest.raises(ModelError, match="No model named"):
        reg.resolve("tiny-llama")


def test_pull_offline_says_so(tmp_path, monkeypatch):
    """No Hub reachable (a port nothing listens on): one clear line, nothing left behind. The downloader is
    tested against a Hub-like server in test_download.py."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    reg = models.Registry(tmp_path / "models", tmp_path / "config")
    with pytest.raises(OfflineError, match="Could not reach"):
        reg.pull("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert not (tmp_path / "models" / "SmolLM2-360M-Instruct").exists()
