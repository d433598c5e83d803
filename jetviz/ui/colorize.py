"""The colorize page (seed 000): train a U-Net (+ CRF) jet colorizer, reopen runs, look at events.

Structured like the events page (:mod:`jetviz.ui.events`), after Panel's "data store" tutorial:

- :class:`ColorizeStore` (a ``Viewer``) holds a :class:`~jetviz.runners.colorize.ColorizeConfig`
  (its bounded params become the controls), runs :meth:`ColorizeRunner.fit
  <jetviz.runners.colorize.ColorizeRunner.fit>` in a background thread (*Train*, *Cancel*),
  reopens finished runs from :func:`~jetviz.runners.base.runs_dir` (*Open run*) and exposes the
  live ``history``/``steps``, the ``result``, the test-set ``display`` predictions and the
  ``current`` event as params. Its own view is the settings panel with progress and errors.
- Views depend only on the store's params: :class:`EventView` (event picker, CRF-iteration
  slider, grey energy map → predicted colours → truth colours), :class:`ProbabilityView`
  (per-jet heat maps), :class:`TrainingView` (live loss curves), :class:`ResultsView` (the
  talk's table next to ours, accuracy and mass resolution, m_W / m_top histograms).
- :class:`ColorizePage` composes them; it renders in ``panel serve`` and inline in JupyterLab.

What every page that trains runs shares (buttons, run list, status params, the worker thread
and its queue, env-var and URL-query defaults) is in :mod:`jetviz.ui.runs`; this module holds
what is the colorize runner's own.

Training never blocks the Bokeh event loop: the thread only puts the runner's progress dicts
on a queue; a periodic callback on the session's loop drains it into params. Outside an event
loop (a script, a test) pass ``blocking=True`` to :meth:`ColorizeStore.train` /
:meth:`ColorizeStore.open_run`.

Colours are permutation-free: for display, the predicted colours of each event are permuted
onto its truth jets (Hungarian assignment on shared energy, computed once per event from the
U-Net's marginals), so the same jet has the same colour in the predicted and truth panels and
the CRF slider shows what the iterations really change.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param

from jetviz.data.samples import load_sample
from jetviz.plots.colorize import (
    LOSS_NOTE,
    apply_colours,
    colour_scatter,
    energy_map_image,
    loss_curves,
    mass_histograms,
    match_colours,
    metrics_table,
    probability_maps,
    reproduction_table,
    run_rows,
    six_jet_masses,
)
from jetviz.runners.colorize import ColorizeConfig, ColorizeResult, ColorizeRunner, prepare
from jetviz.ui.events import bounded_input
from jetviz.ui.runs import RunPage, RunStore, RunView, fit_on_backend

__all__ = [
    "PAGE_DEFAULTS",
    "URL_PARAMS",
    "default_config",
    "list_runs",
    "ColorizeEvent",
    "Display",
    "predict_test_events",
    "ColorizeStore",
    "EventView",
    "ProbabilityView",
    "TrainingView",
    "ResultsView",
    "ColorizePage",
]

_STEPS_EVERY_S = 0.5  # live per-step loss curve: at most this often
#: the page's default run: real ee_6jet physics, small and fast on a CPU (~20 s on 2 free cores:
#: test accuracy ≈ 0.64, m_W peak back; with 3 epochs of batch 32 the U-Net still paints one colour)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "ee_6jet", "n_train": 200, "n_test": 50, "base_channels": 8, "epochs": 10,
                                 "batch_size": 16}
#: config params that a deep link (``?page=colorize&n_train=500``) may set
URL_PARAMS = ("sample", "n_train", "n_test", "n_eta", "n_phi", "eta_max", "base_channels", "depth", "circular_phi",
              "matching", "crf", "crf_iterations", "epochs", "batch_size", "learning_rate", "seed", "device")


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise ==
class ColorizeEvent:
    """One test event with its predictions, ready to plot (visible particles only).

    Attributes
    ----------
    index : int
        Position in the run's test set.
    eta, phi, energy : (M,) float arrays
        Particles (radians, GeV), highest energy first.
    truth : (M,) int array
        Durham jet per particle (−1: none).
    in_map : (M,) bool array
        Inside the η–φ map (only those get a prediction).
    image : (n_eta, n_phi) float array
        Energy map of the particles (GeV): the grey-scale input.
    pixel_probs : (K, n_eta, n_phi) float array
        U-Net colour probabilities per pixel (network colour order).
    iterations : (T+1, M, K) float array
        Per-particle marginals: 0 = U-Net, t = after t mean-field CRF iterations.
    mapping : (K,) int array
        Displayed colour of each network colour (matched to the truth jets on shared energy).
    eta_range : (float, float)
        η edges of the map.
    """

    index: int
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    truth: np.ndarray
    in_map: np.ndarray
    image: np.ndarray
    pixel_probs: np.ndarray
    iterations: np.ndarray
    mapping: np.ndarray
    eta_range: tuple[float, float]

    @property
    def n_iterations(self) -> int:
        """T, the number of CRF iterations available (slider maximum)."""
        return self.iterations.shape[0] - 1

    def colours(self, iteration: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Displayed predicted colour (−1 outside the map) and its probability after ``iteration``."""
        t = int(np.clip(iteration, 0, self.n_iterations))
        q = self.iterations[t]
        best = q.argmax(axis=-1)
        colour = np.where(self.in_map, apply_colours(best, self.mapping), -1)
        prob = np.where(self.in_map, q[np.arange(len(best)), best], np.nan)
        return colour, prob

    def accuracy(self, iteration: int = 0) -> float:
        """Energy-weighted fraction of this event's particles (in the map, in a jet) in the right jet."""
        colour, _ = self.colours(iteration)
        ok = self.in_map & (self.truth >= 0)
        total = float(self.energy[ok].sum())
        return float(self.energy[ok & (colour == self.truth)].sum() / total) if total > 0 else float("nan")

    def summary(self) -> str:
        """One line: index, multiplicity, visible energy."""
        return (f"test event {self.index}: {len(self.energy)} visible particles "
                f"({int(self.in_map.sum())} in the map), {int(self.truth.max(initial=-1)) + 1} truth jets, "
                f"ΣE = {float(self.energy.sum()):.1f} GeV")


