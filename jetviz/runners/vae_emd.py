"""The ``vae_emd`` runner (seed 002): a β-VAE on QCD jet images vs the Energy Mover's Distance.

Design notes: docs/architecture.md, section ``jetviz.runners.vae_emd``.
"""
from __future__ import annotations

import math
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
from jetviz.data.pixelate import image_block, jet_images
from jetviz.errors import ConfigError, SchemaError
from jetviz.models.emd import emd_matrix, from_images, pixel_centres
from jetviz.models.metrics import pair_distances, pearson, roc_auc, roc_curve
from jetviz.models.vae import ConvVAE, SlicedW1, k_medoids, representations, vae_loss, vae_scores
from jetviz.runners.base import JetRunner, JetSample, JetSampleConfig, Progress, RunResult, parallel_map
from jetviz.runners.loop import TrainingLoop, stage_event
from jetviz.runners.rundir import RunDir

__all__ = ["BETAS", "P_VALUES", "VaeEmdConfig", "VaeEmdData", "VaeEmdResult", "VaeEmdRunner",
           "reconstruction_distance", "prepare", "emd_study", "train_vae", "beta_scan"]

#: the talk's β scan
BETAS = (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)
#: the W_p powers of the correlation study
P_VALUES = (0.5, 1.0)


class VaeEmdConfig(JetSampleConfig):
    """Settings of a vae_emd run (all bounded, so the UI gets validated widgets)."""

    jet_R = param.Number(default=1.0, doc="anti-kt radius R (also the EMD's R)")
    n_pix = param.Integer(default=40, bounds=(8, 128), doc="image side in pixels (divisible by 2**n_down)")
    image_width = param.Number(default=2.0, bounds=(0.2, 6.0), doc="image side in Δη and Δφ (radians)")
    train_fraction = param.Number(default=0.6, bounds=(0.1, 0.95), doc="share of the QCD jets for training")
    n_down = param.Integer(default=3, bounds=(1, 4), doc="downsampling blocks of the VAE")
    latent = param.Integer(default=64, bounds=(1, 1024), doc="latent dimensions")
    channels = param.Integer(default=16, bounds=(1, 256), doc="channels of the first block")
    beta = param.Number(default=1e-7, bounds=(0.0, 1.0), doc="β of (1 − β)·D + β·KLD")
    loss = param.Selector(default="mse", objects=["mse", "sliced_w1"],
                          doc="reconstruction term D: pixel MSE (the talk) or the sliced W_1 (EMD-trained variant)")
    epochs = param.Integer(default=20, bounds=(1, 10_000), doc="epochs (the most, with early stopping)")
    patience = param.Integer(default=0, bounds=(0, 10_000),
                             doc="early stopping: stop after this many epochs without a lower validation loss (0 = off)")
    batch_size = param.Integer(default=64, bounds=(2, 4096))
    learning_rate = param.Number(default=3e-3, bounds=(1e-6, 1.0))
    n_corr = param.Integer(default=120, bounds=(4, 5000), doc="QCD test jets whose pairs enter the correlations")
    n_pool = param.Integer(default=150, bounds=(4, 5000), doc="QCD training jets for the k-medoids")
    n_medoids = param.Integer(default=10, bounds=(1, 500), doc="k of the k-medoids")
    n_anomaly = param.Integer(default=600, bounds=(4, 1_000_000), doc="test jets scored by EMD (half top)")
    emd_jobs = param.Integer(default=2, bounds=(1, 256), doc="threads for the EMD matrices")
    threads = param.Integer(default=0, bounds=(0, 1024), doc="torch CPU threads (0 = library default)")


@dataclass(kw_only=True)
class VaeEmdData(JetSample):
    """Jet images and labels (``labels``, ``pt``, ``mass`` as :class:`~jetviz.runners.base.JetSample`).

    Attributes
    ----------
    images : (N, 1, n_pix, n_pix) float32 np.ndarray
        Unit-sum pT images (Δη rows, Δφ columns).
    split : (N,) int8 np.ndarray
        0 QCD training, 1 test (QCD or top).
    """

    images: np.ndarray


def _images(pt, eta, phi, config: VaeEmdConfig) -> np.ndarray:
    return jet_images(pt, eta, phi, n_pix=config.n_pix, width=config.image_width, rotate=True, flip=True,
                      normalize=True).astype(np.float32)


