"""Downloads against a small Hub-like server on 127.0.0.1 (HF_ENDPOINT): complete, interrupted and resumed,
damaged, gated, offline, and a disk too small; the tiny model it serves is real and trains afterwards."""

import hashlib
import shutil

import pytest
from hub_server import REVISION, serve

from localtune.engine import download as dl
from localtune.engine.models import Registry, check_folder, read_manifest
from localtune.errors import Cancelled, ModelError, OfflineError

REPO = "TinyOrg/tiny-llama-Instruct"


@pytest.fixture
def hub(tiny_model, monkeypatch):
    started = []

    def start(**options):
        hub, stop = serve(tiny_model, REPO, **options)
        started.append(stop)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        return hub

    yield start
    for stop in started:
        stop()


def registry(tmp_path):
    return Registry(tmp_path / "models", tmp_path / "config")


def test_the_file_list_names_host_size_and_hashes_before_anything_is_fetched(hub, tiny_model):
    server = hub()
    plan = dl.file_list(REPO)
    names = sorted(f.name for f in plan.files)
    assert names == sorted(p.name for p in tiny_model.iterdir() if p.is_file())  # not onnx/
    assert plan.revision == REVISION and plan.host == server.url.removeprefix("http://")
    assert plan.total_bytes == sum(p.stat().st_size for p in tiny_model.iterdir() if p.is_file())
    assert plan.verified == "hub" and plan.license == "apache-2.0" and not plan.gated
    assert "127.0.0.1" in plan.describe() and "the sha256 the Hub lists" in plan.describe()
    assert len(server.requests) == 1  # only the list so far


def test_a_complete_download_is_checked_and_registered(hub, tmp_path, tiny_model):
    server = hub()
    reg = registry(tmp_path)
    events = []
    gen = reg.pull_events(dl.file_list(REPO), "tiny")
    while True:
        try:
            events.append(next(gen))
        except StopIteration as done:
            info = done.value
            break
    assert events[-1].done == events[-1].total == dl.file_list(REPO).total_bytes and events[-1].eta_s == 0
    assert all(e.done <= e.total for e in events)
    folder = reg.resolve("tiny", verify=True)
    assert info.source == "hub" and folder == tmp_path / "models" / "tiny"
    assert read_manifest(folder)["verified"] == "hub" and check_folder(folder, hashes=True)
    for p in tiny_model.iterdir():
        if p.is_file():
            assert (folder / p.name).read_bytes() == p.read_bytes()
    assert not dl.staging(folder).exists()
    assert all(auth is None for _, _, auth in server.requests)  # no token unless one is given


def test_an_interrupted_download_resumes_where_it_stopped(hub, tmp_path, tiny_model):
    weights = (tiny_model / "model.safetensors").read_bytes()
    server = hub(drop_after={"model.safetensors": 40_000})
    reg = registry(tmp_path)
    plan = dl.file_list(REPO)
    with pytest.raises(OfflineError, match="resumes where it stopped"):
        list(reg.pull_events(plan, "tiny"))
    stage = dl.staging(tmp_path / "models" / "tiny")
    assert (stage / "model.safetensors").stat().st_size == 40_000
    assert not (tmp_path / "models" / "tiny").exists()
    list(reg.pull_events(plan, "tiny"))
    ranges = [r for path, r, _ in server.requests if path.endswith("model.safetensors")]
    assert ranges == [None, "bytes=40000-"]  # the second request asked only for the rest
    assert (tmp_path / "models" / "tiny" / "model.safetensors").read_bytes() == weights
    assert check_folder(reg.resolve("tiny"), hashes=True)


def test_a_damaged_file_is_deleted_and_nothing_is_registered(hub, tmp_path):
    hub(corrupt={"model.safetensors"})
    reg = registry(tmp_path)
    with pytest.raises(ModelError, match="arrived damaged.*sha256"):
        list(reg.pull_events(dl.file_list(REPO), "tiny"))
    assert not (dl.staging(tmp_path / "models" / "tiny") / "model.safetensors").exists()
    assert not (tmp_path / "models" / "tiny").exists()
    assert reg.list()[-1].name != "tiny"


