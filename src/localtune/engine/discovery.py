"""Models already on this computer: the Hugging Face cache, Ollama, LM Studio, GPT4All and folders the user adds.

Discovery only reads: file names, JSON manifests and configs, safetensors and GGUF headers. It never loads
weights, never writes into another program's store and never touches the network. Adding a found model goes
through `models.Registry` (a GGUF is converted once into localtune's own cache; the original stays as it is).

Where each program keeps its models (the environment variable first, then the default folders):
- Hugging Face: `HF_HUB_CACHE`, else `HF_HOME`/hub, else `XDG_CACHE_HOME`/huggingface/hub, else
  ~/.cache/huggingface/hub; `models--owner--name/snapshots/<revision>/`, the revision `refs/main` names.
- Ollama: `OLLAMA_MODELS`, else ~/.ollama/models (Linux, macOS, Windows) and /usr/share/ollama/.ollama/models
  (the Linux service); `manifests/<registry>/<namespace>/<model>/<tag>` is JSON whose layer of media type
  `application/vnd.ollama.image.model` names a GGUF blob `blobs/sha256-<hex>`.
- LM Studio: ~/.lmstudio/models and ~/.cache/lm-studio/models; `<publisher>/<model>/*.gguf`.
- GPT4All: ~/.local/share/nomic.ai/GPT4All (Linux), ~/Library/Application Support/nomic.ai/GPT4All (macOS),
  %LOCALAPPDATA%/nomic.ai/GPT4All (Windows); `*.gguf`.
The home folder, the environment and the platform are injected (`Places`), so tests never see the host's.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

STORES = ("huggingface", "ollama", "lmstudio", "gpt4all", "folder")
STORE_NAMES = {"huggingface": "Hugging Face cache", "ollama": "Ollama", "lmstudio": "LM Studio",
               "gpt4all": "GPT4All", "folder": "your folder"}
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_LICENSE_LAYER = "application/vnd.ollama.image.license"
OLLAMA_TEMPLATE_LAYER = "application/vnd.ollama.image.template"
FOLDERS_FILE = "discovery-folders.json"  # folders the user added (paths only; no journal data)
_MAX_DEPTH = 4  # how deep a user's folder is searched

# Architectures localtune trains (transformers model_type / GGUF general.architecture).
FAMILIES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3", "gemma": "Gemma",
            "gemma2": "Gemma 2", "gemma3": "Gemma 3", "gemma3_text": "Gemma 3", "phi3": "Phi-3"}
# GGUF architectures (general.architecture) localtune converts into a safetensors folder: those whose conversion
# is tested end to end (tests/engine/test_gguf_families.py). Mistral's GGUFs say "llama".
GGUF_ARCHITECTURES = frozenset({"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"})
_CHAT_WORDS = re.compile(r"(instruct|chat|[-_.]it\b|[-_.]it[-_.]|assistant|hermes|dpo|sft|rlhf)", re.I)
_BASE_WORDS = re.compile(r"(\bbase\b|[-_]base\b|[-_]pt\b|pretrain)", re.I)


@dataclass(frozen=True)
class Places:
    """Where to look: the home folder, the environment and the platform ("linux" | "darwin" | "win32")."""

    home: Path
    env: Mapping[str, str] = field(default_factory=dict)
    platform: str = "linux"
    folders: tuple[Path, ...] = ()  # folders the user added

    @classmethod
    def here(cls, folders: Iterable[str | os.PathLike] = ()) -> Places:
        return cls(Path.home(), dict(os.environ), sys.platform, tuple(Path(f) for f in folders))

    def hf_hub(self) -> list[Path]:
        e = self.env
        if e.get("HF_HUB_CACHE"):
            return [Path(e["HF_HUB_CACHE"])]
        if e.get("HUGGINGFACE_HUB_CACHE"):
            return [Path(e["HUGGINGFACE_HUB_CACHE"])]
        if e.get("HF_HOME"):
            return [Path(e["HF_HOME"]) / "hub"]
        cache = Path(e["XDG_CACHE_HOME"]) if e.get("XDG_CACHE_HOME") else self.home / ".cache"
        return [cache / "huggingface" / "hub"]

    def ollama(self) -> list[Path]:
        if self.env.get("OLLAMA_MODELS"):
            return [Path(self.env["OLLAMA_MODELS"])]
        found = [self.home / ".ollama" / "models"]
        if self.platform.startswith("linux"):
            found.append(Path("/usr/share/ollama/.ollama/models"))
        return found

    def lmstudio(self) -> list[Path]:
        return [self.home / ".lmstudio" / "models", self.home / ".cache" / "lm-studio" / "models"]

    def gpt4all(self) -> list[Path]:
        if self.platform == "darwin":
            return [self.home / "Library" / "Application Support" / "nomic.ai" / "GPT4All"]
        if self.platform == "win32":
            local = Path(self.env["LOCALAPPDATA"]) if self.env.get("LOCALAPPDATA") else self.home / "AppData" / "Local"
            return [local / "nomic.ai" / "GPT4All"]
        data = Path(self.env["XDG_DATA_HOME"]) if self.env.get("XDG_DATA_HOME") else self.home / ".local" / "share"
        return [data / "nomic.ai" / "GPT4All"]


@dataclass(frozen=True)
class Found:
    """One model on disk, as its files describe it."""

    store: str  # one of STORES
    name: str  # what its program calls it: a Hub id, "llama3.2:3b", a file name
    path: str  # a model folder (config.json + weights) or a GGUF file
    kind: str  # "folder" | "gguf"
    architecture: str  # transformers model_type / GGUF general.architecture ("" when unknown)
    params: int  # counted from the weight headers (0 when unknown)
    quantization: str  # "bf16", "f16", "Q4_K_M", "Q8_0", "4-bit (bitsandbytes)", ...
    size_bytes: int
    chat: bool | None  # instruct/chat-tuned (True), a base model (False), unknown (None)
    license: str = ""
    shape: dict = field(default_factory=dict)  # hidden, inter, layers, vocab, heads, kv_heads, head_dim, tied
    trainable: bool = True  # an architecture localtune trains, in a form it can read
    problem: str = ""  # why not, when not

    @property
    def key(self) -> str:
        """A stable handle for the CLI and the app: "<store>:<name>"."""
        return f"{self.store}:{self.name}"

    @property
    def family(self) -> str:
        return FAMILIES.get(self.architecture, self.architecture or "unknown")

    @property
    def suggested_name(self) -> str:
        """A name for localtune's list of models."""
        base = self.name.split("/")[-1]
        return re.sub(r"[^a-z0-9_.-]+", "-", base.lower()).strip("-.") or "model"

    def describe(self) -> str:
        gib = 1024**3
        kind = {True: "chat/instruct", False: "base", None: "chat or base unknown"}[self.chat]
        params = f"{self.params / 1e9:.2f}B" if self.params >= 1e9 else f"{self.params / 1e6:.0f}M"
        bits = [f"{self.family}", f"{params if self.params else '? '} parameters", self.quantization or "?",
                f"{self.size_bytes / gib:.2f} GiB", kind]
        if self.license:
            bits.append(f"license {self.license}")
        text = f"{self.name} ({STORE_NAMES[self.store]}): " + ", ".join(bits)
        return text + (f" — cannot train: {self.problem}" if not self.trainable else "")

    def to_dict(self) -> dict:
        return {**asdict(self), "key": self.key, "family": self.family}


