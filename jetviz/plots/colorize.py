"""Jet colorization displays (seed 000): energy map, colours, per-jet heat maps, losses, tables.

Pure functions from numpy arrays (or a run's ``history`` / ``metrics`` dicts) to HoloViews
elements or pandas tables. No Panel and no torch here; :mod:`jetviz.ui.colorize` composes these
into the colorize page, the notebook ``02_colorize.ipynb`` shows them directly.

Conventions, shared with :mod:`jetviz.plots.events`:

- η on x (``"η"``), φ on y (``"φ [rad]"``, wrapped into (−π, π]); images are ``(n_eta, n_phi)``.
- A *colour* is a jet index k ≥ 0 drawn as ``JET_PALETTE[k]`` and named ``"jet k"``; −1 (no
  colour: a particle outside the map, or in no truth jet) is grey ``NO_JET_COLOR``. Predicted
  and truth particles use the same palette, so once the predicted colours are permuted onto
  the truth jets (:func:`match_colours`), the same jet has the same colour in both panels.
- Energies in GeV, losses as the runner reports them (see :data:`PUBLISHED_LOSSES`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import holoviews as hv
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from jetviz.data.kinematics import wrap_phi
from jetviz.data.resonances import M_TOP, M_W, ttbar_six_jet_masses
from jetviz.plots.events import (
    ETA_LABEL,
    JET_PALETTE,
    PHI_LABEL,
    detector_image,
    jet_color_map,
    jet_names,
)

__all__ = [
    "ColorizeEvent",
    "Display",

    "PUBLISHED_LOSSES",
    "TRUTH_LABELS",
    "LOSS_NOTE",
    "match_colours",
    "apply_colours",
    "energy_map_image",
    "colour_scatter",
    "probability_maps",
    "loss_curves",
    "run_rows",
    "reproduction_table",
    "metrics_table",
    "six_jet_masses",
    "mass_histograms",
]

_BACKEND = "bokeh"
_ETA = hv.Dimension("eta", label=ETA_LABEL)
_PHI = hv.Dimension("phi", label=PHI_LABEL, range=(-np.pi, np.pi))

#: the talk's table (seed 000, e+e- → ZHH → 6 jets, ~30-layer U-Net): rows of
#: training events, CRF (trained end to end), loss train, loss test.
PUBLISHED_LOSSES: tuple[dict, ...] = (
    {"training events": 140, "CRF": "no", "loss train": 0.185, "loss test": 1.78},
    {"training events": 11500, "CRF": "no", "loss train": 0.502, "loss test": 0.646},
    {"training events": 900, "CRF": "yes", "loss train": 0.308, "loss test": 1.25},
    {"training events": 11500, "CRF": "yes", "loss train": 0.485, "loss test": 0.642},
)

#: how to read our losses next to the published ones (shown under the table)
LOSS_NOTE = (
    "Loss L = −(1/N) Σ_jet Σ_track (E_track/E_jet) log y_track, summed over the K jets of an event "
    "as the talk writes it, so a uniform guess scores K·ln K (10.75 for K = 6). The published test "
    "loss of the 140-event run (1.78) is close to ln 6 = 1.79, which suggests the published numbers "
    "are averaged over jets: compare them with our 'per jet' columns (loss ÷ K). The published sample "
    "is ZHH → 6 jets; ours is e+e- → tt̄ → 6 jets at 500 GeV with our own detector-free particle maps."
)

#: the training truth's name in tables and titles (``ColorizeConfig.truth``)
TRUTH_LABELS = {"durham": "Durham truth", "parton": "history truth (partons)"}

_ASSIGNMENTS = {  # metrics key suffix -> table row name
    "truth": TRUTH_LABELS["durham"],
    "unet": "U-Net",
    "crf": "U-Net + CRF",
    "antikt": "anti-kt (R = 0.7)",
}


# ------------------------------------------------------------------------------ colours
def match_colours(
    predicted: np.ndarray,
    truth: np.ndarray,
    energy: np.ndarray,
    n_colours: int | None = None,
) -> np.ndarray:
    """Permutation of predicted colours onto truth jets maximising the shared energy (one event).

    Colours are permutation-free: the network's colour 3 may be truth jet 0. For display, each
    predicted colour k is relabelled ``mapping[k]`` so that the same jet gets the same colour in
    the predicted and truth panels (Hungarian assignment, ``scipy.optimize.linear_sum_assignment``).

    Parameters
    ----------
    predicted : (P,) int array or (P, K) float array
        Predicted colour per particle (−1: none), or colour probabilities per particle (then the
        shared energy is Σ_i E_i q_ik, which keeps the permutation stable under small changes).
    truth : (P,) int array
        Truth jet per particle, −1 for none.
    energy : (P,) float array
        Particle energies (GeV); padding particles should have 0.
    n_colours : int, optional
        K; default from ``predicted``'s shape or the largest colour + 1.

    Returns
    -------
    (K,) int array
        ``mapping[k]`` = displayed colour of predicted colour k; a permutation of ``range(K)``.
    """
    predicted = np.asarray(predicted)
    truth = np.asarray(truth, dtype=np.int64).ravel()
    energy = np.asarray(energy, dtype=np.float64).ravel()
    soft = predicted.ndim == 2
    if n_colours is None:
        n_colours = predicted.shape[1] if soft else int(max(predicted.max(initial=-1), truth.max(initial=-1)) + 1)
    k = max(int(n_colours), int(truth.max(initial=-1)) + 1, 1)
    if len(truth) != len(energy) or len(predicted) != len(truth):
        raise ValueError(f"match_colours: {len(predicted)} predictions, {len(truth)} truth labels, "
                         f"{len(energy)} energies")
    shared = np.zeros((k, k))
    ok = truth >= 0
    if soft:
        probs = np.asarray(predicted, dtype=np.float64)
        shared[: probs.shape[1]] += np.einsum("p,pk,pj->kj", energy * ok, probs,
                                              np.eye(k)[np.clip(truth, 0, None)])
    else:
        predicted = predicted.astype(np.int64).ravel()
        ok &= predicted >= 0
        np.add.at(shared, (predicted[ok], truth[ok]), energy[ok])
    rows, cols = linear_sum_assignment(-shared)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    return mapping[: int(n_colours)]


def apply_colours(colours: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """``mapping[colour]`` for colours ≥ 0, −1 kept (vectorised)."""
    colours = np.asarray(colours, dtype=np.int64)
    return np.where(colours >= 0, np.asarray(mapping)[np.clip(colours, 0, None)], -1)


# ------------------------------------------------------------------------------ event displays
def _ramp(colour: str, n: int = 64) -> list[str]:
    """``n`` hex colours from white to ``colour`` (a continuous single-hue colour map)."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    steps = np.linspace(0.0, 1.0, n)[:, None]
    values = np.rint(255.0 + (rgb - 255.0) * steps).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in values]


