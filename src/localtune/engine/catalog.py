"""The catalog of recommended base models (resources/catalog.json: data, not code) and which of them suit this
computer. Reading it never touches the network; downloading one is `download` after the user agrees."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import ModelError

HARDWARE = {"cpu-laptop": "a laptop's CPU (16 GB of RAM)", "gpu-8gb": "an 8 GB GPU", "gpu-24gb": "a 24 GB GPU",
            "apple-16gb": "Apple silicon with 16 GB"}
CPU_PARAMS = 2_000_000_000  # beyond this, training on a CPU takes longer than a user would wait (hours per epoch)


@dataclass(frozen=True)
class Entry:
    id: str
    hub_id: str
    family: str
    architecture: str
    revision: str
    params: int
    license: str
    gated: bool
    smallest_hardware: str
    files: tuple[dict, ...]
    source: str
    commit_seen: str | None = None
    config: dict | None = None  # config.json's shape values: what the memory estimate needs

    @property
    def hashes_sourced(self) -> bool:
        """Every weight file has a sha256 the catalog could source (else the download is not 'verified')."""
        return bool(self.files) and all(f.get("sha256") for f in self.files)

    @property
    def size_about(self) -> int | None:
        """The weights' bytes: exact where the catalog has them ("size"), else the Hub page's rounded figure."""
        sizes = [f.get("size") or f.get("size_about") for f in self.files]
        return sum(sizes) if sizes and all(sizes) else None

    def describe(self) -> str:
        size = f"about {self.size_about / 1e9:.2f} GB" if self.size_about else "size not in the catalog"
        return (f"{self.id} ({self.hub_id}): {self.family}, {self.params / 1e9:.2f}B parameters, {size}, "
                f"license {self.license}{', gated' if self.gated else ''}; trains on "
                f"{HARDWARE.get(self.smallest_hardware, self.smallest_hardware)} or more; "
                f"{'hashes from the catalog' if self.hashes_sourced else 'hashes NOT in the catalog'}")

    def to_dict(self) -> dict:
        return {**self.__dict__, "files": list(self.files), "hashes_sourced": self.hashes_sourced,
                "size_about": self.size_about}


def raw() -> dict:
    """The catalog file as shipped (the one place that reads it)."""
    from importlib.resources import files

    return json.loads((files("localtune.resources") / "catalog.json").read_text(encoding="utf-8"))


def entries() -> list[Entry]:
    out = []
    for m in raw()["models"]:
        out.append(Entry(m["id"], m["hub_id"], m["family"], m["architecture"], m["revision"], int(m["params"]),
                         m["license"], bool(m["gated"]), m["smallest_hardware"], tuple(m.get("files", [])),
                         m.get("source", ""), m.get("commit_seen"), m.get("config")))
    return out


def entry(key: str) -> Entry | None:
    """The catalog entry with this id or Hub id (None when the catalog does not list it)."""
    key = key.strip()
    for e in entries():
        if key.lower() in (e.id.lower(), e.hub_id.lower()):
            return e
    return None


def training_need(e: Entry, hardware) -> int:
    """The least memory a run on `e` holds on `hardware` (engine.hardware.Hardware), for long journal entries:
    the trainer's own term-by-term estimate (4-bit where the device has it, checkpointing, one example a pass)."""
    from .train.planning import least_memory, shape_of

    return least_memory(hardware, shape_of(e.config, e.params))


def trains_on(e: Entry, hardware) -> bool:
    """Whether `hardware` has the memory to train `e`, and on a CPU the time."""
    if training_need(e, hardware) > hardware.memory_free:
        return False
    return hardware.device != "cpu" or e.params <= CPU_PARAMS


def recommended(hardware, limit: int = 3) -> list[Entry]:
    """"Recommended for this computer": the largest catalog models this machine trains (larger reads better),
    instruct models the families localtune tests, ungated first among equals."""
    fitting = [e for e in entries() if trains_on(e, hardware)]
    fitting.sort(key=lambda e: (-e.params, e.gated))
    return fitting[:limit]


def plan_of(e: Entry, listed) -> object:
    """The download of `e` from the Hub's file list `listed` (download.Download), held to the catalog: a weight
    file whose sha256 the catalog knows must match it, and is checked against the catalog's value."""
    from dataclasses import replace

    from .download import RemoteFile

    known = {f["name"]: f.get("sha256") for f in e.files if f.get("sha256")}
    sizes = {f["name"]: f["size"] for f in e.files if f.get("size")}
    files = []
    for f in listed.files:
        want = known.get(f.name)
        differs = "sha256" if want and f.sha256 and f.sha256 != want else \
            "size" if sizes.get(f.name) and f.size and f.size != sizes[f.name] else None
        if differs:
            raise ModelError(f"The Hub's {f.name} of {e.hub_id} is not the one localtune's catalog lists (its {differs} "
                             "differs): the model changed since the catalog was made. Nothing was downloaded.")
        files.append(RemoteFile(f.name, f.size, want or f.sha256))
    weights = [f for f in files if f.name.endswith(".safetensors")]
    by_catalog = bool(weights) and all(known.get(f.name) for f in weights)
    return replace(listed, files=tuple(files), verified="catalog" if by_catalog else listed.verified,
                   gated=listed.gated or e.gated, license=listed.license or e.license)
