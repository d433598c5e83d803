"""Event classification displays (seed 003): example images, training curves, accuracy vs the
talk, ROC curves, confusion matrices, feature importances, one event's features.

Pure functions from numpy arrays (or a run's ``history`` rows / ``metrics`` entries) to HoloViews
elements or pandas tables. No Panel and no torch here (so no import of
:mod:`jetviz.runners.classify` either): :mod:`jetviz.ui.classify` composes these into the
classify page.

Conventions, shared with :mod:`jetviz.plots.events`:

- η on x (``"η"``), φ on y (``"φ [rad]"``); images are ``(n_eta, n_phi)`` per channel, the
  channels ECal E, HCal E, track pT (GeV) in that order (:data:`jetviz.plots.events.CHANNELS`).
- Scores are P(class 1) (for ``bh_sph``: P(black hole)); class 1 is the "positive" class of the
  ROC curves: the true-positive rate is the share of class-1 events called class 1, the
  false-positive rate the share of class-0 events called class 1.
- A model has one colour in every plot (:data:`MODEL_COLORS`) and a readable name
  (:data:`MODEL_NAMES`); folds are told apart by the line dash (:data:`FOLD_DASHES`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import holoviews as hv
import numpy as np
import pandas as pd

from jetviz.plots.events import CHANNELS, detector_image

__all__ = [
    "ClassifyEvent",

    "PUBLISHED_ACCURACY",
    "MODEL_NAMES",
    "MODEL_COLORS",
    "FOLD_DASHES",
    "model_name",
    "model_color",
    "example_images",
    "event_images",
    "training_curves",
    "accuracy_table",
    "accuracy_bars",
    "roc_curves",
    "confusion_matrices",
    "feature_importances",
    "event_features",
    "event_scores",
]

_BACKEND = "bokeh"

#: the talk's table (seed 003, sphalerons vs black holes, 50 × 50 (ECal, HCal, tracks)):
#: model key, input, accuracy mean and standard deviation.
PUBLISHED_ACCURACY: tuple[dict, ...] = (
    {"model": "resnet", "input": "low level: image", "accuracy": 0.907, "std": 0.007},
    {"model": "xgb_low", "input": "low level: 45 features", "accuracy": 0.861, "std": 0.001},
    {"model": "xgb_high", "input": "high level: 39 features", "accuracy": 0.914, "std": 0.002},
)

#: display name of each model key of :data:`jetviz.runners.classify.MODELS`
MODEL_NAMES: dict[str, str] = {
    "resnet": "ResNet18",
    "resnet_no_circular": "ResNet18, zero φ padding",
    "resnet_no_augment": "ResNet18, no augmentation",
    "xgb_low": "XGBoost low level",
    "xgb_high": "XGBoost high level",
}
#: colour of each model in every plot (Okabe–Ito, colour-blind safe)
MODEL_COLORS: dict[str, str] = {
    "resnet": "#0072B2",
    "resnet_no_circular": "#56B4E9",
    "resnet_no_augment": "#CC79A7",
    "xgb_low": "#E69F00",
    "xgb_high": "#D55E00",
}
_EXTRA_COLORS = ("#009E73", "#000000", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f")
#: line dash of fold k is ``FOLD_DASHES[k % len(FOLD_DASHES)]``
FOLD_DASHES: tuple[str, ...] = ("solid", "dashed", "dotted", "dotdash", "dashdot")
_OURS_COLOR, _TALK_COLOR = "#0072B2", "#9e9e9e"


def model_name(model: str) -> str:
    """Readable name of a model key (the key itself if unknown)."""
    return MODEL_NAMES.get(model, model)


def model_color(model: str) -> str:
    """Colour of a model key (a stable fallback colour for unknown keys)."""
    if model in MODEL_COLORS:
        return MODEL_COLORS[model]
    return _EXTRA_COLORS[sum(map(ord, model)) % len(_EXTRA_COLORS)]


def _check_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] != len(CHANNELS):
        raise ValueError(f"{what}: expected images of shape (N, {len(CHANNELS)}, n_eta, n_phi), got {images.shape}")
    return images


# ------------------------------------------------------------------------------ images
def example_images(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    indices: Sequence[int] | None = None,
    mean: bool = False,
    eta_range: tuple[float, float] = (-2.5, 2.5),
    logz: bool = True,
    frame_width: int = 210,
    frame_height: int = 190,
) -> hv.Layout:
    """Example event images, one row per class and one column per channel (ECal, HCal, tracks).

    Parameters
    ----------
    images : (N, 3, n_eta, n_phi) float array
        ECal E, HCal E, track pT per pixel (GeV), φ on the last axis.
    labels : (N,) int array
        Class of each event (0 … K−1).
    class_names : sequence of str
        Name of class k (K names); a class without events is left out.
    indices : sequence of int, optional
        Position (into ``images``) of the event shown for each class, K entries; default the
        first event of each class. Ignored with ``mean``.
    mean : bool
        Show the class averages (mean GeV per pixel over the class's events) instead of one event.
    eta_range : (float, float)
        η edges of the image grid.
    logz : bool
        Logarithmic colour scales.
    frame_width, frame_height : int
        Plot area of each panel, screen pixels.

    Returns
    -------
    hv.Layout
        ``3 × (classes with events)`` ``hv.Image`` panels (kdims ``eta, phi``, vdim ``value`` in
        GeV), row by row: class 0's ECal, HCal, tracks, then class 1's ...; titled
        ``"<class> · <channel>"`` (+ the event number or ``"mean of n"``).
    """
    images = _check_images(images, "example_images")
    labels = np.asarray(labels).ravel()
    if len(labels) != len(images):
        raise ValueError(f"example_images: {len(images)} images but {len(labels)} labels")
    names = list(class_names)
    if indices is not None:
        indices = [int(i) for i in indices]
        if len(indices) != len(names):
            raise ValueError(f"example_images: {len(indices)} indices for {len(names)} classes")
        for k, i in enumerate(indices):
            if not 0 <= i < len(images) or labels[i] != k:
                raise ValueError(f"example_images: event {i} is not an event of class {k} ({names[k]})")
    panels = []
    for k, name in enumerate(names):
        members = np.flatnonzero(labels == k)
        if len(members) == 0:
            continue
        if mean:
            image, what = images[members].mean(axis=0), f"mean of {len(members)}"
        else:
            i = indices[k] if indices is not None else int(members[0])
            image, what = images[i], f"event {i}"
        for c, channel in enumerate(CHANNELS):
            panels.append(detector_image(
                image[c], eta_range, channel, logz=logz, title=f"{name} · {channel} ({what})",
                frame_width=frame_width, frame_height=frame_height,
            ).opts(
                toolbar=None, fontsize={"title": 10, "labels": 9, "ticks": 8}, backend=_BACKEND))
    if not panels:
        raise ValueError(f"example_images: no event has a class in 0 … {len(names) - 1}")
    return hv.Layout(panels).cols(len(CHANNELS)).opts(shared_axes=False, backend=_BACKEND)


def event_images(
    image: np.ndarray,
    eta_range: tuple[float, float] = (-2.5, 2.5),
    *,
    low: np.ndarray | None = None,
    columns: Sequence[str] | None = None,
    title: str = "",
    logz: bool = True,
    frame_width: int = 210,
    frame_height: int = 190,
) -> hv.Layout:
    """One event's three channels side by side, optionally with its low-level hits marked.

    Parameters
    ----------
    image : (3, n_eta, n_phi) float array
        ECal E, HCal E, track pT per pixel (GeV).
    eta_range : (float, float)
        η edges of the grid.
    low : (45,) float array, optional
        The event's low-level features (the five most energetic hits per channel, columns
        ``ecal_E_k, ecal_eta_k, ecal_phi_k, …, tracks_pt_k, …``): each hit with E (pT) > 0 is
        drawn as a ring numbered by rank on its channel.
    columns : sequence of str, optional
        Names of ``low``'s entries; default :data:`jetviz.models.features.LOW_LEVEL_COLUMNS`.
    title : str
        Prefix of the panel titles (e.g. ``"event 12"``).

    Returns
    -------
    hv.Layout of three ``hv.Image`` (or ``hv.Overlay`` of the image and the hits' ``hv.Points``
    with vdims ``value`` (GeV) and ``rank``) panels.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[0] != len(CHANNELS):
        raise ValueError(f"event_images: expected (3, n_eta, n_phi), got shape {image.shape}")
    hits = {}
    if low is not None:
        if columns is None:
            from jetviz.models.features import LOW_LEVEL_COLUMNS as columns  # numpy only, no torch
        low = np.asarray(low, dtype=np.float64).ravel()
        if len(low) != len(columns):
            raise ValueError(f"event_images: {len(low)} low-level values for {len(columns)} columns")
        by_name = dict(zip(columns, low))
        for channel, (prefix, energy) in zip(CHANNELS, (("ecal", "E"), ("hcal", "E"), ("tracks", "pt"))):
            rank = 0
            rows = []
            while f"{prefix}_{energy}_{rank}" in by_name:
                value = by_name[f"{prefix}_{energy}_{rank}"]
                if value > 0:
                    rows.append((by_name[f"{prefix}_eta_{rank}"], by_name[f"{prefix}_phi_{rank}"], value, rank))
                rank += 1
            hits[channel] = rows
    panels = []
    for c, channel in enumerate(CHANNELS):
        label = f"{title} · {channel}" if title else channel
        img = detector_image(image[c], eta_range, channel, logz=logz, title=label, frame_width=frame_width,
                             frame_height=frame_height).opts(toolbar=None, backend=_BACKEND)
        if channel in hits:
            rows = np.asarray(hits[channel], dtype=np.float64).reshape(-1, 4)
            points = hv.Points(rows, [img.kdims[0], img.kdims[1]],
                               [hv.Dimension("value", label=CHANNELS[channel]), hv.Dimension("rank")],
                               label="hits").opts(
                marker="circle", size=14, fill_alpha=0.0, line_color="#D55E00", line_width=2,
                tools=["hover"], show_legend=False, backend=_BACKEND)
            numbers = hv.Labels(rows[:, [0, 1, 3]], [img.kdims[0], img.kdims[1]], "rank").opts(
                text_color="#D55E00", text_font_size="8pt", yoffset=0.35, backend=_BACKEND)
            img = (img * points * numbers).opts(title=label, toolbar=None, show_legend=False, backend=_BACKEND)
        panels.append(img)
    return hv.Layout(panels).cols(len(CHANNELS)).opts(shared_axes=False, backend=_BACKEND)


