"""The ``classify`` runner (seed 003): ResNet18 on event images vs XGBoost on features.

Design notes: docs/architecture.md, section ``jetviz.runners.classify``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import awkward as ak
import numpy as np
import param
import torch

from jetviz.data.datasets import SampleName
from jetviz.data.detector import Detector, simulate
from jetviz.data.pixelate import event_images
from jetviz.data.recipes import get_recipe
from jetviz.errors import Cancelled, ConfigError, SchemaError
from jetviz.models.features import (
    HIGH_LEVEL_COLUMNS,
    LOW_LEVEL_COLUMNS,
    high_level_features,
    low_level_features,
    validate_features,
)
from jetviz.models.image_augment import augment_images
from jetviz.models.metrics import accuracy, confusion_matrix, roc_auc, roc_curve
from jetviz.models.resnet import ResNet18, batch_rows, image_inputs, refresh_batchnorm, resnet_scores
from jetviz.models.splits import stratified_folds, stratified_holdout
from jetviz.models.trees import fit_xgboost, xgboost_importances, xgboost_scores
from jetviz.runners.base import Progress, Rows, RunConfig, Runner, RunResult, pick_device
from jetviz.runners.loop import TrainingLoop, stage_event
from jetviz.runners.rundir import RunDir

__all__ = ["MODELS", "MODEL_INPUTS", "ClassifyConfig", "ClassifyData", "ClassifyResult", "ClassifyRunner", "prepare",
           "train_resnet", "train_xgboost"]

#: model name → (kind, description of the input) in the order of the talk's table
MODEL_INPUTS = {
    "resnet": ("resnet", "low level: image"),
    "resnet_no_circular": ("resnet", "low level: image, zero padding in φ (ablation)"),
    "resnet_no_augment": ("resnet", "low level: image, no augmentation (ablation)"),
    "xgb_low": ("xgboost", "low level: 45 features"),
    "xgb_high": ("xgboost", "high level: 39 features"),
}
MODELS = tuple(MODEL_INPUTS)
SAMPLES = ("bh_sph", "toy_bh_sph")


class ClassifyConfig(RunConfig):
    """Settings of a classify run (all bounded, so the UI gets validated widgets)."""

    sample = SampleName(default="bh_sph", recipes=SAMPLES,
                        doc="two-class sample (label 0/1): a recipe, or a file of events (jetviz Parquet, Delphes "
                            "ROOT, LHE) under the data root")
    n_events = param.Integer(default=2000, bounds=(20, 5_000_000), doc="events in the k-fold study")
    n_folds = param.Integer(default=5, bounds=(2, 20), doc="k of the stratified k-fold")
    validation_fraction = param.Number(default=0.15, bounds=(0.05, 0.5), doc="share of each training fold held out for early stopping")
    models = param.ListSelector(default=["resnet", "xgb_low", "xgb_high"], objects=list(MODELS), doc="models to train and compare")
    image_transform = param.Selector(default="log", objects=["log", "linear"], doc="ResNet input: log1p(E/GeV) or E/100 GeV")
    width = param.Integer(default=16, bounds=(1, 128), doc="ResNet18 first-stage channels (64 in the original)")
    epochs = param.Integer(default=10, bounds=(1, 1000), doc="ResNet epochs (the best validation epoch is kept)")
    batch_size = param.Integer(default=64, bounds=(2, 4096))
    learning_rate = param.Number(default=1e-3, bounds=(1e-6, 1.0), doc="Adam learning rate (cosine decay)")
    weight_decay = param.Number(default=1e-4, bounds=(0.0, 1.0))
    xgb_n_estimators = param.Integer(default=1000, bounds=(1, 100_000), doc="XGBoost boosting rounds at most")
    xgb_max_depth = param.Integer(default=6, bounds=(1, 32))
    xgb_learning_rate = param.Number(default=0.1, bounds=(1e-4, 1.0))
    xgb_early_stopping = param.Integer(default=30, bounds=(1, 10_000), doc="rounds without validation improvement before stopping")
    threads = param.Integer(default=0, bounds=(0, 1024), doc="CPU threads for torch/XGBoost (0 = library default)")


@dataclass
class ClassifyData(Rows):
    """Inputs of N events.

    Attributes
    ----------
    images : (N, 3, n_eta, n_phi) float32 np.ndarray
        ECal E, HCal E, track pT (GeV), φ last.
    low : (N, 45) float64 np.ndarray
        Low-level features.
    high : (N, 39) float64 np.ndarray
        High-level features.
    labels : (N,) int64 np.ndarray
        Class (0/1).
    index : (N,) int64 np.ndarray
        Event number in the sample.
    """

    images: np.ndarray
    low: np.ndarray
    high: np.ndarray
    labels: np.ndarray
    index: np.ndarray

    def validate(self) -> "ClassifyData":
        """Check shapes, finiteness and that both classes occur; returns self."""
        n = len(self.labels)
        if self.images.ndim != 4 or self.images.shape[0] != n or self.images.shape[1] != 3:
            raise SchemaError(f"images must have shape (N={n}, 3, n_eta, n_phi), got {self.images.shape}")
        if not np.isfinite(self.images).all():
            bad = np.flatnonzero(~np.isfinite(self.images).reshape(n, -1).all(1))
            raise SchemaError(f"images hold NaN/infinite pixels in event(s) {bad[:5].tolist()}")
        validate_features(self.low, LOW_LEVEL_COLUMNS, "low-level features")
        validate_features(self.high, HIGH_LEVEL_COLUMNS, "high-level features")
        if self.low.shape[0] != n or self.high.shape[0] != n:
            raise SchemaError(f"{n} labels but {self.low.shape[0]} low-level and {self.high.shape[0]} high-level rows")
        classes = np.unique(self.labels)
        if not np.isin(classes, (0, 1)).all():
            raise SchemaError(f"labels must be 0 or 1, got {classes[:10].tolist()}")
        if len(classes) < 2:
            raise ConfigError(f"classify needs both classes, but all {n} events have label {int(classes[0])}")
        return self


def prepare(events: ak.Array, detector: Detector | None = None, seed: int = 0) -> ClassifyData:
    """Detector simulation, images and both feature sets for schema events with a 0/1 ``label``.

    Parameters
    ----------
    events : ak.Array
        N schema events with a per-event ``label``.
    detector : Detector | None, optional
        The detector (default ``Detector()``: 50 × 50 cells, |η| < 2.5).
    seed : int, optional
        Seed of the detector smearing (and of the lepton smearing).
    """
    if "label" not in ak.fields(events):
        raise SchemaError(f"classify needs events with a per-event 'label' (have {ak.fields(events)})")
    if len(events) == 0:
        raise SchemaError("classify got 0 events")
    detector = Detector() if detector is None else detector
    hits = simulate(events, detector, seed)
    images = event_images(hits, detector.n_eta, detector.n_phi, detector.eta_max)
    labels = ak.to_numpy(events.label).astype(np.int64)
    data = ClassifyData(
        images=images.astype(np.float32),
        low=low_level_features(hits),
        high=high_level_features(hits, events, detector, seed=seed),
        labels=labels,
        index=np.arange(len(labels), dtype=np.int64),
    )
    return data.validate()


# ----------------------------------------------------------------------------- ResNet


def train_resnet(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config: ClassifyConfig,
    circular_phi: bool = True,
    use_augment: bool = True,
    device: str = "cpu",
    seed: int = 0,
    checkpoint: Path | None = None,
    progress: Callable[[dict], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    tags: dict | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> tuple[ResNet18, list[dict]]:
    """Train one ResNet18 in the :class:`TrainingLoop`; keep the epoch with the best validation
    accuracy (ties: lower loss).

    Parameters
    ----------
    train_images, val_images : (N, 3, n_eta, n_phi) float32 np.ndarray
        Transformed images (:func:`~jetviz.models.resnet.image_inputs`).
    train_labels, val_labels : (N,) np.ndarray
        0/1 labels.
    config : ClassifyConfig
        Widths, epochs, batch size, learning rate, weight decay.
    circular_phi, use_augment : bool, optional
        The two switches of seed 003.
    device, seed, checkpoint, progress, cancel, span
        As in :class:`~jetviz.runners.loop.TrainingLoop` (``seed``: of the initial weights, shuffles
        and augmentations; ``tags`` are merged into every event).

    Returns
    -------
    tuple[ResNet18, list[dict]]
        The model with the best epoch's weights (eval mode, BatchNorm statistics refreshed) and the
        history rows (epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds, events_per_s,
        best_epoch).
    """
    torch.manual_seed(seed)
    model = ResNet18(train_images.shape[1], 2, circular_phi=circular_phi, width=config.width).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    n_steps = math.ceil(len(train_images) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, config.epochs * n_steps))
    generator = torch.Generator().manual_seed(seed)
    aug_generator = torch.Generator(device=device).manual_seed(seed + 1)
    best = {"accuracy": -1.0, "loss": math.inf, "state": None, "epoch": 0}
    loop = TrainingLoop({"model": model, "optimiser": optimiser, "scheduler": scheduler, "generator": generator,
                         "aug_generator": aug_generator, "best": best}, config.epochs, checkpoint, progress, cancel,
                        span, tags, what="classify training")
    train_y = torch.as_tensor(np.asarray(train_labels, dtype=np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(number: int) -> dict:
        model.train()
        order = torch.randperm(len(train_images), generator=generator).numpy()
        started, seen, running, correct = time.perf_counter(), 0, 0.0, 0
        for step in loop.steps(n_steps):
            rows = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
            if len(rows) < 2:  # BatchNorm needs two samples
                continue
            x = torch.as_tensor(train_images[rows], device=device)
            y = train_y[rows].to(device)
            if use_augment:
                x = augment_images(x, aug_generator)
            logits = model(x)
            loss = loss_fn(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            loss_value = loss.item()  # one device sync per step
            seen += len(rows)
            running += loss_value * len(rows)
            correct = correct + (logits.detach().argmax(1) == y).sum()
            loop.report(loss=loss_value)
        seconds = time.perf_counter() - started
        refresh_batchnorm(model, (torch.as_tensor(train_images[rows], device=device)
                                  for rows in batch_rows(min(len(train_images), 512), config.batch_size)))
        val_scores = resnet_scores(model, val_images, device)
        val_loss = float(np.mean(-np.log(np.clip(np.where(val_labels == 1, val_scores, 1 - val_scores), 1e-7, None))))
        val_acc = accuracy(val_labels, (val_scores >= 0.5).astype(np.int64))
        if (val_acc, -val_loss) > (best["accuracy"], -best["loss"]):
            best.update(accuracy=val_acc, loss=val_loss, epoch=number,
                        state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        return {"train_loss": running / max(seen, 1), "train_accuracy": int(correct) / max(seen, 1),
                "val_loss": val_loss, "val_accuracy": val_acc, "seconds": seconds,
                "events_per_s": seen / max(seconds, 1e-9), "best_epoch": best["epoch"]}

    history = loop.run(epoch)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    for row in history:
        row["best_epoch"] = best["epoch"]
    return model, history


# ----------------------------------------------------------------------------- XGBoost
def train_xgboost(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
                  config: ClassifyConfig, device: str = "cpu", seed: int = 0, columns: Sequence[str] | None = None):
    """:func:`jetviz.models.trees.fit_xgboost` with the config's XGBoost settings; returns (booster, history)."""
    return fit_xgboost(train_x, train_y, val_x, val_y, n_estimators=config.xgb_n_estimators,
                       max_depth=config.xgb_max_depth, learning_rate=config.xgb_learning_rate,
                       early_stopping=config.xgb_early_stopping, threads=config.threads, device=device, seed=seed,
                       columns=columns)


