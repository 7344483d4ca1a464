"""Fake-but-real model stores in a temporary folder: the files each program writes, in its own layout, holding a
real tiny model (a Hugging Face folder saved by transformers, GGUF files written with the `gguf` package)."""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gguf_helpers import write_llama_gguf

REVISION = "0123456789abcdef0123456789abcdef01234567"
HUB_ID = "TinyOrg/tiny-llama-Instruct"
README = "---\nlicense: apache-2.0\nlanguage: en\n---\n# A tiny model\n"


@dataclass
class Stores:
    home: Path  # the fake home folder (LM Studio, GPT4All and Ollama's defaults live under it)
    env: dict  # HF_HOME, OLLAMA_MODELS
    hf_hub: Path
    ollama: Path
    user_folder: Path


def hf_cache(hub: Path, model: Path, hub_id: str = HUB_ID, readme: str = README) -> Path:
    """The Hub cache layout huggingface_hub writes: blobs by hash, snapshot files linking to them, refs/main."""
    repo = hub / ("models--" + hub_id.replace("/", "--"))
    snap = repo / "snapshots" / REVISION
    (repo / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    files = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    files["README.md"] = readme.encode()
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / digest).write_bytes(data)
        os.symlink(f"../../blobs/{digest}", snap / name)
    return snap


def ollama_store(root: Path, gguf: Path, model: str = "tinyllama", tag: str = "q8",
                 license_text: str = "Apache License\nVersion 2.0") -> Path:
    """Ollama's layout: a manifest naming the GGUF blob, its license and template blobs by digest."""
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / f"sha256-{digest}").write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layers = [{"mediaType": "application/vnd.ollama.image.model", **blob(gguf.read_bytes())},
              {"mediaType": "application/vnd.ollama.image.license", **blob(license_text.encode())},
              {"mediaType": "application/vnd.ollama.image.template", **blob(b"{{ .Prompt }}")}]
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / model / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers,
                                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json"}}))
    return manifest


def build(root: Path, tiny_model: Path) -> Stores:
    home = root / "home"
    home.mkdir(parents=True)
    ggufs = root / "gguf-sources"
    ggufs.mkdir()
    q8 = write_llama_gguf(tiny_model, ggufs / "q8.gguf", "Q8_0", name="Tiny Llama Instruct")
    f16 = write_llama_gguf(tiny_model, ggufs / "f16.gguf", "F16", name="Tiny Llama Instruct")
    base = write_llama_gguf(tiny_model, ggufs / "base.gguf", "F16", name="Tiny Llama", license="",
                            chat_template=False)
    hf_home = root / "hf-home"
    hf_cache(hf_home / "hub", tiny_model)
    ollama = root / "ollama-models"
    ollama_store(ollama, q8)
    lms = home / ".lmstudio" / "models" / "TinyPub" / "tiny-llama-GGUF"
    lms.mkdir(parents=True)
    shutil.copy(f16, lms / "tiny-llama-instruct-F16.gguf")
    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    gpt4all.mkdir(parents=True)
    shutil.copy(base, gpt4all / "tiny-llama-base.F16.gguf")
    (gpt4all / "localdocs_v2.db").write_bytes(b"not a model")
    mine = root / "my-models"
    shutil.copytree(tiny_model, mine / "projects" / "tiny-chat")
    (mine / "notes.txt").write_text("not a model")
    return Stores(home, {"HF_HOME": str(hf_home), "OLLAMA_MODELS": str(ollama)}, hf_home / "hub", ollama, mine)


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under `roots` (links followed) -> sha256: to show a store was left exactly as it was."""
    out = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_symlink():
                out[str(p)] = "link:" + os.readlink(p)
    return out
