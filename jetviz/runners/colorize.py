"""The ``colorize`` runner (seed 000): U-Net jet colorization of e+e- events, optionally with a CRF.

Design notes: docs/architecture.md, section ``jetviz.runners.colorize``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import awkward as ak
import numpy as np
import param
import torch

from jetviz.data.datasets import SampleName
from jetviz.data.pixelate import CHANNELS, channel_maps, pixel_index
from jetviz.data.pythia import jet_labels
from jetviz.data.resonances import sigma68, ttbar_six_jet_masses
from jetviz.data.schema import flat_particles, pad_ragged
from jetviz.errors import ConfigError
from jetviz.models.assignment import assignment_metrics
from jetviz.models.colorize import ColorizeModel, assignment_accuracy, colorize_loss, particle_log_probs
from jetviz.runners.base import Progress, Rows, RunConfig, Runner, RunResult
from jetviz.runners.loop import TrainingLoop, stage_event

__all__ = ["CHANNELS", "ColorizeConfig", "ColorizeData", "ColorizeResult", "ColorizeRunner", "prepare", "build_model",
           "Prediction"]

SAMPLES = ("ee_6jet", "ee_zh_4jet", "toy_ee_6jet", "toy_ee_zh_4jet")
#: truth choices → the per-particle field each reads
TRUTHS = {"durham": "jet", "parton": "parton"}


class ColorizeConfig(RunConfig):
    """Settings of a colorize run (all bounded, so the UI gets validated widgets)."""

    sample = SampleName(default="ee_6jet", recipes=SAMPLES,
                        doc="e+e- sample with per-particle truth: a recipe, or a jetviz Parquet file of events "
                            "with truth jets under the data root")
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
class ColorizeData(Rows):
    """Model inputs for N events.

    Attributes
    ----------
    images : (N, C, n_eta, n_phi) float32 np.ndarray
        Input maps.
    pixel : (N, P) int64 np.ndarray
        Flat pixel of each particle (−1 outside the map / padding).
    energy : (N, P) float32 np.ndarray
        Particle energy (GeV).
    truth : (N, P) int64 np.ndarray
        Colour of the configured truth (−1: none).
    durham : (N, P) int64 np.ndarray
        Durham colour (the same as truth when truth = durham).
    direction : (N, P, 3) float32 np.ndarray
        Unit vectors.
    mask : (N, P) bool np.ndarray
        In the map.
    p4 : (N, P, 4) float64 np.ndarray
        (px, py, pz, E) of every visible particle kept (GeV).
    visible : (N, P) bool np.ndarray
        A visible particle, in or outside the map.
    antikt : (N, P) int64 np.ndarray
        Colour from plain e+e- anti-kt (K most energetic jets).
    eta, phi : (N, P) float32 np.ndarray
        η and φ (radians) for plots.
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

    def tensors(self, index, device: str) -> dict[str, torch.Tensor]:
        names = ("images", "pixel", "energy", "truth", "direction", "mask")
        return {k: torch.as_tensor(getattr(self, k)[index], device=device) for k in names}


def prepare(events: ak.Array, config: ColorizeConfig) -> ColorizeData:
    """Turn schema events with Durham truth into :class:`ColorizeData`.

    The visible particles of each event are ordered by decreasing energy and cut at
    ``config.max_particles``.
    """
    from jetviz.data.pdg import is_visible

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
    visible = is_visible(flat["pid"])
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
    padded = lambda values, fill: pad_ragged(values, kept_counts, width, fill)  # noqa: E731
    pixel_p = padded(pixel, -1)
    sqrt_s = float(np.max(ak.to_numpy(ak.sum(events.particles.E, axis=1))))
    images = channel_maps(events, config.channels, config.n_eta, config.n_phi, config.eta_max) / sqrt_s
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


def build_model(config: ColorizeConfig, n_colours: int) -> ColorizeModel:
    """The U-Net (+ CRF) of ``config`` for ``n_colours`` jet colours."""
    return ColorizeModel(len(config.channels), n_colours, config.base_channels, config.depth, config.circular_phi,
                         config.crf, config.crf_omega, config.crf_alpha, config.crf_iterations)


@dataclass
class Prediction:
    """Predictions for a few events, for display.

    Attributes
    ----------
    pixel_probs : (N, K, n_eta, n_phi) float np.ndarray
        U-Net colour probabilities per pixel.
    iterations : (N, T+1, P, K) np.ndarray
        Per-particle marginals, index 0 = U-Net, t = CRF step t.
    data : ColorizeData
        The events' :class:`ColorizeData`.
    """

    pixel_probs: np.ndarray
    iterations: np.ndarray
    data: ColorizeData


class ColorizeResult(RunResult):
    """A finished (or reopened) colorize run: config, run_dir, history, metrics, model (CPU, eval)."""

    runner_name = "colorize"
    arrays_name = None
    required_metrics = ("n_colours",)

    @property
    def n_colours(self) -> int:
        """Jet colours K of the model."""
        return int(self.metrics["n_colours"])

    @classmethod
    def build_model(cls, config: ColorizeConfig, metrics: dict) -> ColorizeModel:
        return build_model(config, int(metrics["n_colours"]))

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