@dataclass(eq=False)
class Display:
    """Predictions of a run on (the first events of) its test set, for the views.

    Attributes
    ----------
    prediction : jetviz.runners.colorize.Prediction
        ``pixel_probs (N, K, n_eta, n_phi)``, ``iterations (N, T+1, P, K)``, ``data``.
    masses : dict
        ``{assignment: (m_w, m_top)}`` (GeV) for six-jet samples, else empty.
    eta_range : (float, float)
    """

    prediction: Any
    masses: dict = field(default_factory=dict)
    eta_range: tuple[float, float] = (-3.0, 3.0)

    def __len__(self) -> int:
        return len(self.prediction.pixel_probs)

    def event(self, index: int) -> ColorizeEvent:
        """Test event ``index`` (0 ≤ index < len(self))."""
        if not 0 <= index < len(self):
            raise IndexError(f"test event {index} outside [0, {len(self)})")
        p, data = self.prediction, self.prediction.data
        keep = np.asarray(data.visible[index], bool)
        n_eta, n_phi = p.pixel_probs.shape[2:]
        energy = np.asarray(data.energy[index], np.float64)
        mask = np.asarray(data.mask[index], bool)
        image = np.zeros(n_eta * n_phi)
        np.add.at(image, data.pixel[index][mask], energy[mask])
        iterations = p.iterations[index][:, keep]
        truth = np.asarray(data.truth[index], np.int64)[keep]
        mapping = match_colours(iterations[0] * mask[keep][:, None], truth, energy[keep], p.pixel_probs.shape[1])
        return ColorizeEvent(
            index=int(index), eta=np.asarray(data.eta[index], np.float64)[keep],
            phi=np.asarray(data.phi[index], np.float64)[keep], energy=energy[keep], truth=truth, in_map=mask[keep],
            image=image.reshape(n_eta, n_phi), pixel_probs=p.pixel_probs[index], iterations=iterations,
            mapping=mapping, eta_range=self.eta_range,
        )