# ------------------------------------------------------------------------------ training
def training_curves(
    history: Sequence[Mapping],
    metric: str = "val_accuracy",
    *,
    models: Sequence[str] | None = None,
    n_folds: int | None = None,
    xlabel: str = "epoch",
    title: str | None = None,
    width: int = 460,
    height: int = 280,
) -> hv.Overlay:
    """A validation metric vs epoch, one line per (model, fold): colour = model, dash = fold.

    With ``models`` and ``n_folds`` given, the overlay always has the same ``2 × models × folds``
    layers (line and markers of each (model, fold)), empty where there is no data yet, so it can
    be the frame of an ``hv.DynamicMap`` fed by a stream while a run trains.

    Parameters
    ----------
    history : sequence of dict
        Rows with ``model``, ``fold`` (0-based), ``epoch`` and ``metric`` (the runner's "epoch"
        progress events or ``ClassifyResult.history``; XGBoost rows have epoch = boosting round
        and only ``train_loss``/``val_loss``). Rows without ``metric`` are skipped.
    metric : str
        ``"val_accuracy"``, ``"val_loss"``, ``"train_loss"`` or ``"train_accuracy"``.
    models : sequence of str, optional
        Models to draw (default: those in ``history`` that have ``metric``, in first-seen order).
    n_folds : int, optional
        Folds to draw (default: those in ``history``).
    xlabel : str
        x-axis label (``"epoch"``; ``"boosting round"`` for XGBoost rows).

    Returns
    -------
    hv.Overlay of ``hv.Curve`` and ``hv.Scatter`` with kdim ``epoch`` and vdim ``metric``,
    labelled ``"<model name> · fold k"`` (k counted from 1).
    """
    rows = [r for r in history if r.get(metric) is not None and np.isfinite(float(r[metric]))]
    if models is None:
        models = list(dict.fromkeys(str(r["model"]) for r in rows))
    if n_folds is None:
        folds = sorted({int(r["fold"]) for r in rows if str(r["model"]) in models})
    else:
        if int(n_folds) < 1:
            raise ValueError(f"training_curves: n_folds must be ≥ 1, got {n_folds}")
        folds = list(range(int(n_folds)))
    is_loss = "loss" in metric
    ylabel = ("validation " if metric.startswith("val") else "training ") + ("log-loss" if is_loss else "accuracy")
    x_dim = hv.Dimension("epoch", label=xlabel)
    y_dim = hv.Dimension(metric, label=ylabel)
    live = {"framewise": True, "backend": _BACKEND}
    layers = []
    values, last = [], 1.0
    for model in models:
        for fold in folds:
            xy = np.asarray([(float(r["epoch"]), float(r[metric])) for r in rows
                             if str(r["model"]) == model and int(r["fold"]) == fold], dtype=np.float64).reshape(-1, 2)
            xy = xy[np.argsort(xy[:, 0], kind="stable")]
            values += xy[:, 1].tolist()
            last = max(last, float(xy[:, 0].max(initial=1.0)))
            label = f"{model_name(model)} · fold {fold + 1}"
            colour, dash = model_color(model), FOLD_DASHES[fold % len(FOLD_DASHES)]
            layers.append(hv.Curve(xy, x_dim, y_dim, label=label).opts(
                color=colour, line_dash=dash, line_width=2, tools=["hover"], **live))
            layers.append(hv.Scatter(xy, x_dim, y_dim, label=label).opts(
                color=colour, size=6 if len(xy) <= 50 else 0, **live))
    if values:
        lo, hi = min(values), max(values)
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 0.1)
        ylim = (lo - pad, hi + pad)
    else:
        ylim = (0.0, 1.0)
    if not layers:  # an empty frame with the right axes
        layers = [hv.Curve([], x_dim, y_dim).opts(**live)]
    if title is None:
        title = f"{ylabel} per {xlabel}"
    return hv.Overlay(layers).opts(
        title=title, width=width, height=height, xlim=(0.5 if xlabel == "epoch" else 0.0, last + 0.5),
        ylim=ylim, show_grid=True, legend_position="right", toolbar="above", framewise=True,
        fontsize={"legend": 8}, backend=_BACKEND,
    )


