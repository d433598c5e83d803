"""The jetclr page's data store (seed 004): jets, training, the augmentation explorer, rotations, the ablation.

Design notes: docs/architecture.md, section ``jetviz.ui.jetclr.store``.
"""
from __future__ import annotations

import json
import queue
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
import torch

from jetviz.models.constituents import AUGMENTATIONS, augment, rotate
from jetviz.models.jetclr import JetCLREncoder, cosine_similarity
from jetviz.runners.jetclr import (TALK, JetclrConfig, JetclrData, JetclrResult, JetclrRunner, ablation,
                                   augmentation_options)
from jetviz.runners.rundir import RunDir, runs_dir
from jetviz.ui.training import TrainingStore
from jetviz.ui.widgets import settings_card

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "default_config", "list_runs", "collect_ablation", "untrained_encoder",
           "JetclrStore"]

#: the page's default run: real top/QCD jets, small enough for a CPU (a minute or two on two cores)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "top_qcd", "n_jets": 800, "epochs": 3, "d_model": 32, "n_heads": 4,
                                 "n_layers": 1, "n_angles": 13, "n_invariance": 64}
#: config params that a deep link (``?page=jetclr&n_jets=2000&augmentations=rotations``) may set
URL_PARAMS = ("sample", "n_jets", "n_constituents", "extra_slots", "augmentations", "view_scheme", "encoder",
              "translation_width", "translation_unit", "pt_clip_min",
              "split_probability", "lambda_soft", "d_model", "n_heads", "n_layers", "rep_dim", "proj_dim",
              "temperature", "epochs", "batch_size", "learning_rate", "n_angles", "n_invariance", "threads", "seed",
              "device")


def untrained_encoder(result: JetclrResult) -> JetCLREncoder:
    """The run's encoder before training (its ``initial.pt`` weights), CPU, eval mode (DataFileError: unreadable)."""
    return result.untrained()


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
            metrics = RunDir(run).read_metrics()
        except Exception:  # a damaged run is skipped
            continue
        if "row" in metrics:
            rows.setdefault(metrics["row"], _summary(metrics, run.name))
    return rows


