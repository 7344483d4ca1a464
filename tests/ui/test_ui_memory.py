"""A finished or cancelled task leaves nothing of its own in memory: what its generator made is freed once the
run ends (the model kept between readings is the only thing meant to stay)."""

from __future__ import annotations

import gc
import weakref

import pytest
from ui_testing import WAIT_MS

from localtune.errors import Cancelled
from localtune.paths import resolve
from localtune.ui.tasks import GeneratorRunner, TaskLane, release_memory


class Batch:
    """Stands for what a model task holds while it runs: its batches, logits and KV caches."""


def _run(qtbot, lane, make, *, cancel_after: int | None = None):
    steps: list = []
    runner = GeneratorRunner(make, lane=lane)
    runner.yielded.connect(steps.append)
    runner.start()
    if cancel_after is not None:
        qtbot.waitUntil(lambda: len(steps) >= cancel_after, timeout=WAIT_MS)
        runner.cancel()
    qtbot.waitUntil(lambda: not runner.running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: lane.pending == 0, timeout=WAIT_MS)  # the run's last job and the release after it
    return runner, steps


@pytest.mark.parametrize("ending", ["cancelled", "finished", "failed"])
def test_what_a_task_made_is_freed_when_it_ends(qtbot, tmp_path, ending):
    lane = TaskLane(resolve(tmp_path).ensure())
    made: list[weakref.ref] = []

    def make(_ctx, token):
        batch = Batch()  # held by the generator's frame, as a model task holds its tensors
        made.append(weakref.ref(batch))
        for step in range(3 if ending != "cancelled" else 1000):
            if token.cancelled:
                raise Cancelled("Stopped at your request.")  # what the engine's loops do on a cancel
            yield step, batch is not None
        if ending == "failed":
            raise RuntimeError("the model ran out of memory")
        return "done"

    runner, steps = _run(qtbot, lane, make, cancel_after=3 if ending == "cancelled" else None)
    assert len(steps) >= 3 and len(made) == 1
    gc.collect()
    # Before, the lane thread kept its last job's outcome while it waited for the next job: after a cancel or a
    # failure that is the exception, whose traceback holds the generator's frame and everything it made.
    assert made[0]() is None, f"a {ending} task's data is still referenced: {gc.get_referrers(made[0]())!r:.300}"
    assert getattr(runner, "_gen", None) is None
    lane.shutdown()


def test_release_memory_runs_where_there_is_no_malloc_trim_too():
    release_memory()  # on glibc it trims; elsewhere it only collects - never fails
