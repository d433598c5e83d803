"""The ``colorize`` runner (seed 000): U-Net jet colorization of e+e- events, optionally with a CRF.

config (:class:`ColorizeConfig`) → :meth:`ColorizeRunner.fit` (progress) →
:class:`ColorizeResult` (history, metrics, model; saved in a run directory and reopened with
:meth:`ColorizeResult.load` without retraining).

Data: the first ``n_test`` events of the sample are the test set, the next ``n_train`` the
training set, so runs with different training sizes share one test set. Inputs are 64×64 η–φ
maps of the visible particles (|η| < ``eta_max``), energy divided by √s; optional extra
channels. Truth: each particle's Durham exclusive K-jet label. Particles outside the map
(|η| ≥ ``eta_max``) get no prediction; they are left out of the loss and the accuracy and
count as unassigned in the masses.

With ``crf=True`` a mean-field CRF (ω, α learnable) runs on the particles after the U-Net and
the two are trained end to end on the CRF's output; the U-Net-only loss is reported as well.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import awkward as ak
import numpy as np
import param
import torch

from jetviz.data.pixelate import energy_map, pixel_index
from jetviz.data.pythia import jet_labels
from jetviz.data.recipes import get_recipe
from jetviz.data.resonances import sigma68, ttbar_six_jet_masses
from jetviz.data.samples import load_sample
from jetviz.data.schema import flat_particles
from jetviz.errors import ConfigError, JetvizError
from jetviz.models.colorize import assignment_accuracy, colorize_loss, particle_log_probs
from jetviz.models.crf import MeanFieldCRF
from jetviz.models.unet import UNet
from jetviz.runners.base import (
    Cancelled,
    Progress,
    RunConfig,
    load_torch,
    new_run_dir,
    pick_device,
    read_history,
    read_json,
    save_torch,
    write_history,
    write_json,
)

__all__ = [
    "CHANNELS",
    "ColorizeConfig",
    "ColorizeData",
    "ColorizeModel",
    "ColorizeResult",
    "ColorizeRunner",
    "prepare",
    "Prediction",
]

#: input channels: energy map, charged-particle energy, photon energy, E-weighted |d0|, |z0|
CHANNELS = ("energy", "charged", "photon", "d0", "z0")
SAMPLES = ("ee_6jet", "ee_zh_4jet", "toy_ee_6jet", "toy_ee_zh_4jet")
#: truth choices → the per-particle field each reads
TRUTHS = {"durham": "jet", "parton": "parton"}


class ColorizeConfig(RunConfig):
    """Settings of a colorize run (all bounded, so the UI gets validated widgets)."""

    sample = param.Selector(default="ee_6jet", objects=list(SAMPLES), doc="e+e- sample with Durham truth")
    n_train = param.Integer(default=900, bounds=(8, 2_000_000), doc="training events")
    n_test = param.Integer(default=300, bounds=(8, 500_000), doc="test events (the sample's first ones)")
    n_eta = param.Integer(default=64, bounds=(16, 256), doc="map size in η")
    n_phi = param.Integer(default=64, bounds=(16, 256), doc="map size in φ")
    eta_max = param.Number(default=3.0, bounds=(0.5, 6.0), doc="map covers |η| < eta_max")
    channels = param.ListSelector(default=["energy"], objects=list(CHANNELS), doc="input maps")
    base_channels = param.Integer(default=16, bounds=(2, 256), doc="U-Net width of the first level")
    depth = param.Integer(default=3, bounds=(1, 5), doc="U-Net down-samplings")
    circular_phi = param.Boolean(default=True, doc="circular padding in φ in every convolution")
    truth = param.Selector(default="durham", objects=list(TRUTHS),
                           doc="training truth: durham (exclusive-K clustering, the talk's) or parton "
                               "(the hard decay parton from the event history)")
    matching = param.Selector(default="hungarian", objects=["hungarian", "energy"], doc="colour ↔ truth-jet matching in the loss")
    crf = param.Boolean(default=False, doc="train a mean-field CRF end to end after the U-Net")
    crf_iterations = param.Integer(default=5, bounds=(0, 50), doc="mean-field iterations")
    crf_omega = param.Number(default=0.01, bounds=(1e-6, 100.0), doc="initial pairwise weight ω")
    crf_alpha = param.Number(default=1e6, bounds=(1e-3, 1e9), doc="initial kernel sharpness α")
    epochs = param.Integer(default=10, bounds=(1, 10_000))
    batch_size = param.Integer(default=32, bounds=(1, 4096))
    learning_rate = param.Number(default=3e-3, bounds=(1e-7, 1.0))
    max_particles = param.Integer(default=256, bounds=(8, 4096), doc="particles kept per event (highest E first)")


@dataclass
class ColorizeData:
    """Model inputs for N events.

    Attributes:
        images: ``(N, C, n_eta, n_phi)`` float32 input maps.
        pixel: ``(N, P)`` int64 flat pixel of each particle (−1 outside the map / padding).
        energy: ``(N, P)`` float32 GeV. truth: ``(N, P)`` int64 colour of the configured truth
        (−1: none). durham: ``(N, P)`` int64 Durham colour (the same as truth when truth = durham).
        direction: ``(N, P, 3)`` float32 unit vectors. mask: ``(N, P)`` bool (in the map).
        p4: ``(N, P, 4)`` float64 (px, py, pz, E) of every visible particle kept.
        visible: ``(N, P)`` bool (a visible particle, in or outside the map).
        antikt: ``(N, P)`` int64 colour from plain e+e- anti-kt (K most energetic jets).
        eta, phi: ``(N, P)`` float32 (radians) for plots.
    """

    images: np.ndarray
    pixel: np.ndarray
    energy: np.ndarray
    truth: np.ndarray
    durham: np.ndarray
    direction: np.ndarray
    mask: np.ndarray
    p4: np.ndarray
    visible: np.ndarray
    antikt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index) -> "ColorizeData":
        return ColorizeData(**{k: v[index] for k, v in self.__dict__.items()})

    def tensors(self, index, device: str) -> dict[str, torch.Tensor]:
        names = ("images", "pixel", "energy", "truth", "direction", "mask")
        return {k: torch.as_tensor(getattr(self, k)[index], device=device) for k in names}


def _padded(values: np.ndarray, counts: np.ndarray, width: int, fill) -> np.ndarray:
    out = np.full((len(counts), width) + values.shape[1:], fill, dtype=values.dtype)
    event = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(event)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = slot < width
    out[event[keep], slot[keep]] = values[keep]
    return out


def prepare(events: ak.Array, config: ColorizeConfig) -> ColorizeData:
    """Turn schema events with Durham truth into :class:`ColorizeData`.

    The visible particles of each event are ordered by decreasing energy and cut at
    ``config.max_particles``.
    """
    from jetviz.data.detector import is_invisible

    if "jets" not in ak.fields(events):
        raise ConfigError("colorize needs events with truth jets (an e+e- sample with Durham labels)")
    n_jets = int(ak.max(ak.num(events.jets, axis=1)))
    counts = ak.num(events.particles, axis=1).to_numpy()
    truth_field = TRUTHS[config.truth]
    if truth_field not in ak.fields(events.particles):
        raise ConfigError(f"truth = {config.truth!r} needs particles with a {truth_field!r} field; "
                          f"this sample has {ak.fields(events.particles)}")
    flat = flat_particles(events, ("px", "py", "pz", "E", "eta", "phi", "pid", "jet", "charge")
                          + ((truth_field,) if truth_field != "jet" else ())
                          + (("d0", "z0") if "d0" in ak.fields(events.particles) else ()))
    antikt, _, _ = jet_labels(flat, counts, n_jets, "antikt", radius=0.7)
    visible = ~is_invisible(flat["pid"])
    event = np.repeat(np.arange(len(counts)), counts)
    # keep visible particles, highest energy first, at most max_particles per event
    order = np.lexsort((-flat["E"], event))
    order = order[visible[order]]
    kept_counts = np.bincount(event[order], minlength=len(counts))
    take = lambda name: flat[name][order]  # noqa: E731
    width = int(min(config.max_particles, kept_counts.max()))
    eta_range = (-config.eta_max, config.eta_max)
    i_eta, i_phi = pixel_index(take("eta"), take("phi"), config.n_eta, config.n_phi, eta_range)
    pixel = np.where(i_eta >= 0, i_eta * config.n_phi + i_phi, -1)
    p3 = np.stack([take("px"), take("py"), take("pz")], -1)
    direction = p3 / np.maximum(np.linalg.norm(p3, axis=1, keepdims=True), 1e-12)
    padded = lambda values, fill: _padded(values, kept_counts, width, fill)  # noqa: E731
    pixel_p = padded(pixel, -1)
    sqrt_s = float(np.max(ak.to_numpy(ak.sum(events.particles.E, axis=1))))
    images = _input_maps(events, config, sqrt_s)
    return ColorizeData(
        images=images,
        pixel=pixel_p,
        energy=padded(take("E").astype(np.float32), 0.0),
        truth=padded(take(truth_field), -1),
        durham=padded(take("jet"), -1),
        direction=padded(direction.astype(np.float32), 0.0),
        mask=pixel_p >= 0,
        p4=padded(np.stack([take("px"), take("py"), take("pz"), take("E")], -1), 0.0),
        visible=padded(np.ones(len(order), bool), False),
        antikt=padded(antikt[order], -1),
        eta=padded(take("eta").astype(np.float32), 0.0),
        phi=padded(take("phi").astype(np.float32), 0.0),
    )


def _input_maps(events: ak.Array, config: ColorizeConfig, sqrt_s: float) -> np.ndarray:
    """``(N, C, n_eta, n_phi)`` float32 maps for the configured channels, scaled to O(1)."""
    grid = dict(n_eta=config.n_eta, n_phi=config.n_phi, eta_max=config.eta_max)
    particles = events.particles
    maps = []
    for channel in config.channels:
        if channel == "energy":
            maps.append(energy_map(events, **grid) / sqrt_s)
        elif channel == "charged":
            maps.append(_weighted_map(events, particles.E * (particles.charge != 0), grid) / sqrt_s)
        elif channel == "photon":
            maps.append(_weighted_map(events, particles.E * (particles.pid == 22), grid) / sqrt_s)
        elif channel in ("d0", "z0"):
            if channel not in ak.fields(particles):
                raise ConfigError(f"channel {channel!r} needs particles with {channel} (this sample has none)")
            value = ak.fill_none(ak.nan_to_none(np.abs(particles[channel])), 0.0)
            maps.append(_weighted_map(events, particles.E * np.minimum(value, 10.0), grid) / sqrt_s)
        else:
            raise ConfigError(f"unknown channel {channel!r}; choose from {CHANNELS}")
    return np.concatenate(maps, axis=1).astype(np.float32)


def _weighted_map(events: ak.Array, weights: ak.Array, grid: dict) -> np.ndarray:
    from jetviz.data.pixelate import pixelate

    particles = events.particles
    image = pixelate(particles.eta, particles.phi, weights, n_eta=grid["n_eta"], n_phi=grid["n_phi"],
                     eta_range=(-grid["eta_max"], grid["eta_max"]))
    return image[:, None]


class ColorizeModel(torch.nn.Module):
    """U-Net (+ optional CRF) mapping input maps and particles to per-particle log colour probabilities."""

    def __init__(self, config: ColorizeConfig, n_colours: int):
        super().__init__()
        self.n_colours = n_colours
        self.unet = UNet(len(config.channels), n_colours, config.base_channels, config.depth, config.circular_phi)
        self.crf = MeanFieldCRF(config.crf_omega, config.crf_alpha, config.crf_iterations, trainable=config.crf)
        self.use_crf = config.crf

    def forward(self, batch: dict[str, torch.Tensor], crf: bool | None = None, keep_all: bool = False):
        """Per-particle log probabilities ``(B, P, K)`` (a list per CRF iteration if ``keep_all``)."""
        logits = self.unet(batch["images"])
        log_probs = particle_log_probs(logits, batch["pixel"])
        if self.use_crf if crf is None else crf:
            return self.crf(log_probs, batch["energy"], batch["direction"], batch["mask"], keep_all=keep_all)
        return [log_probs] if keep_all else log_probs


@dataclass
class Prediction:
    """Predictions for a few events, for display.

    Attributes:
        pixel_probs: ``(N, K, n_eta, n_phi)`` U-Net colour probabilities per pixel.
        iterations: ``(N, T+1, P, K)`` per-particle marginals, index 0 = U-Net, t = CRF step t.
        data: the events' :class:`ColorizeData`.
    """

    pixel_probs: np.ndarray
    iterations: np.ndarray
    data: ColorizeData


@dataclass
class ColorizeResult:
    """A finished (or reopened) colorize run."""

    config: ColorizeConfig
    run_dir: Path
    history: list[dict]
    metrics: dict
    model: ColorizeModel
    n_colours: int

    @classmethod
    def load(cls, run_dir: str | Path) -> "ColorizeResult":
        """Reopen a run directory without retraining."""
        run_dir = Path(run_dir)
        config = ColorizeConfig.from_dict(read_json(run_dir / "config.json"))
        metrics = read_json(run_dir / "metrics.json")
        n_colours = int(metrics["n_colours"])
        model = ColorizeModel(config, n_colours)
        model.load_state_dict(load_torch(run_dir / "model.pt"))
        model.eval()
        return cls(config, run_dir, read_history(run_dir / "history.csv"), metrics, model, n_colours)

    def predict(self, data: ColorizeData, crf_iterations: int | None = None) -> Prediction:
        """U-Net maps and every CRF iteration for the given events (CPU, no gradients).

        A run trained without CRF still gets CRF iterations as post-processing with its
        configured (untrained) ω and α, so the page's CRF slider always works.
        """
        self.model.eval()
        iterations = self.config.crf_iterations if crf_iterations is None else crf_iterations
        with torch.no_grad():
            batch = data.tensors(slice(None), "cpu")
            logits = self.model.unet.cpu()(batch["images"])
            log_probs = particle_log_probs(logits, batch["pixel"])
            history = self.model.crf.cpu()(log_probs, batch["energy"], batch["direction"], batch["mask"],
                                           n_iterations=iterations, keep_all=True)
        return Prediction(
            pixel_probs=torch.softmax(logits, dim=1).numpy(),
            iterations=torch.stack(history, dim=1).exp().numpy(),
            data=data,
        )


class ColorizeRunner:
    """Trains and evaluates one colorize run.

    Arguments:
        config: the run's settings.
        run_dir: where to write; default a new unique directory under
            :func:`jetviz.runners.base.runs_dir`. Given an existing run directory with a
            checkpoint, :meth:`fit` resumes from it.
        events: optional events to use instead of loading ``config.sample``.
    """

    name = "colorize"

    def __init__(self, config: ColorizeConfig, run_dir: str | Path | None = None, events: ak.Array | None = None):
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else new_run_dir(self.name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._events = events

    # ------------------------------------------------------------------ data
    def load_data(self, progress: Progress | None = None) -> tuple[ColorizeData, ColorizeData, int]:
        """(train, test, K): the sample's first ``n_test`` events test, the next ``n_train`` train."""
        config = self.config
        n_total = config.n_train + config.n_test
        if self._events is None:
            def sample_progress(done: int, total: int) -> None:
                if progress:
                    progress({"kind": "stage", "stage": "sample", "done": done, "total": total,
                              "message": f"generating {config.sample}: {done}/{total} events"})

            events = load_sample(config.sample, n_total, config.seed, progress=sample_progress, show_progress=False)
        else:
            events = self._events
            if len(events) < n_total:
                raise ConfigError(f"{len(events)} events given, n_train + n_test = {n_total} needed")
        n_colours = int(ak.max(ak.num(events.jets, axis=1)))
        data = prepare(events[:n_total], config)
        return data.subset(slice(config.n_test, n_total)), data.subset(slice(0, config.n_test)), n_colours

    # ------------------------------------------------------------------ training
    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> ColorizeResult:
        """Train (resuming from the run directory's checkpoint if there is one) and evaluate.

        Arguments:
            progress: called with dicts (``kind`` = "stage", "step", "epoch", "done").
            cancel: polled between steps; returning True stops the run with :class:`Cancelled`
                after saving a checkpoint.
        """
        emit = progress or (lambda event: None)
        config = self.config
        device = pick_device(config.device)
        torch.manual_seed(config.seed)
        train, test, n_colours = self.load_data(emit)
        model = ColorizeModel(config, n_colours).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        history: list[dict] = []
        start_epoch = 0
        checkpoint_path = self.run_dir / "checkpoint.pt"
        if checkpoint_path.exists():
            state = load_torch(checkpoint_path)
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            start_epoch = int(state["epoch"])
            history = read_history(self.run_dir / "history.csv") if (self.run_dir / "history.csv").exists() else []
            history = history[:start_epoch]
            emit({"kind": "stage", "stage": "resume", "epoch": start_epoch, "message": f"resumed after epoch {start_epoch}"})
        write_json(self.run_dir / "config.json", config.to_dict())
        generator = torch.Generator().manual_seed(config.seed)
        for _ in range(start_epoch):  # keep the shuffles of a resumed run identical
            torch.randperm(len(train), generator=generator)
        n_steps = math.ceil(len(train) / config.batch_size)
        for epoch in range(start_epoch, config.epochs):
            model.train()
            order = torch.randperm(len(train), generator=generator).numpy()
            started, seen, running = time.perf_counter(), 0, 0.0
            for step in range(n_steps):
                if cancel is not None and cancel():
                    raise Cancelled(f"colorize run cancelled in epoch {epoch + 1}; checkpoint after epoch {epoch} kept in {self.run_dir}")
                index = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
                batch = train.tensors(index, device)
                loss = colorize_loss(model(batch), batch["energy"], batch["truth"], batch["mask"], config.matching)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                seen += len(index)
                running += loss.item() * len(index)
                emit({"kind": "step", "epoch": epoch + 1, "step": step + 1, "n_steps": n_steps, "loss": loss.item()})
            seconds = time.perf_counter() - started
            row = {"epoch": epoch + 1, "train_loss": running / seen, "seconds": seconds, "events_per_s": seen / seconds}
            # a quick look each epoch: the trained output on ≤ 256 test events (full evaluation at the end)
            row.update({f"test_{k}": v for k, v in self.evaluate(model, test.subset(slice(0, 256)), device, masses=False,
                                                                  outputs=("crf",) if config.crf else ("unet",)).items()})
            history.append(row)
            write_history(self.run_dir / "history.csv", history)
            save_torch({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "epoch": epoch + 1}, checkpoint_path)
            emit({"kind": "epoch", **row, "epochs": config.epochs})
        emit({"kind": "stage", "stage": "evaluate", "message": "evaluating"})
        metrics = {"n_colours": n_colours, "n_train": len(train), "n_test": len(test), "device": device}
        metrics.update({f"train_{k}": v for k, v in self.evaluate(model, train.subset(slice(0, 2000)), device, masses=False).items()})
        metrics.update({f"test_{k}": v for k, v in self.evaluate(model, test, device, masses=True).items()})
        if history:
            metrics["train_events_per_s"] = float(np.mean([h["events_per_s"] for h in history]))
        model = model.cpu().eval()
        save_torch(model.state_dict(), self.run_dir / "model.pt")
        write_json(self.run_dir / "metrics.json", metrics)
        emit({"kind": "done", "metrics": metrics})
        return ColorizeResult(config, self.run_dir, history, metrics, model, n_colours)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model: ColorizeModel, data: ColorizeData, device: str, masses: bool = True,
                 outputs: tuple[str, ...] = ("unet", "crf")) -> dict:
        """Loss and energy-weighted accuracy (U-Net alone and after the CRF); masses optionally.

        The CRF rows use the model's CRF: trained end to end when ``config.crf``, otherwise
        its initial ω, α as post-processing.
        """
        model.eval()
        config = self.config
        collected: dict[str, list] = {key: [] for key in outputs}
        with torch.no_grad():
            for start in range(0, len(data), 256):
                batch = data.tensors(slice(start, start + 256), device)
                unet = model(batch, crf=False)
                results = {"unet": unet}
                if "crf" in outputs:
                    results["crf"] = model.crf(unet, batch["energy"], batch["direction"], batch["mask"])
                for key in outputs:
                    log_probs = results[key]
                    loss = colorize_loss(log_probs, batch["energy"], batch["truth"], batch["mask"], config.matching)
                    collected[key].append((loss.item() * len(log_probs), log_probs.argmax(-1).cpu().numpy()))
        result = {}
        for key, chunks in collected.items():
            predicted = np.concatenate([c[1] for c in chunks])
            result[f"loss_{key}"] = sum(c[0] for c in chunks) / len(data)
            accuracy = assignment_accuracy(predicted, data.truth, data.energy, data.mask, model.n_colours)
            result[f"accuracy_{key}"] = float(accuracy.mean())
            if masses and model.n_colours == 6:
                result.update({f"{k}_{key}": v for k, v in self.mass_resolution(data, np.where(data.mask, predicted, -1)).items()})
        if masses and model.n_colours == 6:
            result.update({f"{k}_truth": v for k, v in self.mass_resolution(data, data.truth).items()})
            result.update({f"{k}_antikt": v for k, v in self.mass_resolution(data, data.antikt).items()})
        return result

    @staticmethod
    def mass_resolution(data: ColorizeData, colours: np.ndarray) -> dict:
        """W and top mass median and σ68 (GeV) from particles grouped by ``colours`` (N, P)."""
        onehot = (colours[..., None] == np.arange(6)) & data.visible[..., None]
        jets = np.einsum("npk,npc->nkc", onehot.astype(float), data.p4)  # (N, 6, 4)
        m_w, m_top = ttbar_six_jet_masses(jets)
        return {
            "m_w_median": float(np.median(m_w)), "m_w_sigma68": sigma68(m_w.ravel()),
            "m_top_median": float(np.median(m_top)), "m_top_sigma68": sigma68(m_top.ravel()),
        }