def energy_map_image(
    image: np.ndarray,
    eta_range: tuple[float, float] = (-3.0, 3.0),
    *,
    title: str = "energy map (input)",
    logz: bool = True,
    frame_width: int = 300,
    frame_height: int = 300,
) -> hv.Image:
    """The U-Net's grey-scale input: one event's η–φ energy map (GeV), black = most energy.

    Parameters
    ----------
    image : (n_eta, n_phi) float array
        Energy per pixel (GeV), φ on the last axis.
    eta_range : (float, float)
        η edges of the map (the run's ``(−eta_max, eta_max)``).
    logz : bool
        Logarithmic grey scale (empty pixels white).

    Returns
    -------
    hv.Image with kdims ``eta, phi`` and vdim ``value`` labelled ``"energy [GeV]"``.
    """
    img = detector_image(image, eta_range, "energy", logz=logz, title=title, cmap="Greys",
                         frame_width=frame_width, frame_height=frame_height)
    return img.opts(colorbar_opts={"width": 10}, backend=_BACKEND)


def colour_scatter(
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    colour: np.ndarray,
    *,
    probability: np.ndarray | None = None,
    title: str = "",
    what: str = "colour",
    eta_lim: float | None = None,
    marker_size: tuple[float, float] = (3.0, 16.0),
    frame_width: int = 300,
    frame_height: int = 300,
    legend: bool = True,
) -> hv.Points:
    """Particles of one event in the η–φ plane, coloured by colour index (predicted or truth).

    Parameters
    ----------
    eta, phi, energy : (M,) float arrays
        Pseudorapidity, azimuth (radians) and energy (GeV) per particle.
    colour : (M,) int array
        Colour (jet index) per particle, −1 drawn grey (``"no jet"``).
    probability : (M,) float array, optional
        Probability of the drawn colour; sets the marker opacity (0.25 … 1) and is shown in
        the tooltip, so a CRF iteration that only sharpens the marginals is visible too.
    what : str
        Legend / tooltip name of the colour (``"predicted jet"``, ``"truth jet"``).
    eta_lim : float, optional
        Show η ∈ [−eta_lim, eta_lim]; default the data range.
    marker_size : (float, float)
        Smallest and largest marker (screen pixels), size ∝ √E.
    legend : bool
        Show the legend (right of the plot).

    Returns
    -------
    hv.Points
        kdims ``eta, phi``; vdims ``E, colour, colour_name, probability, size, alpha``, coloured
        by the categorical ``colour_name`` with :data:`jetviz.plots.events.JET_PALETTE`.
    """
    eta = np.asarray(eta, dtype=np.float64).ravel()
    n = len(eta)
    phi = wrap_phi(np.asarray(phi, dtype=np.float64).ravel())
    energy = np.asarray(energy, dtype=np.float64).ravel()
    colour = np.asarray(colour, dtype=np.int64).ravel()
    prob = np.full(n, np.nan) if probability is None else np.asarray(probability, dtype=np.float64).ravel()
    for name, arr in (("phi", phi), ("energy", energy), ("colour", colour), ("probability", prob)):
        if arr.shape != (n,):
            raise ValueError(f"colour_scatter: {name} has {arr.shape[0]} entries, eta has {n}")
    top = float(energy.max()) if n and energy.max() > 0 else 1.0
    lo, hi = marker_size
    size = lo + (hi - lo) * np.sqrt(np.clip(energy / top, 0.0, 1.0))
    alpha = np.where(np.isfinite(prob), 0.25 + 0.75 * np.clip(prob, 0.0, 1.0), 0.85)
    # legend order jet 0 … jet K-1, no jet; big markers drawn first so small ones stay visible
    order = np.lexsort((-energy, np.where(colour < 0, np.iinfo(np.int64).max, colour)))
    data = pd.DataFrame({
        "eta": eta, "phi": phi, "E": energy, "colour": colour, "colour_name": jet_names(colour),
        "probability": prob, "size": size, "alpha": alpha,
    }).iloc[order].reset_index(drop=True)
    vdims = [hv.Dimension("E", label="E", unit="GeV"), hv.Dimension("colour", label=f"{what} index"),
             hv.Dimension("colour_name", label=what), hv.Dimension("probability", label="probability"),
             "size", "alpha"]
    xlim = (-float(eta_lim), float(eta_lim)) if eta_lim else (None, None)
    points = hv.Points(data, [_ETA, _PHI], vdims, label=what)
    return points.opts(
        color="colour_name", cmap=jet_color_map(colour), size="size", alpha="alpha", line_color="white",
        line_width=0.4, tools=["hover"], hover_tooltips=[
            ("η", "@eta{0.00}"), ("φ", "@phi{0.00}"), ("E [GeV]", "@E{0.00}"), (what, "@colour_name"),
            ("probability", "@probability{0.000}"),
        ],
        xlim=xlim, ylim=(-np.pi, np.pi), title=title, frame_width=frame_width, frame_height=frame_height,
        show_legend=legend, legend_position="right", show_grid=True, toolbar="above", xlabel=ETA_LABEL,
        ylabel=PHI_LABEL, backend=_BACKEND,
    )


