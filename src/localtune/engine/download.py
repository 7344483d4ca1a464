"""Downloading a base model from the Hugging Face Hub: the one network feature, and only when the user asks.

What it does, in order: says what it will fetch from where (`Download`, sizes from the catalog or the Hub's
file list), checks the disk has room, fetches each file into a staging folder beside the target (a dropped
connection resumes with an HTTP Range request where it stopped), checks every file's size and sha256, and only
then moves the folder into place. Hashes come from the catalog (`verified="catalog"`), else from the Hub's own
file list (`verified="hub"`: the files match what the server says, not a hash localtune knew beforehand), else
there are none (`verified="none"`). A gated model needs the user's token; it is sent only to the Hub's host.

The host is `HF_ENDPOINT` (default https://huggingface.co), read at each call, so tests can point it at a
small server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ..errors import Cancelled, ModelError, OfflineError
from ..events import Event

DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PATTERNS = ("*.json", "*.safetensors", "tokenizer.model", "*.txt", "*.jinja")
SKIP = ("*.gguf", "onnx/*", "*/*")  # other formats and sub-folders (original checkpoints, ONNX exports)
DISK_MARGIN = 200 * 1024**2  # left free after a download
TIMEOUT_S = 30
_CHUNK = 1 << 20
_EVERY_S = 0.25  # at most 4 progress events a second


class GatedModelError(ModelError):
    """The model is gated: the Hub wants a token from an account that accepted its license."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class Download:
    """What a download would fetch: shown to the user before anything is fetched."""

    hub_id: str
    revision: str
    host: str
    files: tuple[RemoteFile, ...]
    verified: str  # "catalog" | "hub" | "none": where the hashes the files are checked against come from
    gated: bool = False
    license: str = ""

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def describe(self) -> str:
        gib = self.total_bytes / 1024**3
        check = {"catalog": "the weights checked against the sha256 in localtune's catalog, other files by size",
                 "hub": "the weights checked against the sha256 the Hub lists (not one localtune knew beforehand), "
                        "other files by size",
                 "none": "no hashes known: sizes are checked, the content is NOT verified"}[self.verified]
        return (f"{self.hub_id} at revision {self.revision[:12]}: {len(self.files)} files, {gib:.2f} GiB from "
                f"{self.host}; {check}{'; gated: needs your Hub token' if self.gated else ''}")


@dataclass(frozen=True)
class Downloading(Event):
    """Progress of a download: bytes so far of all files, the speed, and the time left at that speed."""

    file: str
    done: int
    total: int
    bytes_per_s: float
    eta_s: float | None


@dataclass
class _Request:
    token: str | None = None
    opened: list = field(default_factory=list)


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def host() -> str:
    return urllib.parse.urlsplit(endpoint()).netloc or endpoint()


def wanted(name: str) -> bool:
    return any(fnmatch(name, p) for p in PATTERNS) and not any(fnmatch(name, p) for p in SKIP)


def _open(url: str, token: str | None, headers: dict | None = None):
    req = urllib.request.Request(url, headers={"User-Agent": "localtune", **(headers or {})})
    if token and urllib.parse.urlsplit(url).netloc == host():  # the token goes to the Hub's host only:
        req.add_unredirected_header("Authorization", f"Bearer {token}")  # not to a CDN the Hub redirects to
    try:
        return urllib.request.urlopen(req, timeout=TIMEOUT_S)  # noqa: S310 - https or the test server
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise GatedModelError(
                "The Hub refused the download: this model is gated. Accept its license on its Hub page with "
                "your account, then give localtune your access token (it is kept only in your encrypted vault)."
                if not token else "The Hub refused your token for this model: check that the token is valid and "
                "that your account accepted the model's license.") from None
        if exc.code == 404:
            raise ModelError(f"The Hub has no such model or file ({urllib.parse.urlsplit(url).path}).") from None
        raise ModelError(f"The Hub answered {exc.code} ({exc.reason}).") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise OfflineError(f"Could not reach {host()} ({getattr(exc, 'reason', exc)}). Check the internet "
                           "connection and try again; a download that stopped resumes where it stopped.") from None


def file_list(hub_id: str, revision: str = "main", *, token: str | None = None) -> Download:
    """Ask the Hub which files `hub_id` has at `revision` (one request naming only the model)."""
    url = f"{endpoint()}/api/models/{hub_id}/revision/{urllib.parse.quote(revision, safe='')}?blobs=true"
    with _open(url, token) as response:
        info = json.loads(response.read())
    files = []
    for s in info.get("siblings", []):
        name = s.get("rfilename", "")
        if not wanted(name):
            continue
        lfs = s.get("lfs") or {}
        files.append(RemoteFile(name, int(s.get("size") or lfs.get("size") or 0), lfs.get("sha256")))
    if not any(f.name.endswith(".safetensors") for f in files):
        raise ModelError(f"{hub_id} has no safetensors weights localtune can train from.")
    hashed = all(f.sha256 for f in files if f.name.endswith(".safetensors"))
    card = info.get("cardData") or {}
    return Download(hub_id, info.get("sha") or revision, host(), tuple(files), "hub" if hashed else "none",
                    bool(info.get("gated")), str(card.get("license", "")))


