"""Several app threads reach for the ML libraries at once on first use (hardware look-up, model list, plan,
training); `load_libraries` must make that safe. Run in a fresh interpreter: the race exists only before the
first import."""

import subprocess
import sys

RACE = """
import threading
from localtune import privacy
privacy.harden()
from localtune.engine import load_libraries
errors, go = [], threading.Barrier(6)

def use():
    go.wait()
    try:
        load_libraries()
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
        from peft import LoraConfig  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        errors.append(repr(exc))

threads = [threading.Thread(target=use) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors:", errors)
sys.exit(1 if errors else 0)
"""


def test_six_threads_importing_the_ml_libraries_at_once_all_succeed():
    r = subprocess.run([sys.executable, "-c", "import sys\n" + RACE], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert "errors: []" in r.stdout