def probability_maps(
    pixel_probs: np.ndarray,
    eta_range: tuple[float, float] = (-3.0, 3.0),
    *,
    mapping: np.ndarray | None = None,
    ncols: int = 3,
    title: str = "P(jet k) per pixel",
    frame_width: int = 170,
    frame_height: int = 150,
) -> hv.Layout:
    """Per-jet probability heat maps of one event: K small ``hv.Image``s, jet k tinted with its colour.

    Parameters
    ----------
    pixel_probs : (K, n_eta, n_phi) float array
        Colour probabilities per pixel (the U-Net's softmax output).
    eta_range : (float, float)
        η edges of the map.
    mapping : (K,) int array, optional
        Displayed colour of each predicted colour (:func:`match_colours`): the panel of
        predicted colour c is titled ``"jet mapping[c]"``, tinted with that jet's palette colour,
        and the panels are ordered by displayed colour. Default: identity.
    ncols : int
        Panels per row.

    Returns
    -------
    hv.Layout of K ``hv.Image`` (kdims ``eta, phi``, vdim ``probability`` in [0, 1]), titled
    ``"jet j"``, in display order.
    """
    probs = np.asarray(pixel_probs, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"probability_maps: expected (K, n_eta, n_phi), got shape {probs.shape}")
    k, n_eta, n_phi = probs.shape
    mapping = np.arange(k) if mapping is None else np.asarray(mapping, dtype=np.int64)
    if mapping.shape != (k,) or len(set(mapping.tolist())) != k or mapping.min(initial=0) < 0:
        raise ValueError(f"probability_maps: mapping {mapping.tolist()} is not {k} distinct colours ≥ 0")
    e0, e1 = eta_range
    eta_c = e0 + (np.arange(n_eta) + 0.5) * (e1 - e0) / n_eta
    phi_c = -np.pi + (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    kdims = [_ETA.clone(range=(e0, e1)), _PHI]
    vdim = hv.Dimension("probability", label="P", range=(0.0, 1.0))
    panels = []
    for c in np.argsort(mapping, kind="stable"):  # predicted colours in display order
        j = int(mapping[c])
        colour = JET_PALETTE[j % len(JET_PALETTE)]
        img = hv.Image((eta_c, phi_c, probs[c].T), kdims, vdim, group="Probability", label=f"jet {j}")
        panels.append(img.opts(
            cmap=_ramp(colour), clim=(0.0, 1.0), colorbar=False, title=f"jet {j}", tools=["hover"],
            frame_width=frame_width, frame_height=frame_height, xlabel=ETA_LABEL, ylabel=PHI_LABEL,
            toolbar=None, fontsize={"title": 10, "labels": 9, "ticks": 8}, backend=_BACKEND,
        ))
    return hv.Layout(panels).cols(ncols).opts(title=title, shared_axes=False, backend=_BACKEND)


# ------------------------------------------------------------------------------ training
def loss_curves(
    history: Sequence[Mapping],
    steps: Sequence[tuple[float, float]] | None = None,
    *,
    title: str | None = None,
    width: int = 520,
    height: int = 280,
) -> hv.Overlay:
    """Train and test loss vs epoch (lines with markers) and the per-step training loss (faint).

    The overlay always has the same five layers (per-step curve; train curve and markers; test
    curve and markers), empty where there is no data yet, so it can be the frame of an
    ``hv.DynamicMap`` fed by a stream while a run trains (new data patch the plot in place).

    Parameters
    ----------
    history : sequence of dict
        One row per epoch (``ColorizeResult.history`` or the runner's "epoch" progress events):
        ``epoch``, ``train_loss`` and ``test_loss_crf`` (a run with a trained CRF) or
        ``test_loss_unet``; the test curve shows ``test_loss_crf`` where any row has it.
    steps : sequence of (float, float), optional
        ``(epoch − 1 + step / n_steps, loss)`` of single training steps, drawn as a faint line
        without a legend entry (the live view before the first epoch ends).
    title : str, optional
        Default ``"loss: train and test (U-Net)"`` or ``"… (U-Net + CRF)"``.

    Returns
    -------
    hv.Overlay of ``hv.Curve``/``hv.Scatter`` with kdim ``epoch`` and vdim ``loss``.
    """
    epoch = hv.Dimension("epoch", label="epoch")
    loss = hv.Dimension("loss", label="loss")
    crf = any("test_loss_crf" in r for r in history)
    test_key = "test_loss_crf" if crf else "test_loss_unet"

    def series(key: str) -> np.ndarray:
        rows = [(float(r["epoch"]), float(r[key])) for r in history
                if r.get(key) is not None and np.isfinite(float(r[key]))]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 2)

    steps_xy = np.asarray(steps if steps else [], dtype=np.float64).reshape(-1, 2)
    live = {"framewise": True, "backend": _BACKEND}  # axes follow the data when a DynamicMap updates
    layers = [hv.Curve(steps_xy, epoch, loss).opts(color="#56B4E9", alpha=0.6, line_width=1, **live)]
    for key, name, colour in (("train_loss", "train", "#0072B2"), (test_key, "test", "#D55E00")):
        xy = series(key)
        layers.append(hv.Curve(xy, epoch, loss, label=name).opts(color=colour, line_width=2, **live))
        layers.append(hv.Scatter(xy, epoch, loss, label=name).opts(color=colour, size=7, **live))
    last = max([float(r.get("epoch", 0)) for r in history] + steps_xy[:, 0].tolist() + [1.0])
    values = np.concatenate([steps_xy[:, 1], series("train_loss")[:, 1], series(test_key)[:, 1]])
    ylim = (float(values.min()) * 0.95, float(values.max()) * 1.05) if len(values) else (0.0, 1.0)
    if title is None:
        title = f"loss: train and test ({'U-Net + CRF' if crf else 'U-Net'})"
    return hv.Overlay(layers).opts(
        title=title, width=width, height=height, xlim=(0.0, last + 0.1), ylim=ylim, show_grid=True,
        legend_position="right", tools=["hover"], toolbar="above", framewise=True, backend=_BACKEND,
    )


