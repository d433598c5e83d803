"""The vae_emd page's data store (seed 002): jet images, training, the transport plan of a pair, the β scan.

Design notes: docs/architecture.md, section ``jetviz.ui.vae_emd.store``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param

from jetviz.models.emd import emd, from_image, pixel_centres
from jetviz.models.metrics import pair_distances
from jetviz.models.vae import representations
from jetviz.runners.rundir import runs_dir
from jetviz.runners.vae_emd import VaeEmdConfig, VaeEmdData, VaeEmdResult, beta_scan
from jetviz.ui.training import TrainingStore
from jetviz.ui.widgets import settings_card

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "SCAN_BETAS", "default_config", "list_runs", "latest_scan", "parse_betas",
           "VaeEmdStore"]

#: the page's default run: real top/QCD jets, small enough for a CPU (about a minute on one core)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "top_qcd", "n_jets": 600, "epochs": 5, "n_corr": 40, "n_pool": 40,
                                 "n_medoids": 5, "n_anomaly": 100, "channels": 8}
#: config params that a deep link (``?page=vae_emd&n_jets=1000&beta=1e-6``) may set
URL_PARAMS = ("sample", "n_jets", "n_pix", "image_width", "n_down", "latent", "channels", "beta", "loss", "epochs",
              "batch_size", "learning_rate", "n_corr", "n_pool", "n_medoids", "n_anomaly", "emd_jobs", "threads",
              "seed", "device", "patience")
#: the β values of the page's scan (a small part of the talk's 0, 1e-10 … 1e-4)
SCAN_BETAS = "0, 1e-8, 1e-6, 1e-4"


def latest_scan(root: Path | None = None) -> tuple[list[dict], Path | None]:
    """``(rows, file)`` of the newest readable ``vae_emd-scan-*/scan.json`` under ``root`` (default
    ``runs_dir()``); ``([], None)`` when there is none.
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
    """``"0, 1e-8, 1e-6"`` → ``[0.0, 1e-08, 1e-06]`` (sorted, unique); ValueError for anything but
    comma-separated numbers in [0, 1], or none at all.
    """
    values = sorted({float(t) for t in text.replace(";", ",").split(",") if t.strip()})
    if not values:
        raise ValueError("no β given")
    if values[0] < 0 or values[-1] > 1:
        raise ValueError("β must lie in [0, 1]")
    return values


