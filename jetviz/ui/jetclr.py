"""The jetclr page (seed 004): contrastive jet representations (JetCLR) on top vs QCD jets.

Structured like the vae_emd page (:mod:`jetviz.ui.vae_emd`):

- :class:`JetclrStore` (a :class:`~jetviz.ui.runs.RunStore`) holds a
  :class:`~jetviz.runners.jetclr.JetclrConfig` (its bounded params become the controls), loads
  the run's jets (*Load jets*, and on page load: the augmentation explorer needs no training),
  runs :meth:`JetclrRunner.fit <jetviz.runners.jetclr.JetclrRunner.fit>` in a background thread
  (*Train*, *Cancel*), reopens finished runs (*Open run*), runs the seed's ablation
  (:func:`~jetviz.runners.jetclr.ablation`, *Run ablation*) and exposes the live ``history``,
  the jets (``data``), the ``result``, the chosen jet and its augmented copy (``augmented``),
  its rotation by ``angle`` with s(r(x), r(R(θ)x)) for the trained and the untrained encoder
  (``rotated``), the jets selected in the representation space (``selected``) and the ablation
  rows (``ablation``) as params.
- Views depend only on the store's params: :class:`AugmentationView` (original vs augmented
  constituents), :class:`RotationView` (angle slider, rotated jet, s values, invariance curve),
  :class:`ResultsView` (ablation table and AUC bars vs the talk, 1/ε_b vs ε_s curves of the
  trained and untrained encoder, the numbers, the loss per epoch), :class:`LatentView` (PCA of
  the representations, box/lasso selection shows the selected jets).
- :class:`JetclrPage` composes them; it renders in ``panel serve`` and inline in JupyterLab.

Work never blocks the Bokeh event loop: the worker thread only puts the runner's progress dicts
on a queue that a periodic callback drains into params. Outside an event loop (a script, a test)
pass ``blocking=True`` to :meth:`JetclrStore.load_jets`, :meth:`JetclrStore.train`,
:meth:`JetclrStore.open_run` and :meth:`JetclrStore.run_ablation`.
"""
from __future__ import annotations

import copy
import json
import queue
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
import torch

from jetviz.models.constituents import AUGMENTATIONS, augment, rotate
from jetviz.models.jetclr import JetCLREncoder, cosine_similarity
from jetviz.plots.jetclr import (
    CLASS_NAMES,
    ablation_bars,
    ablation_table,
    augmentation_pair,
    constituent_grid,
    invariance_plot,
    loss_curve,
    rejection_curves,
    representation_points,
)
from jetviz.runners.base import load_torch, new_run_dir, read_json, runs_dir
from jetviz.runners.jetclr import TALK, JetclrConfig, JetclrData, JetclrResult, JetclrRunner, ablation
from jetviz.ui.events import bounded_input
from jetviz.ui.runs import RunPage, RunStore, RunView, fit_on_backend

__all__ = [
    "PAGE_DEFAULTS",
    "URL_PARAMS",
    "default_config",
    "list_runs",
    "collect_ablation",
    "untrained_encoder",
    "JetclrStore",
    "AugmentationView",
    "RotationView",
    "ResultsView",
    "LatentView",
    "JetclrPage",
]

#: the page's default run: real top/QCD jets, small enough for a CPU (a minute or two on two cores)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "top_qcd", "n_jets": 800, "epochs": 3, "d_model": 32, "n_heads": 4,
                                 "n_layers": 1, "n_angles": 13, "n_invariance": 64}
#: config params that a deep link (``?page=jetclr&n_jets=2000&augmentations=rotations``) may set
URL_PARAMS = ("sample", "n_jets", "n_constituents", "extra_slots", "augmentations", "translation_width",
              "split_probability", "lambda_soft", "d_model", "n_heads", "n_layers", "rep_dim", "proj_dim",
              "temperature", "epochs", "batch_size", "learning_rate", "n_angles", "n_invariance", "threads", "seed",
              "device")
#: jets shown for a representation-space selection
FIRST_SELECTED = 4


def untrained_encoder(result: JetclrResult) -> JetCLREncoder:
    """The run's encoder before training (its ``initial.pt`` weights), CPU, eval mode.

    Raises
    ------
    jetviz.errors.DataFileError
        ``initial.pt`` missing or unreadable.
    """
    model = copy.deepcopy(result.model)
    model.load_state_dict(load_torch(result.run_dir / "initial.pt"))
    return model.eval()


