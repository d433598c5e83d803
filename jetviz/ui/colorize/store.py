"""The colorize page's data store (seed 000): U-Net (+ CRF) runs, their test-set predictions, one event at a time.

Design notes: docs/architecture.md, section ``jetviz.ui.colorize.store``.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import panel as pn
import param

from jetviz.plots.colorize import TRUTH_LABELS, ColorizeEvent, Display, six_jet_masses
from jetviz.runners.colorize import ColorizeConfig, ColorizeData, ColorizeResult, prepare
from jetviz.ui.training import TrainingStore
from jetviz.ui.widgets import one_redraw, settings_card

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "default_config", "list_runs", "ColorizeEvent", "Display",
           "predict_test_events", "ColorizeStore"]

_STEPS_EVERY_S = 0.5  # live per-step loss curve: at most this often
#: the page's default run: real ee_6jet physics, small and fast on a CPU (~20 s on 2 free cores:
#: test accuracy ≈ 0.64, m_W peak back; with 3 epochs of batch 32 the U-Net still paints one colour)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "ee_6jet", "n_train": 200, "n_test": 50, "base_channels": 8, "epochs": 10,
                                 "batch_size": 16}
#: config params that a deep link (``?page=colorize&n_train=500``) may set
URL_PARAMS = ("sample", "n_train", "n_test", "n_eta", "n_phi", "eta_max", "base_channels", "depth", "circular_phi",
              "matching", "crf", "crf_iterations", "epochs", "batch_size", "learning_rate", "seed", "device")


def predict_test_events(result: ColorizeResult, events, max_events: int = 100) -> Display:
    """Predict the first ``max_events`` test events of a run, for the views.

    ``events``: the run's sample (at least its ``n_test`` test events) or its prepared test set
    (:class:`~jetviz.runners.colorize.ColorizeData`, the second item of ``ColorizeRunner.load_data()``).

    Returns
    -------
    Display
        Predictions with every CRF iteration (at least one, so the slider always has a step: a
        run without a trained CRF gets its untrained CRF as post-processing), and the W / top
        masses of truth, U-Net, U-Net + CRF and anti-kt assignments for six-jet samples.
    """
    config = result.config
    n = int(min(config.n_test, max_events, len(events)))
    data = events.subset(slice(0, n)) if isinstance(events, ColorizeData) else prepare(events[:n], config)
    iterations = max(int(config.crf_iterations), 1)  # the slider always has a CRF step to show
    prediction = result.predict(data, crf_iterations=iterations)
    masses = {}
    if result.n_colours == 6:
        q = prediction.iterations
        unet = np.where(data.mask, q[:, 0].argmax(-1), -1)
        crf = np.where(data.mask, q[:, -1].argmax(-1), -1)
        masses = {
            TRUTH_LABELS.get(config.truth, config.truth): six_jet_masses(data.p4, data.truth, data.visible),
            "U-Net": six_jet_masses(data.p4, unet, data.visible),
            f"U-Net + CRF ({iterations} it.)": six_jet_masses(data.p4, crf, data.visible),
            "anti-kt": six_jet_masses(data.p4, data.antikt, data.visible),
        }
    return Display(prediction=prediction, masses=masses, eta_range=(-config.eta_max, config.eta_max))


def _display(result: ColorizeResult, data: tuple, progress, max_display: int) -> tuple[Display]:
    """``(Display,)``: the views' predictions of a run's first ``max_display`` test events
    (``data``: the runner's (train, test, K))."""
    progress({"kind": "stage", "stage": "predict", "message": "predicting the test events …", "fraction": 0.98})
    return (predict_test_events(result, data[1], max_display),)


class ColorizeStore(TrainingStore):
    """The colorize page's data store: a :class:`~jetviz.ui.training.TrainingStore` of the colorize runner.

    Beyond the training store's params: ``steps`` (the live per-step loss), ``display`` (the test-set
    predictions with every CRF iteration) and ``current`` (the test event at ``event_index``).
    """

    runner_name = "colorize"
    sample_kind = "events+truth"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    derive = staticmethod(lambda result, data, progress, max_display=100: _display(result, data, progress, max_display))

    config = param.ClassSelector(class_=ColorizeConfig, doc="the run's settings")
    event_index = param.Integer(default=0, bounds=(0, 1), doc="test event shown by the views")
    crf_iteration = param.Integer(default=0, bounds=(0, 1), label="CRF iteration",
                                  doc="0 = U-Net output, t = after t mean-field CRF iterations")
    max_display = param.Integer(default=100, bounds=(1, 2000), doc="test events predicted for the views")

    steps = param.List(default=[], precedence=-1, doc="(epoch + step/n_steps, loss) of training steps")
    display = param.ClassSelector(class_=Display, default=None, precedence=-1, doc="test-set predictions")
    current = param.ClassSelector(class_=ColorizeEvent, default=None, precedence=-1, doc="event at event_index")

    def __init__(self, **params):
        super().__init__(**params)
        self._pending_steps: list = []
        self._steps_flushed = 0.0

    # ----------------------------------------------------------------------------- a run shown
    def train(self, blocking: bool | None = None) -> None:
        """Train a new run (see :meth:`TrainingStore.train`); the live per-step curve starts empty."""
        if not self.running:
            self._pending_steps = []
            self.steps = []
        super().train(blocking)

    def open_run(self, run_dir, blocking: bool | None = None) -> None:
        """Reopen a run (see :meth:`TrainingStore.open_run`): it has epochs only (no per-step losses)."""
        if not self.running:
            self._pending_steps = []
            self.steps = []
        super().open_run(run_dir, blocking)

    def derive_options(self) -> dict:
        return {"max_display": int(self.max_display)}

    def on_step(self, event: dict) -> None:
        n_steps = max(int(event["n_steps"]), 1)
        self._pending_steps.append((event["epoch"] - 1 + event["step"] / n_steps, float(event["loss"])))

    def _on_event(self, event: dict) -> None:
        if event.get("kind") == "epoch":
            self._flush_steps(force=True)
        super()._on_event(event)

    def _drain(self) -> None:
        super()._drain()
        self._flush_steps(force=self._queue is None)

    def _flush_steps(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._pending_steps and (force or now - self._steps_flushed >= _STEPS_EVERY_S):
            self.steps = [*self.steps, *self._pending_steps]
            self._pending_steps = []
            self._steps_flushed = now

    def show_data(self, data) -> None:
        """The run's prepared events arrived (before its training): the previous result goes."""
        self.param.update(result=None, display=None, loaded="")

    def show(self, result: ColorizeResult, data, display: Display) -> None:
        n = len(display)
        t_max = display.prediction.iterations.shape[1] - 1
        self.param.event_index.bounds = (0, max(n - 1, 1))
        self.param.crf_iteration.bounds = (0, max(t_max, 1))
        self.param.update(display=display, event_index=min(self.event_index, n - 1),
                          crf_iteration=min(self.crf_iteration, t_max))
        self._update_current()

    def describe(self, result: ColorizeResult, data, derived: tuple = ()) -> str:
        config = result.config
        crf = "U-Net + CRF (trained)" if config.crf else "U-Net (CRF slider: untrained post-processing)"
        shown = f" · test events shown: {len(derived[0])}" if derived else ""
        return (f"{result.run_dir.name} · {config.sample} · {config.n_train} train / {config.n_test} test events"
                f" · {config.epochs} epochs · {crf}{shown}")

    # ----------------------------------------------------------------------------- derived data
    @param.depends("event_index", watch=True)
    def _update_current(self) -> None:
        display = self.display
        current = None if display is None else display.event(min(self.event_index, len(display) - 1))
        with one_redraw():  # the three event plots, heat maps and summary follow together
            self.current = current

    # ----------------------------------------------------------------------------- view
    def controls_list(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self.number
        sample = self.sample_select()
        sizes = pn.Row(number("n_train", "Training events", step=100), number("n_test", "Test events", step=50), **wide)
        training = pn.Row(number("epochs", "Epochs"), number("batch_size", "Batch size"), **wide)
        network = pn.Row(number("base_channels", "U-Net width"), number("depth", "U-Net depth"), **wide)
        crf = pn.Row(pn.widgets.Checkbox.from_param(c.param.crf, label="train a CRF end to end",
                                                    margin=(22, 10, 5, 10)),
                     number("crf_iterations", "CRF iterations"), **wide)
        advanced = settings_card(
            pn.widgets.MultiChoice.from_param(c.param.channels, label="Input maps", **wide),
            pn.widgets.Checkbox.from_param(c.param.circular_phi, label="circular padding in φ"),
            pn.widgets.Select.from_param(c.param.matching, label="Colour matching in the loss", **wide),
            pn.Row(number("n_eta", "η pixels"), number("n_phi", "φ pixels"), **wide),
            pn.widgets.FloatSlider.from_param(c.param.eta_max, label="map |η| <", throttled=True, **wide),
            number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-3),
            pn.Row(number("crf_omega", "CRF ω", widget=pn.widgets.FloatInput, step=0.01),
                   number("crf_alpha", "CRF α", widget=pn.widgets.FloatInput), **wide),
            number("max_particles", "Particles per event (max)", step=16),
            pn.Row(number("seed", "Seed"), pn.widgets.Select.from_param(c.param.device, label="Device"), **wide),
        )
        return [sample, sizes, training, network, crf, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`ColorizeConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_COLORIZE_<PARAM>`` env vars, then ``overrides``)
default_config = ColorizeStore.default_config
#: ``list_runs(root=None)``: finished colorize run directories (``model.pt`` and ``metrics.json``), newest first
list_runs = ColorizeStore.list_runs