def from_catalog(entry: dict) -> Download:
    """A catalog entry's download (no network: the sizes and hashes are the catalog's)."""
    files = tuple(RemoteFile(f["name"], int(f["size"]), f.get("sha256")) for f in entry["files"])
    verified = "catalog" if files and all(f.sha256 for f in files) else "none"
    return Download(entry["hub_id"], entry["revision"], host(), files, verified, bool(entry.get("gated")),
                    entry.get("license", ""))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def staging(folder: Path) -> Path:
    """Where a download of `folder` keeps its files until all are checked (kept across interruptions)."""
    return folder.parent / f".{folder.name}.download"


def check_disk(plan: Download, folder: Path) -> None:
    stage = staging(folder)
    have = sum(p.stat().st_size for p in stage.iterdir() if p.is_file()) if stage.is_dir() else 0
    need = max(plan.total_bytes - have, 0)
    probe = folder.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if need + DISK_MARGIN > free:
        gib = 1024**3
        raise ModelError(f"Not enough free disk space: the download needs {need / gib:.2f} GiB more "
                         f"(and {DISK_MARGIN / gib:.1f} GiB to spare); {free / gib:.2f} GiB is free. Nothing was "
                         "downloaded.")


def download(plan: Download, folder: str | os.PathLike, *, token: str | None = None, cancel=None,
             disk_check=check_disk) -> Iterator[Downloading]:
    """Fetch `plan` into `folder` (created only once every file checks out); yields Downloading events.
    Interrupted (a dropped connection, a cancel, a crash), the files so far stay in the staging folder and the
    next call resumes them. A file whose size or hash is wrong is deleted and the download fails."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    disk_check(plan, folder)
    stage = staging(folder)
    stage.mkdir(exist_ok=True)
    total = plan.total_bytes
    done = sum(min(_size(stage / f.name), f.size) for f in plan.files)
    started, start_done, last = time.monotonic(), done, 0.0
    for f in plan.files:
        target = stage / f.name
        if _size(target) == f.size and _matches(target, f):
            continue
        if _size(target) > f.size:
            target.unlink()
        have = _size(target)
        url = f"{endpoint()}/{plan.hub_id}/resolve/{urllib.parse.quote(plan.revision, safe='')}/{f.name}"
        response = _open(url, token, {"Range": f"bytes={have}-"} if have else None)
        with response:
            if have and response.status != 206:  # the server ignored the range: start the file again
                done -= have
                have = 0
            with open(target, "ab" if have else "wb") as out:
                while True:
                    if cancel is not None and getattr(cancel, "cancelled", False):
                        raise Cancelled("Download stopped; it resumes where it stopped next time.")
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as exc:  # a dropped connection, a timeout
                        raise OfflineError(f"The connection to {plan.host} dropped ({exc}). Try again: the download "
                                           "resumes where it stopped.") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    now = time.monotonic()
                    if now - last >= _EVERY_S:
                        last = now
                        speed = (done - start_done) / max(now - started, 1e-6)
                        yield Downloading(f.name, done, total, speed, (total - done) / speed if speed else None)
        size = _size(target)
        if size < f.size:
            raise OfflineError(f"The connection to {plan.host} dropped during {f.name} ({size} of {f.size} bytes). "
                               "Try again: the download resumes where it stopped.")
        if size != f.size or not _matches(target, f):
            target.unlink()
            raise ModelError(f"{f.name} arrived damaged (its {'size' if size != f.size else 'sha256'} is not the "
                             f"expected one), so it was deleted. Try the download again.")
    speed = (done - start_done) / max(time.monotonic() - started, 1e-6)
    yield Downloading("", total, total, speed, 0.0)
    from .models import write_manifest

    write_manifest(stage, source="hub", origin=f"{plan.hub_id}@{plan.revision}")
    manifest = json.loads((stage / "localtune-manifest.json").read_text())
    manifest["verified"] = plan.verified
    (stage / "localtune-manifest.json").write_text(json.dumps(manifest, indent=1))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(stage, folder)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _matches(path: Path, f: RemoteFile) -> bool:
    return f.sha256 is None or _sha256(path) == f.sha256
