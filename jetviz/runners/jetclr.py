"""The ``jetclr`` runner (seed 004, arXiv:2108.04253): contrastive jet representations on top vs QCD.

Design notes: docs/architecture.md, section ``jetviz.runners.jetclr``.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import awkward as ak
import numpy as np
import param
import torch

from jetviz.data.kinematics import jet_labels_and_kinematics
from jetviz.errors import ConfigError
from jetviz.models.constituents import (ABLATION, AUGMENTATIONS, PT_CLIP_MIN, TRANSLATION_UNITS, VIEW_SCHEMES,
                                        make_views, pad_constituent_block, pad_constituents)
from jetviz.models.jetclr import (ENCODER_KINDS, JetCLREncoder, alignment, invariance_curve, linear_classifier_test,
                                  nt_xent, representations, uniformity)
from jetviz.models.splits import stratified_parts
from jetviz.runners.base import JetRunner, JetSample, JetSampleConfig, Progress, RunResult, parallel_map
from jetviz.runners.loop import TrainingLoop, stage_event
from jetviz.runners.rundir import RunDir

__all__ = ["JetclrConfig", "JetclrData", "JetclrResult", "JetclrRunner", "prepare", "augmentation_options",
           "train_jetclr", "ablation", "TALK"]

#: the seed's ablation table (docs/reference.md): row → (1/ε_b at ε_s = 0.5, AUC)
TALK: dict[str, tuple[float, float]] = {
    "none": (15, 0.905),
    "translations": (19, 0.916),
    "rotations": (21, 0.930),
    "soft+collinear": (89, 0.970),
    "all": (181, 0.980),
}


class JetclrConfig(JetSampleConfig):
    """Settings of one jetclr run (every value bounded; JSON round trip via ``to_dict``/``from_dict``)."""

    n_jets = param.Integer(default=12000)
    jet_R = param.Number(default=0.8)
    pt_min = param.Number(default=550.0)
    pt_max = param.Number(default=650.0)
    n_constituents = param.Integer(default=50, bounds=(2, 500), doc="hardest constituents kept per jet")
    extra_slots = param.Integer(default=20, bounds=(0, 500), doc="free rows per jet for collinear splits")
    augmentations = param.ListSelector(default=list(AUGMENTATIONS), objects=list(AUGMENTATIONS),
                                       doc="augmentations of the views (none: the views are the jet itself)")
    view_scheme = param.Selector(default="reference", objects=list(VIEW_SCHEMES),
                                 doc="reference: one view only rotated/translated, the other gets every augmentation; "
                                     "symmetric: both views get every augmentation")
    translation_width = param.Number(default=1.0, bounds=(0.0, 5.0),
                                     doc="translations uniform in ±width (in translation_unit)")
    translation_unit = param.Selector(default="jet_extent", objects=list(TRANSLATION_UNITS),
                                      doc="translation width in units of each jet's (η, φ) extent, or in rad")
    split_probability = param.Number(default=0.5, bounds=(0.0, 1.0), doc="chance that a constituent is split")
    lambda_soft = param.Number(default=0.1, bounds=(0.0, 10.0), doc="Λ_soft of the soft smearing (GeV)")
    pt_clip_min = param.Number(default=PT_CLIP_MIN, bounds=(0.0, 100.0),
                               doc="soft smearing σ = Λ_soft / max(pT, pt_clip_min) (GeV; 0: no clip)")
    encoder = param.Selector(default="irc_safe", objects=list(ENCODER_KINDS),
                             doc="irc_safe: pT-weighted attention and pooling; plain: padding mask and mean")
    d_model = param.Integer(default=64, bounds=(4, 1024), doc="transformer width")
    n_heads = param.Integer(default=4, bounds=(1, 32), doc="attention heads (divide d_model)")
    n_layers = param.Integer(default=2, bounds=(1, 24), doc="transformer layers")
    rep_dim = param.Integer(default=64, bounds=(2, 1024), doc="representation size")
    proj_dim = param.Integer(default=32, bounds=(2, 1024), doc="projection-head output size")
    temperature = param.Number(default=0.1, bounds=(1e-3, 10.0), doc="τ of NT-Xent")
    epochs = param.Integer(default=10, bounds=(1, 10_000))
    batch_size = param.Integer(default=128, bounds=(4, 8192))
    learning_rate = param.Number(default=1e-3, bounds=(1e-6, 1.0))
    train_share = param.Number(default=0.5, bounds=(0.01, 0.98), doc="share of the jets for contrastive training")
    lct_share = param.Number(default=0.25, bounds=(0.01, 0.98), doc="share for the linear classifier's training (rest: test)")
    n_angles = param.Integer(default=25, bounds=(3, 361), doc="rotation angles of the invariance curve, over [0, 2π]")
    n_invariance = param.Integer(default=256, bounds=(2, 100_000), doc="test jets of the invariance curve")
    threads = param.Integer(default=0, bounds=(0, 1024), doc="torch CPU threads (0 = library default)")

    def ablation_row(self) -> str:
        """The seed's table row this run's augmentations form ("custom" if none matches)."""
        chosen = set(self.augmentations)
        return next((row for row, names in ABLATION.items() if set(names) == chosen), "custom")


@dataclass(kw_only=True)
class JetclrData(JetSample):
    """Padded constituents, labels and splits (``labels``, ``pt``, ``mass`` as :class:`~jetviz.runners.base.JetSample`).

    Attributes
    ----------
    x : (N, P, 3) float32 np.ndarray
        (pT [GeV], Δη, Δφ) centred on the jet axis, hardest first.
    mask : (N, P) bool np.ndarray
        True for real constituents.
    split : (N,) int8 np.ndarray
        0 contrastive training, 1 LCT training, 2 test.
    """

    x: np.ndarray
    mask: np.ndarray


def events_arrays(events: ak.Array, config: JetclrConfig) -> dict[str, np.ndarray]:
    """Centred, pT-ordered constituents (``x``, ``mask``), labels, pT and mass of jets (schema events)."""
    labels, pt, mass = jet_labels_and_kinematics(events, "jetclr")
    x, mask = pad_constituents(events.particles, config.n_constituents, config.extra_slots)
    return {"x": x, "mask": mask, "label": labels, "pt": pt, "mass": mass}


def constituent_block(block, n_constituents: int, extra_slots: int) -> dict[str, np.ndarray]:
    """``x`` ``(n, P, 3)`` and ``mask`` ``(n, P)`` of a block of padded jets (:class:`~jetviz.data.formats.JetBlock`),
    as :func:`events_arrays` gives them for schema events: jetclr's file preparation."""
    x, mask = pad_constituent_block(block.p4, n_constituents, extra_slots)
    return {"x": x, "mask": mask}


