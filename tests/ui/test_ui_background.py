"""The app stays honest while it trains: the status bar says what runs and opens its page, Compare waits
visibly for training, and closing the window during training asks first."""

from __future__ import annotations

from test_ui_pages import fake_compare, fake_training
from ui_testing import WAIT_MS


def test_status_bar_shows_training_and_compare_waits_for_it(qtbot, window):
    train, compare, tasks = window.train, window.compare, window.tasks
    assert not tasks.isVisibleTo(window)
    train._looked = True  # opening the page would look at the hardware (imports torch): not this test's subject
    train.set_source(lambda ctx, **kw: fake_training(ctx, steps=100_000, **kw))
    compare.set_source(fake_compare)
    train.train_button.click()
    qtbot.waitUntil(lambda: "Training: step" in tasks.button.text(), timeout=WAIT_MS)
    assert tasks.isVisibleTo(window) and tasks.bar.maximum() == 100_000

    window.show_page(window.pages.index(window.journal))
    tasks.button.click()  # the indicator opens the page of what runs
    assert window.stack.currentWidget() is train

    window.show_page(window.pages.index(compare))
    compare.situation.setPlainText("A colleague took credit for my slides in the weekly meeting.")
    compare.compare_button.click()
    assert compare.waiting.isVisibleTo(compare)
    assert all(c.status.text() == "Waiting for training to finish" for c in compare.columns.values())
    assert compare.runner is None and compare.stop_button.isEnabled()
    assert tasks.button.text().startswith("Training: step") and "(+1 more)" in tasks.button.text()

    train.cancel_button.click()  # training ends: the waiting comparison starts by itself and finishes
    qtbot.waitUntil(lambda: compare.runner is not None and not compare.runner.running, timeout=WAIT_MS)
    assert not compare.waiting.isVisibleTo(compare)
    assert all(c.status.text() == "Done" for c in compare.columns.values())
    qtbot.waitUntil(lambda: not tasks.isVisibleTo(window), timeout=WAIT_MS)


def test_closing_the_window_during_training_asks_and_can_keep_training(qtbot, window):
    train = window.train
    train.set_source(lambda ctx, **kw: fake_training(ctx, steps=100_000, **kw))
    window.show()
    train.train_button.click()
    qtbot.waitUntil(lambda: train.progress.value() > 0, timeout=WAIT_MS)

    window.close()
    qtbot.waitUntil(lambda: window.quit_box is not None and window.quit_box.isVisible(), timeout=WAIT_MS)
    assert window.isVisible() and "checkpoint" in window.quit_box.text()
    window.keep_training.click()
    assert window.isVisible() and train.running
    step = train.progress.value()
    qtbot.waitUntil(lambda: train.progress.value() > step, timeout=WAIT_MS)  # it really keeps going

    stopped = []
    train.runner.cancelled.connect(lambda: stopped.append(True))
    window.close()
    qtbot.waitUntil(lambda: window.quit_box is not None, timeout=WAIT_MS)
    window.stop_and_quit.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert stopped and not train.running


def test_locking_during_training_lets_it_run_and_the_lock_screen_stops_it_keeping_its_checkpoint(qtbot, window):
    from test_ui_train_presets import until_cancelled_training
    from ui_testing import unlock

    train, compare = window.train, window.compare
    train.set_source(until_cancelled_training)
    train.train_button.click()
    qtbot.waitUntil(lambda: train.progress.value() > 2, timeout=WAIT_MS)
    window.lock()  # an auto-lock an hour into a run must not throw the run away
    assert train.running and window.held_open and window.journal.model.rowCount() == 0
    step = train.progress.value()
    qtbot.waitUntil(lambda: train.progress.value() > step, timeout=WAIT_MS)  # it keeps going behind the lock
    window.lock_screen.stop_button.click()
    qtbot.waitUntil(lambda: not train.running, timeout=WAIT_MS)
    assert not window.tasks.isVisibleTo(window)
    unlock(qtbot, window)
    qtbot.waitUntil(lambda: train.resume_button.isVisibleTo(train), timeout=WAIT_MS)  # the checkpoint was kept
    assert train.train_button.isEnabled() and not compare.training_busy
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)  # no question: nothing runs any more
