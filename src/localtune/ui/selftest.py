"""`localtune --selftest`: does this installation work, end to end?

What an installer must prove on the user's machine (and CI on each platform's frozen build): the vault opens
(SQLCipher), the demo journal loads, the bundled starter model converts and loads, two steps of QLoRA train
through bitsandbytes' 4-bit path, and the main window opens. Everything happens in a throw-away home under
the system temp folder with a random passphrase, and that home is removed at the end, pass or fail.
It reuses the same services the app calls, so a passing self-test means the app's own code paths work.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

WINDOW_TIMEOUT_S = 120.0


class Failed(Exception):
    """A check that ran and found something wrong (as opposed to a crash)."""


def _say(line: str) -> None:
    # A windowed Windows build has no stdout; the exit code still tells the result.
    if sys.stdout is not None:
        print(line, flush=True)


def run(*, window: bool = True) -> int:
    """Run every check in order, stop at the first failure. Returns the exit code (0: OK, 1: failed)."""
    from .. import privacy

    privacy.harden()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF conversion's progress bar would bury the report
    # A stop request (SIGTERM) unwinds like Ctrl+C, so the temp home is still removed.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    started = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="localtune-selftest-"))
    state: dict = {"passphrase": secrets.token_urlsafe(24)}
    steps = [("offline", _offline), ("vault", _vault), ("demo journal", _demo), ("bitsandbytes", _bitsandbytes),
             ("starter model", _model), ("QLoRA training", _train)]
    if window:
        steps.append(("main window", _window))
    _say(f"localtune self-test ({platform.system()} {platform.machine()}, Python {platform.python_version()}"
         f"{', frozen' if getattr(sys, 'frozen', False) else ''})")
    failed = None
    try:
        from ..paths import resolve

        state["paths"] = resolve(home).ensure()
        for name, step in steps:
            t0 = time.perf_counter()
            try:
                detail = step(state)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, then we stop
                failed = f"{name}: {type(exc).__name__}: {exc}"
                if os.environ.get("LOCALTUNE_DEBUG"):
                    traceback.print_exc()
                _say(f"  FAIL {name}: {exc if isinstance(exc, Failed) else f'{type(exc).__name__}: {exc}'}")
                break
            _say(f"  ok   {name}: {detail} ({time.perf_counter() - t0:.1f} s)")
    finally:
        vault = state.pop("vault", None)
        if vault is not None:
            vault.lock()
        leftover = _remove(home)
    if leftover and failed is None:
        failed = f"clean-up: could not remove {home}"
        _say(f"  FAIL {failed}")
    total = time.perf_counter() - started
    if failed:
        _say(f"localtune self-test FAILED ({failed}) after {total:.0f} s")
        return 1
    _say(f"localtune self-test OK ({total:.0f} s)")
    return 0


def _remove(home: Path) -> bool:
    """Remove the temp home; True when something is left. Retries because Windows frees file handles late."""
    for _ in range(10):
        shutil.rmtree(home, ignore_errors=True)
        if not home.exists():
            return False
        time.sleep(0.5)
    return True


def _offline(state) -> str:
    import importlib.util

    from .. import privacy

    online = [key for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(key) != "1"]
    if online:
        raise Failed(f"Hugging Face libraries are not offline ({', '.join(online)})")
    # Code that fetches compute kernels from the Hub must be unreachable, bundled or not.
    reachable = [name for name in privacy.HUB_CODE_PACKAGES if importlib.util.find_spec(name) is not None]
    if reachable:
        raise Failed(f"Hub-kernel code can be imported: {', '.join(reachable)}")
    return "Hugging Face offline, telemetry off, no Hub-kernel code"


def _vault(state) -> str:
    from ..services.journal import create_vault
    from ..vault import Vault

    state["vault"] = create_vault(state["paths"], state["passphrase"])
    raw = state["paths"].vault.read_bytes()[:16]
    if raw.startswith(b"SQLite format 3"):
        raise Failed("the vault file is plain SQLite, not encrypted")
    state["vault"].lock()
    state["vault"] = Vault.open(state["paths"], state["passphrase"])  # the unlock path, not only create
    return "created, encrypted, reopened"


def _demo(state) -> str:
    from ..journal.repository import Journal
    from ..services.journal import load_demo_journal

    state["journal"] = Journal(state["vault"])
    count = load_demo_journal(state["journal"])
    if count < 10:
        raise Failed(f"the demo journal has only {count} entries")
    # Training ends with a held-out evaluation over the whole eval split; a quarter of the demo (still above the
    # readiness minimum, every field and label kept) makes that seconds instead of minutes.
    for i, scenario in enumerate(list(state["journal"].iter_all())):
        if i % 4:
            state["journal"].delete(scenario.id)
    state["entries"] = len(list(state["journal"].iter_all()))
    return f"{count} entries loaded, {state['entries']} kept for training"


def _bitsandbytes(state) -> str:
    import bitsandbytes
    from bitsandbytes import cextension

    native = not isinstance(cextension.lib, cextension.ErrorHandlerMockBNBNativeLibrary)
    # The installers for Linux and Windows ship bitsandbytes' CPU library; missing means a broken bundle.
    if not native and platform.system() in ("Linux", "Windows"):
        raise Failed("bitsandbytes' native CPU library did not load")
    return f"{bitsandbytes.__version__}, native library {'loaded' if native else 'absent (PyTorch fallback)'}"


def _model(state) -> str:
    from ..services.training import registry

    folder = registry(state["paths"]).resolve(None)
    state["model_dir"] = folder
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return f"starter converted from its GGUF, {size / 1e6:.0f} MB"


def _train(state) -> str:
    from ..events import Progress, Sealed, Status
    from ..services.adapters import AdapterStore
    from ..services.training import train_adapter, train_config

    # Forced 4-bit: the "auto" plan picks plain LoRA on a roomy CPU, which would leave bitsandbytes untested.
    # Small batches of short sequences: this proves the stack works; 4-bit matmuls on a CPU are slow.
    config = train_config(epochs=1, max_steps=2, batch_size=2, max_seq_len=256, quantization="nf4",
                          checkpoint_every_s=0)
    statuses, losses, sealed = [], [], None
    for event in train_adapter(state["vault"], state["journal"], state["paths"], config=config, name="selftest"):
        match event:
            case Status(message=message):
                statuses.append(message)
            case Progress(loss=loss):
                losses.append(loss)
            case Sealed():
                sealed = event
    if not any("QLoRA" in s for s in statuses):
        raise Failed("training did not run in 4-bit QLoRA mode: " + "; ".join(statuses))
    if len(losses) != 2 or not all(loss == loss and loss > 0 for loss in losses):  # NaN != NaN
        raise Failed(f"expected two finite training losses, got {losses}")
    if sealed is None or not AdapterStore(state["vault"]).info(sealed.name).size:
        raise Failed("the adapter was not stored in the vault")
    return f"2 steps, loss {losses[0]:.2f} -> {losses[1]:.2f}, adapter sealed in the vault"


def _window(state) -> str:
    # The window reopens the vault through its own lane, exactly as at a normal start.
    state.pop("vault").lock()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # read when the QApplication is made; no display needed
    from PySide6.QtCore import QDeadlineTimer, QEventLoop
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(["localtune-selftest"])
    window = MainWindow(state["paths"])
    try:
        window.start()
        dialog = window.unlock_dialog
        if dialog is None:
            raise Failed("the window did not ask for the passphrase")
        dialog.passphrase.setText(state["passphrase"])
        dialog.unlock_button.click()
        deadline = QDeadlineTimer(int(WINDOW_TIMEOUT_S * 1000))
        while not (window.is_unlocked and window.journal.model.rowCount() >= state["entries"]):
            if deadline.hasExpired():
                raise Failed(f"the journal did not appear in the window within {WINDOW_TIMEOUT_S:.0f} s "
                             f"(unlocked: {window.is_unlocked}, rows: {window.journal.model.rowCount()})")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        if not window.isVisible() or window.grab().isNull():
            raise Failed("the main window is not visible")
        rows = window.journal.model.rowCount()
    finally:
        window.close()
        app.processEvents()
    return f"unlocked, journal shows {rows} entries ({app.platformName()})"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run(window="--no-window" not in argv)


if __name__ == "__main__":
    sys.exit(main())