# --- reading headers ---------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _safetensors_header(path: Path) -> dict:
    """The JSON header of a safetensors file (names, dtypes, shapes), read without the weights."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100 * 1024**2:
                return {}
            return json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return {}


def _shape_from_config(c: dict) -> dict:
    c = c.get("text_config", c) if "hidden_size" not in c else c  # Gemma 3 keeps the text model's sizes inside
    try:
        h, heads = int(c["hidden_size"]), int(c.get("num_attention_heads", 1))
        return {"hidden": h, "inter": int(c.get("intermediate_size") or 4 * h), "layers": int(c["num_hidden_layers"]),
                "vocab": int(c["vocab_size"]), "heads": heads, "kv_heads": int(c.get("num_key_value_heads") or heads),
                "head_dim": int(c.get("head_dim") or h // heads), "tied": bool(c.get("tie_word_embeddings", False))}
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return {}


def _params_from_shape(s: dict) -> int:
    if not s:
        return 0
    h, kv, hd = s["hidden"], s["kv_heads"], s["head_dim"]
    attn = h * hd * s["heads"] * 2 + h * hd * kv * 2
    return s["layers"] * (attn + 3 * h * s["inter"] + 2 * h) + s["vocab"] * h * (1 if s["tied"] else 2) + h


def _license_from_readme(folder: Path) -> str:
    """The `license:` of a Hub model card's front matter."""
    try:
        text = (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:8000]
    except OSError:
        return ""
    if not text.startswith("---"):
        return ""
    front = text[3:].split("\n---", 1)[0]
    m = re.search(r"^license:\s*['\"]?([^'\"\n]+)", front, re.M)
    name = m.group(1).strip() if m else ""
    if name == "other":
        m = re.search(r"^license_name:\s*['\"]?([^'\"\n]+)", front, re.M)
        name = m.group(1).strip() if m else name
    return name