class JetclrStore(TrainingStore):
    """The jetclr page's data store: a :class:`~jetviz.ui.training.TrainingStore` of the jetclr runner.

    Beyond the training store's params: the jets (:meth:`load_jets`: the augmentation explorer works
    before any training), ``augmented``, ``rotated``, ``selected`` and the ``ablation`` rows
    (:meth:`run_ablation`: one run per row of the talk's table).
    """

    runner_name = "jetclr"
    sample_kind = "jets"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    step_labels = ("epoch", "NT-Xent loss")
    buttons = {"load_button": "load_jets", "new_draw_button": "new_draw", "ablation_button": "run_ablation"}
    derive = staticmethod(lambda result, data, progress: (untrained_encoder(result),))

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

    _untrained: JetCLREncoder | None = None

    @param.depends("refresh_button", watch=True)
    def refresh_runs(self) -> None:
        """List the finished runs again, and the ablation rows they fill."""
        super().refresh_runs()
        self.ablation = collect_ablation(self.result)

    # ----------------------------------------------------------------------------- actions
    def new_draw(self) -> None:
        """Another random augmentation of the jet shown (*New draw*)."""
        self.draw = (self.draw + 1) % (2**31 - 1)

    def load_jets(self, blocking: bool | None = None) -> None:
        """Load the jets of the current settings (generated on first use, then from the sample cache).

        The shown run (if any) goes; ``blocking`` as in :meth:`train`.
        """
        if self.busy():
            return
        config = self.copy_config()
        self.start(self._load_work, (config,), blocking, f"loading {config.n_jets} {config.sample} jets …")

    def run_ablation(self, blocking: bool | None = None, workers: int | None = None) -> None:
        """Run :func:`~jetviz.runners.jetclr.ablation` (all rows of the talk's table) with the current config
        (:meth:`run_study`) in ``workers`` local processes (default: :attr:`ablation_workers`; 1: one after the other)."""
        self.run_study(ablation, "jetclr-ablation", f"ablation: {len(TALK)} runs on {self.config.n_jets} "
                       f"{self.config.sample} jets …", blocking, workers=int(self.ablation_workers if workers is None
                                                                             else workers))

    def show_study(self, rows: list[dict], root: Path) -> None:
        """A finished ablation: its rows fill the table (with the runs it wrote)."""
        self.refresh_runs()

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _load_work(token: int, messages: queue.SimpleQueue, config: JetclrConfig) -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        with tempfile.TemporaryDirectory(prefix="jetviz-jetclr-jets-") as scratch:  # only the jets: no run directory
            data = JetclrRunner(config, scratch).load_data(lambda event: messages.put(("event", token, event)))
        messages.put(("jets", token, data))

    # ----------------------------------------------------------------------------- messages
    def on_message(self, kind: str, payload: list) -> None:
        if kind == "jets":
            self._finish()
            self.show_data(payload[0])
            config = self.config
            self.param.update(running=False, training=False, progress=100, status="",
                              loaded=f"{len(payload[0])} {config.sample} jets loaded (no run yet)")

    def show_data(self, data: JetclrData) -> None:
        """New jets arrived (loaded, or before a training): the previous result goes."""
        n = len(data)
        self._untrained = None
        self.param.jet.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, selected=[], loaded="", jet=min(self.jet, n - 1))

    def show(self, result: JetclrResult, data: JetclrData, untrained: JetCLREncoder) -> None:
        n = len(data)
        self._untrained = untrained
        self.param.jet.bounds = (0, max(n - 1, 1))
        self.param.update(selected=[], jet=self.jet if self.jet < n else int(result.arrays["test_index"][0]))

    def describe(self, result: JetclrResult, data: JetclrData, derived: tuple = ()) -> str:
        config, m = result.config, result.metrics
        return (f"{result.run_dir.name} · {config.sample} · {len(data)} jets · augmentations "
                f"{', '.join(config.augmentations) or 'none'} (row “{m.get('row')}”) · d_model {config.d_model}, "
                f"{config.n_layers} layer(s), {config.n_heads} heads · {config.epochs} epochs · "
                f"device {m.get('device', '?')}")

    # ----------------------------------------------------------------------------- derived data
    def _shown_config(self) -> JetclrConfig:
        return self.result.config if self.result is not None else self.config

    def augment_jet(self, jet: int, which=None, draw: int | None = None) -> dict:
        """Jet ``jet`` (sample index) and one random augmentation of it (seed ``draw``, default :attr:`draw`).

        ``which``: the augmentations (default :attr:`shown_augmentations`), applied as the runner does,
        with the shown run's (or the config's) widths. Raises ValueError with no jets or a bad index.

        Returns
        -------
        dict
            ``jet``, ``label`` (1 top, 0 QCD), ``pt``, ``mass`` (GeV), ``which`` (list), ``draw``,
            ``x``/``mask`` ``(P, 3)``/``(P,)`` the jet, ``x_aug``/``mask_aug`` its augmentation.
        """
        data = self._jets(jet)
        which = list(self.shown_augmentations if which is None else which)
        draw = int(self.draw if draw is None else draw)
        config = self._shown_config()
        generator = torch.Generator().manual_seed(draw)
        x, mask = torch.tensor(data.x[jet][None]), torch.tensor(data.mask[jet][None])  # copies: x may be memory-mapped
        x_aug, mask_aug = augment(x, mask, which=which, generator=generator, **augmentation_options(config))
        return {"jet": int(jet), "label": int(data.labels[jet]), "pt": float(data.pt[jet]),
                "mass": float(data.mass[jet]), "which": which, "draw": draw, "x": data.x[jet], "mask": data.mask[jet],
                "x_aug": x_aug[0].numpy(), "mask_aug": mask_aug[0].numpy()}

    @torch.no_grad()
    def rotate_jet(self, jet: int, angle: float) -> dict:
        """Jet ``jet`` rotated about its axis by ``angle`` degrees, and s(r(x), r(R(θ)x)) (ValueError: no jets, a bad index).

        Returns
        -------
        dict
            ``jet``, ``label``, ``angle`` (degrees), ``x``/``mask`` the jet, ``x_rot`` the rotated jet
            ``(P, 3)``; ``trained``/``untrained``: the cosine similarity of the representations of the
            jet and of its rotation for the shown run's trained and untrained encoder (None without a run).
        """
        data = self._jets(jet)
        x, mask = torch.tensor(data.x[jet][None]), torch.tensor(data.mask[jet][None])
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
        self.update_view("augmented", lambda: self.augment_jet(self.jet), f"augmenting jet {self.jet}")

    @param.depends("data", "jet", "angle", "result", watch=True)
    def _update_rotated(self) -> None:
        self.update_view("rotated", lambda: self.rotate_jet(self.jet, self.angle), f"rotating jet {self.jet}")

    # ----------------------------------------------------------------------------- view
    def controls_list(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self.number
        sample = self.sample_select()
        sizes = pn.Row(number("n_jets", "Jets (half top)", step=100), number("epochs", "Epochs"), **wide)
        augmentations = pn.widgets.MultiChoice.from_param(c.param.augmentations, label="Augmentations of the views",
                                                          css_classes=["jetviz-train-aug"], **wide)
        network = pn.Row(number("d_model", "Width d_model"), number("n_layers", "Layers"), **wide)
        heads = pn.Row(number("n_heads", "Heads"), number("rep_dim", "Representation"), **wide)
        advanced = settings_card(
            pn.Row(number("n_constituents", "Constituents"), number("extra_slots", "Split slots"), **wide),
            pn.Row(number("proj_dim", "Projection"), number("temperature", "Temperature τ",
                                                            widget=pn.widgets.FloatInput, step=0.01), **wide),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            pn.Row(number("translation_width", "Translation ± (× unit)", widget=pn.widgets.FloatInput, step=0.05),
                   pn.widgets.Select.from_param(c.param.translation_unit, label="Translation unit", **wide), **wide),
            pn.Row(pn.widgets.Select.from_param(c.param.encoder, label="Encoder", **wide),
                   pn.widgets.Select.from_param(c.param.view_scheme, label="Views", **wide), **wide),
            pn.Row(number("pt_clip_min", "Smearing pT clip (GeV)", widget=pn.widgets.FloatInput, step=0.05),
                   number("split_probability", "Split chance", widget=pn.widgets.FloatInput, step=0.1), **wide),
            pn.Row(number("lambda_soft", "Λ_soft (GeV)", widget=pn.widgets.FloatInput, step=0.05),
                   number("n_angles", "Invariance angles"), **wide),
            pn.Row(number("n_invariance", "Invariance jets"), number("threads", "Threads (0 = all)"), **wide),
            pn.Row(number("seed", "Seed"), pn.widgets.Select.from_param(c.param.device, label="Device", **wide), **wide),
        )
        load = pn.widgets.Button.from_param(self.param.load_button, color="primary", variant="outline",
                                            disabled=self.param.running, css_classes=["jetviz-load"], **wide)
        return [sample, sizes, augmentations, network, heads, advanced, load]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`JetclrConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_JETCLR_<PARAM>`` env vars, then ``overrides``)
default_config = JetclrStore.default_config
#: ``list_runs(root=None)``: finished jetclr run directories, newest first
list_runs = JetclrStore.list_runs


