#!/usr/bin/env python3
"""Install the .deb into an empty root and prove the installed app works, as a user's machine would run it.

    python3 packaging/linux/check_installed.py out/linux/localtune_0.1.0_amd64.deb [--screenshot shot.png]

1. `dpkg -x` into a fresh folder (no system install, no root needed);
2. the installed `localtune --selftest`, with a clean environment (no venv, no PYTHONPATH, empty HOME/TMPDIR),
   must print OK, exit 0 and leave nothing in its temp folder;
3. the installed app starts under Xvfb on a fresh home until its main window is mapped; the time from launch to
   a viewable window is the start time (measured twice: a cold and a warm start).
Needs Xvfb and xwininfo (Debian: xvfb, x11-utils). Prints one JSON line of measurements; exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

TITLE = "localtune"
APP_ID = "io.github.localtune.Localtune"


def fail(step: str, message: str) -> None:
    """Stop with a message that names the failing step first (it is what pytest and CI show)."""
    raise SystemExit(f"check_installed: FAIL at {step}: {message}")


def clean_env(work: Path, **extra: str) -> dict[str, str]:
    """What a desktop session gives a program: no venv, no PYTHONPATH, our own empty HOME and TMPDIR."""
    env = {"PATH": "/usr/bin:/bin", "LANG": os.environ.get("LANG", "C.UTF-8"), "HOME": str(work / "home"),
           "TMPDIR": str(work / "tmp"), **extra}
    for key in ("HOME", "TMPDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def check_layout(root: Path) -> Path:
    app = root / "opt" / "localtune" / "localtune"
    if not os.access(app, os.X_OK):
        fail("package layout", f"{app} is missing or not executable")
    link = root / "usr" / "bin" / "localtune"
    if not link.is_symlink() or os.readlink(link) != "/opt/localtune/localtune":
        fail("package layout", "/usr/bin/localtune does not point to /opt/localtune/localtune")
    desktop = root / "usr" / "share" / "applications" / f"{APP_ID}.desktop"
    if "Exec=localtune" not in desktop.read_text():
        fail("package layout", "the desktop entry does not start localtune")
    for rel in (f"usr/share/metainfo/{APP_ID}.metainfo.xml", f"usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
                f"usr/share/icons/hicolor/256x256/apps/{APP_ID}.png"):
        if not (root / rel).is_file():
            fail("package layout", f"{rel} is missing")
    # The app's resources (the repository's top-level resources/, the package localtune.resources): every file.
    source = Path(__file__).resolve().parents[2] / "resources"
    shipped = root / "opt" / "localtune" / "_internal" / "localtune" / "resources"
    missing = [str(f.relative_to(source)) for f in source.rglob("*")
               if f.is_file() and "__pycache__" not in f.parts and not (shipped / f.relative_to(source)).is_file()]
    if missing:
        fail("package layout", f"resources missing from {shipped.relative_to(root)}: {', '.join(sorted(missing))}")
    big = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_size >= 2**31]
    if big:
        fail("package layout", f"files of 2 GiB or more: {big}")
    return app


def selftest(app: Path, work: Path) -> float:
    env = clean_env(work / "selftest")
    t0 = time.monotonic()
    proc = subprocess.run([str(app), "--selftest"], env=env, capture_output=True, text=True, timeout=1500)
    seconds = time.monotonic() - t0
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0 or "self-test OK" not in proc.stdout:
        failed = re.search(r"^  FAIL ([^:]+):", proc.stdout, re.M)
        step = f"installed self-test, step '{failed.group(1)}'" if failed else "installed self-test"
        fail(step, f"exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    left = list(Path(env["TMPDIR"]).glob("localtune-selftest-*"))  # torch may add its own cache folder
    if left:
        fail("installed self-test clean-up", f"files left behind: {left}")
    return seconds


def start_xvfb(work: Path) -> tuple[subprocess.Popen, str]:
    for number in range(91, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    else:
        fail("Xvfb", "no free X display number")
    display = f":{number}"
    with open(work / "xvfb.log", "w") as log:  # the child keeps its own copy of the descriptor
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
                                stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 20
    # The socket appears before the server answers: wait until a client can connect. (-noreset: Xvfb otherwise
    # resets when its last client leaves, and an app started in that moment cannot connect.)
    while not (Path(f"/tmp/.X11-unix/X{number}").exists()
               and subprocess.run(["xdpyinfo", "-display", display], capture_output=True).returncode == 0):
        if xvfb.poll() is not None or time.monotonic() > deadline:
            fail("Xvfb", f"did not start: {(work / 'xvfb.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return xvfb, display


def window_viewable(display: str) -> bool:
    out = subprocess.run(["xwininfo", "-display", display, "-name", TITLE], capture_output=True, text=True)
    return out.returncode == 0 and "IsViewable" in out.stdout


def start_app(app: Path, work: Path, display: str, home: Path, screenshot: Path | None) -> float:
    """Seconds from launch until the main window is viewable; the app is then closed."""
    env = clean_env(work / "gui", DISPLAY=display, LOCALTUNE_HOME=str(home), QT_QPA_PLATFORM="xcb")
    t0 = time.monotonic()
    with open(work / "app.log", "w") as log:
        proc = subprocess.Popen([str(app)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = t0 + 180
        while not window_viewable(display):
            if proc.poll() is not None:
                fail("first start", f"the app exited ({proc.returncode}) before showing its window:\n"
                     f"{(work / 'app.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                fail("first start", f"no window after 180 s:\n{(work / 'app.log').read_text()[-3000:]}")
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        if screenshot is not None and shutil.which("import"):
            time.sleep(2)  # let the first-run dialog paint
            subprocess.run(["import", "-display", display, "-window", "root", str(screenshot)], check=False)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deb", type=Path)
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the first start's screen here")
    parser.add_argument("--skip-selftest", action="store_true", help="only the layout and window checks")
    args = parser.parse_args(argv)
    for tool in ("dpkg", "Xvfb", "xwininfo", "xdpyinfo"):
        if not shutil.which(tool):
            fail("tools", f"{tool} is not installed (apt-get install dpkg xvfb x11-utils)")
    work = Path(tempfile.mkdtemp(prefix="localtune-deb-"))
    try:
        root = work / "root"
        subprocess.run(["dpkg", "-x", str(args.deb), str(root)], check=True)
        app = check_layout(root)
        result = {"deb_bytes": args.deb.stat().st_size,
                  "installed_bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())}
        if not args.skip_selftest:
            result["selftest_s"] = round(selftest(app, work), 1)
        xvfb, display = start_xvfb(work)
        try:
            home = work / "lthome"
            result["start_cold_s"] = round(start_app(app, work, display, home, args.screenshot), 2)
            result["start_warm_s"] = round(start_app(app, work, display, home, None), 2)
        finally:
            xvfb.terminate()
            xvfb.wait(10)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
