"""The Evaluate page with the real evaluation on a tiny random model: Cancel keeps the finished columns, and the
column choice reaches the evaluation."""

import sys
from pathlib import Path

from ui_testing import WAIT_MS

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # the tiny model and its examples

from test_evaluate import example  # noqa: E402
from test_generate import make_adapter, tiny_model  # noqa: E402

from localtune.engine.evaluate import evaluate  # noqa: E402
from localtune.engine.generate import Reader  # noqa: E402


def _source():
    reader = Reader(*tiny_model())
    reader.add_adapter("v1", *make_adapter(1)[:2])
    held_out = [example(i) for i in range(4)]
    pool = [example(i, viewpoint="manager") for i in range(6, 12)]
    return lambda ctx, *, cancel, columns=None: evaluate(reader, held_out, adapter="v1", pool=pool, cancel=cancel,
                                                         columns=columns, batch=2)


def test_cancel_during_evaluation_keeps_the_finished_column(qtbot, window):
    page = window.evaluate
    page.set_source(_source())
    page.run_button.click()
    # Cancel as soon as the second column begins: the first one is done by then.
    page.runner.yielded.connect(lambda e: getattr(e, "column", "") == "few_shot" and page.cancel_button.click())
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert page.result is not None and page.result["base"]["n"] == 4
    assert "few_shot" not in page.result and "tuned" not in page.result
    assert page.table.item(0, 0).text() == "Generic (base model)"
    assert page.progress.format() == "Stopped: Generic (base model) finished; Few-shot, Tuned not evaluated"
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled()


def test_one_column_is_evaluated_when_chosen(qtbot, window):
    page = window.evaluate
    page.set_source(_source())
    page.columns.setCurrentIndex(page.columns.findText("Tuned only"))
    page.run_button.click()
    qtbot.waitUntil(lambda: not page.runner.running, timeout=WAIT_MS)
    assert [c for c in ("base", "few_shot", "tuned") if c in page.result] == ["tuned"]
    assert page.progress.value() == page.progress.maximum() == 4