def from_arrays(arrays: dict, config: JetclrConfig) -> JetclrData:
    """:class:`JetclrData` of prepared jets (``x``, ``mask``, ``label``, ``pt``, ``mass``) with the seeded stratified split."""
    labels = np.asarray(arrays["label"], np.int64)
    train_share, lct_share = config.train_share, config.lct_share
    if train_share + lct_share >= 1:
        raise ConfigError(f"train_share + lct_share = {train_share + lct_share:g} leaves no test jets (must be < 1)")
    split = stratified_parts(labels, (train_share, lct_share), config.seed)
    for part, name in ((1, "LCT training"), (2, "test")):
        if len(np.unique(labels[split == part])) < 2:
            raise ConfigError(f"the {name} split needs top and QCD jets: use more jets (n_jets = {len(labels)})")
    if (split == 0).sum() < 2:
        raise ConfigError("the contrastive training split needs ≥ 2 jets")
    return JetclrData(labels, np.asarray(arrays["pt"]), np.asarray(arrays["mass"]), split, x=arrays["x"],
                      mask=arrays["mask"])


def prepare(events: ak.Array, config: JetclrConfig) -> JetclrData:
    """Constituent tensors, labels, jet pT and mass, and the seeded stratified split."""
    return from_arrays(events_arrays(events, config), config)