# ------------------------------------------------------------------------------ accuracy
def _fmt(mean: float | None, std: float | None, digits: int = 3) -> str:
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std is not None and np.isfinite(std) else f"{mean:.{digits}f}"


def _accuracy_rows(rows: Sequence[Mapping], reference: Sequence[Mapping]) -> list[dict]:
    ours = {str(r["model"]): r for r in rows}
    talk = {str(r["model"]): r for r in reference}
    order = list(dict.fromkeys([*ours, *talk]))
    out = []
    for model in order:
        o, t = ours.get(model, {}), talk.get(model, {})
        for key in ("accuracy_mean", "accuracy_std"):
            if o and key not in o:
                raise ValueError(f"accuracy_table: row of {model!r} has no {key!r}")
        out.append({
            "model": model, "input": o.get("input", t.get("input", "")),
            "ours": o.get("accuracy_mean"), "ours_std": o.get("accuracy_std"),
            "auc": o.get("auc_mean"), "auc_std": o.get("auc_std"),
            "talk": t.get("accuracy"), "talk_std": t.get("std"),
            "folds": o.get("n_folds"), "events": o.get("n_events"),
        })
    return out


def accuracy_table(rows: Sequence[Mapping] = (), reference: Sequence[Mapping] = PUBLISHED_ACCURACY) -> pd.DataFrame:
    """The talk's accuracy table with this run's numbers next to it (mean ± std over folds).

    Parameters
    ----------
    rows : sequence of dict
        ``ClassifyResult.accuracy_table()``: ``model``, ``input``, ``accuracy_mean``,
        ``accuracy_std``, ``auc_mean``, ``auc_std``, ``n_folds``, ``n_events``. Empty before a run.
    reference : sequence of dict
        The talk's rows (``model``, ``input``, ``accuracy``, ``std``); default
        :data:`PUBLISHED_ACCURACY`.

    Returns
    -------
    pandas.DataFrame
        One row per model of this run, then the talk's models this run lacks. Columns ``model``
        (display name), ``input``, ``accuracy (this run)`` and ``accuracy (talk)`` and
        ``AUC (this run)`` as ``"0.912 ± 0.004"`` strings (``"–"`` where missing), ``folds``,
        ``events``.
    """
    table = [{
        "model": model_name(r["model"]), "input": r["input"],
        "accuracy (this run)": _fmt(r["ours"], r["ours_std"]), "accuracy (talk)": _fmt(r["talk"], r["talk_std"]),
        "AUC (this run)": _fmt(r["auc"], r["auc_std"]),
        "folds": "–" if r["folds"] is None else str(int(r["folds"])),
        "events": "–" if r["events"] is None else str(int(r["events"])),
    } for r in _accuracy_rows(rows, reference)]
    return pd.DataFrame(table, columns=["model", "input", "accuracy (this run)", "accuracy (talk)", "AUC (this run)",
                                        "folds", "events"])


