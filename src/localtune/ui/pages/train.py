"""The train page: pick a base model, see the machine and the plan, press Train, watch the loss fall.

The generator it runs yields events (duck-typed, see `progress.py` and the engine): anything with `message`
is a status line; anything with `step`/`total` moves the progress bar, with `loss` / `eval_loss` extending the
curves and `eta_s` the estimate. It runs on a model worker; its vault calls (reading the journal, keeping
checkpoints and the adapter) are lane jobs, so the journal stays usable while a step runs.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
)

from ...events import EvalDone, Event, Finished, Progress, Sealed, Status
from .. import files
from .. import operations as ops
from ..dialogs.download import DownloadDialog
from ..errors import explain
from ..notify import notify
from ..plan_words import plain_plan
from ..tasks import GeneratorRunner, run_in_thread
from ..widgets.loss_plot import LossPlot
from . import Page
from ._adapters import AdapterActions
from ._service import eta_words

NO_RUNS = "No training runs yet."
WAITING = "Waiting for the model to be free…"  # another model job (an estimate, a reading) runs first
QUICK_STEPS = 12  # a quick trial: enough steps to see the loss move and get a first adapter to compare
PRESETS = (("quick", f"Quick trial ({QUICK_STEPS} steps, a few minutes)"), ("full", "Full run (every example, twice)"))


def preset_config(preset: str):
    """The engine settings of a preset (None: the engine's defaults, the full run)."""
    if preset != "quick":
        return None
    from ...services import training

    return training.train_config(epochs=1, max_steps=QUICK_STEPS)


def _rate(plan, info):
    """Seconds per parameter per token measured by a calibrated plan of a listed model (None without)."""
    from ...services import local_models

    return local_models.rate_from_plan(plan, info.params) if plan is not None and info is not None else None


def run_words(info) -> str:
    """One line of run history, from an adapter's stored metadata (no journal text in it)."""
    from ...services.adapters import AdapterStore

    metrics = info.meta.get("metrics", {})
    parts = [AdapterStore.name_of(info.name), info.created_at[:16].replace("T", " "),
             f"{info.meta.get('examples', '?')} examples", f"{metrics.get('steps', '?')} steps"]
    if metrics.get("train_seconds"):
        parts.append(f"{metrics['train_seconds'] / 60:.0f} min")
    if metrics.get("eval_loss") is not None:
        parts.append(f"held-out loss {metrics['eval_loss']:.2f}")
    return " · ".join(parts)


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


class TrainPage(Page):
    title = "Train"
    trained = Signal(object)
    task = Signal(str, int, int)  # for the status bar: what runs, step, total (never journal text)
    task_ended = Signal()
    adapters_changed = Signal()

    def __init__(self, lane, paths, parent=None):
        super().__init__(parent)
        self.lane = lane
        self.paths = paths
        self.source = ops.train  # make(ctx, model=..., cancel=...) -> events
        self.config = None  # an engine TrainConfig that overrides the preset (tests, screenshots); None: the preset
        self.runner: GeneratorRunner | None = None
        self._looked = False
        self._finished_shown = False

        self.model = QComboBox()
        self.model.setMinimumWidth(280)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.add_found_button = QPushButton("Add this model")  # for a model found on this computer
        self.add_found_button.setToolTip("Use it for training: a GGUF is converted once into localtune's model "
                                         "folder; the original stays exactly as it is")
        self.add_found_button.setVisible(False)
        self.hardware = QLabel("Looking at this computer…")
        self.hardware.setWordWrap(True)
        self.plan = QLabel()  # the technical plan, one click away
        self.plan.setWordWrap(True)
        self.plan.setVisible(False)
        self.summary = QLabel()  # the plan in plain words
        self.summary.setWordWrap(True)
        self.details_button = QToolButton()
        self.details_button.setText("Technical plan")
        self.details_button.setCheckable(True)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setAutoRaise(True)
        self.details_button.toggled.connect(self._show_details)
        self.preset = QComboBox()
        for key, words in PRESETS:
            self.preset.addItem(words, key)
        self.preset.setToolTip("A quick trial shows within minutes whether training works on this journal; the full "
                               "run learns from every example")
        self.name = QLineEdit()
        self.name.setPlaceholderText("adapter name (optional), e.g. nursing-v1")
        self.name.setMaxLength(60)
        self.adapter_names: set[str] = set()
        self._planned = None  # the last plan shown, and its measured time estimate (shared with the progress bar)
        self.add_folder_button = QPushButton("Add a model folder…")
        self.add_gguf_button = QPushButton("Add a GGUF file…")
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download a base model from the Hugging Face Hub (asks first)")
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("bigButton")
        self.train_button.setMinimumHeight(44)
        self.train_button.setEnabled(self.source is not None)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the interrupted run from its last checkpoint")
        self.resume_button.setVisible(False)
        self.interrupted: dict | None = None
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.eta = QLabel()
        self.plot = LossPlot()
        self.history = QListWidget()
        self.history.setMaximumHeight(90)
        self.history.addItem(NO_RUNS)

        setup = QGroupBox("What to train")
        form = QFormLayout(setup)
        form.addRow("Base model", self.model)
        adders = QHBoxLayout()
        for button in (self.add_folder_button, self.add_gguf_button, self.download_button):
            adders.addWidget(button)
        adders.addStretch(1)
        form.addRow("", adders)
        form.addRow("", self.model_info)
        form.addRow("", self.add_found_button)
        form.addRow("This computer", self.hardware)
        run_row = QHBoxLayout()
        run_row.addWidget(self.preset, 2)
        run_row.addWidget(self.name, 1)
        form.addRow("Run", run_row)
        form.addRow("Plan", self.summary)
        form.addRow("", self.details_button)
        form.addRow("", self.plan)
        run_box = QGroupBox("Training")
        rb = QVBoxLayout(run_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        rb.addLayout(buttons)
        rb.addWidget(self.progress)
        line = QHBoxLayout()
        line.addWidget(self.status, 1)
        line.addWidget(self.eta, 0, Qt.AlignmentFlag.AlignRight)
        rb.addLayout(line)
        rb.addWidget(self.plot, 1)
        self.adapter_actions = AdapterActions(lane, self.history)
        self.adapter_actions.changed.connect(lambda: self.lane.submit(ops.runs, self.show_runs))
        self.adapter_actions.changed.connect(self.adapters_changed)
        self.adapter_actions.message.connect(self.status.setText)
        history_box = QGroupBox("Earlier runs (trained adapters)")
        hb = QVBoxLayout(history_box)
        hb.addWidget(self.history)
        hb.addWidget(self.adapter_actions)
        layout = QVBoxLayout(self)
        layout.addWidget(setup)
        layout.addWidget(run_box, 1)
        layout.addWidget(history_box)

        self.model.currentIndexChanged.connect(self._model_chosen)
        self.preset.currentIndexChanged.connect(lambda _i: self._model_chosen(self.model.currentIndex()))
        self.train_button.clicked.connect(lambda: self.start())
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.cancel_button.clicked.connect(self.cancel)
        self.add_folder_button.clicked.connect(lambda: self.add_model("folder"))
        self.add_gguf_button.clicked.connect(lambda: self.add_model("gguf"))
        self.download_button.clicked.connect(lambda: self.add_model("hub"))
        self.add_found_button.clicked.connect(self.add_found)
        self._models = []  # ModelInfo (added), None (the separator), discovery.Found (on this computer)
        self._rated = None  # (calibrated plan, its model's ModelInfo): a measured speed to scale found models by
        self.hw = None  # this computer (engine Hardware), once looked at
        self.download_runner: GeneratorRunner | None = None
        self._plan_id = 0
        self._plans: list[GeneratorRunner] = []  # plans and estimates asked for; a newer choice drops them

    def _model_job(self, name: str, fn, on_done, on_error, waiting=None, with_token=False) -> GeneratorRunner:
        """`fn()` on the model lane (everything here that loads the ML libraries or a model goes there, one job
        at a time); `waiting()` when other model work runs first; `with_token`: `fn(token)`, stoppable."""
        return run_in_thread(fn, on_done, on_error, parent=self, models=self.lane.models, name=name,
                             waiting=waiting, with_token=with_token)

    def _planning(self, name: str, fn, on_done, waiting=None, with_token=False) -> None:
        self._plans = [r for r in self._plans if r.running]
        self._plans.append(self._model_job(name, fn, on_done, self._plan_failed, waiting, with_token))

    def _drop_plans(self) -> None:
        """Plans and estimates for an earlier choice: those still waiting for the model never run, and a time
        estimate under way stops (its child process ends)."""
        plans, self._plans = self._plans, []
        for runner in plans:
            runner.cancel()

    # -- life cycle --------------------------------------------------------------------------------------

    def on_shown(self) -> None:
        if self._looked:
            return
        self._looked = True  # torch is imported here, on first visit, never at startup
        self._list_models()
        self.look_at_hardware()

    def look_at_hardware(self) -> None:
        self._model_job("hardware", ops.hardware, self._hardware_seen, self._look_failed,
                        lambda: self.hardware.setText("Looking at this computer once the model is free…"))

    def on_unlocked(self) -> None:
        self.lane.submit(ops.runs, self.show_runs)

    def on_locked(self) -> None:
        self.cancel()
        self._drop_plans()
        self.plot.clear()
        self.progress.reset()
        self.status.clear()
        self.eta.clear()
        self.adapter_actions.close_dialog()
        self.show_runs(([], None))
        self._plan_id += 1  # a plan still being measured is dropped; the next visit plans afresh
        self.plan.clear()
        self.summary.clear()
        self._planned = None
        self._looked = False

    def show_runs(self, runs) -> None:
        finished, interrupted = runs
        self.history.clear()
        from ...services.adapters import AdapterStore

        self.adapter_names = {AdapterStore.name_of(info.name) for info in finished}
        for info in reversed(finished):  # newest first
            item = QListWidgetItem(run_words(info))
            item.setData(Qt.ItemDataRole.UserRole, AdapterStore.name_of(info.name))
            self.history.addItem(item)
        if not finished:
            self.history.addItem(NO_RUNS)
        self.interrupted = interrupted
        self.resume_button.setVisible(interrupted is not None)
        if interrupted is not None:
            self.resume_button.setText(f"Resume from step {interrupted.get('step', '?')}")
        self._set_running(self.runner is not None and self.runner.running)

    def _list_models(self, select: str | None = None) -> None:
        paths = self.paths
        self._model_job("model list", lambda: ops.list_models(paths), lambda models: self._models_listed(models, select),
                        self._look_failed)

    def _hardware_seen(self, hardware) -> None:
        self.hw = hardware  # for "Recommended for this computer"
        self.hardware.setText(hardware.describe())

    def add_model(self, source: str) -> None:
        """Add a base model: a local folder, a local GGUF file, or (after consent) a Hub download."""
        if source == "hub":
            dialog = DownloadDialog(self, hardware=self.hw)
            if dialog.exec():
                self.download(dialog.chosen(), dialog.chosen_token())
            return
        if source == "gguf":
            where = files.open_file(self, "Choose a GGUF model file", files.MODEL_FILES)
        else:
            where = files.open_folder(self, "Choose a Hugging Face model folder")
        if not where:
            return
        self.status.setText("Adding the model…")
        paths = self.paths

        def added(info) -> None:
            self.status.setText(f"Added {info.name}.")
            self._list_models(select=info.name)

        self._model_job("add model", lambda: ops.add_model(paths, source, where), added, self._add_failed,
                        lambda: self.status.setText(WAITING + " Then the model is added."))

    def download(self, hub_id: str, token: str = "") -> None:
        """Download a model the user chose and agreed to: its token (given now, then kept in the vault, or the
        one kept there), the Hub's file list, the exact size for a second yes, then the files with progress."""
        from ...services import local_models

        self.status.setText(f"Asking {local_models.hub_host()} for the files of {hub_id}…")

        def with_token(hub_token) -> None:  # the Hub's file list: network only, no model, so a thread of its own
            run_in_thread(lambda: ops.download_plan(hub_id, hub_token), lambda plan: self._fetch(plan, hub_token),
                          self._add_failed, parent=self)

        self.lane.submit(lambda ctx: ops.hub_token(ctx, token or None), with_token, self._add_failed)

    def confirm_download(self, plan) -> bool:
        """The second yes, with the exact size and where the files come from (tests replace it)."""
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(self, "Download the model",
                                      f"Download {_gb(plan.total_bytes)} from {plan.host}?\n\n{plan.describe()}")
        return answer == QMessageBox.StandardButton.Yes

    def _fetch(self, plan, token) -> None:
        if not self.confirm_download(plan):
            self.status.setText("Nothing was downloaded.")
            return
        from ...services import local_models

        paths = self.paths
        # On the model lane: it adds the model to the registry (which loads the ML libraries) as a conversion does.
        self.download_runner = GeneratorRunner(
            lambda cancel: local_models.pull_events(paths, plan, token=token, cancel=cancel),
            models=self.lane.models, name="download", parent=self)
        self.download_runner.waiting.connect(lambda: self.status.setText(WAITING + " Then the download starts."))
        self.download_runner.yielded.connect(self._downloading)
        self.download_runner.returned.connect(lambda info: self._downloaded(info, plan))
        self.download_runner.errored.connect(self._add_failed)
        self.progress.setMaximum(1000)
        self.progress.setValue(0)
        self.download_button.setEnabled(False)
        self.download_runner.finished.connect(lambda: self.download_button.setEnabled(not self.running))
        self.download_runner.start()

    def _downloading(self, event) -> None:
        self.progress.setValue(int(1000 * event.done / max(event.total, 1)))
        left = f" · {eta_words(event.eta_s)}" if event.eta_s else ""
        self.status.setText(f"Downloading: {_gb(event.done)} of {_gb(event.total)} · "
                            f"{event.bytes_per_s / 1e6:.1f} MB/s{left}")

    def _downloaded(self, info, plan) -> None:
        verified = {"catalog": "verified against localtune's catalog", "hub": "checked against the Hub's hashes",
                    "none": "not verified: no hashes were known"}[plan.verified]
        self.status.setText(f"Downloaded {info.name} ({verified}).")
        self._list_models(select=info.name)

    def _models_listed(self, models, select: str | None = None) -> None:
        from ...services.local_models import STORE_NAMES

        added, found = models
        self._models = [*added, *([None] if added and found else []), *found]
        self.model.blockSignals(True)
        self.model.clear()
        for info in added:
            self.model.addItem(info.name + (" (starter)" if info.source == "starter" else ""), info.name)
        if added and found:
            self.model.insertSeparator(self.model.count())
        for f in found:
            self.model.addItem(f"{f.name} — {STORE_NAMES[f.store]}, not added yet", "found:" + f.key)
        index = max(0, self.model.findData(select)) if select else 0
        self.model.setCurrentIndex(index)
        self.model.blockSignals(False)
        self._model_chosen(index)

    def _model_chosen(self, index: int) -> None:
        found = self._models[index] if 0 <= index < len(self._models) else None
        self.add_found_button.setVisible(found is not None and hasattr(found, "store"))
        if found is not None and hasattr(found, "store"):
            self._found_chosen(found)
            return
        if 0 <= index < len(self._models) and self._models[index] is not None:
            info = self._models[index]
            self.model_info.setText(info.describe())
            self.summary.setText("Working out the plan…" + ("" if info.fits else
                                 " This model needs more memory than is free now; pick a smaller one."))
            self.plan.clear()
            self._planned = None
            self._plan_for(info.name)

    def _found_chosen(self, found) -> None:
        """A model found on this computer: what its files say, then whether and how long it trains here."""
        self._plan_id += 1
        self._drop_plans()
        self._planned = None
        self.plan.clear()
        self.model_info.setText(found.describe())
        self.add_found_button.setEnabled(found.trainable)
        if not found.trainable:
            self.summary.setText("localtune cannot train this model; pick another.")
            return
        self.summary.setText("Working out whether it trains here…")
        ticket, paths = self._plan_id, self.paths
        rate = _rate(*self._rated) if self._rated else None

        def fitted(result) -> None:
            if ticket != self._plan_id:
                return
            if result is None:
                self.summary.setText("Its files do not give its sizes; add it to see the plan.")
                return
            self.summary.setText(result.describe()[0].upper() + result.describe()[1:] + ". Add it to train it.")

        def ready(report) -> None:
            if ticket == self._plan_id:
                self._planning("fit estimate", lambda: ops.found_fit(report, paths, found, rate), fitted,
                               lambda: self.summary.setText(WAITING))

        self.lane.submit(ops.readiness, ready, self._plan_failed)

    def add_found(self) -> None:
        """Add the found model picked in the list (converted once when it is a GGUF), then pick it."""
        key = str(self.model.currentData() or "")
        if not key.startswith("found:"):
            return
        self.add_found_button.setEnabled(False)
        self.status.setText("Adding the model (a GGUF is converted once; this can take a minute)…")
        paths = self.paths

        def added(info) -> None:
            self.status.setText(f"Added {info.name}.")
            self._list_models(select=info.name)

        self._model_job("add model", lambda: ops.add_found(paths, key.removeprefix("found:")), added, self._add_failed,
                        lambda: self.status.setText(WAITING + " Then the model is added."))

    def _plan_for(self, model: str) -> None:
        """The real plan at once, then the measured time estimate (a few timed steps) in the background."""
        self._plan_id += 1
        self._drop_plans()
        ticket, paths, config = self._plan_id, self.paths, self.run_config()
        model = None if model == "starter" else model

        def planned(result, calibrated: bool) -> None:
            if ticket != self._plan_id:
                return  # another model or preset was picked meanwhile
            self.show_plan(result, calibrated)
            if not calibrated:
                self._planning("time estimate", lambda token: ops.plan(report[0], paths, model, config, True, token),
                               lambda r: planned(r, True),
                               lambda: self.plan.setText(result.describe() + "\nMeasuring this computer's speed "
                                                         "once the model is free…"), with_token=True)

        report = []

        def ready(result) -> None:
            if ticket != self._plan_id:
                return
            report.append(result)
            self._planning("plan", lambda: ops.plan(result, paths, model, config, False), lambda r: planned(r, False),
                           lambda: self.summary.setText(self.summary.text() + " " + WAITING))

        self.lane.submit(ops.readiness, ready, self._plan_failed)

    def show_plan(self, result, calibrated: bool = True) -> None:
        """A plan (engine `Plan`): in plain words, the technical lines behind "Technical plan"."""
        self._planned = result
        info = self._models[self.model.currentIndex()] if 0 <= self.model.currentIndex() < len(self._models) else None
        if calibrated and result.seconds_per_step and info is not None and not hasattr(info, "store"):
            self._rated = (result, info)  # found models' times are scaled from this measured speed
        self.summary.setText(plain_plan(result))
        self.plan.setText(result.describe() + ("" if calibrated else "\nMeasuring this computer's speed…"))

    def _plan_failed(self, exc) -> None:
        self.summary.setText(explain(exc).text)

    def _show_details(self, shown: bool) -> None:
        self.plan.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def run_config(self):
        """The settings the next run uses: an explicit `config`, else the chosen preset's."""
        return self.config if self.config is not None else preset_config(self.preset.currentData())

    def _look_failed(self, exc) -> None:
        self.hardware.setText(explain(exc).text)

    # -- training ------------------------------------------------------------------------------------------

    def set_source(self, make) -> None:
        """`make(ctx, model=, cancel=, [config=], [resume=])` -> training events (the service, or a stand-in)."""
        self.source = make
        self.train_button.setEnabled(make is not None)

    def start(self, resume: bool = False) -> None:
        if self.source is None or (self.runner is not None and self.runner.running):
            return
        model = self.model.currentData()
        if str(model).startswith("found:") and not resume:
            self.status.setText("Add this model first (the button under the list), then train it.")
            return
        source = self.source
        config = self.run_config()
        extra = {"config": config} if config is not None else {}
        name = self.name.text().strip()
        if name and not resume:
            if name in self.adapter_names:
                self.status.setText(f"An adapter called {name} exists already: choose another name.")
                return
            extra["name"] = name
        if resume:
            extra["resume"] = True
            model = (self.interrupted or {}).get("model") or model
            model = None if model == "starter" else model
            self.plot.keep_until((self.interrupted or {}).get("step") or 0)  # the curve before the cancel stays
        else:
            self.plot.clear()
            self.progress.setValue(0)
        self._finished_shown = False
        self.status.setText("Preparing…")
        planned_eta = self._planned.eta_s if self._planned is not None else None
        # One estimate: the plan's measured one until the run's own steps correct it.
        self.eta.setText(eta_words(planned_eta) if planned_eta and not resume else "")
        self.runner = GeneratorRunner(lambda ctx, token: source(ctx, model=model, cancel=token, **extra), lane=self.lane,
                                      name="training", parent=self)
        self.runner.waiting.connect(self._waiting_for_model)
        self.runner.yielded.connect(self.on_event)
        self.runner.returned.connect(self._done)
        self.runner.errored.connect(self._failed)
        self.runner.cancelled.connect(lambda: self._stopped(
            "Stopped. Its last checkpoint is kept in the vault: Resume continues from there." if self.runner.began
            else "Stopped before it began (it was waiting for the model)."))
        self.runner.finished.connect(self._ended)
        self._set_running(True)
        self.task.emit("Training: preparing…", 0, 0)
        self.runner.start()

    def _waiting_for_model(self) -> None:
        """An estimate (or a reading, an evaluation) holds the model: training starts when it ends."""
        self.status.setText(WAITING + " Training starts then.")
        self.task.emit("Training: waiting for the model to be free", 0, 0)

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running:
            self.status.setText("Stopping after this step…")
            self.runner.cancel()

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def _ended(self) -> None:
        self._set_running(False)
        self.task_ended.emit()
        self.lane.submit(ops.runs, self.show_runs)

    def _set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running and self.source is not None)
        self.resume_button.setEnabled(not running and self.source is not None)
        self.cancel_button.setEnabled(running)
        for box in (self.model, self.preset, self.name):
            box.setEnabled(not running)
        for button in (self.add_folder_button, self.add_gguf_button, self.download_button, self.add_found_button):
            button.setEnabled(not running)

    def on_event(self, event: Event) -> None:
        """One training event (localtune.events): Status, Progress, EvalDone, then Sealed (or Finished)."""
        match event:
            case Status(message=message):
                self.status.setText(message)
            case Sealed() | Finished():  # the last event of a run
                self._done(event)
            case EvalDone(eval_loss=eval_loss, overfitting_warning=warning):  # held-out loss after an epoch
                self.plot.add(self.progress.value(), eval=eval_loss)
                if warning:
                    self.status.setText(warning)
            case Progress(step=step, total=total, loss=loss, eta_s=eta_s) if total:
                self.progress.setMaximum(int(total))
                self.progress.setValue(int(step))
                self.plot.total_steps = int(total)
                self.plot.add(step, loss)
                self.status.setText(f"Step {step} of {total}")
                self.eta.setText(eta_words(eta_s))
                left = f" · {self.eta.text()}" if self.eta.text() else ""
                self.task.emit(f"Training: step {step} of {total}{left}", int(step), int(total))

    def _done(self, result: Event | None) -> None:
        if result is None or self._finished_shown:
            return
        self._finished_shown = True
        self.progress.setValue(self.progress.maximum())
        match result:
            case Sealed(name=name):
                pass
            case _:
                name = "the new adapter"
        self.status.setText(f"Finished: {name} is saved in the vault. Compare it on the Compare page.")
        self.eta.clear()
        if self.history.count() == 1 and self.history.item(0).text() == NO_RUNS:
            self.history.clear()
        self.history.insertItem(0, f"{name}: finished")
        notify(self, "Training finished", f"The adapter {name} is ready to compare.")
        self.trained.emit(result)

    def _failed(self, exc) -> None:
        e = explain(exc)
        self._stopped(f"{e.title}. {e.text}")
        notify(self, "Training stopped", e.title)

    def _add_failed(self, exc) -> None:
        e = explain(exc)
        self.status.setText(f"{e.title}. {e.text}")

    def _stopped(self, text: str) -> None:
        self.status.setText(text)
        self.eta.clear()
