"""The ``jetclr`` runner (seed 004, arXiv:2108.04253): contrastive jet representations on top vs QCD.

Protocol (DESIGN.md, REFERENCE.md):

* **Jets.** ``top_qcd`` — the leading anti-kt R = 0.8 jet of pp → tt̄ (label 1) and QCD
  dijets (label 0), 550 < pT < 650 GeV — as the hardest ``n_constituents`` constituents
  (pT, Δη, Δφ) centred on the jet axis, with ``extra_slots`` free rows for collinear splits
  (:func:`jetviz.models.constituents.pad_constituents`).
* **Splits** (seeded, stratified by label): ``split`` 0 — contrastive training (labels
  unused), 1 — linear-classifier-test training, 2 — test.
* **Training.** :class:`jetviz.models.jetclr.JetCLREncoder`, NT-Xent on two views of each jet,
  each view augmented with ``augmentations`` (with none, the two views are the jet itself);
  Adam; a checkpoint after every epoch (resume after a kill; cancel between steps).
* **Evaluation.** The linear classifier test (logistic regression on the frozen
  representations: AUC, 1/ε_b at ε_s = 0.5) for the trained and for the untrained encoder
  (same initial weights); the invariance curve ⟨s(r(x), r(R(θ)x))⟩ over test jets against the
  rotation angle θ for both; alignment and uniformity of the representations of test jets
  under the run's augmentations.
* **Ablation.** :func:`ablation` trains one run per row of the seed's table (none,
  translations, rotations, soft+collinear, all) on the same jets as parallel jobs.

Run directory: ``config.json``, ``history.csv``, ``model.pt``, ``initial.pt`` (the untrained
weights), ``metrics.json``, ``arrays.npz``, ``checkpoint.pt`` while training.
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

from jetviz.data.io import atomic_write
from jetviz.errors import ConfigError, DataFileError, SchemaError
from jetviz.models.constituents import (
    ABLATION,
    AUGMENTATIONS,
    PT_CLIP_MIN,
    TRANSLATION_UNITS,
    VIEW_SCHEMES,
    make_views,
    pad_constituents,
    rotate,
)
from jetviz.models.jetclr import ENCODER_KINDS, JetCLREncoder, alignment, cosine_similarity, linear_classifier_test, nt_xent, uniformity
from jetviz.runners.base import (
    Cancelled,
    Progress,
    RunConfig,
    claim_run_dir,
    load_run_jets,
    load_torch,
    new_run_dir,
    pick_device,
    read_history,
    read_json,
    run_jobs,
    save_torch,
    write_history,
    write_json,
)

__all__ = [
    "JetclrConfig",
    "JetclrData",
    "JetclrResult",
    "JetclrRunner",
    "prepare",
    "train_jetclr",
    "representations",
    "invariance_curve",
    "ablation",
    "TALK",
]

SAMPLES = ("top_qcd", "toy_top_qcd")
#: the seed's ablation table (REFERENCE.md): row → (1/ε_b at ε_s = 0.5, AUC)
TALK: dict[str, tuple[float, float]] = {
    "none": (15, 0.905),
    "translations": (19, 0.916),
    "rotations": (21, 0.930),
    "soft+collinear": (89, 0.970),
    "all": (181, 0.980),
}


class JetclrConfig(RunConfig):
    """Settings of one jetclr run (every value bounded; JSON round trip via ``to_dict``/``from_dict``)."""

    sample = param.Selector(default="top_qcd", objects=list(SAMPLES), doc="top (label 1) vs QCD (label 0) jets")
    n_jets = param.Integer(default=12000, bounds=(40, 5_000_000), doc="jets in all, half top")
    jet_R = param.Number(default=0.8, bounds=(0.2, 2.0), doc="anti-kt radius R")
    pt_min = param.Number(default=550.0, bounds=(10.0, 5000.0), doc="jet pT above (GeV)")
    pt_max = param.Number(default=650.0, bounds=(20.0, 10000.0), doc="jet pT below (GeV)")
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


@dataclass
class JetclrData:
    """Padded constituents, labels and splits.

    Attributes:
        x: ``(N, P, 3)`` float32 (pT [GeV], Δη, Δφ) centred on the jet axis, hardest first.
        mask: ``(N, P)`` bool. labels: ``(N,)`` int64 (1 top, 0 QCD). pt, mass: ``(N,)`` GeV.
        split: ``(N,)`` int8: 0 contrastive training, 1 LCT training, 2 test.
    """

    x: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    pt: np.ndarray
    mass: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def prepare(events: ak.Array, config: JetclrConfig) -> JetclrData:
    """Constituent tensors, labels, jet pT and mass, and the seeded stratified split."""
    if "label" not in ak.fields(events) or "particles" not in ak.fields(events):
        raise SchemaError(f"jetclr needs jets with 'particles' and a per-jet 'label' (have {ak.fields(events)})")
    particles = events.particles
    x, mask = pad_constituents(particles, config.n_constituents, config.extra_slots)
    labels = ak.to_numpy(events.label).astype(np.int64)
    px, py = ak.to_numpy(ak.sum(particles.px, axis=1)), ak.to_numpy(ak.sum(particles.py, axis=1))
    pz, energy = ak.to_numpy(ak.sum(particles.pz, axis=1)), ak.to_numpy(ak.sum(particles.E, axis=1))
    pt = np.hypot(px, py)
    mass = np.sqrt(np.clip(energy**2 - pt**2 - pz**2, 0, None))
    train_share, lct_share = config.train_share, config.lct_share
    if train_share + lct_share >= 1:
        raise ConfigError(f"train_share + lct_share = {train_share + lct_share:g} leaves no test jets (must be < 1)")
    split = np.full(len(labels), 2, dtype=np.int8)
    rng = np.random.default_rng(config.seed)
    for label in (0, 1):
        index = rng.permutation(np.flatnonzero(labels == label))
        a = int(round(train_share * len(index)))
        b = a + int(round(lct_share * len(index)))
        split[index[:a]], split[index[a:b]] = 0, 1
    for part, name in ((1, "LCT training"), (2, "test")):
        if len(np.unique(labels[split == part])) < 2:
            raise ConfigError(f"the {name} split needs top and QCD jets: use more jets (n_jets = {len(labels)})")
    if (split == 0).sum() < 2:
        raise ConfigError("the contrastive training split needs ≥ 2 jets")
    return JetclrData(x, mask, labels, pt, mass, split)


def _encoder(config: JetclrConfig) -> JetCLREncoder:
    return JetCLREncoder(config.d_model, config.n_heads, config.n_layers, config.rep_dim, config.proj_dim, config.jet_R,
                         kind=config.encoder)


def _views(x: torch.Tensor, mask: torch.Tensor, config: JetclrConfig, generator: torch.Generator):
    return make_views(x, mask, config.augmentations, config.view_scheme, generator,
                      translation_width=config.translation_width, translation_unit=config.translation_unit,
                      split_probability=config.split_probability, lambda_soft=config.lambda_soft,
                      pt_clip_min=config.pt_clip_min)


def train_jetclr(x: np.ndarray, mask: np.ndarray, config: JetclrConfig, device: str = "cpu",
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                 checkpoint: Path | None = None, model: JetCLREncoder | None = None) -> tuple[JetCLREncoder, list[dict]]:
    """Contrastive training on jets ``x`` ``(N, P, 3)`` / ``mask`` ``(N, P)``; per-epoch checkpoint and resume.

    Returns the encoder (eval mode) and history rows (epoch, train_loss, alignment, uniformity
    (of the last batch's representations), seconds, jets_per_s).
    """
    emit = progress or (lambda event: None)
    torch.manual_seed(config.seed)
    model = (model if model is not None else _encoder(config)).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed + 1)  # batches and augmentations (CPU)
    history: list[dict] = []
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_torch(checkpoint)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"])
        history = [dict(zip(state["history_keys"], row)) for row in state["history"].tolist()]
        start = int(state["epoch"])
        emit({"kind": "stage", "stage": "resume", "epoch": start, "message": f"resumed after epoch {start}"})
    x_all, mask_all = torch.as_tensor(x), torch.as_tensor(mask)
    n_steps = max(1, len(x) // config.batch_size)  # full batches only: NT-Xent needs B ≥ 2
    if len(x) < 2:
        raise ConfigError(f"contrastive training needs ≥ 2 jets, got {len(x)}")
    for epoch in range(start, config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        started, total = time.perf_counter(), 0.0
        seen = 0
        for step in range(n_steps):
            if cancel is not None and cancel():
                raise Cancelled(f"jetclr training cancelled in epoch {epoch + 1}; checkpoint after epoch {epoch} kept")
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
            emit({"kind": "step", "epoch": epoch + 1, "step": step + 1, "n_steps": n_steps, "loss": float(loss.detach())})
        seconds = time.perf_counter() - started
        with torch.no_grad():
            row = {"epoch": epoch + 1, "train_loss": total / seen, "alignment": alignment(rep_a, rep_b),
                   "uniformity": uniformity(rep_a), "seconds": seconds, "jets_per_s": seen / seconds}
        history.append(row)
        if checkpoint is not None:
            keys = list(history[0])
            save_torch({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "epoch": epoch + 1,
                        "generator": generator.get_state(), "history_keys": keys,
                        "history": torch.tensor([[float(h[k]) for k in keys] for h in history], dtype=torch.float64)},
                       Path(checkpoint))
        emit({"kind": "epoch", **row, "epochs": config.epochs})
    return model.eval(), history


@torch.no_grad()
def representations(model: JetCLREncoder, x: np.ndarray, mask: np.ndarray, device: str = "cpu",
                    batch_size: int = 1024) -> np.ndarray:
    """Representations ``(N, rep_dim)`` (float64) of jets ``x`` ``(N, P, 3)`` / ``mask`` ``(N, P)``."""
    model.eval()
    out = [model.represent(torch.as_tensor(x[s:s + batch_size], device=device),
                           torch.as_tensor(mask[s:s + batch_size], device=device)).cpu().numpy()
           for s in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)


@torch.no_grad()
def invariance_curve(model: JetCLREncoder, x: np.ndarray, mask: np.ndarray, angles: np.ndarray,
                     device: str = "cpu") -> np.ndarray:
    """⟨s(r(x), r(R(θ)x))⟩ over the jets for each rotation angle θ (rad): ``(len(angles),)``."""
    model.eval()
    xt, mt = torch.as_tensor(x, device=device), torch.as_tensor(mask, device=device)
    reference = model.represent(xt, mt)
    out = []
    for angle in angles:
        turned, _ = rotate(xt, mt, angles=torch.full((len(xt),), float(angle)))
        out.append(float(cosine_similarity(reference, model.represent(turned, mt)).mean()))
    return np.array(out)


class JetclrResult:
    """A finished (or reopened) jetclr run.

    Attributes:
        config, run_dir, history (epoch rows), model (trained encoder, CPU, eval).
        metrics: ``auc``, ``rejection`` (1/ε_b at ε_s = 0.5), ``auc_untrained``,
            ``rejection_untrained``, ``alignment``, ``uniformity`` (test jets, the run's
            augmentations), ``row`` (the ablation row), ``n_train``/``n_lct``/``n_test``.
        arrays: ``labels``, ``split``, ``pt``, ``mass`` (every jet); ``test_index``,
            ``rep`` (test representations), ``scores``/``scores_untrained`` (LCT, test jets),
            ``angles``, ``invariance``/``invariance_untrained``.
    """

    def __init__(self, config: JetclrConfig, run_dir: Path, history: list[dict], metrics: dict,
                 arrays: dict[str, np.ndarray], model: JetCLREncoder):
        self.config, self.run_dir, self.history = config, Path(run_dir), history
        self.metrics, self.arrays, self.model = metrics, arrays, model
        self._data: JetclrData | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> "JetclrResult":
        """Reopen a finished run without retraining."""
        run_dir = Path(run_dir)
        config = JetclrConfig.from_dict(read_json(run_dir / "config.json"))
        metrics = read_json(run_dir / "metrics.json")
        try:
            with np.load(run_dir / "arrays.npz") as stored:
                arrays = {k: stored[k] for k in stored.files}
        except FileNotFoundError:
            raise DataFileError(run_dir / "arrays.npz", "missing from the run directory") from None
        model = _encoder(config)
        model.load_state_dict(load_torch(run_dir / "model.pt"))
        history = read_history(run_dir / "history.csv") if (run_dir / "history.csv").exists() else []
        return cls(config, run_dir, history, metrics, arrays, model.eval())

    def roc(self, trained: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
        """(false-positive rate (QCD), true-positive rate (top), AUC) of the linear classifier test."""
        from jetviz.models.metrics import roc_auc, roc_curve

        labels = self.arrays["labels"][self.arrays["test_index"]]
        scores = self.arrays["scores" if trained else "scores_untrained"]
        fpr, tpr, _ = roc_curve(labels, scores)
        return fpr, tpr, roc_auc(labels, scores)

    def load_data(self) -> JetclrData:
        """The run's jets (from the sample cache; generated again if it was removed)."""
        if self._data is None:
            self._data = JetclrRunner(self.config, self.run_dir).load_data()
        return self._data


class JetclrRunner:
    """Trains and evaluates one jetclr run.

    Arguments:
        config: the run's settings.
        run_dir: where to write (default: a new unique directory); an unfinished run with the
            same settings resumes from its last epoch.
        events: optional jets (with ``label``) instead of loading ``config.sample``.
        data: optional prepared jets (shared by the runs of an ablation).
    """

    name = "jetclr"

    def __init__(self, config: JetclrConfig, run_dir: str | Path | None = None, events: ak.Array | None = None,
                 data: JetclrData | None = None):
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else new_run_dir(self.name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._events, self._data = events, data

    def load_data(self, progress: Progress | None = None) -> JetclrData:
        """The run's jets (generated on first use, then from the sample cache)."""
        if self._data is None:
            self._data = load_run_jets(self.config, self._events, progress, prepare)
        return self._data

    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> JetclrResult:
        """Contrastive training, then the linear classifier test and the invariance curve (trained and untrained)."""
        emit = progress or (lambda event: None)
        config = self.config
        if config.threads:
            torch.set_num_threads(config.threads)
        claim_run_dir(self.run_dir, config)
        device = pick_device(config.device)
        data = self.load_data(emit)
        torch.manual_seed(config.seed)
        initial = _encoder(config)
        if not (self.run_dir / "initial.pt").exists():
            save_torch(initial.state_dict(), self.run_dir / "initial.pt")
        untrained = copy.deepcopy(initial).eval()
        emit({"kind": "stage", "stage": "train",
              "message": f"contrastive training, augmentations: {', '.join(config.augmentations) or 'none'}"})
        train = data.split == 0
        model, history = train_jetclr(data.x[train], data.mask[train], config, device, progress=emit, cancel=cancel,
                                      checkpoint=self.run_dir / "checkpoint.pt", model=initial)
        write_history(self.run_dir / "history.csv", history)
        emit({"kind": "stage", "stage": "evaluate", "message": "linear classifier test and invariance curve"})
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
        model = model.cpu()
        save_torch(model.state_dict(), self.run_dir / "model.pt")
        with atomic_write(self.run_dir / "arrays.npz", "wb") as handle:
            np.savez(handle, **arrays)
        write_json(self.run_dir / "metrics.json", metrics)
        (self.run_dir / "checkpoint.pt").unlink(missing_ok=True)
        emit({"kind": "done", "metrics": metrics})
        return JetclrResult(config, self.run_dir, history, metrics, arrays, model.eval())


_SUMMARY = ("row", "auc", "rejection", "auc_untrained", "rejection_untrained", "alignment", "uniformity",
            "invariance_min", "final_train_loss")


def _summary(result: JetclrResult) -> dict:
    return {"run_dir": str(result.run_dir), **{k: result.metrics[k] for k in _SUMMARY}}


def _ablation_job(config_values: dict, run_dir: str, data: JetclrData) -> dict:
    return _summary(JetclrRunner(JetclrConfig.from_dict(config_values), run_dir, data=data).fit())


def ablation(config: JetclrConfig, rows: Sequence[str] = tuple(ABLATION), workers: int = 2, client=None,
             root: str | Path | None = None, progress: Progress | None = None) -> list[dict]:
    """One run per ablation row (:data:`jetviz.models.constituents.ABLATION`) on the same jets, as parallel jobs.

    Arguments:
        config: base settings (its ``augmentations`` are replaced by each row's).
        rows: names of the rows to run.
        workers: local processes ("spawn"); ignored when ``client`` (dask) is given.
        root: directory of the ablation (default: a new run directory); one sub-directory per row;
            rows whose run finished there are reopened, not retrained.
    Returns:
        one summary row per ablation row (AUC, 1/ε_b, untrained AUC, alignment, uniformity, …),
        in the seed's table order; also written to ``<root>/ablation.json``.
    """
    unknown = [row for row in rows if row not in ABLATION]
    if unknown:
        raise ConfigError(f"unknown ablation row(s) {unknown}; choose from {list(ABLATION)}")
    emit = progress or (lambda event: None)
    root = Path(root) if root is not None else new_run_dir("jetclr-ablation")
    root.mkdir(parents=True, exist_ok=True)
    data = JetclrRunner(config, root / "shared").load_data(emit)
    threads = config.threads or max(1, (os.cpu_count() or 1) // max(1, min(workers, len(rows))))
    jobs = [(dict(config.to_dict(), augmentations=list(ABLATION[row]), threads=threads),
             str(root / row.replace("+", "_")), data) for row in rows]
    done = [_summary(JetclrResult.load(job[1])) for job in jobs if (Path(job[1]) / "metrics.json").exists()]
    todo = [job for job in jobs if not (Path(job[1]) / "metrics.json").exists()]
    results = done + run_jobs(_ablation_job, todo, workers, client, emit, describe=lambda row: f"{row['row']}")
    order = list(ABLATION)
    results.sort(key=lambda row: order.index(row["row"]))
    write_json(root / "ablation.json", results)
    return results