def accuracy_bars(
    rows: Sequence[Mapping] = (),
    reference: Sequence[Mapping] = PUBLISHED_ACCURACY,
    *,
    title: str = "accuracy: this run vs the talk (± std over folds)",
    width: int = 620,
    height: int = 300,
) -> hv.Overlay:
    """Accuracy per model as bars with error bars (± std): this run (blue) next to the talk (grey).

    Parameters
    ----------
    rows, reference : sequence of dict
        As :func:`accuracy_table`.

    Returns
    -------
    hv.Overlay of ``hv.Rectangles`` (bars: ``"this run"`` and ``"talk"``) and ``hv.ErrorBars``
    (kdim ``x``: model i at x = i, this run left of it, the talk right; vdims ``accuracy`` and
    ``std``); x ticks are the model names, y is the accuracy in [0, 1].
    """
    table = _accuracy_rows(rows, reference)
    x_dim = hv.Dimension("x", label="model")
    acc = hv.Dimension("accuracy", label="accuracy", range=(0.0, 1.0))
    layers = []
    half = 0.18
    for source, key, colour, offset in (("this run", "ours", _OURS_COLOR, -0.2), ("talk", "talk", _TALK_COLOR, 0.2)):
        bars = [(i + offset - half, 0.0, i + offset + half, float(r[key]), model_name(r["model"]), float(r[key]),
                 float(r[f"{key}_std"] or 0.0))
                for i, r in enumerate(table) if r[key] is not None]
        layers.append(hv.Rectangles(bars, [x_dim, "y0", "x1", "y1"], ["model", acc, "std"], label=source).opts(
            color=colour, line_color="white", tools=["hover"],
            hover_tooltips=[("model", "@model"), ("source", source), ("accuracy", "@accuracy{0.000}"),
                            ("± std", "@std{0.000}")], backend=_BACKEND))
        errors = [(i + offset, float(r[key]), float(r[f"{key}_std"] or 0.0)) for i, r in enumerate(table)
                  if r[key] is not None]
        layers.append(hv.ErrorBars(errors, x_dim, [acc, "std"]).opts(
            color="black", line_width=1.5, lower_head=None, upper_head=None, backend=_BACKEND))
    ticks = [(i, model_name(r["model"])) for i, r in enumerate(table)]
    return hv.Overlay(layers).opts(
        title=title, width=width, height=height, xticks=ticks, xrotation=15, xlabel="", ylabel="accuracy",
        xlim=(-0.6, max(len(table), 1) - 0.4), ylim=(0.0, 1.05), show_grid=True, legend_position="right",
        toolbar=None, backend=_BACKEND,
    )