def events_arrays(events: ak.Array, config: VaeEmdConfig) -> dict[str, np.ndarray]:
    """Jet images (rotated, flipped, unit sum), labels, pT and mass of jets (schema events)."""
    labels, pt, mass = jet_labels_and_kinematics(events, "vae_emd")
    particles = events.particles
    counts = ak.to_numpy(ak.num(particles, axis=1))
    if (counts == 0).any():
        raise SchemaError(f"{int((counts == 0).sum())} jet(s) have no constituents, e.g. jet {int(np.flatnonzero(counts == 0)[0])}")
    return {"images": _images(particles.pt, particles.eta, particles.phi, config), "label": labels, "pt": pt,
            "mass": mass}


def from_arrays(arrays: dict, config: VaeEmdConfig) -> VaeEmdData:
    """:class:`VaeEmdData` of prepared jets (``images``, ``label``, ``pt``, ``mass``) and the QCD train/test split."""
    images, labels = arrays["images"], np.asarray(arrays["label"], np.int64)
    if not np.isfinite(images).all():
        raise SchemaError("jet images hold NaN/inf: check the constituents' pT, η, φ")
    empty = images.reshape(len(images), -1).sum(1) <= 0
    if empty.any():
        raise SchemaError(f"{int(empty.sum())} jet image(s) are empty (no constituent inside {config.image_width} rad), "
                          f"e.g. jet {int(np.flatnonzero(empty)[0])}; widen image_width")
    split = np.ones(len(labels), dtype=np.int8)
    qcd = np.flatnonzero(labels == 0)
    rng = np.random.default_rng(config.seed)
    n_train = int(round(config.train_fraction * len(qcd)))
    split[rng.permutation(qcd)[:n_train]] = 0
    if n_train < 2 or (labels == 1).sum() == 0 or len(qcd) - n_train < 2:
        raise ConfigError(f"vae_emd needs ≥ 2 QCD training, ≥ 2 QCD test and ≥ 1 top jets; have {n_train}, "
                          f"{len(qcd) - n_train}, {int((labels == 1).sum())}")
    return VaeEmdData(labels, np.asarray(arrays["pt"]), np.asarray(arrays["mass"]), split, images=images)


def prepare(events: ak.Array, config: VaeEmdConfig) -> VaeEmdData:
    """Jet images (rotated, flipped, unit sum), labels, pT, mass and the QCD train/test split."""
    return from_arrays(events_arrays(events, config), config)


# ----------------------------------------------------------------------------- EMD part
def _point_sets(images: np.ndarray, config: VaeEmdConfig):
    half = config.image_width / 2
    centres = pixel_centres(config.n_pix, -half, half)
    return from_images(images, centres, centres)


def emd_study(data: VaeEmdData, config: VaeEmdConfig, progress: Progress | None = None,
              client=None, span: tuple[float, float] = (0.1, 0.3)) -> dict[str, np.ndarray]:
    """The β-independent EMD part: pair W_p matrices, k-medoids and the EMD anomaly scores.

    Returns a dict of arrays: ``corr_index`` (n_corr,) jets of the correlation set,
    ``w_p0.5``/``w_p1`` (n_corr(n_corr−1)/2,) pair distances, ``pool_index``, ``medoids``
    (indices into the sample), ``anomaly_index`` (test jets scored), ``score_emd_mean``,
    ``score_emd_medoids`` (W_1 to the mean QCD training image / to the nearest medoid).
    ``span``: the part (start, width) of the run's progress that each of its matrices fills.
    """
    emit = progress or (lambda event: None)
    rng = np.random.default_rng(config.seed + 1)
    qcd_test = np.flatnonzero((data.split == 1) & (data.labels == 0))
    qcd_train = np.flatnonzero(data.split == 0)
    top = np.flatnonzero(data.labels == 1)
    corr_index = np.sort(rng.choice(qcd_test, min(config.n_corr, len(qcd_test)), replace=False))
    pool_index = np.sort(rng.choice(qcd_train, min(config.n_pool, len(qcd_train)), replace=False))
    half = config.n_anomaly // 2
    anomaly_index = np.sort(np.r_[rng.choice(qcd_test, min(half, len(qcd_test)), replace=False),
                                  rng.choice(top, min(config.n_anomaly - half, len(top)), replace=False)])
    options = dict(R=config.jet_R, norm=True, periodic_phi=False, n_jobs=config.emd_jobs, client=client)
    out: dict[str, np.ndarray] = {"corr_index": corr_index, "pool_index": pool_index, "anomaly_index": anomaly_index}

    def stage(name: str):
        def report(done: int, total: int) -> None:
            emit(stage_event("emd", f"EMD {name}: {done}/{total} pairs", span[0] + span[1] * done / max(total, 1),
                             done=done, total=total))
        return report

    corr_sets = _point_sets(data.images[corr_index], config)
    iu = np.triu_indices(len(corr_index), 1)
    for p in P_VALUES:
        out[f"w_p{p:g}"] = emd_matrix(corr_sets, p=p, progress=stage(f"W_{p:g} of QCD pairs"), **options)[iu]
    pool = emd_matrix(_point_sets(data.images[pool_index], config), p=1.0, progress=stage("W_1 of the k-medoid pool"), **options)
    medoid_rows, _ = k_medoids(pool, min(config.n_medoids, len(pool_index)), seed=config.seed)
    out["medoids"] = pool_index[medoid_rows]
    anomaly_sets = _point_sets(data.images[anomaly_index], config)
    mean_image = data.images[qcd_train].mean(axis=0)
    mean_image = np.where(mean_image > 1e-4 * mean_image.max(), mean_image, 0.0)  # drop the far tails
    out["mean_image"] = (mean_image / mean_image.sum()).astype(np.float32)
    out["score_emd_mean"] = emd_matrix(anomaly_sets, _point_sets(out["mean_image"][None], config), p=1.0,
                                       progress=stage("W_1 to the mean QCD image"), **options)[:, 0]
    out["score_emd_medoids"] = emd_matrix(anomaly_sets, _point_sets(data.images[out["medoids"]], config), p=1.0,
                                          progress=stage("W_1 to the k-medoids"), **options).min(axis=1)
    return out


