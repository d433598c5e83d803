"""JetCLR displays (seed 004): jet constituents and their augmentations, the rotation-invariance
curve, the ablation table vs the talk, background-rejection curves, the representation space and
the contrastive loss per epoch.

Pure functions from numpy arrays (or a run's ``metrics`` / ``history`` rows) to HoloViews
elements or pandas tables. No Panel and no torch here (so no import of
:mod:`jetviz.runners.jetclr` either: the talk's table, ``jetviz.runners.jetclr.TALK``, is passed
in): :mod:`jetviz.ui.jetclr` composes these into the jetclr page.

Conventions:

- A jet is ``x`` ``(P, 3)`` = (pT [GeV], Δη [rad], Δφ [rad]) of up to P constituents relative to
  the jet axis, with ``mask`` ``(P,)`` bool (True for a real constituent), as
  :func:`jetviz.models.constituents.pad_constituents` makes them; drawn with Δη on x and Δφ on
  y, marker area ∝ pT.
- Top is label 1 (signal), QCD label 0 (background). Rejection curves follow the top-tagging
  convention: 1/ε_b (QCD) against ε_s (top), log y; the working point of the talk's table is
  ε_s = 0.5.
- Rotation angles arrive in radians and are drawn in degrees.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import holoviews as hv
import numpy as np
import pandas as pd

from jetviz.plots.vae_emd import CLASS_NAMES, latent_points, pca_2d, training_curve

__all__ = [
    "ABLATION_COLUMNS",
    "CLASS_NAMES",
    "ORIGINAL_COLOR",
    "AUGMENTED_COLOR",
    "constituents",
    "augmentation_pair",
    "constituent_grid",
    "jet_reach",
    "invariance_plot",
    "ablation_table",
    "ablation_bars",
    "rejection_curves",
    "representation_points",
    "loss_curve",
]

_BACKEND = "bokeh"
_DETA_LABEL, _DPHI_LABEL = "Δη [rad]", "Δφ [rad]"
#: columns of :func:`ablation_table`
ABLATION_COLUMNS = ("augmentations", "talk 1/ε_b", "talk AUC", "ours 1/ε_b", "ours AUC")
#: colours of an original jet and of its augmented / rotated copy (Okabe–Ito)
ORIGINAL_COLOR, AUGMENTED_COLOR = "#0072B2", "#D55E00"
#: colours of the trained and the untrained encoder
TRAINED_COLOR, UNTRAINED_COLOR = "#009E73", "#7f7f7f"


def _check_jet(x: np.ndarray, mask: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    mask = np.asarray(mask)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"{what}: a jet must be a (P, 3) array of (pT, Δη, Δφ), got shape {x.shape}")
    if mask.shape != (x.shape[0],):
        raise ValueError(f"{what}: mask must have shape ({x.shape[0]},), got {mask.shape}")
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError(f"{what}: the jet has no real constituent (mask all False)")
    real = x[mask]
    if not np.isfinite(real).all():
        raise ValueError(f"{what}: NaN or infinite constituent values")
    if (real[:, 0] < 0).any():
        raise ValueError(f"{what}: negative constituent pT")
    return x, mask


def jet_reach(*jets: tuple[np.ndarray, np.ndarray], margin: float = 1.15, minimum: float = 0.1) -> float:
    """Half-width (rad) of a square Δη–Δφ window centred on the axis that holds every real constituent.

    Parameters
    ----------
    *jets : (x, mask) pairs
        Jets ``(P, 3)`` with masks ``(P,)``.
    margin : float
        Factor on the largest |Δη|, |Δφ|.
    minimum : float
        Smallest half-width returned (rad).
    """
    reach = 0.0
    for x, mask in jets:
        x, mask = _check_jet(x, mask, "jet_reach")
        reach = max(reach, float(np.abs(x[mask, 1:]).max()))
    return max(float(minimum), margin * reach)


def constituents(x: np.ndarray, mask: np.ndarray, *, title: str = "", color: str = ORIGINAL_COLOR,
                 reach: float | None = None, max_size: float = 30.0, frame_width: int = 260,
                 frame_height: int = 260) -> hv.Points:
    """One jet's constituents in the Δη–Δφ plane, marker area ∝ pT.

    Parameters
    ----------
    x : (P, 3) float array
        (pT [GeV], Δη [rad], Δφ [rad]) per row; rows with ``mask`` False are padding and not drawn.
    mask : (P,) bool array
        True for a real constituent.
    title : str
        Plot title.
    color : str
        Marker colour.
    reach : float, optional
        Both axes span [−reach, reach] rad (default: :func:`jet_reach` of this jet).
    max_size : float
        Marker diameter (screen px) of the hardest constituent; diameter ∝ √pT (area ∝ pT), at
        least 2 px.

    Returns
    -------
    hv.Points
        kdims ``deta``, ``dphi``; vdims ``pt`` (GeV), ``size``; hover tool.

    Raises
    ------
    ValueError
        ``x`` not ``(P, 3)``, a mask of another length, no real constituent, non-finite values or
        negative pT.
    """
    x, mask = _check_jet(x, mask, "constituents")
    real = x[mask]
    top = float(real[:, 0].max())
    size = np.maximum(2.0, float(max_size) * np.sqrt(real[:, 0] / top)) if top > 0 else np.full(len(real), 2.0)
    if reach is None:
        reach = jet_reach((x, mask))
    deta = hv.Dimension("deta", label=_DETA_LABEL, range=(-reach, reach))
    dphi = hv.Dimension("dphi", label=_DPHI_LABEL, range=(-reach, reach))
    df = pd.DataFrame({"deta": real[:, 1], "dphi": real[:, 2], "pt": real[:, 0], "size": size})
    return hv.Points(df, [deta, dphi], [hv.Dimension("pt", label="pT [GeV]"), "size"]).opts(
        color=color, size="size", alpha=0.6, line_color="black", line_alpha=0.3, tools=["hover"], title=title,
        xlim=(-reach, reach), ylim=(-reach, reach), frame_width=frame_width, frame_height=frame_height,
        show_grid=True, toolbar="above", framewise=True, backend=_BACKEND)


def augmentation_pair(x: np.ndarray, mask: np.ndarray, x_aug: np.ndarray, mask_aug: np.ndarray, *,
                      titles: Sequence[str] = ("original", "augmented"), frame_width: int = 260,
                      frame_height: int = 260) -> hv.Layout:
    """A jet and its augmented copy side by side, on the same Δη–Δφ ranges.

    Parameters
    ----------
    x, x_aug : (P, 3) float arrays
        The jet and its augmentation (pT [GeV], Δη, Δφ [rad]); P may differ.
    mask, mask_aug : (P,) bool arrays
        Their masks.
    titles : (str, str)
        Titles of the two panels.

    Returns
    -------
    hv.Layout
        Two :func:`constituents` plots (original in blue, augmented in orange) with equal axis ranges.

    Raises
    ------
    ValueError
        As :func:`constituents`, or not two titles.
    """
    if len(titles) != 2:
        raise ValueError(f"augmentation_pair: need two titles, got {len(titles)}")
    reach = jet_reach((x, mask), (x_aug, mask_aug))
    size = {"reach": reach, "frame_width": frame_width, "frame_height": frame_height}
    return hv.Layout([constituents(x, mask, title=titles[0], color=ORIGINAL_COLOR, **size),
                      constituents(x_aug, mask_aug, title=titles[1], color=AUGMENTED_COLOR, **size)]).cols(2).opts(
        shared_axes=False, backend=_BACKEND)


def constituent_grid(xs: Sequence[np.ndarray], masks: Sequence[np.ndarray], titles: Sequence[str], *, cols: int = 4,
                     frame_width: int = 150, frame_height: int = 150) -> hv.Layout:
    """Several jets' constituents in a grid, each on its own ranges (e.g. the jets of a selection).

    Parameters
    ----------
    xs : sequence of (P, 3) arrays
    masks : sequence of (P,) bool arrays
    titles : sequence of str
        One per jet.

    Raises
    ------
    ValueError
        No jet, or as many masks and titles as jets not given.
    """
    if len(xs) == 0 or not (len(xs) == len(masks) == len(titles)):
        raise ValueError(f"constituent_grid: need ≥ 1 jet with one mask and title each, got "
                         f"{len(xs)}, {len(masks)}, {len(titles)}")
    panels = [constituents(x, m, title=t, max_size=18, frame_width=frame_width, frame_height=frame_height)
              .opts(toolbar=None, xticks=4, yticks=5) for x, m, t in zip(xs, masks, titles)]
    return hv.Layout(panels).cols(max(1, int(cols))).opts(shared_axes=False, backend=_BACKEND)


def invariance_plot(angles: np.ndarray, trained: np.ndarray, untrained: np.ndarray | None = None, *,
                    angle: float | None = None, values: Mapping[str, float] | None = None,
                    title: str = "Rotation invariance ⟨s(r(x), r(R(θ)x))⟩", width: int = 600,
                    height: int = 320) -> hv.Overlay:
    """The invariance curve: mean cosine similarity of representations of a jet and of its rotation.

    Parameters
    ----------
    angles : (K,) float array
        Rotation angles θ (rad), drawn in degrees.
    trained : (K,) float array
        ⟨s(r(x), r(R(θ)x))⟩ over test jets for the trained encoder (s in [−1, 1]).
    untrained : (K,) float array, optional
        The same for the untrained encoder (same initial weights).
    angle : float, optional
        The slider's angle (rad): a vertical line.
    values : mapping, optional
        ``{"trained": s, "untrained": s}`` of one jet at ``angle``: drawn as markers on the line.

    Returns
    -------
    hv.Overlay
        ``hv.Curve`` + ``hv.Scatter`` per encoder (kdim ``angle`` in degrees, vdim ``s``), an
        ``hv.VLine`` at ``angle`` and the markers of ``values``.

    Raises
    ------
    ValueError
        Arrays of different lengths, fewer than 2 angles or non-finite values.
    """
    theta = np.asarray(angles, dtype=np.float64).ravel()
    curves = {"trained": trained, "untrained": untrained}
    if len(theta) < 2:
        raise ValueError(f"invariance_plot: need ≥ 2 angles, got {len(theta)}")
    a_dim = hv.Dimension("angle", label="rotation angle θ [deg]", range=(0.0, float(np.degrees(theta.max()))))
    s_dim = hv.Dimension("s", label="⟨s(r(x), r(R(θ)x))⟩ (cosine similarity)")
    layers = []
    for name, color in (("trained", TRAINED_COLOR), ("untrained", UNTRAINED_COLOR)):
        if curves[name] is None:
            continue
        s = np.asarray(curves[name], dtype=np.float64).ravel()
        if s.shape != theta.shape:
            raise ValueError(f"invariance_plot: {len(theta)} angles but {len(s)} {name} values")
        if not np.isfinite(s).all() or not np.isfinite(theta).all():
            raise ValueError(f"invariance_plot: non-finite {name} values or angles")
        xy = (np.degrees(theta), s)
        layers.append(hv.Curve(xy, a_dim, s_dim, label=f"{name} encoder").opts(color=color, line_width=2,
                                                                                backend=_BACKEND))
        layers.append(hv.Scatter(xy, a_dim, s_dim, label=f"{name} encoder").opts(color=color, size=5, tools=["hover"],
                                                                                  backend=_BACKEND))
    if angle is not None:
        layers.append(hv.VLine(float(np.degrees(angle))).opts(color="black", line_dash="dashed", line_width=1,
                                                               backend=_BACKEND))
        for name, s in (values or {}).items():
            if s is None or not math.isfinite(float(s)):
                continue
            color = TRAINED_COLOR if name == "trained" else UNTRAINED_COLOR
            layers.append(hv.Scatter(([float(np.degrees(angle))], [float(s)]), a_dim, s_dim,
                                     label=f"this jet, {name}").opts(color=color, marker="diamond", size=12,
                                                                     line_color="black", backend=_BACKEND))
    return hv.Overlay(layers).opts(title=title, width=width, height=height, show_grid=True,
                                   legend_position="right", toolbar="above", backend=_BACKEND)


def _number(value, digits: int) -> str:
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def ablation_table(ours: Mapping[str, Mapping[str, float]] | None, talk: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    """The talk's ablation table with this page's runs next to it.

    Parameters
    ----------
    ours : mapping or None
        ``{row: {"rejection": 1/ε_b at ε_s = 0.5, "auc": AUC}}`` (a run's ``metrics``, or an
        :func:`jetviz.runners.jetclr.ablation` summary row); rows not in ``talk`` are appended.
        ``None`` or ``{}``: the "ours" columns read "—".
    talk : mapping
        ``{row: (1/ε_b, AUC)}``, the seed's table (``jetviz.runners.jetclr.TALK``), in its order.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ABLATION_COLUMNS` (strings: 1/ε_b without decimals, "∞" where no QCD jet
        passes, AUC with three decimals, "—" where there is none); one row per ``talk`` row.

    Raises
    ------
    ValueError
        An entry of ``ours`` without ``"rejection"`` and ``"auc"``.
    """
    ours = dict(ours or {})
    for row, values in ours.items():
        if not isinstance(values, Mapping) or "rejection" not in values or "auc" not in values:
            raise ValueError(f"ablation_table: row {row!r} needs 'rejection' and 'auc', got {values!r}")
    rows = []
    for row in [*talk, *(r for r in ours if r not in talk)]:
        ref = talk.get(row, (None, None))
        mine = ours.get(row, {})
        rows.append({"augmentations": row, "talk 1/ε_b": _number(ref[0], 0), "talk AUC": _number(ref[1], 3),
                     "ours 1/ε_b": _number(mine.get("rejection"), 0), "ours AUC": _number(mine.get("auc"), 3)})
    return pd.DataFrame(rows, columns=list(ABLATION_COLUMNS))


def ablation_bars(ours: Mapping[str, Mapping[str, float]] | None, talk: Mapping[str, tuple[float, float]], *,
                  width: int = 480, height: int = 300) -> hv.Bars:
    """AUC per ablation row: ours next to the talk's (grouped bars).

    Parameters
    ----------
    ours, talk : mapping
        As in :func:`ablation_table`.

    Returns
    -------
    hv.Bars
        kdims ``augmentations``, ``source`` (``"talk"`` / ``"ours"``), vdim ``auc``; rows without
        our AUC show only the talk's bar.

    Raises
    ------
    ValueError
        As :func:`ablation_table`.
    """
    table = ablation_table(ours, talk)
    records = []
    for _, row in table.iterrows():
        for source, column in (("talk", "talk AUC"), ("ours", "ours AUC")):
            if row[column] != "—":
                records.append({"augmentations": row["augmentations"], "source": source, "auc": float(row[column])})
    df = pd.DataFrame(records, columns=["augmentations", "source", "auc"])
    rows = list(dict.fromkeys(table["augmentations"]))
    kdims = [hv.Dimension("augmentations", values=rows), hv.Dimension("source", values=["talk", "ours"])]
    return hv.Bars(df, kdims, hv.Dimension("auc", label="AUC (top vs QCD)")).opts(
        color="source", cmap={"talk": "#BBBBBB", "ours": TRAINED_COLOR}, ylim=(0.5, 1.0), width=width, height=height,
        title="Linear classifier test AUC: ours vs the talk", tools=["hover"], show_legend=False,
        xlabel="augmentations (grey: the talk, green: ours)",
        toolbar="above", backend=_BACKEND)


def rejection_curves(rocs: Mapping[str, tuple[np.ndarray, np.ndarray, float]], *, working_point: float = 0.5,
                     title: str = "Background rejection (linear classifier test)", width: int = 460,
                     height: int = 380) -> hv.Overlay:
    """ROC curves of several runs or encoders overlaid, top-tagging style: 1/ε_b against ε_s, log y.

    Parameters
    ----------
    rocs : mapping
        ``{name: (fpr, tpr, auc)}`` with ``(M,)`` rates in [0, 1] (``JetclrResult.roc``): fpr =
        ε_b (QCD jets tagged as top), tpr = ε_s (top jets tagged). Points with ε_b = 0 (infinite
        rejection) are left out.
    working_point : float
        ε_s of the dashed vertical line (the talk's 1/ε_b is read there).

    Returns
    -------
    hv.Overlay
        The random tagger (1/ε_b = 1/ε_s, dashed), one ``hv.Curve`` per entry (kdim ``eff_s``,
        vdim ``rejection``) labelled ``"<name> (AUC 0.912)"``, and the working point's ``hv.VLine``.

    Raises
    ------
    ValueError
        Rates of different lengths or outside [0, 1].
    """
    s_dim = hv.Dimension("eff_s", label="signal efficiency ε_s (top jets tagged)", range=(0.0, 1.0))
    r_dim = hv.Dimension("rejection", label="background rejection 1/ε_b (QCD), log scale")
    grid = np.linspace(0.01, 1.0, 100)
    layers = [hv.Curve((grid, 1 / grid), s_dim, r_dim, label="random").opts(color="#7f7f7f", line_dash="dashed",
                                                                             line_width=1, backend=_BACKEND)]
    palette = (TRAINED_COLOR, UNTRAINED_COLOR, "#0072B2", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9")
    top = 10.0
    for k, (name, (fpr, tpr, auc)) in enumerate(rocs.items()):
        fpr = np.asarray(fpr, dtype=np.float64).ravel()
        tpr = np.asarray(tpr, dtype=np.float64).ravel()
        if fpr.shape != tpr.shape:
            raise ValueError(f"rejection_curves: {name}: {len(fpr)} false-positive rates but {len(tpr)} true-positive rates")
        if len(fpr) and (fpr.min() < 0 or fpr.max() > 1 or tpr.min() < 0 or tpr.max() > 1):
            raise ValueError(f"rejection_curves: {name}: rates must lie in [0, 1]")
        keep = (fpr > 0) & (tpr > 0)
        rejection = 1.0 / fpr[keep]
        if len(rejection):
            top = max(top, float(rejection.max()))
        layers.append(hv.Curve((tpr[keep], rejection), s_dim, r_dim, label=f"{name} (AUC {float(auc):.3f})").opts(
            color=palette[k % len(palette)], line_width=2, tools=["hover"], backend=_BACKEND))
    layers.append(hv.VLine(float(working_point)).opts(color="black", line_dash="dotted", line_width=1,
                                                      backend=_BACKEND))
    return hv.Overlay(layers).opts(title=title, width=width, height=height, logy=True, xlim=(0.0, 1.0),
                                   ylim=(1.0, 2 * top), show_grid=True, legend_position="top_right", toolbar="above",
                                   backend=_BACKEND)


def representation_points(rep: np.ndarray, labels: np.ndarray, index: np.ndarray, *, width: int = 420,
                          height: int = 380) -> hv.Points:
    """Test jets' representations r in the plane of their first two principal components, top/QCD coloured.

    Parameters
    ----------
    rep : (N, D) float array
        Representations (``JetclrResult.arrays["rep"]``).
    labels : (N,) int array
        0 QCD, 1 top.
    index : (N,) int array
        Sample index of each jet (vdim ``jet``, so a box/lasso selection names the jets).

    Returns
    -------
    hv.Points
        As :func:`jetviz.plots.vae_emd.latent_points` (kdims ``pc1``, ``pc2``; vdims ``jet``,
        ``class``; box and lasso selection, box selection active), axes labelled as representation PCs.

    Raises
    ------
    ValueError
        Not (N ≥ 2, D) representations, non-finite values or lengths that do not match.
    """
    coords, share = pca_2d(rep)
    points = latent_points(coords, labels, index, share=share, width=width, height=height)
    return points.redim(pc1=hv.Dimension("pc1", label=f"representation PC 1 ({100 * share[0]:.0f}% of the variance)"),
                        pc2=hv.Dimension("pc2", label=f"representation PC 2 ({100 * share[1]:.0f}% of the variance)")).opts(
        title="Representations r of the test jets (PCA)", active_tools=["box_select"], backend=_BACKEND)


def loss_curve(history: Sequence[Mapping], *, width: int = 440, height: int = 280) -> hv.Overlay:
    """NT-Xent training loss per epoch (:func:`jetviz.plots.vae_emd.training_curve`, relabelled).

    Parameters
    ----------
    history : sequence of dict
        Rows with ``epoch`` and ``train_loss`` (mean NT-Xent over the 2B views of each batch).

    Returns
    -------
    hv.Overlay
        ``hv.Curve`` + ``hv.Scatter`` (kdim ``epoch``, vdim ``loss``); an empty curve without rows.
    """
    return training_curve(history, width=width, height=height).redim(
        loss=hv.Dimension("loss", label="NT-Xent loss (mean over views)")).opts(
        title="Contrastive loss per epoch", backend=_BACKEND)