def _chat_guess(name: str, has_template: bool) -> bool | None:
    if _CHAT_WORDS.search(name):
        return True
    if _BASE_WORDS.search(name):
        return False
    return True if has_template else None


def read_folder(folder: Path, *, store: str = "folder", name: str | None = None) -> Found | None:
    """A Hugging Face model folder (config.json + safetensors), or None when `folder` is not one."""
    folder = Path(folder)
    config = _read_json(folder / "config.json")
    if not config:
        return None
    weights = sorted(folder.glob("*.safetensors"))
    bins = sorted(folder.glob("*.bin"))
    if not weights and not bins:
        return None
    name = name or folder.name
    arch = str(config.get("model_type", ""))
    shape = _shape_from_config(config)
    params, dtypes = 0, {}
    for w in weights:
        for key, meta in _safetensors_header(w).items():
            if key == "__metadata__" or not isinstance(meta, dict):
                continue
            n = 1
            for d in meta.get("shape", []):
                n *= int(d)
            params += n
            dtypes[meta.get("dtype", "?")] = dtypes.get(meta.get("dtype", "?"), 0) + n
    if not params:
        params = _params_from_shape(shape)
    q = config.get("quantization_config") or {}
    if q:
        method = q.get("quant_method", "quantized")
        bits = q.get("bits") or (4 if q.get("load_in_4bit") else 8 if q.get("load_in_8bit") else None)
        quant = f"{bits}-bit ({method})" if bits else str(method)
    elif dtypes:
        quant = max(dtypes, key=dtypes.get).lower()
    else:
        quant = str(config.get("dtype") or config.get("torch_dtype") or "")
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    tok = _read_json(folder / "tokenizer_config.json")
    has_template = bool(tok.get("chat_template")) or (folder / "chat_template.jinja").is_file() \
        or (folder / "chat_template.json").is_file()
    trainable, problem = True, ""
    if arch not in FAMILIES:
        trainable, problem = False, f"the {arch or 'unknown'} architecture is not one localtune trains"
    elif q:
        trainable, problem = False, "its weights are already quantized; localtune needs the full-precision ones"
    elif not weights:
        trainable, problem = False, "it has only *.bin weights (pickles, which localtune does not load)"
    elif not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer.model").is_file():
        trainable, problem = False, "it has no tokenizer"
    return Found(store, name, str(folder), "folder", arch, params, quant, size,
                 _chat_guess(name, has_template), _license_from_readme(folder), shape, trainable, problem)


