"""The vae_emd page (seed 002): a β-VAE on QCD jet images vs the Energy Mover's Distance.

Structured like the classify and colorize pages (:mod:`jetviz.ui.classify`):

- :class:`VaeEmdStore` (a :class:`~jetviz.ui.runs.RunStore`) holds a
  :class:`~jetviz.runners.vae_emd.VaeEmdConfig` (its bounded params become the controls), runs
  :meth:`VaeEmdRunner.fit <jetviz.runners.vae_emd.VaeEmdRunner.fit>` in a background thread
  (*Train*, *Cancel*), reopens finished runs (*Open run*), runs a small β scan
  (:func:`~jetviz.runners.vae_emd.beta_scan`, *Run β scan*) and exposes the live ``history``,
  the run's jet images (``data``), the ``result``, the chosen pair of jets with their optimal
  transport plan (``plan``), the jets selected in the latent space (``selected``) and the scan
  rows (``scan_rows``) as params.
- Views depend only on the store's params: :class:`ResultsView` (the talk's correlation table
  with this run's r, ROC curves of the three anomaly scores, the VAE loss per epoch),
  :class:`DistanceView` (latent and input distance vs W_p densities, the pairs to click on),
  :class:`PairView` (two jets, their VAE reconstructions and the transport plan as arrows),
  :class:`LatentView` (PCA of the latent means, QCD/top coloured, a box/lasso selection shows
  the selected jets' mean image and first images), :class:`ScanView` (AUC and latent r vs β).
- :class:`VaeEmdPage` composes them; it renders in ``panel serve`` and inline in JupyterLab.

Training never blocks the Bokeh event loop: the worker thread only puts the runner's progress
dicts on a queue that a periodic callback drains into params. Outside an event loop (a script, a
test) pass ``blocking=True`` to :meth:`VaeEmdStore.train`, :meth:`VaeEmdStore.open_run` and
:meth:`VaeEmdStore.run_scan`.
"""
from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param

from jetviz.models.emd import emd, from_image, pixel_centres
from jetviz.plots.vae_emd import (
    CLASS_NAMES,
    anomaly_rocs,
    beta_scan_plot,
    correlation_table,
    distance_density,
    jet_images,
    latent_points,
    pair_points,
    pca_2d,
    training_curve,
    transport_plan,
)
from jetviz.runners.base import new_run_dir, read_json, runs_dir
from jetviz.runners.vae_emd import (
    VaeEmdConfig,
    VaeEmdData,
    VaeEmdResult,
    VaeEmdRunner,
    beta_scan,
    representations,
)
from jetviz.models.metrics import pair_distances
from jetviz.ui.events import bounded_input
from jetviz.ui.runs import RunPage, RunStore, RunView, fit_on_backend

__all__ = [
    "PAGE_DEFAULTS",
    "URL_PARAMS",
    "SCAN_BETAS",
    "default_config",
    "list_runs",
    "latest_scan",
    "VaeEmdStore",
    "ResultsView",
    "DistanceView",
    "PairView",
    "LatentView",
    "ScanView",
    "VaeEmdPage",
]

#: the page's default run: real top/QCD jets, small enough for a CPU (about a minute on one core)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "top_qcd", "n_jets": 600, "epochs": 5, "n_corr": 40, "n_pool": 40,
                                 "n_medoids": 5, "n_anomaly": 100, "channels": 8}
#: config params that a deep link (``?page=vae_emd&n_jets=1000&beta=1e-6``) may set
URL_PARAMS = ("sample", "n_jets", "n_pix", "image_width", "n_down", "latent", "channels", "beta", "loss", "epochs",
              "batch_size", "learning_rate", "n_corr", "n_pool", "n_medoids", "n_anomaly", "emd_jobs", "threads",
              "seed", "device")
#: the β values of the page's scan (a small part of the talk's 0, 1e-10 … 1e-4)
SCAN_BETAS = "0, 1e-8, 1e-6, 1e-4"
#: the jets' mean / first images shown for a latent-space selection
FIRST_SELECTED = 3