# ------------------------------------------------------------------------------ tables
def run_rows(metrics: Mapping, n_train: int | None = None, crf: bool = False, name: str = "this run") -> list[dict]:
    """Rows for :func:`reproduction_table` from one run's ``metrics``.

    Parameters
    ----------
    metrics : dict
        ``ColorizeResult.metrics`` (``train_loss_unet``, ``test_loss_unet``, ``train_loss_crf``,
        ``test_loss_crf``, ``test_accuracy_*``, ``n_train``, ``n_colours``).
    n_train : int, optional
        Training events; default ``metrics["n_train"]``.
    crf : bool
        The run trained a CRF end to end (``config.crf``): one row "yes". Otherwise one row
        "no" (U-Net alone) and one "post" (the untrained CRF applied after the U-Net).

    Returns
    -------
    list of dict with keys ``source, training events, CRF, loss train, loss test, accuracy test``.
    """
    n = int(metrics.get("n_train", 0) if n_train is None else n_train)
    outputs = [("crf", "yes")] if crf else [("unet", "no"), ("crf", "post")]
    rows = []
    for key, label in outputs:
        if f"test_loss_{key}" not in metrics:
            continue
        rows.append({
            "source": name, "training events": n, "CRF": label,
            "loss train": float(metrics.get(f"train_loss_{key}", np.nan)),
            "loss test": float(metrics[f"test_loss_{key}"]),
            "accuracy test": float(metrics.get(f"test_accuracy_{key}", np.nan)),
            "K": int(metrics.get("n_colours", 6)),
        })
    return rows