def gguf_metadata(path: Path) -> dict:
    """The GGUF's key/value metadata (the tokenizer's long arrays left out) and its tensor statistics."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(path), "r")
    meta = {}
    for key, f in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and f.types and f.types[0] == GGUFValueType.ARRAY:
            meta[key + "#count"] = len(f.data)
            continue
        try:
            meta[key] = f.contents()
        except (ValueError, IndexError, TypeError):
            continue
    counts: dict[str, int] = {}
    params = 0
    for t in reader.tensors:
        n = int(t.n_elements)
        params += n
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + n
    meta["#params"] = params
    meta["#types"] = counts
    meta["#tensors"] = [t.name for t in reader.tensors]
    return meta


def gguf_architecture(path: Path) -> str | None:
    """A GGUF file's general.architecture ("" when it has none), None when it is not a readable GGUF."""
    from gguf import GGUFReader

    try:
        f = GGUFReader(str(path), "r").fields.get("general.architecture")
        return str(f.contents()) if f is not None else ""
    except Exception:  # noqa: BLE001 - any parse failure means "not a GGUF we can read"
        return None


def _gguf_quant(meta: dict) -> str:
    from gguf import LlamaFileType

    ftype = meta.get("general.file_type")
    if ftype is not None:
        try:
            name = LlamaFileType(int(ftype)).name
        except ValueError:
            name = ""
        if name:
            return {"ALL_F32": "F32", "MOSTLY_F16": "F16", "MOSTLY_BF16": "BF16"}.get(name, name.removeprefix("MOSTLY_"))
    types = meta.get("#types") or {}
    return max(types, key=types.get) if types else ""