def latest_scan(root: Path | None = None) -> tuple[list[dict], Path | None]:
    """The rows of the newest ``vae_emd-scan-*/scan.json`` under ``root`` (default ``runs_dir()``).

    Returns
    -------
    (list of dict, Path or None)
        The scan rows and the file; ``([], None)`` when there is none (or it cannot be read).
    """
    root = runs_dir() if root is None else Path(root)
    files = sorted(root.glob("vae_emd-scan-*/scan.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rows, list) and rows and all(isinstance(r, dict) and "beta" in r for r in rows):
            return rows, path
    return [], None


def parse_betas(text: str) -> list[float]:
    """``"0, 1e-8, 1e-6"`` → ``[0.0, 1e-08, 1e-06]`` (sorted, unique).

    Raises
    ------
    ValueError
        Not comma-separated numbers, a negative or > 1 value, or none at all.
    """
    values = sorted({float(t) for t in text.replace(";", ",").split(",") if t.strip()})
    if not values:
        raise ValueError("no β given")
    if values[0] < 0 or values[-1] > 1:
        raise ValueError("β must lie in [0, 1]")
    return values


class VaeEmdStore(RunStore):
    """Settings, training and results of the vae_emd page (the page's data store).

    Set the ``config``'s params and press *Train* (or call :meth:`train`); *Cancel* stops the
    training after the current step. *Open run* reopens a finished run (:meth:`open_run`).
    Results arrive in ``history`` (live), ``data`` (the jet images, before the training),
    ``result``, ``plan`` (jets ``jet_a`` and ``jet_b`` with their reconstructions and W_p
    transport plan for ``p``), ``selected`` (jets chosen in the latent view) and ``scan_rows``
    (:meth:`run_scan`, or the newest earlier scan); errors in ``error``, rejected inputs and
    cancellations in ``notice``.

    The config's defaults are :data:`PAGE_DEFAULTS`, then ``JETVIZ_VAE_EMD_<PARAM>`` env vars
    (``JETVIZ_VAE_EMD_SAMPLE=toy_top_qcd``, ``JETVIZ_VAE_EMD_N_JETS=200``), then the keyword
    arguments (see :func:`default_config`). Finished runs are ``vae_emd-*`` directories with
    ``metrics.json``, ``arrays.npz``, ``model.pt`` and a valid ``config.json``.
    """

    runner_name = "vae_emd"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    run_files = ("metrics.json", "arrays.npz", "model.pt")
    sample_progress = 10
    stage_progress = {"emd": 12, "train": 40, "evaluate": 92}

    config = param.ClassSelector(class_=VaeEmdConfig, doc="the run's settings")
    p = param.Selector(default=0.5, objects=[0.5, 1.0], label="W_p power p", doc="the p of the W_p shown")
    jet_a = param.Integer(default=0, bounds=(0, 1), label="Jet A", doc="first jet of the pair (sample index)")
    jet_b = param.Integer(default=1, bounds=(0, 1), label="Jet B", doc="second jet of the pair (sample index)")
    scan_betas = param.String(default=SCAN_BETAS, label="β values of the scan", doc="comma-separated β in [0, 1]")
    scan_button = param.Event(label="Run β scan", doc="train one VAE per β (same jets, same EMDs) in the background")

    data = param.ClassSelector(class_=VaeEmdData, default=None, precedence=-1, doc="the run's jet images")
    plan = param.Dict(default=None, allow_None=True, precedence=-1,
                      doc="the pair shown: jets, images, reconstructions, W_p and transport plan")
    selected = param.List(default=[], precedence=-1, doc="sample indices of the jets selected in the latent view")
    scan_rows = param.List(default=[], precedence=-1, doc="rows of the β scan shown")
    scan_source = param.String(default="", precedence=-1, doc="where the scan shown comes from")

    step_progress = (40, 50)
    step_labels = ("VAE epoch", "loss")

    def __init__(self, **params):
        super().__init__(**params)
        rows, path = latest_scan()
        if rows:
            self.param.update(scan_rows=rows, scan_source=f"earlier scan {path.parent.name}")

    @classmethod
    def _valid_run(cls, path: Path) -> bool:
        try:
            VaeEmdConfig.from_dict(read_json(path / "config.json"))
        except Exception:  # another runner's or a damaged config: not offered
            return False
        return True

    # ----------------------------------------------------------------------------- actions
    def _train_updates(self, config: VaeEmdConfig) -> dict:
        self._run_config = config
        return {}

    def _train_status(self, config: VaeEmdConfig) -> str:
        return f"training on {config.n_jets} {config.sample} jets …"

    @param.depends("scan_button", watch=True)
    def _on_scan(self) -> None:
        self.run_scan()

    def run_scan(self, blocking: bool | None = None, workers: int = 1) -> None:
        """Run :func:`~jetviz.runners.vae_emd.beta_scan` over :attr:`scan_betas` with the current config.

        Parameters
        ----------
        blocking : bool or None
            As in :meth:`train`.
        workers : int
            Local processes of the scan (1: one β after the other, in the worker thread).
        """
        if self.running:
            self.report("A run is already under way: wait for it or press Cancel.")
            return
        try:
            betas = parse_betas(self.scan_betas)
        except ValueError as err:
            self.report(f"β scan: {err} (got {self.scan_betas!r})")
            return
        config = type(self.config).from_dict(self.config.to_dict())
        self._run_config = config
        self.notice = ""
        self._start(self._scan_work, (config, betas, workers), blocking,
                    f"β scan over {len(betas)} values on {config.n_jets} {config.sample} jets …")

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _train_work(token: int, messages: queue.SimpleQueue, config: VaeEmdConfig, cancel: threading.Event,
                    backend: str = "local") -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        runner = VaeEmdRunner(config)
        put({"kind": "stage", "stage": "run", "message": f"run directory {runner.run_dir.name}"})
        data = runner.load_data(put)
        messages.put(("data", token, data))
        result = fit_on_backend(runner, backend, put, cancel, {"data": data})
        messages.put(("done", token, result, data))

    @staticmethod
    def _open_work(token: int, messages: queue.SimpleQueue, run_dir: Path) -> None:
        result = VaeEmdResult.load(run_dir)
        config = result.config
        message = f"loading the {config.n_jets} {config.sample} jets again …"
        messages.put(("event", token, {"kind": "stage", "stage": "open", "message": message}))
        data = VaeEmdRunner(config, run_dir).load_data(lambda event: messages.put(("event", token, event)))
        messages.put(("done", token, result, data))

    @staticmethod
    def _scan_work(token: int, messages: queue.SimpleQueue, config: VaeEmdConfig, betas: list, workers: int) -> None:
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        root = new_run_dir("vae_emd-scan")
        put({"kind": "stage", "stage": "run", "message": f"scan directory {root.name}"})
        rows = beta_scan(config, betas, workers=workers, root=root, progress=put)
        messages.put(("scan", token, rows, str(root)))

    # ----------------------------------------------------------------------------- messages
    def _on_message(self, kind: str, payload: list) -> None:
        if kind == "data":
            self._set_data(payload[0])
        elif kind == "scan":
            self._finish()
            rows, root = payload
            self.param.update(scan_rows=list(rows), scan_source=f"scan {Path(root).name}", running=False,
                              training=False, progress=100, status="")

    def _on_event(self, event: dict) -> None:
        if event.get("kind") == "stage" and event.get("stage") == "emd" and event.get("total"):
            self.param.update(status=event.get("message", ""),
                              progress=int(12 + 28 * event["done"] / max(event["total"], 1)))
            return
        super()._on_event(event)

    def _on_progress(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "epoch":
            self.history = [*self.history, self._history_row(event)]
        elif kind == "unit":
            self.param.update(progress=int(40 + 55 * event["done"] / max(event["total"], 1)),
                              status=event.get("message", ""))
        elif kind == "done":
            self.param.update(progress=95, status="evaluated")

    def _set_data(self, data: VaeEmdData) -> None:
        """The new run's jets arrived (before its training): the previous result goes."""
        n = len(data)
        self.param.jet_a.bounds = self.param.jet_b.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, plan=None, selected=[], loaded="",
                          jet_a=min(self.jet_a, n - 1), jet_b=min(self.jet_b, n - 1))

    def _apply(self, result: VaeEmdResult, data: VaeEmdData) -> None:
        config = result.config
        self.config.param.update(**{k: v for k, v in config.to_dict().items() if k in self.config.param})
        n = len(data)
        i, j = result.pairs()
        before = (self.jet_a, self.jet_b, self.data)
        self.param.jet_a.bounds = self.param.jet_b.bounds = (0, max(n - 1, 1))
        self.param.update(
            result=result, data=data, history=list(result.history), selected=[],
            jet_a=int(i[0]) if len(i) else 0, jet_b=int(j[0]) if len(j) else min(1, n - 1),
            running=False, training=False, progress=100, status="",
            loaded=(f"{result.run_dir.name} · {config.sample} · {n} jets · {config.n_pix}×{config.n_pix} pixels · "
                    f"β = {config.beta:g} · {config.n_down} blocks, latent {config.latent} · {config.epochs} epochs · "
                    f"device {result.metrics.get('device', '?')}"),
        )
        if (self.jet_a, self.jet_b, self.data) == before or self.plan is None:  # else the watcher made it
            self._update_plan()
        self._show_run(result.run_dir)

    # ----------------------------------------------------------------------------- derived data
    def transport(self, a: int, b: int, p: float | None = None) -> dict:
        """The W_p transport plan between jets ``a`` and ``b`` (sample indices) of the shown run.

        Returns
        -------
        dict
            ``jet_a``, ``jet_b``, ``labels`` (2,), ``images`` (2, n_pix, n_pix) pT fractions,
            ``reconstructions`` (2, n_pix, n_pix) (the VAE's, None without a result), ``p``,
            ``distance`` (W_p, dimensionless), ``flow`` (P_a, P_b) summing to 1 (rows: nonzero
            pixels of jet a in row-major order, columns: those of jet b), ``width`` (rad),
            ``latent_distance`` (|μ_a − μ_b|, None without a result).

        Raises
        ------
        ValueError
            No jets loaded, or an index out of range.
        """
        data = self.data
        if data is None:
            raise ValueError("no jets loaded yet: train or open a run")
        n = len(data)
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"jet indices must lie in 0 … {n - 1}, got {a} and {b}")
        p = float(self.p if p is None else p)
        config = self.result.config if self.result is not None else self.config
        half = config.image_width / 2
        centres = pixel_centres(data.images.shape[-1], -half, half)
        images = data.images[[a, b], 0].astype(np.float64)
        distance, flow = emd(from_image(images[0], centres, centres), from_image(images[1], centres, centres),
                             R=config.jet_R, p=p, norm=True, periodic_phi=False, return_flow=True)
        recon, latent_distance = None, None
        if self.result is not None:
            _, mu, rec = representations(self.result.model, data.images[[a, b]])
            recon, latent_distance = rec[:, 0], float(np.linalg.norm(mu[0] - mu[1]))
        return {"jet_a": int(a), "jet_b": int(b), "labels": data.labels[[a, b]], "images": images,
                "reconstructions": recon, "p": p, "distance": float(distance), "flow": np.asarray(flow),
                "width": float(config.image_width), "latent_distance": latent_distance}

    @param.depends("jet_a", "jet_b", "p", watch=True)
    def _update_plan(self) -> None:
        if self.data is None:
            self.plan = None
            return
        try:
            self.plan = self.transport(self.jet_a, self.jet_b)
        except Exception as err:  # shown in the page
            self.plan = None
            self.error = f"transport plan of jets {self.jet_a} and {self.jet_b}: {type(err).__name__}: {err}"

    def pair_arrays(self) -> dict | None:
        """Distances of the correlation pairs of the shown run (``None`` without a result and data).

        Returns
        -------
        dict
            ``i``, ``j`` (M,) sample indices; ``w_p0.5``, ``w_p1`` (M,); ``latent`` (M,) |μ − μ′|;
            ``input`` (M,) Σ(x − x′)² (only with ``data``).
        """
        result = self.result
        if result is None:
            return None
        a = result.arrays
        i, j = result.pairs()
        corr = a["corr_index"]
        rows = np.searchsorted(a["test_index"], corr)
        out = {"i": i, "j": j, "w_p0.5": a["w_p0.5"], "w_p1": a["w_p1"], "latent": pair_distances(a["latent"][rows])}
        if self.data is not None and len(self.data) == len(a["labels"]):
            out["input"] = pair_distances(self.data.images[corr]) ** 2
        return out

    # ----------------------------------------------------------------------------- view
    def _settings(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self._number
        sample = pn.widgets.Select.from_param(c.param.sample, label="Sample", **wide)
        sizes = pn.Row(number("n_jets", "Jets (half top)", step=100), number("epochs", "Epochs"), **wide)
        vae = pn.Row(number("channels", "Channels"), number("latent", "Latent dims"), **wide)
        beta = pn.Row(number("beta", "β of (1−β)·D + β·KLD", widget=pn.widgets.FloatInput, step=1e-7),
                      pn.widgets.Select.from_param(c.param.loss, label="D (reconstruction)", **wide), **wide)
        emd_sizes = pn.Row(number("n_corr", "Jets for r (pairs)"), number("n_anomaly", "Jets scored by EMD"), **wide)
        medoids = pn.Row(number("n_pool", "k-medoid pool"), number("n_medoids", "k-medoids"), **wide)
        advanced = pn.Card(
            pn.Row(number("n_pix", "Pixels per side"), number("n_down", "Down blocks"), **wide),
            number("image_width", "Image width (rad)", widget=pn.widgets.FloatInput, step=0.1),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            number("train_fraction", "QCD training share", widget=pn.widgets.FloatInput, step=0.05),
            pn.Row(number("emd_jobs", "EMD threads"), number("threads", "Threads (0 = all)"), **wide),
            pn.Row(number("seed", "Seed"), pn.widgets.Select.from_param(c.param.device, label="Device", **wide), **wide),
            title="More settings", collapsed=True, **wide,
        )
        return [sample, sizes, vae, beta, emd_sizes, medoids, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`VaeEmdConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_VAE_EMD_<PARAM>`` env vars, then ``overrides``)
default_config = VaeEmdStore.default_config
#: ``list_runs(root=None)``: finished vae_emd run directories, newest first
list_runs = VaeEmdStore.list_runs


def _image_row(layout) -> pn.Row:
    """The panels of an ``hv.Layout`` of jet images as separate plots in a row (a ``FlexBox`` or
    the ``hv.Layout`` itself squeezes the fixed-size image plots when served)."""
    return pn.Row(*[pn.pane.HoloViews(panel, linked_axes=False) for panel in layout])


class _StoreView(RunView):
    store = param.ClassSelector(class_=VaeEmdStore, doc="the page's data store")


class ResultsView(_StoreView):
    """The talk's correlation table with this run's r, the anomaly ROC curves, the VAE loss per epoch."""

    def table(self) -> pn.viewable.Viewable:
        """The correlation table (talk vs this run), there before any run."""
        def rows(result):
            return correlation_table(result.metrics.get("correlations") if result is not None else None)

        table = pn.widgets.Tabulator(pn.bind(rows, self.store.param.result), css_classes=["jetviz-correlations"],
                                     disabled=True, show_index=False, layout="fit_data_table",
                                     sizing_mode="stretch_width")
        note = pn.pane.Markdown(
            "<small>Pearson r over all pairs of QCD test jets between W_p (p = 0.5, 1; θ/R ground distance, no 1/p "
            "root) and the Euclidean distance of each representation (the input row: Σ(x − x′)² of the images). "
            "The talk's rows are separate VAEs with 1, 2, 3 downsampling blocks (latent distances); ours are the "
            "outputs of the blocks of one VAE, plus its latent means. For p = 1 the talk quoted only the ends of "
            "its scan (0.44 → 0.70).</small>", sizing_mode="stretch_width")
        return pn.Column("### Correlation with W_p: the talk's table, this run next to it", table, note,
                         sizing_mode="stretch_width")

    @staticmethod
    def _roc(result):
        if result is None:
            return RunView._empty(" (ROC curves)")
        return anomaly_rocs({name: result.roc(name) for name in ("vae_loss", "emd_mean_qcd", "emd_medoids")})

    def __panel__(self) -> pn.viewable.Viewable:
        roc = pn.panel(pn.bind(self._roc, self.store.param.result), linked_axes=False, css_classes=["jetviz-roc"])
        loss = pn.panel(pn.bind(lambda h: training_curve(h), self.store.param.history), linked_axes=False,
                        css_classes=["jetviz-loss"])
        return pn.Column(self.table(), "### Anomaly scores: top (anomaly) vs QCD test jets",
                         pn.FlexBox(roc, loss, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class DistanceView(_StoreView):
    """Latent distance and input distance vs W_p over the QCD pairs (2-d histograms, r in the
    title), and the pairs as points: click one to show its two jets and their transport plan."""

    def _densities(self, result, data, p: float):
        arrays = self.store.pair_arrays()
        if arrays is None:
            return self._empty(" (distance vs W_p)")
        key = f"p{p:g}"
        w = arrays[f"w_{key}"]
        corr = result.metrics.get("correlations", {})
        panels = [distance_density(w, arrays["latent"], p=p, r=corr.get("latent", {}).get(key),
                                   ylabel="latent distance |μ − μ′|", title="latent")]
        if "input" in arrays:
            panels.append(distance_density(w, arrays["input"], p=p, r=corr.get("input", {}).get(key),
                                           ylabel="input distance Σ(x − x′)²", title="input (MSE)"))
        import holoviews as hv

        return hv.Layout(panels).cols(2).opts(shared_axes=False)

    def _pairs(self, result, data, p: float):
        arrays = self.store.pair_arrays()
        if arrays is None:
            return pn.pane.Markdown("")
        import holoviews as hv

        points = pair_points(arrays[f"w_p{p:g}"], arrays["latent"], arrays["i"], arrays["j"], p=p)
        store = self.store
        stream = hv.streams.Selection1D(source=points)

        def picked(index) -> None:
            if index:
                row = int(index[0])
                store.param.update(jet_a=int(arrays["i"][row]), jet_b=int(arrays["j"][row]))

        stream.add_subscriber(picked)
        return points

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        p = pn.widgets.RadioButtonGroup.from_param(store.param.p, color="primary", variant="outline",
                                                   css_classes=["jetviz-p"])
        densities = pn.panel(pn.bind(self._densities, store.param.result, store.param.data, store.param.p),
                             linked_axes=False, css_classes=["jetviz-densities"])
        pairs = pn.panel(pn.bind(self._pairs, store.param.result, store.param.data, store.param.p),
                         linked_axes=False, css_classes=["jetviz-pairs"])
        return pn.Column("### Distances vs W_p over the QCD test pairs", pn.Row("W_p power p:", p),
                         pn.FlexBox(densities, pairs, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class PairView(_StoreView):
    """Two jets (any sample indices, or a clicked pair), their VAE reconstructions and the
    optimal transport plan between them, drawn as arrows weighted by the flow."""

    @staticmethod
    def _summary(plan: dict | None) -> str:
        if plan is None:
            return "*No pair to show yet: train or open a run, then pick two jets.*"
        names = [CLASS_NAMES[int(k)] for k in plan["labels"]]
        text = (f"**Jet {plan['jet_a']} ({names[0]}) → jet {plan['jet_b']} ({names[1]})**: "
                f"W_{plan['p']:g} = {plan['distance']:.4f}, total flow {plan['flow'].sum():.3f}")
        if plan["latent_distance"] is not None:
            text += f", latent distance |μ_A − μ_B| = {plan['latent_distance']:.4g}"
        return text

    @staticmethod
    def _images(plan: dict | None):
        if plan is None:
            return pn.pane.Markdown("")
        images, titles = list(plan["images"]), [f"jet A ({plan['jet_a']})", f"jet B ({plan['jet_b']})"]
        if plan["reconstructions"] is not None:
            images += list(np.clip(plan["reconstructions"], 0, None))
            titles += ["A, VAE output", "B, VAE output"]
        return _image_row(jet_images(images, titles, plan["width"], cols=4, frame_width=90, frame_height=90))

    @staticmethod
    def _plan(plan: dict | None):
        if plan is None:
            return pn.pane.Markdown("")
        return transport_plan(plan["images"][0], plan["images"][1], plan["flow"], plan["width"],
                              title=f"Transport plan A → B (W_{plan['p']:g} = {plan['distance']:.4f})")

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        disabled = store.param.data.rx.is_(None)
        a = bounded_input(store, "jet_a", store.report, label="Jet A", width=120, disabled=disabled,
                          css_classes=["jetviz-jet-a"])
        b = bounded_input(store, "jet_b", store.report, label="Jet B", width=120, disabled=disabled,
                          css_classes=["jetviz-jet-b"])
        summary = pn.pane.Markdown(pn.bind(self._summary, store.param.plan), sizing_mode="stretch_width",
                                   css_classes=["jetviz-pair-summary"])
        images = pn.panel(pn.bind(self._images, store.param.plan), linked_axes=False, css_classes=["jetviz-pair-images"])
        arrows = pn.panel(pn.bind(self._plan, store.param.plan), linked_axes=False, css_classes=["jetviz-transport"])
        return pn.Column("### Pick two jets: images, VAE reconstructions, transport plan",
                         pn.Row(a, b), summary, images, arrows, sizing_mode="stretch_width")


class LatentView(_StoreView):
    """The test jets' latent means in the plane of their first two principal components, QCD and
    top coloured; a box or lasso selection shows the selected jets' mean image and first images."""

    def _points(self, result):
        if result is None:
            return self._empty(" (latent space)")
        import holoviews as hv

        a = result.arrays
        coords, share = pca_2d(a["latent"])
        test_index = a["test_index"]
        points = latent_points(coords, a["labels"][test_index], test_index, share=share)
        store = self.store

        def picked(index) -> None:  # Selection1D calls its subscribers with the keyword ``index`` (rows)
            store.selected = [int(test_index[k]) for k in index]

        hv.streams.Selection1D(source=points).add_subscriber(picked)
        return points

    def _selection(self, selected: list, data):
        if not selected or data is None:
            return pn.pane.Markdown("*Select jets with the box or lasso tool to see their mean image.*")
        config = self.store.result.config if self.store.result is not None else self.store.config
        rows = np.asarray(selected, dtype=np.int64)
        rows = rows[rows < len(data)]
        if not len(rows):
            return pn.pane.Markdown("")
        n_top = int(data.labels[rows].sum())
        images = [data.images[rows, 0].mean(axis=0)] + [data.images[k, 0] for k in rows[:FIRST_SELECTED]]
        titles = [f"mean of {len(rows)} ({len(rows) - n_top} QCD, {n_top} top)"] + \
                 [f"jet {k} ({CLASS_NAMES[int(data.labels[k])]})" for k in rows[:FIRST_SELECTED]]
        return _image_row(jet_images(images, titles, config.image_width, cols=4, frame_width=90, frame_height=90))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        points = pn.panel(pn.bind(self._points, store.param.result), linked_axes=False, css_classes=["jetviz-latent"])
        selection = pn.panel(pn.bind(self._selection, store.param.selected, store.param.data), linked_axes=False,
                             css_classes=["jetviz-latent-selection"])
        return pn.Column("### Latent space (test jets)", pn.FlexBox(points, selection, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


class ScanView(_StoreView):
    """AUC of the anomaly scores and latent r vs β: a new scan (background) or the newest earlier one."""

    @staticmethod
    def _plot(rows: list, source: str):
        if not rows:
            return pn.pane.Markdown("*No β scan yet: press* Run β scan *(one VAE per β on the page's settings).*")
        return pn.Column(pn.pane.Markdown(f"<small>{source}: {len(rows)} β values. β = 0 cannot sit on the log axis "
                                          "and is drawn a decade left of the smallest β > 0.</small>"),
                         beta_scan_plot(rows))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        betas = pn.widgets.TextInput.from_param(store.param.scan_betas, width=260)
        button = pn.widgets.Button.from_param(store.param.scan_button, color="primary", variant="outline",
                                              disabled=store.param.running, css_classes=["jetviz-scan"],
                                              margin=(24, 10, 5, 10))
        plot = pn.panel(pn.bind(self._plot, store.param.scan_rows, store.param.scan_source), linked_axes=False,
                        css_classes=["jetviz-scan-plot"])
        return pn.Column("### β scan: anomaly AUC and latent r vs β", pn.Row(betas, button), plot,
                         sizing_mode="stretch_width")


class VaeEmdPage(RunPage):
    """The vae_emd page: run settings, training and runs on the left; the correlation table vs
    the talk, ROC curves, distance vs W_p densities, two jets with their transport plan, the
    latent space and the β scan on the right.

    Parameters
    ----------
    **params
        ``store`` and ``url_query`` as in :class:`~jetviz.ui.runs.RunPage`, or
        :class:`VaeEmdConfig` params for a new :class:`VaeEmdStore`:
        ``VaeEmdPage(sample="toy_top_qcd", n_jets=200)``; deep link ``?page=vae_emd&beta=1e-6``.
    """

    views = {"results": ResultsView, "distances": DistanceView, "pair": PairView, "latent": LatentView,
             "scan": ScanView}

    store = param.ClassSelector(class_=VaeEmdStore, doc="the page's data store")

    def body(self) -> pn.viewable.Viewable:
        """Table and ROC, distances, pair, latent space, β scan."""
        loaded = pn.pane.Markdown(self.store.param.loaded.rx.pipe(lambda s: f"<small>{s}</small>" if s else ""),
                                  sizing_mode="stretch_width", css_classes=["jetviz-loaded"])
        return pn.Column(
            loaded, self.results, pn.layout.Divider(), self.distances, pn.layout.Divider(), self.pair,
            pn.layout.Divider(), self.latent, pn.layout.Divider(), self.scan, sizing_mode="stretch_width",
        )