def reproduction_table(ours: Iterable[Mapping] = ()) -> pd.DataFrame:
    """The talk's loss table with our rows next to the published ones.

    Parameters
    ----------
    ours : iterable of dict
        Rows from :func:`run_rows` (one or more runs).

    Returns
    -------
    pandas.DataFrame
        Columns ``source, training events, CRF, loss train, loss test, loss train per jet,
        loss test per jet, accuracy test``; the published rows first (``source ==
        "published (ZHH)"``, accuracy NaN), then ours. Per-jet columns are loss ÷ K for our
        rows (see :data:`LOSS_NOTE`) and NaN for the published ones.
    """
    rows = [{"source": "published (ZHH)", **row, "accuracy test": np.nan, "K": np.nan} for row in PUBLISHED_LOSSES]
    rows += [dict(row) for row in ours]
    df = pd.DataFrame(rows, columns=["source", "training events", "CRF", "loss train", "loss test",
                                     "accuracy test", "K"])
    ours_mask = df["source"] != "published (ZHH)"
    for col in ("loss train", "loss test"):
        df[f"{col} per jet"] = np.where(ours_mask, df[col] / df["K"], np.nan)
    df["training events"] = df["training events"].astype(int)
    return df[["source", "training events", "CRF", "loss train", "loss test", "loss train per jet",
               "loss test per jet", "accuracy test"]]