def _encoder(config: JetclrConfig) -> JetCLREncoder:
    return JetCLREncoder(config.d_model, config.n_heads, config.n_layers, config.rep_dim, config.proj_dim, config.jet_R,
                         kind=config.encoder)


def augmentation_options(config: JetclrConfig) -> dict:
    """The augmentations' settings of a config, as :func:`~jetviz.models.constituents.augment` takes them."""
    return dict(translation_width=config.translation_width, translation_unit=config.translation_unit,
                split_probability=config.split_probability, lambda_soft=config.lambda_soft,
                pt_clip_min=config.pt_clip_min)


def _views(x: torch.Tensor, mask: torch.Tensor, config: JetclrConfig, generator: torch.Generator):
    return make_views(x, mask, config.augmentations, config.view_scheme, generator, **augmentation_options(config))


def train_jetclr(x: np.ndarray, mask: np.ndarray, config: JetclrConfig, device: str = "cpu",
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                 checkpoint: Path | None = None, model: JetCLREncoder | None = None,
                 span: tuple[float, float] = (0.0, 1.0)) -> tuple[JetCLREncoder, list[dict]]:
    """Contrastive training on jets ``x`` ``(N, P, 3)`` / ``mask`` ``(N, P)`` in the :class:`TrainingLoop`.

    Returns the encoder (eval mode) and history rows (epoch, train_loss, alignment, uniformity
    (of the last batch's representations), seconds, jets_per_s). ``checkpoint``: resumed from
    when it exists, written after every epoch; ``span``: the part of the run's progress it fills.
    """
    if len(x) < 2:
        raise ConfigError(f"contrastive training needs ≥ 2 jets, got {len(x)}")
    torch.manual_seed(config.seed)
    model = (model if model is not None else _encoder(config)).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed + 1)  # batches and augmentations (CPU)
    loop = TrainingLoop({"model": model, "optimiser": optimiser, "generator": generator}, config.epochs, checkpoint,
                        progress, cancel, span, what="jetclr training")
    x_all, mask_all = torch.as_tensor(x), torch.as_tensor(mask)
    n_steps = max(1, len(x) // config.batch_size)  # full batches only: NT-Xent needs B ≥ 2

    def epoch(number: int) -> dict:
        model.train()
        order = torch.randperm(len(x), generator=generator)
        started, total, seen = time.perf_counter(), 0.0, 0
        for step in loop.steps(n_steps):
            rows = order[step * config.batch_size:(step + 1) * config.batch_size]
            (xa, ma), (xb, mb) = _views(x_all[rows], mask_all[rows], config, generator)
            rep_a, z_a = model(xa.to(device), ma.to(device))
            rep_b, z_b = model(xb.to(device), mb.to(device))
            loss = nt_xent(z_a, z_b, config.temperature)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(rows)
            seen += len(rows)
            loop.report(loss=float(loss.detach()))
        seconds = time.perf_counter() - started
        with torch.no_grad():
            return {"train_loss": total / seen, "alignment": alignment(rep_a, rep_b), "uniformity": uniformity(rep_a),
                    "seconds": seconds, "jets_per_s": seen / seconds}

    history = loop.run(epoch)
    return model.eval(), history


class JetclrResult(RunResult):
    """A finished (or reopened) jetclr run: config, run_dir, history (epoch rows) and ``model`` (the trained
    encoder, CPU, eval) as :class:`~jetviz.runners.base.RunResult`, and

    Attributes
    ----------
    metrics : dict
        ``auc``, ``rejection`` (1/ε_b at ε_s = 0.5), ``auc_untrained``,
        ``rejection_untrained``, ``alignment``, ``uniformity`` (test jets, the run's
        augmentations), ``row`` (the ablation row), ``n_train``/``n_lct``/``n_test``.
    arrays : dict of ndarray
        ``labels``, ``split``, ``pt``, ``mass`` (every jet); ``test_index``,
        ``rep`` (test representations), ``scores``/``scores_untrained`` (LCT, test jets),
        ``angles``, ``invariance``/``invariance_untrained``.
    """

    runner_name = "jetclr"
    required_arrays = ("labels", "split", "pt", "mass", "test_index", "rep", "scores", "scores_untrained", "angles",
                       "invariance", "invariance_untrained")
    required_metrics = ("row", "auc", "rejection", "auc_untrained", "rejection_untrained")
    _data: JetclrData | None = None

    @classmethod
    def build_model(cls, config: JetclrConfig, metrics: dict) -> JetCLREncoder:
        return _encoder(config)

    def roc(self, trained: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
        """(false-positive rate (QCD), true-positive rate (top), AUC) of the linear classifier test."""
        from jetviz.models.metrics import roc_auc, roc_curve

        labels = self.arrays["labels"][self.arrays["test_index"]]
        scores = self.arrays["scores" if trained else "scores_untrained"]
        fpr, tpr, _ = roc_curve(labels, scores)
        return fpr, tpr, roc_auc(labels, scores)

    def untrained(self) -> JetCLREncoder:
        """The run's encoder before training (its ``initial.pt`` weights), CPU, eval mode."""
        return RunDir(self.run_dir).load_model(_encoder(self.config), "initial")

    def load_data(self) -> JetclrData:
        """The run's jets (from the sample cache; generated again if it was removed)."""
        if self._data is None:
            self._data = JetclrRunner(self.config, self.run_dir).load_data()
        return self._data


class JetclrRunner(JetRunner):
    """Trains and evaluates one jetclr run (see :class:`~jetviz.runners.base.Runner` for the arguments;
    ``data``: prepared jets, shared by the runs of an ablation)."""

    name = "jetclr"

    events_arrays = staticmethod(events_arrays)
    block_features = staticmethod(constituent_block)
    preparation_params = staticmethod(lambda config: {"n_constituents": config.n_constituents,
                                                      "extra_slots": config.extra_slots})
    from_arrays = staticmethod(from_arrays)

    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> JetclrResult:
        """Contrastive training, then the linear classifier test and the invariance curve (trained and untrained)."""
        emit, device, data = self.begin(progress)
        config = self.config
        torch.manual_seed(config.seed)
        initial = _encoder(config)
        if not self.run.exists("initial.pt"):
            self.run.save_state("initial", initial.state_dict())
        untrained = copy.deepcopy(initial).eval()
        emit(stage_event("train", f"contrastive training, augmentations: {', '.join(config.augmentations) or 'none'}",
                         0.1))
        train = data.split == 0
        model, history = train_jetclr(data.x[train], data.mask[train], config, device, progress=emit, cancel=cancel,
                                      checkpoint=self.run.file(self.run.CHECKPOINT), model=initial, span=(0.1, 0.8))
        emit(stage_event("evaluate", "linear classifier test and invariance curve", 0.9))
        lct, test = np.flatnonzero(data.split == 1), np.flatnonzero(data.split == 2)
        results, reps = {}, {}
        for name, encoder in (("trained", model), ("untrained", untrained.to(device))):
            rep_lct = representations(encoder, data.x[lct], data.mask[lct], device)
            reps[name] = representations(encoder, data.x[test], data.mask[test], device)
            results[name] = linear_classifier_test(rep_lct, data.labels[lct], reps[name], data.labels[test])
        angles = np.linspace(0.0, 2 * np.pi, config.n_angles)
        inv = test[: config.n_invariance]
        invariance = {name: invariance_curve(encoder, data.x[inv], data.mask[inv], angles, device)
                      for name, encoder in (("trained", model), ("untrained", untrained))}
        with torch.no_grad():
            generator = torch.Generator().manual_seed(config.seed + 3)
            (xa, ma), (xb, mb) = _views(torch.as_tensor(data.x[inv]), torch.as_tensor(data.mask[inv]), config, generator)
            rep_a = model.represent(xa.to(device), ma.to(device))
            rep_b = model.represent(xb.to(device), mb.to(device))
            align, uniform = alignment(rep_a, rep_b), uniformity(rep_a)
        metrics = {
            "row": config.ablation_row(), "augmentations": list(config.augmentations), "device": device,
            "auc": results["trained"]["auc"], "rejection": results["trained"]["rejection"],
            "auc_untrained": results["untrained"]["auc"], "rejection_untrained": results["untrained"]["rejection"],
            "alignment": align, "uniformity": uniform,
            "invariance_min": float(invariance["trained"].min()),
            "invariance_min_untrained": float(invariance["untrained"].min()),
            "n_train": int(train.sum()), "n_lct": int(len(lct)), "n_test": int(len(test)),
            "final_train_loss": history[-1]["train_loss"] if history else float("nan"),
        }
        arrays = {"labels": data.labels, "split": data.split, "pt": data.pt, "mass": data.mass, "test_index": test,
                  "rep": reps["trained"], "scores": results["trained"]["scores"],
                  "scores_untrained": results["untrained"]["scores"], "angles": angles,
                  "invariance": invariance["trained"], "invariance_untrained": invariance["untrained"]}
        model = model.cpu().eval()
        self.finish(emit, metrics, arrays, states={"model": model}, history=history)
        return JetclrResult(config, self.run_dir, history, metrics, arrays, model)


_SUMMARY = ("row", "auc", "rejection", "auc_untrained", "rejection_untrained", "alignment", "uniformity",
            "invariance_min", "final_train_loss")


def _summary(result: JetclrResult) -> dict:
    return {"run_dir": str(result.run_dir), **{k: result.metrics[k] for k in _SUMMARY}}


def _ablation_job(config_values: dict, run_dir: str, data: JetclrData) -> dict:
    return _summary(JetclrRunner(JetclrConfig.from_dict(config_values), run_dir, data=data).fit())


def ablation(config: JetclrConfig, rows: Sequence[str] = tuple(ABLATION), workers: int = 2, client=None,
             root: str | Path | None = None, progress: Progress | None = None,
             data: JetclrData | None = None) -> list[dict]:
    """One run per ablation row (:data:`jetviz.models.constituents.ABLATION`) on the same jets, as parallel jobs.

    ``config``'s ``augmentations`` are replaced by each of ``rows``; ``workers`` local processes
    ("spawn"), or the dask ``client``; under ``root`` (default: a new run directory) one
    sub-directory per row, a row finished there is reopened, not retrained; ``data``: the jets,
    prepared (default: ``config``'s sample, loaded into ``<root>/shared``).

    Returns
    -------
    list[dict]
        One summary row per ablation row (AUC, 1/ε_b, untrained AUC, alignment, uniformity, …),
        in the seed's table order; also written to ``<root>/ablation.json``.
    """
    unknown = [row for row in rows if row not in ABLATION]
    if unknown:
        raise ConfigError(f"unknown ablation row(s) {unknown}; choose from {list(ABLATION)}")
    emit = progress or (lambda event: None)
    root = Path(root) if root is not None else RunDir.new("jetclr-ablation").path
    root.mkdir(parents=True, exist_ok=True)
    data = data if data is not None else JetclrRunner(config, root / "shared").load_data(emit)
    threads = config.threads or max(1, (os.cpu_count() or 1) // max(1, min(workers, len(rows))))
    jobs = [(dict(config.to_dict(), augmentations=list(ABLATION[row]), threads=threads),
             str(root / row.replace("+", "_")), data) for row in rows]
    done = [_summary(JetclrResult.load(job[1])) for job in jobs if (Path(job[1]) / "metrics.json").exists()]
    todo = [job for job in jobs if not (Path(job[1]) / "metrics.json").exists()]
    results = done + parallel_map(_ablation_job, todo, workers, client, emit, describe=lambda row: f"{row['row']}")
    order = list(ABLATION)
    results.sort(key=lambda row: order.index(row["row"]))
    RunDir(root).write_json("ablation.json", results)
    return results