# ------------------------------------------------------------------------------ ROC, confusion
def roc_curves(
    rocs: Mapping[str, tuple[np.ndarray, np.ndarray, float]],
    class_names: Sequence[str] = ("class 0", "class 1"),
    *,
    title: str = "ROC (out-of-fold scores of all events)",
    width: int = 460,
    height: int = 380,
) -> hv.Overlay:
    """ROC curves of several models overlaid (true- vs false-positive rate), AUC in the legend.

    Parameters
    ----------
    rocs : dict
        ``{model: (fpr, tpr, auc)}`` with ``(M,)`` arrays in [0, 1] (``ClassifyResult.roc``).
    class_names : (str, str)
        Names of class 0 and class 1 (class 1 is "positive"), used in the axis labels.

    Returns
    -------
    hv.Overlay of one ``hv.Curve`` per model (kdim ``fpr``, vdim ``tpr``, labelled
    ``"<model name> (AUC 0.912)"``) and the dashed diagonal of a random guess.
    """
    negative, positive = class_names[0], class_names[1]
    fpr_dim = hv.Dimension("fpr", label=f"false-positive rate ({negative} called {positive})", range=(0.0, 1.0))
    tpr_dim = hv.Dimension("tpr", label=f"true-positive rate ({positive} called {positive})", range=(0.0, 1.0))
    layers = [hv.Curve(([0.0, 1.0], [0.0, 1.0]), fpr_dim, tpr_dim, label="random (AUC 0.5)").opts(
        color="#7f7f7f", line_dash="dashed", line_width=1, backend=_BACKEND)]
    for model, (fpr, tpr, auc) in rocs.items():
        fpr = np.asarray(fpr, dtype=np.float64).ravel()
        tpr = np.asarray(tpr, dtype=np.float64).ravel()
        if fpr.shape != tpr.shape:
            raise ValueError(f"roc_curves: {model}: {len(fpr)} false-positive rates but {len(tpr)} true-positive rates")
        if len(fpr) and (fpr.min() < 0 or fpr.max() > 1 or tpr.min() < 0 or tpr.max() > 1):
            raise ValueError(f"roc_curves: {model}: rates must lie in [0, 1]")
        layers.append(hv.Curve((fpr, tpr), fpr_dim, tpr_dim, label=f"{model_name(model)} (AUC {float(auc):.3f})").opts(
            color=model_color(model), line_width=2, tools=["hover"], interpolation="linear", backend=_BACKEND))
    return hv.Overlay(layers).opts(
        title=title, width=width, height=height, xlim=(0.0, 1.0), ylim=(0.0, 1.02), show_grid=True,
        legend_position="bottom_right", toolbar="above", backend=_BACKEND,
    )


