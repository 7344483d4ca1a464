"""The helper process (engine.apart.helper): the short model jobs run in one long-lived child at the lowest
priority, so the app's process never imports the ML libraries to look at the hardware or to plan a run."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from localtune.engine.apart import PROCESS_NICE, helper
from localtune.engine.train import TrainConfig
from localtune.errors import ModelError, TrainingError


def test_jobs_run_in_one_long_lived_child_at_the_lowest_priority():
    first = helper(os.getpid, what="A test", error=ModelError)
    assert first != os.getpid() and helper(os.getpid, what="A test", error=ModelError) == first
    assert helper(os.getpriority, os.PRIO_PROCESS, 0, what="A test", error=ModelError) == PROCESS_NICE


def test_errors_come_back_in_words_and_a_killed_helper_is_started_afresh():
    with pytest.raises(TrainingError, match="epochs must be at least 1"):  # ours, as itself
        helper(TrainConfig(epochs=0).validate, what="Checking", error=ModelError)
    with pytest.raises(ModelError, match="^Reading failed: ValueError: invalid literal"):  # anything else, in words
        helper(int, "not a number", what="Reading", error=ModelError)
    pid = helper(os.getpid, what="A test", error=ModelError)
    # Killed in the middle of a job, as the system's out-of-memory killer would.
    with pytest.raises(ModelError, match="^Looking stopped unexpectedly .* runs out of memory"):
        helper(os.kill, pid, signal.SIGKILL, what="Looking", error=ModelError)
    again = helper(os.getpid, what="A test", error=ModelError)
    assert again not in (pid, os.getpid())
    os.kill(again, signal.SIGKILL)  # killed between jobs: the next job starts a new one without a word
    deadline = time.monotonic() + 10
    while any(c.pid == again for c in multiprocessing.active_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert helper(os.getpid, what="A test", error=ModelError) not in (again, pid, os.getpid())


def test_looking_at_the_hardware_leaves_the_ml_libraries_out_of_this_process():
    code = ("import sys\nfrom localtune.services import training\nhw = training.hardware()\n"
            "print(hw.device in ('cpu', 'cuda', 'mps'), hw.cpu_cores > 0, 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["True", "True", "False", "False"], out.stderr[-2000:]


def test_the_helper_is_hardened_as_every_entry_point_is():
    """privacy.harden() in the child too: no core dump of the journal text it holds, no Hub code importable."""
    import importlib.util
    import resource

    assert helper(resource.getrlimit, resource.RLIMIT_CORE, what="A test", error=ModelError) == (0, 0)
    assert helper(importlib.util.find_spec, "kernels", what="A test", error=ModelError) is None
    assert helper(os.getenv, "HF_HUB_OFFLINE", what="A test", error=ModelError) == "1"