def read_gguf(path: Path, *, store: str = "folder", name: str | None = None, license_text: str = "",
              template: bool = False) -> Found | None:
    """A GGUF file's model, from its header; None when it is not a readable GGUF."""
    path = Path(path)
    try:
        meta = gguf_metadata(path)
    except Exception:  # noqa: BLE001 - any parse failure means "not a GGUF we can read"
        return None
    arch = str(meta.get("general.architecture", ""))
    if not arch:
        return None
    g = lambda k, d=None: meta.get(f"{arch}.{k}", d)  # noqa: E731
    try:
        h = int(g("embedding_length"))
        heads = int(g("attention.head_count", 1))
        vocab = int(g("vocab_size") or meta.get("tokenizer.ggml.tokens#count") or 0)
        kv = g("attention.head_count_kv", heads)
        shape = {"hidden": h, "inter": int(g("feed_forward_length", 4 * h)), "layers": int(g("block_count")),
                 "vocab": vocab, "heads": heads, "kv_heads": int(kv if not isinstance(kv, list) else kv[0]),
                 "head_dim": int(g("attention.key_length") or h // heads),
                 "tied": "output.weight" not in meta["#tensors"]}
    except (TypeError, ValueError, ZeroDivisionError):
        shape = {}
    name = name or str(meta.get("general.name") or path.stem)
    lic = str(meta.get("general.license", "") or license_text)
    has_template = bool(meta.get("tokenizer.chat_template")) or template
    label = " ".join(str(meta.get(k, "")) for k in ("general.name", "general.finetune", "general.basename"))
    chat = _chat_guess(f"{name} {label}", has_template)
    trainable, problem = True, ""
    if arch not in FAMILIES:
        trainable, problem = False, f"the {arch} architecture is not one localtune trains"
    elif arch not in GGUF_ARCHITECTURES:
        trainable, problem = False, (f"localtune cannot convert GGUF files of the {arch} architecture; "
                                     "add its Hugging Face folder (safetensors) instead")
    elif not shape:
        trainable, problem = False, "its header lacks the model's sizes"
    return Found(store, name, str(path), "gguf", arch, int(meta["#params"]), _gguf_quant(meta),
                 path.stat().st_size, chat, lic, shape, trainable, problem)


# --- the stores ----------------------------------------------------------------------------------------------


def _hf_cache(root: Path) -> Iterator[Found]:
    for repo in sorted(root.glob("models--*")):
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        try:
            revision = (repo / "refs" / "main").read_text().strip()
        except OSError:
            revision = ""
        folder = snapshots / revision if revision and (snapshots / revision).is_dir() else None
        if folder is None:
            candidates = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
            folder = candidates[-1] if candidates else None
        if folder is None:
            continue
        hub_id = repo.name.removeprefix("models--").replace("--", "/")
        found = read_folder(folder, store="huggingface", name=hub_id)
        if found:
            yield found
            continue
        for gguf in sorted(folder.glob("*.gguf")):  # a Hub repository of GGUF files
            found = read_gguf(gguf, store="huggingface", name=f"{hub_id}/{gguf.name}")
            if found:
                yield found


def _ollama(root: Path) -> Iterator[Found]:
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        data = _read_json(manifest)
        layers = {layer.get("mediaType"): layer.get("digest", "") for layer in data.get("layers", [])
                  if isinstance(layer, dict)}
        digest = layers.get(OLLAMA_MODEL_LAYER)
        if not digest:
            continue
        blob = root / "blobs" / digest.replace(":", "-")
        if not blob.is_file():
            continue
        parts = manifest.relative_to(manifests).parts  # registry, namespace, model, tag
        model, tag = parts[-2] if len(parts) >= 2 else parts[-1], parts[-1]
        namespace = parts[-3] if len(parts) >= 3 else "library"
        name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
        license_text = ""
        if lic := layers.get(OLLAMA_LICENSE_LAYER):
            try:
                first = (root / "blobs" / lic.replace(":", "-")).read_text(errors="replace").strip().splitlines()
                license_text = first[0].strip()[:80] if first else ""
            except OSError:
                pass
        found = read_gguf(blob, store="ollama", name=name, license_text=license_text,
                          template=OLLAMA_TEMPLATE_LAYER in layers)
        if found:
            yield found


def _walk(root: Path, depth: int = _MAX_DEPTH) -> Iterator[Path]:
    """Folders under `root` (itself included), `depth` levels down, hidden ones skipped."""
    yield root
    if depth <= 0:
        return
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        yield from _walk(child, depth - 1)


def _files(root: Path, store: str) -> Iterator[Found]:
    for folder in _walk(root):
        found = read_folder(folder, store=store, name=folder.name) if (folder / "config.json").is_file() else None
        if found:
            yield found
            continue
        for gguf in sorted(folder.glob("*.gguf")):
            if re.search(r"mmproj|-of-0*[2-9]\d*\.gguf$", gguf.name, re.I) and "00001-of" not in gguf.name:
                continue  # vision projectors and the later parts of split files are not models
            rel = gguf.relative_to(root)
            found = read_gguf(gguf, store=store, name=str(rel.with_suffix("")) if store == "lmstudio" else gguf.stem)
            if found:
                yield found


def discover(places: Places | None = None) -> list[Found]:
    """Every model found in every store, the Hugging Face cache first; the same file found twice is listed once."""
    places = places or Places.here()
    seen: set[str] = set()
    out = []
    sources = [(root, _hf_cache) for root in places.hf_hub()]
    sources += [(root, _ollama) for root in places.ollama()]
    sources += [(root, lambda r: _files(r, "lmstudio")) for root in places.lmstudio()]
    sources += [(root, lambda r: _files(r, "gpt4all")) for root in places.gpt4all()]
    sources += [(Path(root), lambda r: _files(r, "folder")) for root in places.folders]
    for root, scan in sources:
        if not root.is_dir():
            continue
        try:
            for found in scan(root):
                real = os.path.realpath(found.path)
                if real not in seen:
                    seen.add(real)
                    out.append(found)
        except OSError:
            continue  # a store we may not read (permissions, a vanished mount) is skipped, not fatal
    return out


def find(key: str, places: Places | None = None) -> Found:
    """The found model with this key ("ollama:llama3.2:3b") or name."""
    from ..errors import ModelError

    everything = discover(places)
    for found in everything:
        if key in (found.key, found.name):
            return found
    raise ModelError(f"No model {key!r} on this computer. See: localtune-cli models discover")


# --- the user's folders ---------------------------------------------------------------------------------


def user_folders(config_dir: str | os.PathLike) -> list[str]:
    value = _read_json(Path(config_dir) / FOLDERS_FILE).get("folders", [])
    return [str(v) for v in value if isinstance(v, str)]


def set_user_folders(config_dir: str | os.PathLike, folders: Iterable[str]) -> list[str]:
    kept = list(dict.fromkeys(str(Path(f).expanduser().resolve()) for f in folders))
    file = Path(config_dir) / FOLDERS_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"folders": kept}, indent=1))
    os.replace(tmp, file)
    return kept