def confusion_matrices(
    matrices: Mapping[str, np.ndarray],
    class_names: Sequence[str] = ("class 0", "class 1"),
    *,
    frame_width: int = 170,
    frame_height: int = 150,
    ncols: int = 3,
) -> hv.Layout:
    """Confusion matrix of each model as a heat map: counts and row fractions written in the cells.

    Parameters
    ----------
    matrices : dict
        ``{model: (K, K) int array}`` of counts, rows = true class, columns = predicted class
        (``ClassifyResult.confusion(model)``).
    class_names : sequence of str
        K class names.
    ncols : int
        Panels per row.

    Returns
    -------
    hv.Layout of ``hv.Overlay`` (``hv.HeatMap`` with kdims ``predicted, true`` and vdim
    ``fraction`` = count / row total, coloured 0 … 1, plus ``hv.Labels`` ``"count\\n(fraction)"``),
    titled with the model's name; true class 0 on top.
    """
    names = [str(n) for n in class_names]
    k = len(names)
    panels = []
    for model, matrix in matrices.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (k, k):
            raise ValueError(f"confusion_matrices: {model}: expected a ({k}, {k}) matrix for {k} classes, "
                             f"got {matrix.shape}")
        if (matrix < 0).any():
            raise ValueError(f"confusion_matrices: {model}: counts must be ≥ 0")
        fraction = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        df = pd.DataFrame([{"predicted": names[j], "true": names[i], "fraction": fraction[i, j],
                            "count": int(matrix[i, j]), "text": f"{int(matrix[i, j])}\n({fraction[i, j]:.2f})"}
                           for i in range(k) for j in range(k)])
        pred, true = hv.Dimension("predicted", label="predicted class"), hv.Dimension("true", label="true class")
        heat = hv.HeatMap(df, [pred, true], [hv.Dimension("fraction", range=(0.0, 1.0)), "count"]).opts(
            cmap="Blues", clim=(0.0, 1.0), colorbar=False, tools=["hover"], invert_yaxis=True, backend=_BACKEND)
        labels = hv.Labels(df, [pred, true], "text").opts(
            text_color="black", text_font_size="10pt", backend=_BACKEND)
        panels.append((heat * labels).opts(
            title=model_name(model), frame_width=frame_width, frame_height=frame_height, toolbar=None,
            fontsize={"title": 10, "labels": 9, "ticks": 8}, backend=_BACKEND))
    if not panels:
        raise ValueError("confusion_matrices: no model given")
    return hv.Layout(panels).cols(ncols).opts(shared_axes=False, backend=_BACKEND)


