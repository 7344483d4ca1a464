"""Discovery of models already on disk, over real stores in temporary folders (never the host's)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from engine_helpers import fake_cpu
from stores import HUB_ID, build, hf_cache, snapshot

from localtune.engine import discovery
from localtune.engine.discovery import Places, discover, find, fit
from localtune.engine.hardware import Hardware
from localtune.engine.models import Registry
from localtune.errors import ModelError

GIB = 1024**3


@pytest.fixture(scope="module")
def stores(tiny_model, tmp_path_factory):
    return build(tmp_path_factory.mktemp("stores"), tiny_model)


def places_of(stores, **kw) -> Places:
    return Places(stores.home, dict(stores.env), "linux", (stores.user_folder,), **kw)


def tiny_params(tiny_model) -> int:
    from safetensors.numpy import load_file

    return sum(t.size for t in load_file(tiny_model / "model.safetensors").values())


def test_every_store_is_found_with_what_its_files_say(stores, tiny_model):
    found = {f.store: f for f in discover(places_of(stores))}
    assert set(found) == {"huggingface", "ollama", "lmstudio", "gpt4all", "folder"}
    params = tiny_params(tiny_model)
    hf = found["huggingface"]
    assert hf.name == HUB_ID and hf.kind == "folder" and hf.path.endswith(discovery_revision())
    assert (hf.family, hf.params, hf.quantization, hf.license, hf.chat) == ("Llama", params, "f32", "apache-2.0", True)
    ol = found["ollama"]
    assert ol.key == "ollama:tinyllama:q8" and ol.kind == "gguf" and "/blobs/sha256-" in ol.path
    assert (ol.family, ol.params, ol.quantization, ol.license, ol.chat) == ("Llama", params, "Q8_0", "apache-2.0",
                                                                            True)
    lm = found["lmstudio"]
    assert lm.name == "TinyPub/tiny-llama-GGUF/tiny-llama-instruct-F16" and lm.quantization == "F16" and lm.chat
    g4 = found["gpt4all"]
    assert g4.name == "tiny-llama-base.F16" and g4.chat is False and g4.license == ""
    mine = found["folder"]
    assert mine.name == "tiny-chat" and mine.kind == "folder"
    for f in found.values():
        assert f.trainable and f.shape["layers"] == 2 and f.shape["hidden"] == 64 and f.shape["tied"]
        assert f.size_bytes > 0 and f.family in f.describe()
        json.dumps(f.to_dict())  # the CLI's --json


def discovery_revision() -> str:
    from stores import REVISION

    return REVISION


def test_default_folders_of_each_platform_under_the_injected_home(tmp_path):
    home = tmp_path / "home"
    linux = Places(home, {}, "linux")
    assert linux.hf_hub() == [home / ".cache" / "huggingface" / "hub"]
    assert linux.ollama() == [home / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]
    assert linux.gpt4all() == [home / ".local" / "share" / "nomic.ai" / "GPT4All"]
    assert linux.lmstudio() == [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]
    mac = Places(home, {}, "darwin")
    assert mac.ollama() == [home / ".ollama" / "models"]
    assert mac.gpt4all() == [home / "Library" / "Application Support" / "nomic.ai" / "GPT4All"]
    win = Places(home, {"LOCALAPPDATA": str(tmp_path / "local")}, "win32")
    assert win.gpt4all() == [tmp_path / "local" / "nomic.ai" / "GPT4All"]
    assert win.ollama() == [home / ".ollama" / "models"]
    assert Places(home, {"HF_HUB_CACHE": "/x/hub", "HF_HOME": "/y"}).hf_hub() == [Path("/x/hub")]
    assert Places(home, {"HF_HOME": "/y"}).hf_hub() == [Path("/y/hub")]
    assert Places(home, {"XDG_CACHE_HOME": "/c"}).hf_hub() == [Path("/c/huggingface/hub")]
    assert Places(home, {"OLLAMA_MODELS": "/o"}).ollama() == [Path("/o")]


def test_the_default_folders_are_searched_when_no_variable_is_set(stores, tiny_model, tmp_path):
    home = tmp_path / "home"
    hf_cache(home / ".cache" / "huggingface" / "hub", tiny_model, "Org/in-default-cache")
    found = discover(Places(home, {}, "darwin"))
    assert [f.key for f in found] == ["huggingface:Org/in-default-cache"]
    assert discover(Places(tmp_path / "empty", {}, "darwin")) == []


def test_a_model_localtune_cannot_train_is_listed_with_the_reason(tmp_path, tiny_model):
    import shutil

    folder = tmp_path / "mine" / "encoder"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    (found,) = discover(Places(tmp_path / "home", {}, "linux", (tmp_path / "mine",)))
    assert not found.trainable and "bert" in found.problem and "cannot train" in found.describe()
    with pytest.raises(ModelError, match="cannot be trained"):
        Registry(tmp_path / "models", tmp_path / "config").add_found(found)


def test_adding_converts_once_into_our_cache_and_leaves_the_originals_alone(stores, tmp_path):
    before = snapshot(stores.ollama, stores.hf_hub)
    registry = Registry(tmp_path / "models", tmp_path / "config")
    places = places_of(stores)
    info = registry.add_found(find("ollama:tinyllama:q8", places))
    assert info.name == "tinyllama-q8" and info.source == "gguf"
    folder = registry.resolve(info.name)
    assert folder.parent == tmp_path / "models" and (folder / "model.safetensors").is_file()
    hf = registry.add_found(find(HUB_ID, places), name="tiny-hub")
    assert registry.resolve(hf.name) == Path(find(HUB_ID, places).path)  # used where it is, read-only
    assert snapshot(stores.ollama, stores.hf_hub) == before
    added = registry.origins()
    assert {added[str(Path(f.path).resolve())] for f in discover(places) if str(Path(f.path).resolve()) in added} \
        == {"tinyllama-q8", "tiny-hub"}
    with pytest.raises(ModelError, match="No model"):
        find("ollama:nothing:here", places)


def test_the_converted_ollama_model_trains_a_step(stores, tmp_path, examples, cpu):
    from engine_helpers import collect

    from localtune.engine.train import TrainConfig, train

    registry = Registry(tmp_path / "models", tmp_path / "config")
    folder = registry.resolve(registry.add_found(find("ollama:tinyllama:q8", places_of(stores))).name)
    events = collect(train(folder, examples[:8], examples[8:], TrainConfig(epochs=1, max_steps=1, batch_size=2),
                           hardware=cpu))
    assert type(events[-1]).__name__ == "Finished" and events[-1].steps == 1


def test_fit_uses_the_engine_plan_for_this_journal(stores):
    found = find("ollama:tinyllama:q8", places_of(stores))
    lengths = [(180, 150)] * 20
    small = fit(found, fake_cpu(), lengths)
    assert small.fits and small.eta_s is None and "trains here" in small.describe()
    # The same model with an 8B Llama's sizes: 4-bit with checkpointing; too big for a laptop with 5 GiB free.
    big = replace(found, params=8_030_261_248, shape={"hidden": 4096, "inter": 14336, "layers": 32, "vocab": 128256,
                                                      "heads": 32, "kv_heads": 8, "head_dim": 128, "tied": False})
    laptop = fit(big, Hardware("cpu", "laptop", 4, 8 * GIB, 5 * GIB), lengths)
    assert laptop.quantization == "nf4" and laptop.grad_checkpointing
    assert not laptop.fits and "does not fit" in laptop.describe()
    gpu24 = Hardware("cuda", "24 GB GPU", 8, 64 * GIB, 48 * GIB, vram_total=24 * GIB, vram_free=23 * GIB, bf16=True)
    assert fit(big, gpu24, lengths).fits
    # Time: a measured rate (seconds per parameter per token) scaled to each model's size.
    rate = 1e-9
    t_small = fit(found, fake_cpu(), lengths, seconds_per_param_token=rate).eta_s
    t_big = fit(big, gpu24, lengths, seconds_per_param_token=rate).eta_s
    assert t_small > 0 and t_big / t_small == pytest.approx(big.params / found.params, rel=1e-6)


def test_user_folders_are_remembered(tmp_path):
    assert discovery.user_folders(tmp_path) == []
    kept = discovery.set_user_folders(tmp_path, [str(tmp_path / "a"), str(tmp_path / "a"), str(tmp_path / "b")])
    assert kept == [str(tmp_path / "a"), str(tmp_path / "b")] == discovery.user_folders(tmp_path)


@pytest.mark.slow
def test_cli_discovers_adds_and_lists(stores, tmp_path):
    import os

    from lt_testing import run_cli

    env = {**stores.env, "HOME": str(stores.home)}
    for key in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        env[key] = ""
    home = tmp_path / "lt"
    keep = {k: v for k, v in os.environ.items() if k not in env}
    before = snapshot(stores.ollama, stores.hf_hub)
    r = run_cli(["models", "discover", "--add-folder", str(stores.user_folder), "--json"], home=home,
                env={**keep, **env})
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {f"huggingface:{HUB_ID}", "ollama:tinyllama:q8", "lmstudio:TinyPub/tiny-llama-GGUF/"
                         "tiny-llama-instruct-F16", "gpt4all:tiny-llama-base.F16", "folder:tiny-chat"}
    assert rows["ollama:tinyllama:q8"]["quantization"] == "Q8_0" and rows["ollama:tinyllama:q8"]["added_as"] is None
    r = run_cli(["models", "add", "ollama:tinyllama:q8"], home=home, env={**keep, **env})
    assert r.returncode == 0 and "Added 'tinyllama-q8'" in r.stdout, r.stderr
    r = run_cli(["models", "list", "--json"], home=home, env={**keep, **env})
    assert [m["name"] for m in json.loads(r.stdout)] == ["smollm2-135m-instruct", "tinyllama-q8"]
    r = run_cli(["models", "discover"], home=home, env={**keep, **env})  # the folder added above is remembered
    assert "folder:tiny-chat" in r.stdout and "added as 'tinyllama-q8'" in r.stdout
    assert snapshot(stores.ollama, stores.hf_hub) == before
    r = run_cli(["models", "add", "ollama:none:here"], home=home, env={**keep, **env})
    assert r.returncode == 1 and "models discover" in r.stderr