def predict_test_events(result: ColorizeResult, events, max_events: int = 100) -> Display:
    """Predict the first ``max_events`` test events of a run, for the views.

    Parameters
    ----------
    result : ColorizeResult
        A finished or reopened run.
    events : ak.Array
        The run's sample (at least its first ``n_test`` events: the test set); e.g.
        ``load_sample(config.sample, config.n_train + config.n_test, config.seed)``.
    max_events : int
        Predict at most this many test events.

    Returns
    -------
    Display
        Predictions with every CRF iteration (at least one, so the slider always has a step: a
        run without a trained CRF gets its untrained CRF as post-processing), and the W / top
        masses of truth, U-Net, U-Net + CRF and anti-kt assignments for six-jet samples.
    """
    config = result.config
    n = int(min(config.n_test, max_events, len(events)))
    data = prepare(events[:n], config)
    iterations = max(int(config.crf_iterations), 1)  # the slider always has a CRF step to show
    prediction = result.predict(data, crf_iterations=iterations)
    masses = {}
    if result.n_colours == 6:
        q = prediction.iterations
        unet = np.where(data.mask, q[:, 0].argmax(-1), -1)
        crf = np.where(data.mask, q[:, -1].argmax(-1), -1)
        masses = {
            "Durham truth": six_jet_masses(data.p4, data.truth, data.visible),
            "U-Net": six_jet_masses(data.p4, unet, data.visible),
            f"U-Net + CRF ({iterations} it.)": six_jet_masses(data.p4, crf, data.visible),
            "anti-kt": six_jet_masses(data.p4, data.antikt, data.visible),
        }
    return Display(prediction=prediction, masses=masses, eta_range=(-config.eta_max, config.eta_max))