# ----------------------------------------------------------------------------- result
class ClassifyResult(RunResult):
    """A finished (or reopened) classify run.

    Attributes
    ----------
    config, run_dir, history
        As :class:`~jetviz.runners.base.RunResult` (history: one row per model, fold and epoch).
    metrics : dict
        Per model ``accuracy``/``auc`` lists over folds with ``_mean``/``_std``,
        ``confusion`` (rows true, columns predicted), ``importance`` (XGBoost, gain share
        per column, averaged over folds), ``best_epoch`` per fold; plus ``n_events``,
        ``n_folds``, ``class_names``, ``device``.
    predictions : dict of ndarray
        (= ``arrays``, the file ``predictions.npz``) ``index``, ``label``, ``fold``
        and ``score_<model>`` (P(class 1), out of fold), each ``(N,)``.
    """

    runner_name = "classify"
    arrays_name = "predictions"
    required_arrays = ("index", "label", "fold")
    required_metrics = ("models", "n_events", "n_folds")

    @property
    def predictions(self) -> dict[str, np.ndarray]:
        """The out-of-fold predictions (the run's arrays)."""
        return self.arrays

    @property
    def models(self) -> tuple[str, ...]:
        """The trained models, in the order of :data:`MODELS`."""
        return tuple(m for m in MODELS if f"score_{m}" in self.predictions)

    def _scores(self, model: str) -> np.ndarray:
        key = f"score_{model}"
        if key not in self.predictions:
            raise ConfigError(f"model {model!r} is not in this run (have {list(self.models)})")
        return self.predictions[key]

    def predicted(self, model: str) -> np.ndarray:
        """``(N,)`` predicted class (P(class 1) ≥ 0.5) of every event, out of fold."""
        return (self._scores(model) >= 0.5).astype(np.int64)

    def roc(self, model: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(false-positive rate, true-positive rate, AUC) of the pooled out-of-fold scores."""
        fpr, tpr, _ = roc_curve(self.predictions["label"], self._scores(model))
        return fpr, tpr, roc_auc(self.predictions["label"], self._scores(model))

    def confusion(self, model: str, normalise: bool = False) -> np.ndarray:
        """``(2, 2)`` confusion matrix (rows true class, columns predicted); rows sum to 1 if ``normalise``."""
        matrix = confusion_matrix(self.predictions["label"], self.predicted(model))
        if normalise:
            return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        return matrix

    def misclassified(self, model: str) -> np.ndarray:
        """Event indices (into the sample) that ``model`` gets wrong, most confidently wrong first."""
        scores = self._scores(model)
        labels = self.predictions["label"]
        wrong = np.flatnonzero(self.predicted(model) != labels)
        confidence = np.abs(scores[wrong] - 0.5)
        return self.predictions["index"][wrong[np.argsort(-confidence, kind="stable")]]

    def importances(self, model: str) -> dict[str, float]:
        """XGBoost gain share per feature column (sums to 1), averaged over folds."""
        entry = self.metrics["models"].get(model, {})
        if "importance" not in entry:
            raise ConfigError(f"model {model!r} has no feature importances (only the XGBoost models do)")
        return dict(entry["importance"])

    def accuracy_table(self) -> list[dict]:
        """One row per model: model, input, accuracy/AUC mean and std over folds, folds, events."""
        rows = []
        for model in self.models:
            entry = self.metrics["models"][model]
            rows.append({
                "model": model, "input": MODEL_INPUTS[model][1],
                "accuracy_mean": entry["accuracy_mean"], "accuracy_std": entry["accuracy_std"],
                "auc_mean": entry["auc_mean"], "auc_std": entry["auc_std"],
                "n_folds": len(entry["accuracy"]), "n_events": int(self.metrics["n_events"]),
            })
        return rows

    def load_data(self, progress: Progress | None = None) -> ClassifyData:
        """The run's events again (from the sample cache; same detector seed), in sample order."""
        return ClassifyRunner(self.config, self.run_dir).load_data(progress)


# ----------------------------------------------------------------------------- runner
class ClassifyRunner(Runner):
    """Trains and evaluates one classify run (all models, all folds); arguments as :class:`~jetviz.runners.base.Runner`.

    ``client``: an optional ``dask.distributed.Client``: the (model, fold) units still to train run
    as parallel tasks on its workers (each writes its unit file into the run directory, on storage
    they share); the evaluation then runs here.
    """

    name = "classify"

    def __init__(self, config: ClassifyConfig, run_dir: str | Path | None = None,
                 events: ak.Array | None = None, data: ClassifyData | None = None, client=None):
        super().__init__(config, run_dir, events, data)
        self._client = client

    def load_data(self, progress: Progress | None = None) -> ClassifyData:
        """Images, features and labels of the run's ``n_events`` events (checked)."""
        return super().load_data(progress).validate()

    def prepare_data(self, progress: Progress) -> ClassifyData:
        config = self.config
        events = self.read_events(config.n_events, progress)
        progress(stage_event("detector", f"detector simulation and features of {len(events)} events", 0.1))
        return prepare(events, seed=config.seed)

    def fit(self, progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> ClassifyResult:
        """Train every configured model on every fold and evaluate, resuming finished units (``progress`` and
        ``cancel`` as in :class:`~jetviz.runners.base.Runner`; "step"/"epoch"/"unit" events carry ``model``
        and ``fold``).
        """
        config = self.config
        if not config.models:
            raise ConfigError("choose at least one model to train")
        emit, device, data = self.begin(progress)
        n = len(data)
        folds = stratified_folds(data.labels, config.n_folds, config.seed)
        images = image_inputs(data.images, config.image_transform)
        self.units.path.mkdir(exist_ok=True)
        models = [m for m in MODELS if m in config.models]
        history: list[dict] = []
        per_model: dict[str, dict] = {m: {"accuracy": [], "auc": [], "best_epoch": [], "importance": []} for m in models}
        scores = {m: np.full(n, np.nan) for m in models}
        n_units = len(models) * config.n_folds
        done_units = 0
        if self._client is not None:
            self._units_on_dask(data, folds, images, models, emit, cancel)
        for fold in range(config.n_folds):
            fit_rows, val_rows, test_rows = self._fold_rows(data, folds, fold)
            for model_name in models:
                unit = f"{model_name}-fold{fold}"
                tags = {"model": model_name, "fold": fold}
                stored = self._read_unit(unit)
                span = (0.1 + 0.85 * done_units / n_units, 0.85 / n_units)
                if stored is None:
                    emit(stage_event("train", f"training {model_name}, fold {fold + 1}/{config.n_folds}", span[0],
                                     **tags))
                    stored = self._train_unit(model_name, fold, data, images, fit_rows, val_rows, test_rows,
                                              device, emit, cancel, tags, span)
                    self._write_unit(unit, stored)
                unit_scores, unit_info = stored
                scores[model_name][test_rows] = unit_scores
                labels = data.labels[test_rows]
                acc = accuracy(labels, (unit_scores >= 0.5).astype(np.int64))
                auc_value = roc_auc(labels, unit_scores)
                per_model[model_name]["accuracy"].append(acc)
                per_model[model_name]["auc"].append(auc_value)
                per_model[model_name]["best_epoch"].append(unit_info["best_epoch"])
                if "importance" in unit_info:
                    per_model[model_name]["importance"].append(unit_info["importance"])
                history += [{"model": model_name, "fold": fold, **row} for row in unit_info["history"]]
                self.run.write_history(history)
                done_units += 1
                emit({"kind": "unit", **tags, "accuracy": acc, "auc": auc_value, "done": done_units, "total": n_units,
                      "message": f"{model_name} fold {fold + 1}: accuracy {acc:.3f}, AUC {auc_value:.3f}",
                      "fraction": 0.1 + 0.85 * done_units / n_units})
        emit(stage_event("evaluate", "evaluating", 0.95))
        metrics = self._metrics(data, folds, models, per_model, scores, device)
        predictions = {"index": data.index, "label": data.labels, "fold": folds}
        predictions.update({f"score_{m}": scores[m] for m in models})
        self.finish(emit, metrics, predictions, "predictions")
        return ClassifyResult(config, self.run_dir, history, metrics, predictions)

    # ------------------------------------------------------------------ one (model, fold)
    def _fold_rows(self, data: ClassifyData, folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fit, validation, test) row indices of fold ``fold``."""
        test = folds == fold
        train_rows = np.flatnonzero(~test)
        val_mask = stratified_holdout(data.labels[train_rows], self.config.validation_fraction,
                                      self.config.seed + 1000 + fold)
        return train_rows[~val_mask], train_rows[val_mask], np.flatnonzero(test)

    def _units_on_dask(self, data, folds, images, models, emit, cancel) -> None:
        """Train the missing (model, fold) units as parallel tasks on the dask client."""
        from distributed import as_completed

        todo = [(m, f) for f in range(self.config.n_folds) for m in models if self._read_unit(f"{m}-fold{f}") is None]
        if not todo:
            return
        emit(stage_event("train", f"training {len(todo)} (model, fold) units on dask"))
        [shared] = self._client.scatter([(data, folds, images)], broadcast=True, hash=False)
        futures = [self._client.submit(_unit_task, self.config.to_dict(), str(self.run_dir), m, f, shared, pure=False)
                   for m, f in todo]
        try:
            for done, future in enumerate(as_completed(futures), 1):
                model_name, fold = future.result()
                emit(stage_event("train", f"{model_name} fold {fold + 1} trained on dask ({done}/{len(todo)})",
                                 0.1 + 0.85 * done / len(todo), done=done, total=len(todo)))
                if cancel is not None and cancel():
                    raise Cancelled(f"classify run cancelled; finished units kept in {self.run_dir}")
        finally:
            self._client.cancel(futures)
            self._client.cancel([shared])

    @property
    def units(self) -> RunDir:
        """The ``units/`` directory of the finished (model, fold) units."""
        return RunDir(self.run_dir / "units")

    def _train_unit(self, model_name, fold, data, images, fit_rows, val_rows, test_rows, device, emit, cancel, tags,
                    span=(0.0, 1.0)):
        config = self.config
        seed = config.seed + 7919 * fold
        if MODEL_INPUTS[model_name][0] == "resnet":
            checkpoint = self.units.file(f"{model_name}-fold{fold}.checkpoint.pt")
            model, rows = train_resnet(
                images[fit_rows], data.labels[fit_rows], images[val_rows], data.labels[val_rows], config,
                circular_phi=model_name != "resnet_no_circular", use_augment=model_name != "resnet_no_augment",
                device=device, seed=seed, checkpoint=checkpoint, progress=emit, cancel=cancel, tags=tags, span=span,
            )
            unit_scores = resnet_scores(model, images[test_rows], device)
            self.run.save_state(f"{model_name}-fold{fold}", model.cpu().state_dict())
            checkpoint.unlink(missing_ok=True)
            return unit_scores, {"history": rows, "best_epoch": rows[-1]["best_epoch"] if rows else 0}
        if cancel is not None and cancel():
            raise Cancelled(f"classify run cancelled before {model_name} fold {fold + 1}; finished units kept in {self.run_dir}")
        features, columns = (data.low, LOW_LEVEL_COLUMNS) if model_name == "xgb_low" else (data.high, HIGH_LEVEL_COLUMNS)
        booster, rows = train_xgboost(features[fit_rows], data.labels[fit_rows], features[val_rows], data.labels[val_rows],
                                      config, device, seed, columns)
        for row in rows[-1:]:
            emit({"kind": "epoch", **tags, **row, "epochs": config.xgb_n_estimators})
        self.run.write_text(f"{model_name}-fold{fold}.json", booster.save_raw("json").decode())
        return xgboost_scores(booster, features[test_rows], columns), {
            "history": rows, "best_epoch": rows[-1]["best_epoch"], "importance": xgboost_importances(booster, columns)}

    def _read_unit(self, unit: str):
        """(scores, info) of a finished unit, or None (not finished yet)."""
        if not self.units.exists(f"{unit}.npz") or not self.units.exists(f"{unit}.json"):
            return None
        return self.units.read_arrays(unit, ("scores",))["scores"], self.units.read_json(f"{unit}.json")

    def _write_unit(self, unit: str, stored) -> None:
        unit_scores, info = stored
        self.units.write_json(f"{unit}.json", info)  # json first: a unit counts only once its .npz exists
        self.units.write_arrays(unit, {"scores": unit_scores})

    def _metrics(self, data, folds, models, per_model, scores, device) -> dict:
        classes = tuple(get_recipe(self.config.sample).classes) if self.config.sample in SAMPLES else ()
        metrics = {
            "n_events": len(data), "n_folds": self.config.n_folds, "device": device,
            "class_names": list(classes) if len(classes) == 2 else ["class 0", "class 1"],
            "class_counts": np.bincount(data.labels, minlength=2).tolist(), "models": {},
        }
        for m in models:
            entry = per_model[m]
            predicted = (scores[m] >= 0.5).astype(np.int64)
            out = {
                "input": MODEL_INPUTS[m][1],
                "accuracy": entry["accuracy"], "accuracy_mean": float(np.mean(entry["accuracy"])),
                "accuracy_std": float(np.std(entry["accuracy"], ddof=1)) if len(entry["accuracy"]) > 1 else 0.0,
                "auc": entry["auc"], "auc_mean": float(np.mean(entry["auc"])),
                "auc_std": float(np.std(entry["auc"], ddof=1)) if len(entry["auc"]) > 1 else 0.0,
                "auc_pooled": roc_auc(data.labels, scores[m]),
                "confusion": confusion_matrix(data.labels, predicted).tolist(),
                "best_epoch": entry["best_epoch"],
            }
            if entry["importance"]:
                columns = list(entry["importance"][0])
                out["importance"] = {c: float(np.mean([imp[c] for imp in entry["importance"]])) for c in columns}
            metrics["models"][m] = out
        return metrics


def _unit_task(config_values: dict, run_dir: str, model_name: str, fold: int, shared) -> tuple[str, int]:
    """A dask task: train one (model, fold) unit of a classify run and write its unit file."""
    data, folds, images = shared
    config = ClassifyConfig.from_dict(config_values)
    runner = ClassifyRunner(config, run_dir, data=data)
    fit_rows, val_rows, test_rows = runner._fold_rows(data, folds, fold)
    stored = runner._train_unit(model_name, fold, data, images, fit_rows, val_rows, test_rows,
                                pick_device(config.device), lambda event: None, None,
                                {"model": model_name, "fold": fold})
    runner._write_unit(f"{model_name}-fold{fold}", stored)
    return model_name, fold