def test_catalog_hashes_are_what_a_download_is_checked_against(hub, tmp_path, tiny_model):
    hub()
    files = [{"name": p.name, "size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in sorted(tiny_model.iterdir()) if p.is_file()]
    entry = {"hub_id": REPO, "revision": REVISION, "files": files, "license": "apache-2.0"}
    plan = dl.from_catalog(entry)
    assert plan.verified == "catalog" and plan.total_bytes == sum(f["size"] for f in files)
    # A catalog whose hash disagrees with the served bytes stops the download.
    bad = dict(entry, files=[dict(f, sha256="0" * 64) if f["name"] == "model.safetensors" else f for f in files])
    with pytest.raises(ModelError, match="arrived damaged"):
        list(dl.download(dl.from_catalog(bad), tmp_path / "bad"))
    # An entry without hashes is never called verified.
    unhashed = dl.from_catalog(dict(entry, files=[{k: v for k, v in f.items() if k != "sha256"} for f in files]))
    assert unhashed.verified == "none" and "NOT verified" in unhashed.describe()
    list(dl.download(plan, tmp_path / "good"))
    assert read_manifest(tmp_path / "good")["verified"] == "catalog"


def test_a_gated_model_needs_the_token_and_gets_it_only_from_the_caller(hub, tmp_path):
    server = hub(gated_token="hf_secret_token")
    with pytest.raises(dl.GatedModelError, match="gated"):
        dl.file_list(REPO)
    with pytest.raises(dl.GatedModelError, match="refused your token"):
        dl.file_list(REPO, token="hf_wrong")
    plan = dl.file_list(REPO, token="hf_secret_token")
    assert plan.gated
    list(registry(tmp_path).pull_events(plan, "tiny", token="hf_secret_token"))
    assert server.requests[-1][2] == "Bearer hf_secret_token"
    on_disk = [p for p in tmp_path.rglob("*") if p.is_file() and b"hf_secret_token" in p.read_bytes()]
    assert on_disk == []  # the token is never written next to the model


def test_offline_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(OfflineError, match="Could not reach 127.0.0.1"):
        registry(tmp_path).pull(REPO)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_the_disk_is_checked_first_and_a_cancel_keeps_what_arrived(hub, tmp_path, monkeypatch):
    server = hub()
    plan = dl.file_list(REPO)
    Usage = type(shutil.disk_usage(tmp_path))
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: Usage(10**12, 10**12 - 1000, 1000))
    with pytest.raises(ModelError, match="Not enough free disk space"):
        list(dl.download(plan, tmp_path / "m"))
    assert len(server.requests) == 1  # nothing fetched after the list
    monkeypatch.undo()
    monkeypatch.setenv("HF_ENDPOINT", server.url)

    class Stop:
        cancelled = True

    with pytest.raises(Cancelled):
        list(dl.download(plan, tmp_path / "m", cancel=Stop()))
    assert dl.staging(tmp_path / "m").is_dir() and not (tmp_path / "m").exists()


@pytest.mark.slow
def test_a_downloaded_model_trains(hub, tmp_path, examples, cpu):
    from localtune.engine.train import TrainConfig, train

    hub()
    reg = registry(tmp_path)
    reg.pull(REPO, "tiny")
    events = list(train(reg.resolve("tiny"), examples[:8], examples[8:], TrainConfig(epochs=1, max_steps=1,
                                                                                      batch_size=2), hardware=cpu))
    assert type(events[-1]).__name__ == "Finished"


def test_a_catalog_entry_holds_the_hub_to_its_hashes(hub, tiny_model, tmp_path):
    from localtune.engine import catalog

    hub()
    weights = hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    entry = catalog.Entry("tiny", REPO, "Llama", "llama", "main", 100_000, "apache-2.0", False, "cpu-laptop",
                          ({"name": "model.safetensors", "size_about": 1, "sha256": weights},), "a test")
    plan = catalog.plan_of(entry, dl.file_list(REPO))
    assert plan.verified == "catalog" and "localtune's catalog" in plan.describe()
    list(dl.download(plan, tmp_path / "m"))
    changed = catalog.Entry(**{**entry.__dict__, "files": ({"name": "model.safetensors", "sha256": "1" * 64},)})
    with pytest.raises(ModelError, match="not the one localtune's catalog lists .its sha256"):
        catalog.plan_of(changed, dl.file_list(REPO))
    resized = catalog.Entry(**{**entry.__dict__, "files": ({"name": "model.safetensors", "size": 1, "sha256": None},)})
    with pytest.raises(ModelError, match="not the one localtune's catalog lists .its size"):
        catalog.plan_of(resized, dl.file_list(REPO))
    unhashed = catalog.Entry(**{**entry.__dict__, "files": ({"name": "model.safetensors", "sha256": None},)})
    assert catalog.plan_of(unhashed, dl.file_list(REPO)).verified == "hub"  # never "catalog" without its hash


@pytest.mark.slow
def test_cli_pull_asks_first_keeps_the_token_in_the_vault_and_resumes(hub, tmp_path):
    import json

    from lt_testing import run_cli

    pw = "cli passphrase 1\n"
    server = hub(gated_token="hf_cli_secret", drop_after={"model.safetensors": 30_000})
    home = tmp_path / "lt"
    env = {"HF_ENDPOINT": server.url}
    assert run_cli(["init"], home=home, stdin=pw * 2).returncode == 0
    r = run_cli(["models", "pull", REPO], home=home, env=env)  # not a terminal and no --yes: nothing happens
    assert r.returncode == 1 and "Nothing was downloaded" in r.stderr and server.requests == []
    r = run_cli(["models", "pull", REPO, "--yes"], home=home, env=env)
    assert r.returncode == 1 and "gated" in r.stderr
    r = run_cli(["models", "pull", REPO, "--yes", "--token", "--name", "tiny"], home=home, env=env,
                stdin=pw + "hf_cli_secret\n")
    assert r.returncode == 1 and "resumes where it stopped" in r.stderr  # the connection dropped part-way
    assert "kept in your encrypted vault" in r.stderr
    r = run_cli(["models", "pull", REPO, "--yes", "--token", "--name", "tiny"], home=home, env=env, stdin=pw)
    assert r.returncode == 0, r.stderr
    assert "Downloaded 'tiny' (checked against the Hub's hashes)" in r.stdout and "from 127.0.0.1" in r.stderr
    ranges = [rng for path, rng, _ in server.requests if path.endswith("model.safetensors")]
    assert ranges == [None, "bytes=30000-"]
    on_disk = [str(p) for p in home.rglob("*") if p.is_file() and b"hf_cli_secret" in p.read_bytes()]
    assert on_disk == []  # only inside the encrypted vault
    r = run_cli(["models", "list", "--json"], home=home, env=env)
    assert "tiny" in [m["name"] for m in json.loads(r.stdout)]


def test_the_token_is_not_forwarded_when_the_hub_redirects(hub, tmp_path, monkeypatch):
    from hub_server import serve_redirect

    cdn = hub()  # stands in for the CDN the Hub sends files to
    front, seen, stop = serve_redirect(cdn.url)
    try:
        monkeypatch.setenv("HF_ENDPOINT", front)
        plan = dl.file_list(REPO, token="hf_front_only")
        list(dl.download(plan, tmp_path / "m", token="hf_front_only"))
    finally:
        stop()
    assert seen and all(auth == "Bearer hf_front_only" for _, _, auth in seen)
    assert cdn.requests and all(auth is None for _, _, auth in cdn.requests)
    assert check_folder(tmp_path / "m", hashes=True)