class VaeEmdStore(TrainingStore):
    """The vae_emd page's data store: a :class:`~jetviz.ui.training.TrainingStore` of the vae_emd runner.

    Beyond the training store's params: ``plan`` (jets ``jet_a`` and ``jet_b``, their reconstructions
    and W_p transport plan for ``p``), ``selected`` (jets chosen in the latent view) and ``scan_rows``
    (:meth:`run_scan`, or the newest earlier scan).
    """

    runner_name = "vae_emd"
    sample_kind = "jets"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    step_labels = ("VAE epoch", "loss")
    buttons = {"scan_button": "run_scan"}

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

    def __init__(self, **params):
        super().__init__(**params)
        rows, path = latest_scan()
        if rows:
            self.param.update(scan_rows=rows, scan_source=f"earlier scan {path.parent.name}")

    # ----------------------------------------------------------------------------- actions
    def run_scan(self, blocking: bool | None = None, workers: int = 1) -> None:
        """Run :func:`~jetviz.runners.vae_emd.beta_scan` over :attr:`scan_betas` with the current config
        (:meth:`run_study`) in ``workers`` local processes (1: one β after the other)."""
        try:
            betas = parse_betas(self.scan_betas)
        except ValueError as err:
            self.report(f"β scan: {err} (got {self.scan_betas!r})")
            return
        self.run_study(beta_scan, "vae_emd-scan", f"β scan over {len(betas)} values on {self.config.n_jets} "
                       f"{self.config.sample} jets …", blocking, betas=betas, workers=workers)

    def show_study(self, rows: list[dict], root: Path) -> None:
        """A finished β scan: its rows are shown."""
        self.param.update(scan_rows=list(rows), scan_source=f"scan {root.name}")

    def show_data(self, data: VaeEmdData) -> None:
        """The new run's jets arrived (before its training): the previous result goes."""
        n = len(data)
        self.param.jet_a.bounds = self.param.jet_b.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, plan=None, selected=[], loaded="",
                          jet_a=min(self.jet_a, n - 1), jet_b=min(self.jet_b, n - 1))

    def show(self, result: VaeEmdResult, data: VaeEmdData) -> None:
        n = len(data)
        i, j = result.pairs()
        before = (self.jet_a, self.jet_b)
        self.param.jet_a.bounds = self.param.jet_b.bounds = (0, max(n - 1, 1))
        self.param.update(selected=[], jet_a=int(i[0]) if len(i) else 0, jet_b=int(j[0]) if len(j) else min(1, n - 1))
        if (self.jet_a, self.jet_b) == before:  # else the pair's watcher makes the plan
            self._update_plan()

    def describe(self, result: VaeEmdResult, data: VaeEmdData, derived: tuple = ()) -> str:
        config = result.config
        return (f"{result.run_dir.name} · {config.sample} · {len(data)} jets · {config.n_pix}×{config.n_pix} pixels · "
                f"β = {config.beta:g} · {config.n_down} blocks, latent {config.latent} · {config.epochs} epochs · "
                f"device {result.metrics.get('device', '?')}")

    # ----------------------------------------------------------------------------- derived data
    def transport(self, a: int, b: int, p: float | None = None) -> dict:
        """The W_p transport plan between jets ``a`` and ``b`` (sample indices) of the shown run
        (ValueError: no jets loaded, or an index out of range).

        Returns
        -------
        dict
            ``jet_a``, ``jet_b``, ``labels`` (2,), ``images`` (2, n_pix, n_pix) pT fractions,
            ``reconstructions`` (2, n_pix, n_pix) (the VAE's, None without a result), ``p``,
            ``distance`` (W_p, dimensionless), ``flow`` (P_a, P_b) summing to 1 (rows: nonzero
            pixels of jet a in row-major order, columns: those of jet b), ``width`` (rad),
            ``latent_distance`` (|μ_a − μ_b|, None without a result).
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
        self.update_view("plan", lambda: self.transport(self.jet_a, self.jet_b),
                         f"transport plan of jets {self.jet_a} and {self.jet_b}")

    def pair_arrays(self) -> dict | None:
        """Distances of the correlation pairs of the shown run (None without a result): ``i``, ``j`` (M,)
        sample indices; ``w_p0.5``, ``w_p1`` (M,); ``latent`` (M,) |μ − μ′|; ``input`` (M,) Σ(x − x′)² (with ``data``).
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
    def controls_list(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self.number
        sample = self.sample_select()
        sizes = pn.Row(number("n_jets", "Jets (half top)", step=100), number("epochs", "Epochs"), **wide)
        vae = pn.Row(number("channels", "Channels"), number("latent", "Latent dims"), **wide)
        beta = pn.Row(number("beta", "β of (1−β)·D + β·KLD", widget=pn.widgets.FloatInput, step=1e-7),
                      pn.widgets.Select.from_param(c.param.loss, label="D (reconstruction)", **wide), **wide)
        emd_sizes = pn.Row(number("n_corr", "Jets for r (pairs)"), number("n_anomaly", "Jets scored by EMD"), **wide)
        medoids = pn.Row(number("n_pool", "k-medoid pool"), number("n_medoids", "k-medoids"), **wide)
        advanced = settings_card(
            pn.Row(number("n_pix", "Pixels per side"), number("n_down", "Down blocks"), **wide),
            number("image_width", "Image width (rad)", widget=pn.widgets.FloatInput, step=0.1),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            pn.Row(number("train_fraction", "QCD training share", widget=pn.widgets.FloatInput, step=0.05),
                   number("patience", "Early stopping patience (0 = off)"), **wide),
            pn.Row(number("emd_jobs", "EMD threads"), number("threads", "Threads (0 = all)"), **wide),
            pn.Row(number("seed", "Seed"), pn.widgets.Select.from_param(c.param.device, label="Device", **wide), **wide),
        )
        return [sample, sizes, vae, beta, emd_sizes, medoids, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`VaeEmdConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_VAE_EMD_<PARAM>`` env vars, then ``overrides``)
default_config = VaeEmdStore.default_config
#: ``list_runs(root=None)``: finished vae_emd run directories, newest first
list_runs = VaeEmdStore.list_runs


