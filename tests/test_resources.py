"""The app's resources live in the top-level resources/ folder and are read as the package `localtune.resources`:
the editable install (this tree), the wheel and the installers (tests/packaging) all carry every file."""

import json
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"


def resource_files() -> list[str]:
    return sorted(str(f.relative_to(RESOURCES)) for f in RESOURCES.rglob("*")
                  if f.is_file() and "__pycache__" not in f.parts)


def test_the_resources_are_the_ones_beside_src():
    names = resource_files()
    for expected in ("__init__.py", "catalog.json", "demo/finance.jsonl", "icons/localtune.svg", "icons/localtune.ico",
                     "icons/localtune-256.png", "linux/io.github.localtune.Localtune.desktop",
                     "linux/io.github.localtune.Localtune.metainfo.xml"):
        assert expected in names
    assert not (ROOT / "src" / "localtune" / "resources").exists()  # one home, not two copies
    assert not (ROOT / "packaging" / "icons").exists()


def test_the_editable_install_reads_them_through_the_package():
    package = files("localtune.resources")
    for name in resource_files():
        assert (package / name).read_bytes() == (RESOURCES / name).read_bytes()
    assert json.loads((package / "catalog.json").read_text(encoding="utf-8"))
    from localtune.journal.demo import load_demo

    demo = load_demo()
    assert len(demo.scenarios) >= 200 and not demo.problems


def test_the_wheel_carries_every_resource(tmp_path):
    # Built from a copy of what the build needs, so nothing (build/, *.egg-info) lands in the tree.
    src = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
    shutil.copytree(RESOURCES, src / "resources", ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)], check=True)
    wheel = next((tmp_path / "dist").glob("localtune-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"localtune/resources/{name}" for name in resource_files()} <= names
    assert "localtune/journal/demo.py" in names and not any(n.startswith("resources/") for n in names)