def metrics_table(metrics: Mapping, prefix: str = "test_", truth: str = "durham") -> pd.DataFrame:
    """Assignment quality and W / top mass (median, σ68) per jet assignment, from one run's ``metrics``.

    Rows: the training truth (``truth``: ``"durham"`` or ``"parton"``, named by
    :data:`TRUTH_LABELS`), U-Net, U-Net + CRF, anti-kt and — for a parton-truth run — Durham
    exclusive-6 on the same particles (those present in ``metrics``). Columns: ``assignment,
    accuracy, all pure`` (events whose six jets are each ≥ 90 % pure), ``merged, split`` (shares of
    the truth jets merged into / split across predicted jets), ``m_W median, m_W σ68, m_top median,
    m_top σ68`` (GeV); NaN where a value is missing (older runs, samples without six jets).
    """
    columns = {"accuracy": "accuracy", "all_pure": "all pure", "merged_rate": "merged", "split_rate": "split",
               "m_w_median": "m_W median", "m_w_sigma68": "m_W σ68", "m_top_median": "m_top median",
               "m_top_sigma68": "m_top σ68"}
    rows = []
    for key, name in {**_ASSIGNMENTS, "durham": TRUTH_LABELS["durham"].replace(" truth", " exclusive-6")}.items():
        values = {k: metrics.get(f"{prefix}{k}_{key}") for k in columns}
        if all(v is None for v in values.values()):
            continue
        if key == "truth":
            values.update(accuracy=1.0, all_pure=1.0, merged_rate=0.0, split_rate=0.0)
        rows.append({"assignment": TRUTH_LABELS.get(truth, truth) if key == "truth" else name,
                     **{label: np.nan if values[k] is None else float(values[k]) for k, label in columns.items()}})
    return pd.DataFrame(rows, columns=["assignment", *columns.values()])