class ColorizeRunner(Runner):
    """Trains and evaluates one colorize run (see :class:`~jetviz.runners.base.Runner` for the arguments).

    Given an existing run directory with a checkpoint, :meth:`fit` resumes from it.
    """

    name = "colorize"

    # ------------------------------------------------------------------ data
    def prepare_data(self, progress: Progress) -> tuple[ColorizeData, ColorizeData, int]:
        """(train, test, K): the sample's first ``n_test`` events test, the next ``n_train`` train."""
        config = self.config
        n_total = config.n_train + config.n_test
        events = self.read_events(n_total, progress, needed="n_train + n_test")
        if "jets" not in ak.fields(events) or not len(events) or int(ak.max(ak.num(events.jets, axis=1))) < 1:
            raise ConfigError(f"colorize needs per-particle truth (truth jets and each particle's 'jet'); {config.sample} "
                              "has none: use an e+e- recipe or a jetviz Parquet file written from one")
        n_colours = int(ak.max(ak.num(events.jets, axis=1)))
        data = prepare(events[:n_total], config)
        return data.subset(slice(config.n_test, n_total)), data.subset(slice(0, config.n_test)), n_colours

    # ------------------------------------------------------------------ training
    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> ColorizeResult:
        """Train (resuming from the run directory's checkpoint if there is one) and evaluate (``progress`` and
        ``cancel`` as in :class:`~jetviz.runners.base.Runner`).
        """
        emit, device, (train, test, n_colours) = self.begin(progress)
        config = self.config
        torch.manual_seed(config.seed)
        model = build_model(config, n_colours).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        generator = torch.Generator().manual_seed(config.seed)
        loop = TrainingLoop({"model": model, "optimiser": optimiser, "generator": generator}, config.epochs,
                            self.run.file(self.run.CHECKPOINT), emit, cancel, (0.1, 0.8), what="colorize training",
                            after_epoch=self.run.write_history)
        n_steps = math.ceil(len(train) / config.batch_size)
        quick = test.subset(slice(0, 256))  # a quick look each epoch (full evaluation at the end)

        def epoch(number: int) -> dict:
            model.train()
            order = torch.randperm(len(train), generator=generator).numpy()
            started, seen, running = time.perf_counter(), 0, 0.0
            for step in loop.steps(n_steps):
                index = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
                batch = train.tensors(index, device)
                loss = colorize_loss(model(batch), batch["energy"], batch["truth"], batch["mask"], config.matching)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                seen += len(index)
                running += loss.item() * len(index)
                loop.report(loss=loss.item())
            seconds = time.perf_counter() - started
            row = {"train_loss": running / seen, "seconds": seconds, "events_per_s": seen / seconds}
            outputs = ("crf",) if config.crf else ("unet",)
            row.update({f"test_{k}": v for k, v in self.evaluate(model, quick, device, False, outputs).items()})
            return row

        emit(stage_event("train", "training the U-Net" + (" + CRF" if config.crf else ""), 0.1))
        history = loop.run(epoch)
        emit(stage_event("evaluate", "evaluating", 0.9))
        metrics = {"n_colours": n_colours, "n_train": len(train), "n_test": len(test), "device": device}
        metrics.update({f"train_{k}": v for k, v in self.evaluate(model, train.subset(slice(0, 2000)), device, masses=False).items()})
        metrics.update({f"test_{k}": v for k, v in self.evaluate(model, test, device, masses=True).items()})
        if history:
            metrics["train_events_per_s"] = float(np.mean([h["events_per_s"] for h in history]))
        model = model.cpu().eval()
        self.finish(emit, metrics, states={"model": model}, history=history)
        return ColorizeResult(config, self.run_dir, history, metrics, model=model)

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
                result.update(self.assignment_quality(data, predicted, key, model.n_colours))
                result.update({f"{k}_{key}": v for k, v in self.mass_resolution(data, np.where(data.mask, predicted, -1)).items()})
        if masses and model.n_colours == 6:
            result.update({f"{k}_truth": v for k, v in self.mass_resolution(data, data.truth).items()})
            baselines = {"antikt": data.antikt, **({"durham": data.durham} if config.truth != "durham" else {})}
            for key, colours in baselines.items():  # clustering on the same particles, scored against the truth
                result.update(self.assignment_quality(data, colours, key, model.n_colours))
                result.update({f"{k}_{key}": v for k, v in self.mass_resolution(data, colours).items()})
        return result

    @staticmethod
    def assignment_quality(data: ColorizeData, colours: np.ndarray, key: str, n_colours: int) -> dict:
        """``accuracy``, ``all_pure``, ``merged_rate`` and ``split_rate`` of ``colours`` ``(N, P)``
        against the training truth (:func:`jetviz.models.assignment.assignment_metrics`), keyed ``<name>_<key>``."""
        quality = assignment_metrics(colours, data.truth, data.energy, data.mask, n_colours)
        return {f"{name}_{key}": quality[name] for name in ("accuracy", "all_pure", "merged_rate", "split_rate")}

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