# ------------------------------------------------------------------------------ features
def feature_importances(
    importance: Mapping[str, float],
    top_n: int = 15,
    *,
    title: str = "feature importance (XGBoost gain share)",
    color: str = "#E69F00",
    width: int = 380,
    height: int | None = None,
) -> hv.Bars:
    """The ``top_n`` most important features as horizontal bars, the largest on top.

    Parameters
    ----------
    importance : dict
        ``{feature column: gain share}`` (``ClassifyResult.importances``; shares ≥ 0).
    top_n : int
        Bars shown (≥ 1).

    Returns
    -------
    hv.Bars with kdim ``feature`` and vdim ``gain`` (share of the total gain), ``min(top_n,
    features)`` bars, drawn horizontally.
    """
    if int(top_n) < 1:
        raise ValueError(f"feature_importances: top_n must be ≥ 1, got {top_n}")
    if not importance:
        raise ValueError("feature_importances: no features given")
    items = [(str(k), float(v)) for k, v in importance.items()]
    if any(not np.isfinite(v) or v < 0 for _, v in items):
        raise ValueError("feature_importances: importances must be finite and ≥ 0")
    top = sorted(items, key=lambda kv: -kv[1])[: int(top_n)]
    feature = hv.Dimension("feature", label="feature")
    gain = hv.Dimension("gain", label="share of total gain")
    bars = hv.Bars(top[::-1], feature, gain)  # ascending: the largest ends on top once the axes are inverted
    return bars.opts(
        invert_axes=True, color=color, title=title, width=width, height=height or 60 + 18 * len(top),
        tools=["hover"], show_grid=True, toolbar=None, xlabel="", ylabel="share of total gain", backend=_BACKEND,
    )


_OBJECTS = {"ecal": "ECal hit", "hcal": "HCal hit", "tracks": "track", "jet": "jet", "lep": "lepton"}
_QUANTITIES = {"E": "E [GeV]", "pt": "pT [GeV]", "eta": "η", "phi": "φ [rad]", "m": "m [GeV]"}
_SINGLE = {"met": ("MET", "pT [GeV]")}