def six_jet_masses(
    p4: np.ndarray, colours: np.ndarray, visible: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """W and top masses of e+e- → tt̄ → 6-jet events from a particle → jet assignment.

    Jets are the four-momentum sums of the particles of each colour 0…5; the W/top pairing is the
    best χ² (:func:`jetviz.data.resonances.ttbar_six_jet_masses`).

    Parameters
    ----------
    p4 : (N, P, 4) float array
        (px, py, pz, E) per particle, GeV (padding zeros).
    colours : (N, P) int array
        Jet 0…5 per particle, −1 for none.
    visible : (N, P) bool array, optional
        Particles that count (default: all).

    Returns
    -------
    (m_w, m_top) : two (2N,) float arrays, GeV (two W and two tops per event).
    """
    p4 = np.asarray(p4, dtype=np.float64)
    colours = np.asarray(colours, dtype=np.int64)
    keep = np.ones(colours.shape, bool) if visible is None else np.asarray(visible, bool)
    onehot = ((colours[..., None] == np.arange(6)) & keep[..., None]).astype(np.float64)
    jets = np.einsum("npk,npc->nkc", onehot, p4)
    m_w, m_top = ttbar_six_jet_masses(jets)
    return m_w.ravel(), m_top.ravel()


_MASS_COLOURS = ("#000000", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00")


def mass_histograms(
    masses: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    w_range: tuple[float, float] = (0.0, 160.0),
    top_range: tuple[float, float] = (60.0, 300.0),
    bins: int = 32,
    width: int = 380,
    height: int = 260,
) -> hv.Layout:
    """m_W and m_top distributions for several jet assignments, overlaid as step histograms.

    Parameters
    ----------
    masses : dict
        ``{assignment name: (m_w, m_top)}`` arrays in GeV (e.g. from :func:`six_jet_masses`);
        the first entry (usually ``"Durham truth"``) is drawn black.
    w_range, top_range : (float, float)
        Histogram ranges, GeV (entries outside are not shown).

    Returns
    -------
    hv.Layout of two ``hv.Overlay``s of step ``hv.Curve``s (kdims ``m_W`` / ``m_top``, vdim
    ``entries``: counts per bin, at the bin centres), with the nominal W and top masses as
    dashed lines.
    """
    panels = []
    for index, (dim, label, rng, nominal) in enumerate((("m_W", "m_W [GeV]", w_range, M_W),
                                                        ("m_top", "m_top [GeV]", top_range, M_TOP))):
        kdim = hv.Dimension(dim, label=label)
        edges = np.linspace(*rng, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        layers = []
        for i, (name, values) in enumerate(masses.items()):
            v = np.asarray(values[index], dtype=np.float64).ravel()
            counts, _ = np.histogram(v[np.isfinite(v)], bins=edges)
            layers.append(hv.Curve((centres, counts), kdims=[kdim], vdims=[hv.Dimension("entries")], label=name).opts(
                interpolation="steps-mid", color=_MASS_COLOURS[i % len(_MASS_COLOURS)], line_width=2 if i else 2.5,
                backend=_BACKEND))
        layers.append(hv.VLine(nominal).opts(color="#7f7f7f", line_dash="dashed", line_width=1, backend=_BACKEND))
        last = index == 1  # one legend, right of the m_top panel
        panels.append(hv.Overlay(layers).opts(
            title=f"{label.split(' ')[0]} (dashed: {nominal} GeV)", width=width + (130 if last else 0), xlim=rng,
            height=height, show_legend=last, legend_position="right", show_grid=True, toolbar=None,
            backend=_BACKEND))
    return hv.Layout(panels).opts(shared_axes=False, backend=_BACKEND).cols(2)


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise ==
class ColorizeEvent:
    """One test event with its predictions, ready to plot (visible particles only).

    Attributes
    ----------
    index : int
        Position in the run's test set.
    eta, phi, energy : (M,) float arrays
        Particles (radians, GeV), highest energy first.
    truth : (M,) int array
        Durham jet per particle (−1: none).
    in_map : (M,) bool array
        Inside the η–φ map (only those get a prediction).
    image : (n_eta, n_phi) float array
        Energy map of the particles (GeV): the grey-scale input.
    pixel_probs : (K, n_eta, n_phi) float array
        U-Net colour probabilities per pixel (network colour order).
    iterations : (T+1, M, K) float array
        Per-particle marginals: 0 = U-Net, t = after t mean-field CRF iterations.
    mapping : (K,) int array
        Displayed colour of each network colour (matched to the truth jets on shared energy).
    eta_range : (float, float)
        η edges of the map.
    """

    index: int
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    truth: np.ndarray
    in_map: np.ndarray
    image: np.ndarray
    pixel_probs: np.ndarray
    iterations: np.ndarray
    mapping: np.ndarray
    eta_range: tuple[float, float]

    @property
    def n_iterations(self) -> int:
        """T, the number of CRF iterations available (slider maximum)."""
        return self.iterations.shape[0] - 1

    def colours(self, iteration: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Displayed predicted colour (−1 outside the map) and its probability after ``iteration``."""
        t = int(np.clip(iteration, 0, self.n_iterations))
        q = self.iterations[t]
        best = q.argmax(axis=-1)
        colour = np.where(self.in_map, apply_colours(best, self.mapping), -1)
        prob = np.where(self.in_map, q[np.arange(len(best)), best], np.nan)
        return colour, prob

    def accuracy(self, iteration: int = 0) -> float:
        """Energy-weighted fraction of this event's particles (in the map, in a jet) in the right jet."""
        colour, _ = self.colours(iteration)
        ok = self.in_map & (self.truth >= 0)
        total = float(self.energy[ok].sum())
        return float(self.energy[ok & (colour == self.truth)].sum() / total) if total > 0 else float("nan")

    def summary(self) -> str:
        """One line: index, multiplicity, visible energy."""
        return (f"test event {self.index}: {len(self.energy)} visible particles "
                f"({int(self.in_map.sum())} in the map), {int(self.truth.max(initial=-1)) + 1} truth jets, "
                f"ΣE = {float(self.energy.sum()):.1f} GeV")


@dataclass(eq=False)
class Display:
    """Predictions of a run on (the first events of) its test set, for the views.

    Attributes
    ----------
    prediction : jetviz.runners.colorize.Prediction
        ``pixel_probs (N, K, n_eta, n_phi)``, ``iterations (N, T+1, P, K)``, ``data``.
    masses : dict
        ``{assignment: (m_w, m_top)}`` (GeV) for six-jet samples, else empty.
    eta_range : (float, float)
    """

    prediction: Any
    masses: dict = field(default_factory=dict)
    eta_range: tuple[float, float] = (-3.0, 3.0)

    def __len__(self) -> int:
        return len(self.prediction.pixel_probs)

    def event(self, index: int) -> ColorizeEvent:
        """Test event ``index`` (0 ≤ index < len(self))."""
        if not 0 <= index < len(self):
            raise IndexError(f"test event {index} outside [0, {len(self)})")
        p, data = self.prediction, self.prediction.data
        keep = np.asarray(data.visible[index], bool)
        n_eta, n_phi = p.pixel_probs.shape[2:]
        energy = np.asarray(data.energy[index], np.float64)
        mask = np.asarray(data.mask[index], bool)
        image = np.zeros(n_eta * n_phi)
        np.add.at(image, data.pixel[index][mask], energy[mask])
        iterations = p.iterations[index][:, keep]
        truth = np.asarray(data.truth[index], np.int64)[keep]
        mapping = match_colours(iterations[0] * mask[keep][:, None], truth, energy[keep], p.pixel_probs.shape[1])
        return ColorizeEvent(
            index=int(index), eta=np.asarray(data.eta[index], np.float64)[keep],
            phi=np.asarray(data.phi[index], np.float64)[keep], energy=energy[keep], truth=truth, in_map=mask[keep],
            image=image.reshape(n_eta, n_phi), pixel_probs=p.pixel_probs[index], iterations=iterations,
            mapping=mapping, eta_range=self.eta_range,
        )