def _summary(metrics: dict, source: str) -> dict:
    keys = ("auc", "rejection", "auc_untrained", "rejection_untrained", "alignment", "uniformity")
    return {**{k: metrics.get(k) for k in keys}, "source": source}


def collect_ablation(result: JetclrResult | None = None, root: Path | None = None) -> dict[str, dict]:
    """Ablation rows for the table: ``{row: {"auc", "rejection", …, "source"}}``.

    The shown run fills its own row (``result.metrics["row"]``); the newest
    ``jetclr-ablation-*/ablation.json`` under ``root`` (default ``runs_dir()``) and then the other
    finished jetclr runs (newest first) fill the rows still empty.
    """
    root = runs_dir() if root is None else Path(root)
    rows: dict[str, dict] = {}
    if result is not None:
        rows[result.metrics["row"]] = _summary(result.metrics, f"this run ({result.run_dir.name})")
    files = sorted(root.glob("jetclr-ablation-*/ablation.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files[:1]:
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for entry in summary if isinstance(summary, list) else []:
            if isinstance(entry, dict) and "row" in entry:
                rows.setdefault(entry["row"], _summary(entry, f"ablation {path.parent.name}"))
    for run in JetclrStore.list_runs(root):
        try:
            metrics = read_json(run / "metrics.json")
        except Exception:  # a damaged run is skipped
            continue
        if "row" in metrics:
            rows.setdefault(metrics["row"], _summary(metrics, run.name))
    return rows


class JetclrStore(RunStore):
    """Settings, jets, training and results of the jetclr page (the page's data store).

    :meth:`load_jets` loads the jets of the current settings (the augmentation explorer works
    before any training). Set the ``config``'s params and press *Train* (or call :meth:`train`);
    *Cancel* stops the training after the current step. *Open run* reopens a finished run
    (:meth:`open_run`); *Run ablation* (:meth:`run_ablation`) trains one run per row of the
    talk's table. Results arrive in ``history`` (live), ``data``, ``result``, ``augmented``,
    ``rotated``, ``selected`` and ``ablation``; errors in ``error``, rejected inputs and
    cancellations in ``notice``.

    The config's defaults are :data:`PAGE_DEFAULTS`, then ``JETVIZ_JETCLR_<PARAM>`` env vars
    (``JETVIZ_JETCLR_SAMPLE=toy_top_qcd``, ``JETVIZ_JETCLR_N_JETS=200``), then the keyword
    arguments (see :func:`default_config`). Finished runs are ``jetclr-*`` directories with
    ``metrics.json``, ``arrays.npz``, ``model.pt``, ``initial.pt`` and a valid ``config.json``.
    """

    runner_name = "jetclr"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    run_files = ("metrics.json", "arrays.npz", "model.pt", "initial.pt")
    sample_progress = 10
    stage_progress = {"train": 12, "evaluate": 90}

    config = param.ClassSelector(class_=JetclrConfig, doc="the run's settings")
    load_button = param.Event(label="Load jets", doc="load the jets of these settings (no training)")
    jet = param.Integer(default=0, bounds=(0, 1), label="Jet", doc="the jet shown (sample index)")
    shown_augmentations = param.ListSelector(default=list(AUGMENTATIONS), objects=list(AUGMENTATIONS),
                                             label="Augmentations shown", doc="augmentations of the explorer's copy")
    draw = param.Integer(default=0, bounds=(0, 2**31 - 1), label="Draw (seed)",
                         doc="seed of the explorer's random augmentation")
    new_draw_button = param.Event(label="New draw", doc="another random augmentation of the jet")
    angle = param.Number(default=0.0, bounds=(0.0, 360.0), label="Rotation angle θ [deg]",
                         doc="rotation of the jet about its axis, degrees")
    ablation_button = param.Event(label="Run ablation",
                                  doc="train one run per row of the talk's table (same jets) in the background")
    ablation_workers = param.Integer(default=1, bounds=(1, 16), label="Ablation processes",
                                     doc="parallel processes of the ablation (1: one run after the other)")

    data = param.ClassSelector(class_=JetclrData, default=None, precedence=-1, doc="the jets")
    augmented = param.Dict(default=None, allow_None=True, precedence=-1,
                           doc="the jet shown and its augmented copy (x, mask, x_aug, mask_aug, …)")
    rotated = param.Dict(default=None, allow_None=True, precedence=-1,
                         doc="the jet shown rotated by angle, with s of the trained and untrained encoder")
    selected = param.List(default=[], precedence=-1, doc="sample indices of the jets selected in the latent view")
    ablation = param.Dict(default={}, precedence=-1, doc="ablation rows shown: {row: {auc, rejection, …, source}}")

    step_progress = (12, 78)
    step_labels = ("epoch", "NT-Xent loss")
    _untrained: JetCLREncoder | None = None

    @classmethod
    def _valid_run(cls, path: Path) -> bool:
        try:
            JetclrConfig.from_dict(read_json(path / "config.json"))
        except Exception:  # another runner's or a damaged config: not offered
            return False
        return True

    @param.depends("refresh_button", watch=True)
    def refresh_runs(self) -> None:
        """List the finished runs again, and the ablation rows they fill."""
        super().refresh_runs()
        self.ablation = collect_ablation(self.result)

    # ----------------------------------------------------------------------------- actions
    @param.depends("load_button", watch=True)
    def _on_load(self) -> None:
        self.load_jets()

    @param.depends("new_draw_button", watch=True)
    def _on_new_draw(self) -> None:
        self.draw = (self.draw + 1) % (2**31 - 1)

    @param.depends("ablation_button", watch=True)
    def _on_ablation(self) -> None:
        self.run_ablation()

    def load_jets(self, blocking: bool | None = None) -> None:
        """Load the jets of the current settings (generated on first use, then from the sample cache).

        The shown run (if any) goes; ``blocking`` as in :meth:`train`.
        """
        if self.running:
            self.report("A run is already under way: wait for it or press Cancel.")
            return
        config = type(self.config).from_dict(self.config.to_dict())
        self._start(self._load_work, (config,), blocking, f"loading {config.n_jets} {config.sample} jets …")

    def _train_updates(self, config: JetclrConfig) -> dict:
        self._run_config = config
        return {}

    def _train_status(self, config: JetclrConfig) -> str:
        return f"training on {config.n_jets} {config.sample} jets …"

    def run_ablation(self, blocking: bool | None = None, workers: int | None = None) -> None:
        """Run :func:`~jetviz.runners.jetclr.ablation` (all rows of the talk's table) with the current config.

        Parameters
        ----------
        blocking : bool or None
            As in :meth:`train`.
        workers : int, optional
            Local processes (default: :attr:`ablation_workers`; 1 runs the rows one after the
            other in the worker thread).
        """
        if self.running:
            self.report("A run is already under way: wait for it or press Cancel.")
            return
        config = type(self.config).from_dict(self.config.to_dict())
        self._run_config = config
        self.notice = ""
        workers = int(self.ablation_workers if workers is None else workers)
        self._start(self._ablation_work, (config, workers), blocking,
                    f"ablation: {len(TALK)} runs on {config.n_jets} {config.sample} jets …")

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _load_work(token: int, messages: queue.SimpleQueue, config: JetclrConfig) -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        with tempfile.TemporaryDirectory(prefix="jetviz-jetclr-jets-") as scratch:  # only the jets: no run directory
            data = JetclrRunner(config, scratch).load_data(lambda event: messages.put(("event", token, event)))
        messages.put(("jets", token, data))

    @staticmethod
    def _train_work(token: int, messages: queue.SimpleQueue, config: JetclrConfig, cancel: threading.Event,
                    backend: str = "local") -> None:
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        runner = JetclrRunner(config)
        put({"kind": "stage", "stage": "run", "message": f"run directory {runner.run_dir.name}"})
        data = runner.load_data(put)
        messages.put(("data", token, data))
        result = fit_on_backend(runner, backend, put, cancel, {"data": data})
        messages.put(("done", token, result, data, untrained_encoder(result)))

    @staticmethod
    def _open_work(token: int, messages: queue.SimpleQueue, run_dir: Path) -> None:
        result = JetclrResult.load(run_dir)
        config = result.config
        message = f"loading the {config.n_jets} {config.sample} jets again …"
        messages.put(("event", token, {"kind": "stage", "stage": "open", "message": message}))
        data = JetclrRunner(config, run_dir).load_data(lambda event: messages.put(("event", token, event)))
        messages.put(("done", token, result, data, untrained_encoder(result)))

    @staticmethod
    def _ablation_work(token: int, messages: queue.SimpleQueue, config: JetclrConfig, workers: int) -> None:
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        root = new_run_dir("jetclr-ablation")
        put({"kind": "stage", "stage": "run", "message": f"ablation directory {root.name}"})
        rows = ablation(config, workers=workers, root=root, progress=put)
        messages.put(("ablation", token, rows, str(root)))

    # ----------------------------------------------------------------------------- messages
    def _on_message(self, kind: str, payload: list) -> None:
        if kind == "jets":
            self._finish()
            self._set_data(payload[0])
            config = self.config
            self.param.update(running=False, training=False, progress=100, status="",
                              loaded=f"{len(payload[0])} {config.sample} jets loaded (no run yet)")
        elif kind == "data":
            self._set_data(payload[0])
        elif kind == "ablation":
            self._finish()
            self.param.update(running=False, training=False, progress=100, status="")
            self.refresh_runs()

    def _on_progress(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "epoch":
            self.history = [*self.history, self._history_row(event)]
        elif kind == "unit":
            self.param.update(progress=int(10 + 88 * event["done"] / max(event["total"], 1)),
                              status=event.get("message", ""))
        elif kind == "done":
            self.param.update(progress=95, status="evaluated")

    def _set_data(self, data: JetclrData) -> None:
        """New jets arrived (loaded, or before a training): the previous result goes."""
        n = len(data)
        self._untrained = None
        self.param.jet.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, selected=[], loaded="", jet=min(self.jet, n - 1))

    def _apply(self, result: JetclrResult, data: JetclrData, untrained: JetCLREncoder) -> None:
        config = result.config
        self.config.param.update(**{k: v for k, v in config.to_dict().items() if k in self.config.param})
        n = len(data)
        self._untrained = untrained
        self.param.jet.bounds = (0, max(n - 1, 1))
        m = result.metrics
        jet = self.jet if self.jet < n else int(result.arrays["test_index"][0])
        self.param.update(
            result=result, data=data, history=list(result.history), selected=[], jet=jet,
            running=False, training=False, progress=100, status="",
            loaded=(f"{result.run_dir.name} · {config.sample} · {n} jets · augmentations "
                    f"{', '.join(config.augmentations) or 'none'} (row “{m.get('row')}”) · d_model {config.d_model}, "
                    f"{config.n_layers} layer(s), {config.n_heads} heads · {config.epochs} epochs · "
                    f"device {m.get('device', '?')}"),
        )
        self._show_run(result.run_dir)

    # ----------------------------------------------------------------------------- derived data
    def _shown_config(self) -> JetclrConfig:
        return self.result.config if self.result is not None else self.config

    def augment_jet(self, jet: int, which=None, draw: int | None = None) -> dict:
        """Jet ``jet`` (sample index) and one random augmentation of it.

        Parameters
        ----------
        which : iterable of str, optional
            Augmentations (default: :attr:`shown_augmentations`), applied as the runner does, with
            the shown run's (or the config's) widths.
        draw : int, optional
            Seed of the augmentation (default: :attr:`draw`).

        Returns
        -------
        dict
            ``jet``, ``label`` (1 top, 0 QCD), ``pt``, ``mass`` (GeV), ``which`` (list), ``draw``,
            ``x``/``mask`` ``(P, 3)``/``(P,)`` the jet, ``x_aug``/``mask_aug`` its augmentation.

        Raises
        ------
        ValueError
            No jets loaded, or an index out of range.
        """
        data = self._jets(jet)
        which = list(self.shown_augmentations if which is None else which)
        draw = int(self.draw if draw is None else draw)
        config = self._shown_config()
        generator = torch.Generator().manual_seed(draw)
        x, mask = torch.as_tensor(data.x[jet][None]), torch.as_tensor(data.mask[jet][None])
        x_aug, mask_aug = augment(x, mask, which=which, translation_width=config.translation_width,
                                  split_probability=config.split_probability, lambda_soft=config.lambda_soft,
                                  generator=generator)
        return {"jet": int(jet), "label": int(data.labels[jet]), "pt": float(data.pt[jet]),
                "mass": float(data.mass[jet]), "which": which, "draw": draw, "x": data.x[jet], "mask": data.mask[jet],
                "x_aug": x_aug[0].numpy(), "mask_aug": mask_aug[0].numpy()}

    @torch.no_grad()
    def rotate_jet(self, jet: int, angle: float) -> dict:
        """Jet ``jet`` rotated about its axis by ``angle`` degrees, and s(r(x), r(R(θ)x)).

        Returns
        -------
        dict
            ``jet``, ``label``, ``angle`` (degrees), ``x``/``mask`` the jet, ``x_rot`` the rotated
            jet ``(P, 3)``; ``trained`` and ``untrained``: the cosine similarity of the
            representations of the jet and of its rotation for the shown run's trained and
            untrained encoder (None without a run).

        Raises
        ------
        ValueError
            No jets loaded, or an index out of range.
        """
        data = self._jets(jet)
        x, mask = torch.as_tensor(data.x[jet][None]), torch.as_tensor(data.mask[jet][None])
        turned, _ = rotate(x, mask, angles=torch.tensor([np.radians(float(angle))], dtype=x.dtype))
        out = {"jet": int(jet), "label": int(data.labels[jet]), "angle": float(angle), "x": data.x[jet],
               "mask": data.mask[jet], "x_rot": turned[0].numpy(), "trained": None, "untrained": None}
        encoders = {"trained": self.result.model if self.result is not None else None, "untrained": self._untrained}
        for name, model in encoders.items():
            if model is not None:
                model.eval()
                out[name] = float(cosine_similarity(model.represent(x, mask), model.represent(turned, mask))[0])
        return out

    def _jets(self, jet: int) -> JetclrData:
        data = self.data
        if data is None:
            raise ValueError("no jets loaded yet: press Load jets, Train or open a run")
        if not 0 <= int(jet) < len(data):
            raise ValueError(f"jet index must lie in 0 … {len(data) - 1}, got {jet}")
        return data

    @param.depends("data", "jet", "shown_augmentations", "draw", "result", watch=True)
    def _update_augmented(self) -> None:
        if self.data is None:
            self.augmented = None
            return
        try:
            self.augmented = self.augment_jet(self.jet)
        except Exception as err:  # shown in the page
            self.augmented = None
            self.error = f"augmenting jet {self.jet}: {type(err).__name__}: {err}"

    @param.depends("data", "jet", "angle", "result", watch=True)
    def _update_rotated(self) -> None:
        if self.data is None:
            self.rotated = None
            return
        try:
            self.rotated = self.rotate_jet(self.jet, self.angle)
        except Exception as err:  # shown in the page
            self.rotated = None
            self.error = f"rotating jet {self.jet}: {type(err).__name__}: {err}"

    # ----------------------------------------------------------------------------- view
    def _settings(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self._number
        sample = pn.widgets.Select.from_param(c.param.sample, label="Sample", **wide)
        sizes = pn.Row(number("n_jets", "Jets (half top)", step=100), number("epochs", "Epochs"), **wide)
        augmentations = pn.widgets.MultiChoice.from_param(c.param.augmentations, label="Augmentations of the views",
                                                          css_classes=["jetviz-train-aug"], **wide)
        network = pn.Row(number("d_model", "Width d_model"), number("n_layers", "Layers"), **wide)
        heads = pn.Row(number("n_heads", "Heads"), number("rep_dim", "Representation"), **wide)
        advanced = pn.Card(
            pn.Row(number("n_constituents", "Constituents"), number("extra_slots", "Split slots"), **wide),
            pn.Row(number("proj_dim", "Projection"), number("temperature", "Temperature τ",
                                                            widget=pn.widgets.FloatInput, step=0.01), **wide),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            pn.Row(number("translation_width", "Translation ± (rad)", widget=pn.widgets.FloatInput, step=0.05),
                   number("split_probability", "Split chance", widget=pn.widgets.FloatInput, step=0.1), **wide),
            pn.Row(number("lambda_soft", "Λ_soft (GeV)", widget=pn.widgets.FloatInput, step=0.05),
                   number("n_angles", "Invariance angles"), **wide),
            pn.Row(number("n_invariance", "Invariance jets"), number("threads", "Threads (0 = all)"), **wide),
            pn.Row(number("seed", "Seed"), pn.widgets.Select.from_param(c.param.device, label="Device", **wide), **wide),
            title="More settings", collapsed=True, **wide,
        )
        load = pn.widgets.Button.from_param(self.param.load_button, color="primary", variant="outline",
                                            disabled=self.param.running, css_classes=["jetviz-load"], **wide)
        return [sample, sizes, augmentations, network, heads, advanced, load]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`JetclrConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_JETCLR_<PARAM>`` env vars, then ``overrides``)
default_config = JetclrStore.default_config
#: ``list_runs(root=None)``: finished jetclr run directories, newest first
list_runs = JetclrStore.list_runs


def _row(layout) -> pn.Row:
    """The panels of an ``hv.Layout`` as separate plots in a row (keeps fixed-size plots from squeezing)."""
    return pn.Row(*[pn.pane.HoloViews(panel, linked_axes=False) for panel in layout])


def _jet_name(jet: int, label: int) -> str:
    return f"jet {jet} ({CLASS_NAMES[int(label)]})"


class _StoreView(RunView):
    store = param.ClassSelector(class_=JetclrStore, doc="the page's data store")


class AugmentationView(_StoreView):
    """Choose augmentations, a jet and a random draw: the jet's constituents next to its augmented copy."""

    @staticmethod
    def _summary(augmented: dict | None) -> str:
        if augmented is None:
            return "*No jets yet: press* Load jets *(or train / open a run).*"
        n, n_aug = int(augmented["mask"].sum()), int(augmented["mask_aug"].sum())
        which = ", ".join(augmented["which"]) or "none (the copy is the jet itself)"
        return (f"**{_jet_name(augmented['jet'], augmented['label']).capitalize()}**: pT {augmented['pt']:.0f} GeV, "
                f"mass {augmented['mass']:.0f} GeV, {n} constituents → {n_aug} after the augmentation "
                f"({which}; draw {augmented['draw']}). Total pT {augmented['x'][:, 0].sum():.1f} → "
                f"{augmented['x_aug'][:, 0].sum():.1f} GeV.")

    @staticmethod
    def _plots(augmented: dict | None):
        if augmented is None:
            return pn.pane.Markdown("")
        return _row(augmentation_pair(augmented["x"], augmented["mask"], augmented["x_aug"], augmented["mask_aug"],
                                      titles=(f"{_jet_name(augmented['jet'], augmented['label'])}",
                                              f"augmented (draw {augmented['draw']})")))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        which = pn.widgets.CheckButtonGroup.from_param(store.param.shown_augmentations, color="primary",
                                                       variant="outline", css_classes=["jetviz-augmentations"])
        jet = bounded_input(store, "jet", store.report, label="Jet", width=120, disabled=store.param.data.rx.is_(None),
                            css_classes=["jetviz-jet"])
        draw = pn.widgets.IntInput.from_param(store.param.draw, width=120, css_classes=["jetviz-draw"])
        new = pn.widgets.Button.from_param(store.param.new_draw_button, color="primary", variant="outline",
                                           css_classes=["jetviz-new-draw"], margin=(24, 10, 5, 10))
        summary = pn.pane.Markdown(pn.bind(self._summary, store.param.augmented), sizing_mode="stretch_width",
                                   css_classes=["jetviz-aug-summary"])
        plots = pn.panel(pn.bind(self._plots, store.param.augmented), linked_axes=False,
                         css_classes=["jetviz-aug-plots"])
        return pn.Column("### Augmentation explorer: a jet and a random augmentation of it",
                         pn.Row(pn.Column("Augmentations:", which), jet, draw, new), summary, plots,
                         sizing_mode="stretch_width")


class RotationView(_StoreView):
    """An angle slider (degrees) rotates the jet about its axis: the rotated constituents, s of the
    trained and untrained encoder, and the run's invariance curve with a marker at the angle."""

    @staticmethod
    def _summary(rotated: dict | None) -> str:
        if rotated is None:
            return "*No jets yet: press* Load jets *(or train / open a run).*"
        head = f"s(r(x), r(R(θ)x)) of {_jet_name(rotated['jet'], rotated['label'])} at θ = {rotated['angle']:.0f}°: "
        if rotated["trained"] is None:
            return head + "*train or open a run to see the encoders' similarity.*"
        return head + f"**trained {rotated['trained']:.6f}**, untrained {rotated['untrained']:.6f}" \
            if rotated["untrained"] is not None else head + f"**trained {rotated['trained']:.6f}**"

    @staticmethod
    def _jets(rotated: dict | None):
        if rotated is None:
            return pn.pane.Markdown("")
        return _row(augmentation_pair(rotated["x"], rotated["mask"], rotated["x_rot"], rotated["mask"],
                                      titles=(_jet_name(rotated["jet"], rotated["label"]),
                                              f"rotated by θ = {rotated['angle']:.0f}°")))

    @staticmethod
    def _curve(result, rotated: dict | None):
        if result is None:
            return RunView._empty(" (invariance curve)")
        a = result.arrays
        values = None if rotated is None else {"trained": rotated["trained"], "untrained": rotated["untrained"]}
        angle = None if rotated is None else np.radians(rotated["angle"])
        return invariance_plot(a["angles"], a["invariance"], a["invariance_untrained"], angle=angle, values=values)

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        slider = pn.widgets.FloatSlider.from_param(store.param.angle, step=5.0, width=360,
                                                   css_classes=["jetviz-angle"])
        summary = pn.pane.Markdown(pn.bind(self._summary, store.param.rotated), sizing_mode="stretch_width",
                                   css_classes=["jetviz-similarity"])
        jets = pn.panel(pn.bind(self._jets, store.param.rotated), linked_axes=False, css_classes=["jetviz-rotated"])
        curve = pn.panel(pn.bind(self._curve, store.param.result, store.param.rotated), linked_axes=False,
                         css_classes=["jetviz-invariance"])
        return pn.Column("### Rotation invariance: rotate the jet, compare the representations", slider, summary,
                         pn.FlexBox(jets, curve, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class ResultsView(_StoreView):
    """The ablation table and AUC bars vs the talk, the rejection curves of the trained and the
    untrained encoder, the run's numbers, the contrastive loss per epoch, *Run ablation*."""

    @staticmethod
    def _numbers(result) -> str:
        if result is None:
            return ""
        m = result.metrics

        def rej(v):
            return "∞" if v is None or not np.isfinite(v) else f"{v:.1f}"

        return (f"**Linear classifier test** ({m['n_lct']} training, {m['n_test']} test jets; "
                f"{m['n_train']} jets for the contrastive training): "
                f"trained AUC **{m['auc']:.3f}**, 1/ε_b(ε_s = 0.5) **{rej(m['rejection'])}**; "
                f"untrained AUC {m['auc_untrained']:.3f}, 1/ε_b {rej(m['rejection_untrained'])}. "
                f"Alignment {m['alignment']:.4f} (0 = invariant), uniformity {m['uniformity']:.3f} (lower = more "
                f"uniform); smallest ⟨s⟩ over the angles: trained {m['invariance_min']:.4f}, untrained "
                f"{m['invariance_min_untrained']:.4f}.")

    @staticmethod
    def _roc(result):
        if result is None:
            return RunView._empty(" (rejection curves)")
        return rejection_curves({"trained encoder": result.roc(), "untrained encoder": result.roc(trained=False)})

    @staticmethod
    def _sources(rows: dict) -> str:
        if not rows:
            return "<small>No run yet fills a row: train one, or press Run ablation (one run per row).</small>"
        return "<small>" + "; ".join(f"{row}: {entry['source']}" for row, entry in rows.items()) + \
            ". 1/ε_b at ε_s = 0.5, from the linear classifier test on the test jets; the talk trained far larger " \
            "encoders on far more jets.</small>"

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        table = pn.widgets.Tabulator(pn.bind(lambda rows: ablation_table(rows, TALK), store.param.ablation),
                                     css_classes=["jetviz-ablation"], disabled=True, show_index=False,
                                     layout="fit_data_table", sizing_mode="stretch_width")
        sources = pn.pane.Markdown(pn.bind(self._sources, store.param.ablation), sizing_mode="stretch_width")
        bars = pn.panel(pn.bind(lambda rows: ablation_bars(rows, TALK), store.param.ablation), linked_axes=False,
                        css_classes=["jetviz-ablation-bars"])
        button = pn.widgets.Button.from_param(store.param.ablation_button, color="primary", variant="outline",
                                              disabled=store.param.running, css_classes=["jetviz-run-ablation"],
                                              margin=(24, 10, 5, 10))
        workers = bounded_input(store, "ablation_workers", store.report, label="Processes", width=120)
        numbers = pn.pane.Markdown(pn.bind(self._numbers, store.param.result), sizing_mode="stretch_width",
                                   css_classes=["jetviz-numbers"])
        roc = pn.panel(pn.bind(self._roc, store.param.result), linked_axes=False, css_classes=["jetviz-roc"])
        loss = pn.panel(pn.bind(lambda h: loss_curve(h) if h else pn.pane.Markdown(""), store.param.history),
                        linked_axes=False,
                        css_classes=["jetviz-loss"])
        return pn.Column("### Ablation: the talk's table, ours next to it", table, sources,
                         pn.Row(workers, button), bars, numbers, pn.Row(roc, loss),
                         sizing_mode="stretch_width")


class LatentView(_StoreView):
    """The test jets' representations in the plane of their first two principal components, top/QCD
    coloured; a box or lasso selection shows the first selected jets' constituents."""

    def _points(self, result):
        if result is None:
            return self._empty(" (representation space)")
        import holoviews as hv

        a = result.arrays
        jets = a["test_index"]
        points = representation_points(a["rep"], a["labels"][jets], jets)
        store = self.store

        def picked(index) -> None:  # Selection1D calls its subscribers with the keyword ``index`` (rows)
            store.selected = [int(jets[k]) for k in index]

        hv.streams.Selection1D(source=points).add_subscriber(picked)
        return points

    @staticmethod
    def _selection(selected: list, data):
        if not selected or data is None:
            return pn.pane.Markdown("*Select jets with the box or lasso tool to see their constituents.*")
        rows = np.asarray(selected, dtype=np.int64)
        rows = rows[rows < len(data)]
        if not len(rows):
            return pn.pane.Markdown("")
        n_top = int(data.labels[rows].sum())
        head = pn.pane.Markdown(f"**{len(rows)} jets selected** ({len(rows) - n_top} QCD, {n_top} top); the first "
                                f"{min(len(rows), FIRST_SELECTED)}:", css_classes=["jetviz-selection-summary"])
        first = rows[:FIRST_SELECTED]
        grid = constituent_grid([data.x[k] for k in first], [data.mask[k] for k in first],
                                [_jet_name(int(k), data.labels[k]) for k in first])
        return pn.Column(head, _row(grid))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        points = pn.panel(pn.bind(self._points, store.param.result), linked_axes=False, css_classes=["jetviz-latent"])
        selection = pn.panel(pn.bind(self._selection, store.param.selected, store.param.data), linked_axes=False,
                             css_classes=["jetviz-latent-selection"])
        return pn.Column("### Representation space (test jets)", pn.FlexBox(points, selection,
                                                                            sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


class JetclrPage(RunPage):
    """The jetclr page: settings, training and runs on the left; the augmentation explorer, the
    rotation invariance, the results vs the talk and the representation space on the right.

    Parameters
    ----------
    autoload : bool
        Load the jets of the settings when the page opens (served: after the page is up), so
        the augmentation explorer works before any training.
    **params
        ``store`` and ``url_query`` as in :class:`~jetviz.ui.runs.RunPage`, or
        :class:`JetclrConfig` params for a new :class:`JetclrStore`:
        ``JetclrPage(sample="toy_top_qcd", n_jets=200)``; deep link ``?page=jetclr&epochs=5``.
    """

    views = {"augmentations": AugmentationView, "rotation": RotationView, "results": ResultsView,
             "latent": LatentView}

    store = param.ClassSelector(class_=JetclrStore, doc="the page's data store")
    autoload = param.Boolean(default=True, doc="load the jets when the page opens")

    def __init__(self, **params):
        super().__init__(**params)
        if self.autoload and self.store.data is None:
            self._autoload()  # served or in a kernel: in the background, drained once the page is up

    def _autoload(self) -> None:
        if self.store.data is None and not self.store.running:
            self.store.load_jets()

    def body(self) -> pn.viewable.Viewable:
        """Augmentation explorer, rotation invariance, results, representation space."""
        loaded = pn.pane.Markdown(self.store.param.loaded.rx.pipe(lambda s: f"<small>{s}</small>" if s else ""),
                                  sizing_mode="stretch_width", css_classes=["jetviz-loaded"])
        return pn.Column(
            loaded, self.augmentations, pn.layout.Divider(), self.rotation, pn.layout.Divider(), self.results,
            pn.layout.Divider(), self.latent, sizing_mode="stretch_width",
        )