# --- does it train here ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """What training a found model here would take, from the engine's own plan."""

    quantization: str  # "nf4" | "none"
    grad_checkpointing: bool
    memory_needed: int
    memory_free: int
    eta_s: float | None  # None when no measured step time was given to scale from

    @property
    def fits(self) -> bool:
        return self.memory_needed <= self.memory_free

    def describe(self) -> str:
        from .train.planning import _duration

        gib = 1024**3
        how = "QLoRA (4-bit)" if self.quantization == "nf4" else "LoRA"
        text = (f"{'trains here' if self.fits else 'does not fit here'}: {how}, ~{self.memory_needed / gib:.1f} GiB "
                f"of {self.memory_free / gib:.1f} GiB free")
        if self.eta_s is not None:
            text += f", about {_duration(self.eta_s)} for this journal (scaled from measured steps)"
        return text


def fit(found: Found, hardware, lengths: Iterable[tuple[int, int]], config=None, *,
        seconds_per_param_token: float | None = None) -> Fit | None:
    """The engine's plan for `found` on `hardware`, for examples of these (total tokens, prompt tokens) lengths
    (a journal's examples tokenized by any model of similar vocabulary; the starter's will do). The time is
    `seconds_per_param_token` (measured on another model, see `rate_from_plan`) scaled to this model's size and
    the plan's tokens. None when the model's sizes are unknown."""
    import tempfile

    from .data import Tokenized
    from .train import TrainConfig
    from .train.planning import _plan

    if not found.shape:
        return None
    config = config or TrainConfig()
    s = found.shape
    cap = config.max_seq_len or 1 << 30
    items = [Tokenized(tuple(range(min(n, cap))), min(p, min(n, cap) - 1)) for n, p in lengths if n > 1]
    if not items:
        return None
    settings = {"hidden_size": s["hidden"], "intermediate_size": s["inter"], "num_hidden_layers": s["layers"],
                "vocab_size": s["vocab"], "num_attention_heads": s["heads"], "num_key_value_heads": s["kv_heads"],
                "head_dim": s["head_dim"], "tie_word_embeddings": s["tied"]}
    with tempfile.TemporaryDirectory(prefix="localtune-shape-") as folder:  # sizes only; no data
        (Path(folder) / "config.json").write_text(json.dumps(settings))
        p = _plan(hardware, folder, items, config)
    eta = None
    if seconds_per_param_token:
        tokens = p.train_tokens_per_epoch * p.total_steps / max(p.steps_per_epoch, 1)
        eta = seconds_per_param_token * max(found.params, 1) * tokens
    return Fit(p.quantization, p.grad_checkpointing, p.memory_needed, p.memory_free, eta)


def rate_from_plan(plan_, params: int) -> float | None:
    """Seconds per parameter per training token of a calibrated plan (one with `seconds_per_step`)."""
    if not plan_.seconds_per_step or not params or not plan_.steps_per_epoch:
        return None
    tokens_per_step = plan_.train_tokens_per_epoch / plan_.steps_per_epoch
    return plan_.seconds_per_step / (params * tokens_per_step)


def with_fit(found: Found, fit_: Fit | None) -> dict:
    row = found.to_dict()
    if fit_ is not None:
        row["fit"] = {**asdict(fit_), "fits": fit_.fits}
    return row


__all__ = ["Fit", "Found", "Places", "discover", "find", "fit", "rate_from_plan", "read_folder", "read_gguf"]