class ColorizeStore(RunStore):
    """Settings, training and results of the colorize page (the page's data store).

    Set the ``config``'s params and press *Train* (or call :meth:`train`); *Cancel* stops the
    run after the current step (its checkpoint is kept). *Open run* reopens a finished run from
    :func:`~jetviz.runners.base.runs_dir` without retraining (:meth:`open_run`). Results arrive
    in ``history``/``steps`` (live), ``result``, ``display`` and ``current`` (the test event at
    ``event_index``); errors in ``error``. Buttons, run list, status params and the worker
    plumbing come from :class:`~jetviz.ui.runs.RunStore`.

    The config's defaults are :data:`PAGE_DEFAULTS`, then ``JETVIZ_COLORIZE_<PARAM>`` env vars
    (``JETVIZ_COLORIZE_SAMPLE=toy_ee_6jet``, ``JETVIZ_COLORIZE_N_TRAIN=32``,
    ``JETVIZ_COLORIZE_CHANNELS=energy,charged``, booleans as ``1/0/true/false``), then the
    keyword arguments (see :func:`default_config`).
    """

    runner_name = "colorize"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    run_files = ("model.pt", "metrics.json")
    stage_progress = {"evaluate": 90, "predict": 95}

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

    # ----------------------------------------------------------------------------- actions
    def _train_updates(self, config: ColorizeConfig) -> dict:
        self._pending_steps = []
        return {"steps": []}

    def _open_updates(self) -> dict:
        self._pending_steps = []
        return {"steps": []}  # a reopened run has epochs only (no per-step losses)

    def _work_args(self) -> tuple:
        return (int(self.max_display),)

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _train_work(token: int, messages: queue.SimpleQueue, max_display: int, config, cancel: threading.Event,
                    backend: str = "local") -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        n_total = config.n_train + config.n_test
        put({"kind": "stage", "stage": "sample", "done": 0, "total": n_total,
             "message": f"loading {config.sample} ({n_total} events) …"})
        events = load_sample(config.sample, n_total, config.seed, show_progress=False, progress=lambda d, t: put(
            {"kind": "stage", "stage": "sample", "done": d, "total": t,
             "message": f"generating {config.sample}: {d}/{t} events"}))
        runner = ColorizeRunner(config, events=events)
        put({"kind": "stage", "stage": "run", "message": f"training in {runner.run_dir.name} …",
             "run_dir": str(runner.run_dir)})
        result = fit_on_backend(runner, backend, put, cancel, {"events": events})
        put({"kind": "stage", "stage": "predict", "message": "predicting the test events …"})
        messages.put(("done", token, result, predict_test_events(result, events, max_display)))

    @staticmethod
    def _open_work(token: int, messages: queue.SimpleQueue, max_display: int, run_dir: Path) -> None:
        result = ColorizeResult.load(run_dir)
        config = result.config
        n = int(min(config.n_test, max_display))
        messages.put(("event", token, {"kind": "stage", "stage": "sample", "done": 0, "total": n,
                                       "message": f"loading {n} test events of {config.sample} …"}))
        # the test set is the sample's first n_test events, whatever n_train was
        events = load_sample(config.sample, config.n_train + config.n_test, config.seed, show_progress=False)
        messages.put(("event", token, {"kind": "stage", "stage": "predict",
                                       "message": "predicting the test events …"}))
        messages.put(("done", token, result, predict_test_events(result, events[:n], max_display)))

    # ----------------------------------------------------------------------------- messages
    def _drained(self) -> None:
        self._flush_steps(force=self._queue is None)

    def _on_progress(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "step":
            epochs = int(self.config.epochs)
            n_steps = max(int(event["n_steps"]), 1)
            done = (event["epoch"] - 1) * n_steps + event["step"]
            self._pending_steps.append((event["epoch"] - 1 + event["step"] / n_steps, float(event["loss"])))
            self.param.update(progress=int(10 + 80 * done / (epochs * n_steps)),
                              status=f"epoch {event['epoch']}/{epochs}, step {event['step']}/{n_steps}: "
                                     f"loss {event['loss']:.3f}")
        elif kind == "epoch":
            self._flush_steps(force=True)
            self.history = [*self.history, self._history_row(event)]
        elif kind == "done":
            self.status = "evaluated; predicting the test events …"

    def _flush_steps(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._pending_steps and (force or now - self._steps_flushed >= _STEPS_EVERY_S):
            self.steps = [*self.steps, *self._pending_steps]
            self._pending_steps = []
            self._steps_flushed = now

    def _apply(self, result, display: Display) -> None:
        n = len(display)
        t_max = display.prediction.iterations.shape[1] - 1
        self.param.event_index.bounds = (0, max(n - 1, 1))
        self.param.crf_iteration.bounds = (0, max(t_max, 1))
        config = result.config
        crf = "U-Net + CRF (trained)" if config.crf else "U-Net (CRF slider: untrained post-processing)"
        self.config.param.update(**{k: v for k, v in config.to_dict().items() if k in self.config.param})
        self.param.update(
            result=result, display=display, history=list(result.history), running=False, training=False,
            progress=100, status="", event_index=min(self.event_index, n - 1),
            crf_iteration=min(self.crf_iteration, t_max),
            loaded=(f"{result.run_dir.name} · {config.sample} · {config.n_train} train / {config.n_test} test events"
                    " · "
                    f"{config.epochs} epochs · {crf} · test events shown: {n}"),
        )
        self._update_current()
        self._show_run(result.run_dir)

    # ----------------------------------------------------------------------------- derived data
    @param.depends("event_index", watch=True)
    def _update_current(self) -> None:
        display = self.display
        self.current = None if display is None else display.event(min(self.event_index, len(display) - 1))

    # ----------------------------------------------------------------------------- view
    def _settings(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self._number
        sample = pn.widgets.Select.from_param(c.param.sample, label="Sample", **wide)
        sizes = pn.Row(number("n_train", "Training events", step=100), number("n_test", "Test events", step=50), **wide)
        training = pn.Row(number("epochs", "Epochs"), number("batch_size", "Batch size"), **wide)
        network = pn.Row(number("base_channels", "U-Net width"), number("depth", "U-Net depth"), **wide)
        crf = pn.Row(pn.widgets.Checkbox.from_param(c.param.crf, label="train a CRF end to end",
                                                    margin=(22, 10, 5, 10)),
                     number("crf_iterations", "CRF iterations"), **wide)
        advanced = pn.Card(
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
            title="More settings", collapsed=True, **wide,
        )
        return [sample, sizes, training, network, crf, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`ColorizeConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_COLORIZE_<PARAM>`` env vars, then ``overrides``)
default_config = ColorizeStore.default_config
#: ``list_runs(root=None)``: finished colorize run directories (``model.pt`` and ``metrics.json``), newest first
list_runs = ColorizeStore.list_runs


class _StoreView(RunView):
    store = param.ClassSelector(class_=ColorizeStore, doc="the page's data store")


class EventView(_StoreView):
    """Test-event picker and CRF-iteration slider; grey energy map → predicted colours → truth colours."""

    plot_size = param.Integer(default=200, bounds=(150, 600), doc="plot area width and height, pixels")

    def _step(self, delta: int) -> None:
        lo, hi = self.store.param.event_index.bounds
        self.store.event_index = int(np.clip(self.store.event_index + delta, lo, hi))

    def _summary(self, current: ColorizeEvent | None, iteration: int, loaded: str) -> str:
        if current is None:
            return "*No run shown yet: press* Train *or open a finished run.*"
        t = min(iteration, current.n_iterations)
        step = "U-Net output" if t == 0 else f"after {t} CRF iteration{'s' if t > 1 else ''}"
        return (f"**{current.summary()}** — energy-weighted accuracy {current.accuracy(t):.2f} ({step})"
                f"  \n<small>{loaded}</small>")

    def _grey(self, current: ColorizeEvent | None):
        if current is None:
            return self._empty()
        size = self.plot_size
        return energy_map_image(current.image, current.eta_range, frame_width=size, frame_height=size,
                                title="input: energy map")

    def _predicted(self, current: ColorizeEvent | None, iteration: int):
        if current is None:
            return pn.pane.Markdown("")
        t = min(iteration, current.n_iterations)
        colour, prob = current.colours(t)
        step = "U-Net" if t == 0 else f"CRF step {t}"
        return colour_scatter(current.eta, current.phi, current.energy, colour, probability=prob,
                              what="predicted jet", title=f"predicted ({step})",
                              eta_lim=float(current.eta_range[1]), frame_width=self.plot_size,
                              frame_height=self.plot_size, legend=False)

    def _truth(self, current: ColorizeEvent | None):
        if current is None:
            return pn.pane.Markdown("")
        return colour_scatter(current.eta, current.phi, current.energy, current.truth, what="truth jet",
                              title=f"truth (Durham {current.mapping.size} jets)",
                              eta_lim=float(current.eta_range[1]), frame_width=self.plot_size,
                              frame_height=self.plot_size)

    def controls(self) -> pn.viewable.Viewable:
        """Event slider with ◀ ▶ and a number box, the CRF-iteration slider, and the summary line."""
        store = self.store
        disabled = store.param.display.rx.is_(None)
        slider = pn.widgets.IntSlider.from_param(store.param.event_index, label="Test event", disabled=disabled,
                                                 throttled=True, sizing_mode="stretch_width", min_width=180,
                                                 css_classes=["jetviz-event-slider"])
        prev = pn.widgets.Button(label="◀", width=45, margin=(24, 2, 5, 5), disabled=disabled,
                                 css_classes=["jetviz-prev"])
        nxt = pn.widgets.Button(label="▶", width=45, margin=(24, 5, 5, 2), disabled=disabled,
                                css_classes=["jetviz-next"])
        prev.on_click(lambda event: self._step(-1))
        nxt.on_click(lambda event: self._step(+1))
        number = bounded_input(store, "event_index", store.report, label="Test event index", width=120,
                               disabled=disabled, css_classes=["jetviz-event-input"])
        crf = pn.widgets.IntSlider.from_param(store.param.crf_iteration, label="CRF iteration (0 = U-Net)",
                                              disabled=disabled, sizing_mode="stretch_width", min_width=180,
                                              css_classes=["jetviz-crf-slider"])
        summary = pn.pane.Markdown(pn.bind(self._summary, store.param.current, store.param.crf_iteration,
                                           store.param.loaded),
                                   css_classes=["jetviz-event-summary"], sizing_mode="stretch_width")
        return pn.Column(pn.Row(slider, prev, nxt, number, crf, sizing_mode="stretch_width"), summary,
                         sizing_mode="stretch_width")

    def plots(self) -> pn.viewable.Viewable:
        """Energy map, predicted colours (at the CRF iteration chosen), truth colours, side by side."""
        store = self.store
        return pn.FlexBox(
            pn.panel(pn.bind(self._grey, store.param.current), linked_axes=False, css_classes=["jetviz-energy-map"]),
            pn.panel(pn.bind(self._predicted, store.param.current, store.param.crf_iteration), linked_axes=False,
                     css_classes=["jetviz-predicted"]),
            pn.panel(pn.bind(self._truth, store.param.current), linked_axes=False, css_classes=["jetviz-truth"]),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.controls(), self.plots(), sizing_mode="stretch_width")


class ProbabilityView(_StoreView):
    """Per-jet probability heat maps of the current event (U-Net softmax, one panel per colour)."""

    def _plot(self, current: ColorizeEvent | None):
        if current is None:
            return self._empty()
        return probability_maps(current.pixel_probs, current.eta_range, mapping=current.mapping,
                                title=f"P(jet) per pixel, test event {current.index} (U-Net)")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(pn.bind(self._plot, self.store.param.current), linked_axes=False,
                        css_classes=["jetviz-heatmaps"])


class TrainingView(_StoreView):
    """Loss curves: train and test per epoch, the per-step training loss while it trains.

    The plot is an ``hv.DynamicMap`` fed by a ``Pipe`` stream: live updates patch the plot's data
    in place instead of rebuilding the figure, which keeps the training thread's share of the GIL.
    """

    def __panel__(self) -> pn.viewable.Viewable:
        import holoviews as hv

        store = self.store
        pipe = hv.streams.Pipe(data=(list(store.history), list(store.steps)))
        plot = hv.DynamicMap(lambda data: loss_curves(*data, width=500), streams=[pipe])
        # a closure, not a bound method: a stream subscriber bound to the view would keep the session alive
        store.param.watch(lambda *events: pipe.send((list(store.history), list(store.steps))), ["history", "steps"])
        return pn.pane.HoloViews(plot, linked_axes=False, css_classes=["jetviz-loss"])


class ResultsView(_StoreView):
    """The talk's loss table with this run next to it; accuracy and W / top mass per assignment."""

    def _tables(self, result) -> tuple:
        if result is None:
            return reproduction_table(), metrics_table({})
        return (reproduction_table(run_rows(result.metrics, result.config.n_train, bool(result.config.crf),
                                            name=f"this run ({result.config.sample})")),
                metrics_table(result.metrics))

    def _masses(self, display: Display | None):
        if display is None or not display.masses:
            return pn.pane.Markdown("")
        return mass_histograms(display.masses)

    def masses(self) -> pn.viewable.Viewable:
        """m_W and m_top histograms over the shown test events (truth, U-Net, U-Net + CRF, anti-kt)."""
        return pn.panel(pn.bind(self._masses, self.store.param.display), linked_axes=False,
                        css_classes=["jetviz-masses"])

    def reproduction(self) -> pn.viewable.Viewable:
        """The talk's loss table with this run's rows, and the note on the loss scale."""
        from bokeh.models.widgets.tables import NumberFormatter

        three = NumberFormatter(format="0.000")
        repro = pn.widgets.Tabulator(pn.bind(lambda r: self._tables(r)[0], self.store.param.result),
                                     formatters={c: three for c in ("loss train", "loss test", "loss train per jet",
                                                                    "loss test per jet", "accuracy test")},
                                     css_classes=["jetviz-repro"], disabled=True, show_index=False,
                                     layout="fit_data_table", sizing_mode="stretch_width")
        return pn.Column(
            "#### Loss vs training-set size: seed 000's table, this run below it", repro,
            pn.pane.Markdown(f"<small>{LOSS_NOTE}</small>", sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def metrics(self) -> pn.viewable.Viewable:
        """Energy-weighted accuracy and W / top mass (median, σ68) per jet assignment, test set."""
        def fmt(spec: str):
            return lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

        formatters = {"accuracy": fmt(".3f"), **{c: fmt(".1f") for c in ("m_W median", "m_W σ68", "m_top median",
                                                                         "m_top σ68")}}
        table = pn.pane.DataFrame(pn.bind(lambda r: self._tables(r)[1], self.store.param.result), index=False,
                                  formatters=formatters, na_rep="–", css_classes=["jetviz-metrics"], margin=(0, 10))
        return pn.Column("#### Test set: energy-weighted accuracy, W / top mass [GeV]", table)

    def tables(self) -> pn.viewable.Viewable:
        """The reproduction table, the note on the loss scale, and the metrics table."""
        return pn.Column(self.reproduction(), self.metrics(), sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.tables(), self.masses(), sizing_mode="stretch_width")


class ColorizePage(RunPage):
    """The colorize page: run settings, training and runs on the left; training curves, event
    display with CRF slider, per-jet heat maps and the reproduction table on the right.

    Parameters
    ----------
    **params
        ``store`` (a :class:`ColorizeStore`) and ``url_query`` (deep links such as
        ``?page=colorize&n_train=500&crf=true``) as in :class:`~jetviz.ui.runs.RunPage`; any
        other keyword arguments are :class:`ColorizeConfig` params for a new store, e.g.
        ``ColorizePage(sample="toy_ee_6jet", n_train=32)``.
    """

    views = {"events": EventView, "probabilities": ProbabilityView, "training": TrainingView, "results": ResultsView}

    store = param.ClassSelector(class_=ColorizeStore, doc="the page's data store")

    def body(self) -> pn.viewable.Viewable:
        """Loss curves and tables, event display with the CRF slider, per-jet heat maps."""
        return pn.Column(
            pn.FlexBox(self.training, self.results.metrics(), sizing_mode="stretch_width"),
            pn.layout.Divider(),
            self.events,
            pn.FlexBox(self.probabilities, self.results.masses(), sizing_mode="stretch_width"),
            pn.layout.Divider(),
            self.results.reproduction(),
            sizing_mode="stretch_width",
        )