# ----------------------------------------------------------------------------- VAE part
def train_vae(images: np.ndarray, config: VaeEmdConfig, device: str = "cpu", beta: float | None = None,
              progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
              checkpoint: Path | None = None, validation: np.ndarray | None = None,
              span: tuple[float, float] = (0.0, 1.0)) -> tuple[ConvVAE, list[dict]]:
    """Train a :class:`ConvVAE` on ``(N, 1, n_pix, n_pix)`` images in the :class:`TrainingLoop`.

    Returns the model (eval mode) and history rows (epoch, train_loss, train_reco (the MSE or
    sliced W_1 term), train_kld, val_loss, seconds, jets_per_s). ``checkpoint``: resumed from
    when it exists, written after every epoch; ``span``: the part of the run's progress it fills.

    Early stopping (``config.patience`` > 0, with ``validation``): the training ends after the
    first epoch that is ``patience`` epochs past the lowest validation loss so far (the model is
    that epoch's; the checkpoint records the stop, so a resumed run stops there too).
    """
    beta = config.beta if beta is None else float(beta)
    torch.manual_seed(config.seed)
    model = ConvVAE(config.n_pix, config.n_down, config.latent, config.channels).to(device)
    distance = reconstruction_distance(config, device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    loop = TrainingLoop({"model": model, "optimiser": optimiser, "generator": generator}, config.epochs, checkpoint,
                        progress, cancel, span, what="vae_emd training")
    x_all = torch.as_tensor(images)
    n_steps = math.ceil(len(images) / config.batch_size)

    def epoch(number: int) -> dict:
        model.train()
        order = torch.randperm(len(images), generator=generator)
        started, totals = time.perf_counter(), np.zeros(3)
        for step in loop.steps(n_steps):
            rows = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = x_all[rows].to(device)
            reconstruction, mu, logvar = model(x)
            loss, reco, kld = vae_loss(reconstruction, x, mu, logvar, beta, distance)
            optimiser.zero_grad(set_to_none=True)
            loss.mean().backward()
            optimiser.step()
            batch = torch.stack([loss.detach().sum(), reco.detach().sum(), kld.detach().sum()]).cpu().numpy()
            totals += batch
            loop.report(loss=float(batch[0] / len(rows)))
        seconds = time.perf_counter() - started
        row = {"train_loss": totals[0] / len(images), "train_reco": totals[1] / len(images),
               "train_kld": totals[2] / len(images), "seconds": seconds, "jets_per_s": len(images) / seconds}
        if validation is not None:
            row["val_loss"] = float(vae_scores(model, validation, beta, device, distance=distance).mean())
            if config.patience:
                losses = [h["val_loss"] for h in loop.history] + [row["val_loss"]]
                best = int(np.argmin(losses))  # the first epoch of the lowest loss
                if len(losses) - 1 - best >= config.patience:
                    loop.stop(f"validation loss {losses[best]:.4g} of epoch {best + 1} not bettered in "
                              f"{config.patience} epochs")
        return row

    history = loop.run(epoch)
    return model.eval(), history


def reconstruction_distance(config: VaeEmdConfig, device: str = "cpu") -> SlicedW1 | None:
    """The reconstruction term of ``config.loss``: None (pixel MSE) or a :class:`SlicedW1` on the image grid."""
    if config.loss == "sliced_w1":
        return SlicedW1(config.n_pix, config.image_width, config.jet_R).to(device)
    return None


def correlations(model: ConvVAE, data: VaeEmdData, emd: dict, device: str = "cpu") -> dict:
    """Pearson r of every distance (input MSE, each block, latent) with W_p for each p."""
    images = data.images[emd["corr_index"]]
    layers, mu, _ = representations(model, images, device)
    distances = {"input": pair_distances(images) ** 2}
    for k, layer in enumerate(layers):
        distances[f"block{k + 1}"] = pair_distances(layer)
    distances["latent"] = pair_distances(mu)
    return {name: {f"p{p:g}": pearson(d, emd[f"w_p{p:g}"]) for p in P_VALUES} for name, d in distances.items()}


# ----------------------------------------------------------------------------- result
class VaeEmdResult(RunResult):
    """A finished (or reopened) vae_emd run: config, run_dir, history (epoch rows) and ``model`` (the trained
    VAE, CPU, eval) as :class:`~jetviz.runners.base.RunResult`, and

    Attributes
    ----------
    metrics : dict
        ``correlations`` {distance: {"p0.5": r, "p1": r}}, ``auc`` {score: AUC},
        ``n_train``, ``n_test``, ``n_pairs``.
    arrays : dict of ndarray
        ``labels``, ``split``, ``pt``, ``mass``, ``score_vae`` (every jet), the EMD
        arrays of :func:`emd_study`, ``latent`` (μ of the test jets, ``test_index``).
    """

    runner_name = "vae_emd"
    required_arrays = ("labels", "split", "pt", "mass", "score_vae", "latent", "test_index", "corr_index", "w_p0.5",
                       "w_p1", "anomaly_index", "score_emd_mean", "score_emd_medoids")
    required_metrics = ("correlations", "auc")

    @classmethod
    def build_model(cls, config: VaeEmdConfig, metrics: dict) -> ConvVAE:
        return ConvVAE(config.n_pix, config.n_down, config.latent, config.channels)

    def anomaly_scores(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{score name: (labels, scores)} of the three anomaly scores on their test jets."""
        a = self.arrays
        test = a["split"] == 1
        return {
            "vae_loss": (a["labels"][test], a["score_vae"][test]),
            "emd_mean_qcd": (a["labels"][a["anomaly_index"]], a["score_emd_mean"]),
            "emd_medoids": (a["labels"][a["anomaly_index"]], a["score_emd_medoids"]),
        }

    def roc(self, score: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(false-positive rate (QCD), true-positive rate (top), AUC) of one anomaly score."""
        labels, scores = self.anomaly_scores()[score]
        fpr, tpr, _ = roc_curve(labels, scores)
        return fpr, tpr, roc_auc(labels, scores)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) sample indices of the correlation pairs, aligned with ``arrays['w_p1']``."""
        index = self.arrays["corr_index"]
        iu = np.triu_indices(len(index), 1)
        return index[iu[0]], index[iu[1]]


# ----------------------------------------------------------------------------- runner
class VaeEmdRunner(JetRunner):
    """Trains and evaluates one vae_emd run (see :class:`~jetviz.runners.base.Runner` for the arguments).

    An unfinished run resumes: the EMD part is kept in ``emd.npz``, the VAE checkpoints per
    epoch. ``client``: an optional ``dask.distributed.Client`` for the EMD matrices; ``emd``: an
    EMD study already made for these jets (shared by the runs of a β scan).
    """

    name = "vae_emd"

    def __init__(self, config: VaeEmdConfig, run_dir: str | Path | None = None, events: ak.Array | None = None,
                 client=None, emd: dict | None = None, data: VaeEmdData | None = None):
        super().__init__(config, run_dir, events, data)
        self._client, self._emd = client, emd

    events_arrays = staticmethod(events_arrays)
    block_features = staticmethod(image_block)
    preparation_params = staticmethod(lambda config: {"n_pix": config.n_pix, "image_width": config.image_width})
    from_arrays = staticmethod(from_arrays)

    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> VaeEmdResult:
        """EMD study (cached in the run directory), VAE training, correlations and anomaly AUCs."""
        emit, device, data = self.begin(progress)
        config = self.config
        emd = self._emd if self._emd is not None else self.emd_part(data, emit)
        emit(stage_event("train", f"training the VAE (β = {config.beta:g})", 0.4))
        train = data.images[data.split == 0]
        rng = np.random.default_rng(config.seed + 2)
        qcd_test = np.flatnonzero((data.split == 1) & (data.labels == 0))
        validation = data.images[rng.choice(qcd_test, min(256, len(qcd_test)), replace=False)]
        model, history = train_vae(train, config, device, progress=emit, cancel=cancel,
                                   checkpoint=self.run.file(self.run.CHECKPOINT), validation=validation,
                                   span=(0.4, 0.55))
        emit(stage_event("evaluate", "correlations and anomaly scores", 0.95))
        score_vae = vae_scores(model, data.images, config.beta, device, distance=reconstruction_distance(config, device))
        test = data.split == 1
        _, latent, _ = representations(model, data.images[test], device)
        arrays = {"labels": data.labels, "split": data.split, "pt": data.pt, "mass": data.mass, "score_vae": score_vae,
                  "latent": latent, "test_index": np.flatnonzero(test), **emd}
        metrics = {
            "beta": config.beta, "loss": config.loss, "n_train": int((~test).sum()), "n_test": int(test.sum()),
            "n_pairs": int(len(emd["w_p1"])), "device": device,
            "correlations": correlations(model, data, emd, device),
            "auc": {
                "vae_loss": roc_auc(data.labels[test], score_vae[test]),
                "emd_mean_qcd": roc_auc(data.labels[emd["anomaly_index"]], emd["score_emd_mean"]),
                "emd_medoids": roc_auc(data.labels[emd["anomaly_index"]], emd["score_emd_medoids"]),
            },
            "final_train_loss": history[-1]["train_loss"] if history else float("nan"),
            "epochs_trained": len(history),
        }
        model = model.cpu().eval()
        self.finish(emit, metrics, arrays, states={"model": model}, history=history)
        return VaeEmdResult(config, self.run_dir, history, metrics, arrays, model)

    def emd_part(self, data: VaeEmdData, emit: Progress) -> dict:
        """The run's EMD study (:func:`emd_study`), kept in ``emd.npz`` of the run directory."""
        if self.run.exists("emd.npz"):
            return self.run.read_arrays("emd")
        emd = emd_study(data, self.config, emit, self._client)
        self.run.write_arrays("emd", emd)
        return emd


def _scan_job(config_values: dict, run_dir: str, data: VaeEmdData, emd: dict) -> dict:
    config = VaeEmdConfig.from_dict(config_values)
    result = VaeEmdRunner(config, run_dir, data=data, emd=emd).fit()
    return {"beta": config.beta, "run_dir": run_dir, **{f"auc_{k}": v for k, v in result.metrics["auc"].items()},
            **{f"r_{name}_{p}": r for name, rs in result.metrics["correlations"].items() for p, r in rs.items()},
            "final_train_loss": result.metrics["final_train_loss"]}


def beta_scan(config: VaeEmdConfig, betas: Sequence[float] = BETAS, workers: int = 2, client=None,
              root: str | Path | None = None, progress: Progress | None = None) -> list[dict]:
    """One VAE per β, trained as parallel jobs on the same jets and the same EMD study.

    ``config``'s ``beta`` is replaced by each of ``betas``; ``workers`` local processes ("spawn"),
    or the dask ``client``; ``root``: the scan's directory (default: a new run directory), one
    sub-directory per β.

    Returns
    -------
    list[dict]
        One summary row per β (AUCs, correlations, final loss, run directory), in β order.
    """
    emit = progress or (lambda event: None)
    root = Path(root) if root is not None else RunDir.new("vae_emd-scan").path
    root.mkdir(parents=True, exist_ok=True)
    base = VaeEmdRunner(config, root / "shared", client=client)
    data = base.load_data(emit)
    emd = base.emd_part(data, emit)
    threads = config.threads or max(1, (os.cpu_count() or 1) // max(1, workers))  # no oversubscription
    jobs = [(dict(config.to_dict(), beta=float(b), threads=threads), str(root / f"beta-{b:g}"), data, emd) for b in betas]
    rows = parallel_map(_scan_job, jobs, workers, client, emit, describe=lambda row: f"β = {row['beta']:g}")
    rows.sort(key=lambda row: row["beta"])
    RunDir(root).write_json("scan.json", rows)
    return rows