def event_features(values: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """One event's feature vector as a readable table: one row per object, one column per quantity.

    Columns named ``<object>_<quantity>_<k>`` (``ecal_E_0``, ``tracks_eta_3``, ``jet_m_7``,
    ``lep_phi_1``) become row ``"<object name> k"`` (``"ECal hit 0"``, ``"track 3"``,
    ``"jet 7"``, ``"lepton 1"``), column ``E [GeV]``, ``pT [GeV]``, ``η``, ``φ [rad]`` or
    ``m [GeV]``; ``met`` becomes row ``"MET"`` in the ``pT [GeV]`` column; any other column a
    row of its own in a ``value`` column.

    Parameters
    ----------
    values : (F,) float array
        The event's features (a row of ``ClassifyData.low`` or ``.high``).
    columns : sequence of str
        F column names (:data:`jetviz.models.features.LOW_LEVEL_COLUMNS` /
        :data:`~jetviz.models.features.HIGH_LEVEL_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        Column ``object`` then the quantity columns present, in the order above (NaN where an
        object lacks a quantity); rows in the order objects first appear. Zero-padded slots
        (no such hit, jet or lepton) keep their zeros.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"event_features: expected one event's (F,) features, got shape {values.shape}")
    if len(values) != len(columns):
        raise ValueError(f"event_features: {len(values)} values for {len(columns)} columns")
    table: dict[str, dict[str, float]] = {}
    used: set[str] = set()
    for name, value in zip(columns, values.tolist()):
        match = re.fullmatch(r"([a-z]+)_(E|pt|eta|phi|m)_(\d+)", str(name))
        if match:
            obj, quantity, k = match.groups()
            row, col = f"{_OBJECTS.get(obj, obj)} {k}", _QUANTITIES[quantity]
        elif str(name) in _SINGLE:
            row, col = _SINGLE[str(name)]
        else:
            row, col = str(name), "value"
        table.setdefault(row, {})[col] = value
        used.add(col)
    order = [c for c in (*_QUANTITIES.values(), "value") if c in used]
    df = pd.DataFrame([{"object": row, **cols} for row, cols in table.items()], columns=["object", *order])
    return df


def event_scores(scores: Mapping[str, float], label: int, class_names: Sequence[str] = ("class 0", "class 1")
                 ) -> pd.DataFrame:
    """Every model's out-of-fold score of one event, and whether it is right.

    Parameters
    ----------
    scores : dict
        ``{model: P(class 1)}`` for the event.
    label : int
        The event's true class (0 or 1).
    class_names : (str, str)
        Class names.

    Returns
    -------
    pandas.DataFrame with columns ``model`` (display name), ``P(<class 1>)``, ``predicted``
    (class name, threshold 0.5) and ``correct`` (``"yes"``/``"no"``).
    """
    if int(label) not in (0, 1):
        raise ValueError(f"event_scores: label must be 0 or 1, got {label}")
    rows = []
    for model, score in scores.items():
        score = float(score)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"event_scores: {model}: score {score} is not a probability")
        predicted = int(score >= 0.5)
        rows.append({"model": model_name(model), f"P({class_names[1]})": score, "predicted": class_names[predicted],
                     "correct": "yes" if predicted == int(label) else "no"})
    return pd.DataFrame(rows, columns=["model", f"P({class_names[1]})", "predicted", "correct"])


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise ==
class ClassifyEvent:
    """One event of a run with its inputs and every model's out-of-fold score.

    Attributes
    ----------
    index : int
        Event number in the sample.
    label : int
        True class (0/1); ``class_names`` the names of class 0 and 1.
    fold : int
        The fold (0-based) in which it was a test event.
    image : (3, n_eta, n_phi) float array
        ECal E, HCal E, track pT (GeV).
    low : (45,) float array
        Low-level features. high : (39,) float array: high-level features.
    scores : dict
        ``{model: P(class 1)}``.
    """

    index: int
    label: int
    class_names: tuple[str, str]
    fold: int
    image: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scores: dict

    def summary(self, model: str | None = None) -> str:
        """One line: event, true class, fold and (if ``model``) that model's score and verdict."""
        text = f"event {self.index}: true class {self.class_names[self.label]}"
        if self.fold >= 0:
            text += f", test event of fold {self.fold + 1}"
        if model in self.scores:
            p = self.scores[model]
            verdict = "right" if int(p >= 0.5) == self.label else "wrong"
            text += f"; {model_name(model)}: P({self.class_names[1]}) = {p:.3f} ({verdict})"
        return text
