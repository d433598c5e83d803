"""β-VAE vs Energy Mover's Distance displays (seed 002): the correlation table vs the talk,
latent distance vs W_p densities, anomaly ROC curves, jet images with their transport plan,
the latent space and the β scan.

Pure functions from numpy arrays (or a run's ``metrics`` entries / ``scan.json`` rows) to
HoloViews elements or pandas tables. No Panel and no torch here (so no import of
:mod:`jetviz.runners.vae_emd` either): :mod:`jetviz.ui.vae_emd` composes these into the page.

Conventions:

- Jet images are ``(n_pix, n_pix)`` unit-sum pT fractions with Δη down the rows and Δφ along
  the columns, covering ``[−width/2, width/2)`` rad on both axes (as
  :func:`jetviz.data.pixelate.jet_images` makes them). They are drawn with Δη on x and Δφ on y.
- W_p is the normalised p-Wasserstein distance between two jet images with ground distance
  θ/R, without the 1/p root (dimensionless); distances in input space are Σ (x − x′)², in latent
  space Euclidean distances of the latent means μ.
- QCD is label 0 (the background), top label 1 (the anomaly).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import holoviews as hv
import numpy as np
import pandas as pd

__all__ = [
    "PUBLISHED_CORRELATIONS",
    "DISTANCE_NAMES",
    "SCORE_NAMES",
    "SCORE_COLORS",
    "CLASS_NAMES",
    "CLASS_COLORS",
    "correlation_table",
    "distance_density",
    "anomaly_rocs",
    "jet_image",
    "jet_images",
    "transport_plan",
    "pair_points",
    "latent_points",
    "pca_2d",
    "beta_scan_plot",
    "training_curve",
]

_BACKEND = "bokeh"

#: the talk's correlation table (seed 002): Pearson r of a distance with W_p for p = 0.5 and p = 1
#: (p = 1: only the two ends of the scan were quoted, 0.44 → 0.70; None where not quoted)
PUBLISHED_CORRELATIONS: tuple[dict, ...] = (
    {"distance": "input", "where": "input space (MSE), baseline", "p0.5": 0.55, "p1": 0.44},
    {"distance": "block1", "where": "latent space, 1 downsampling block", "p0.5": 0.68, "p1": None},
    {"distance": "block2", "where": "latent space, 2 downsampling blocks", "p0.5": 0.76, "p1": None},
    {"distance": "block3", "where": "latent space, 3 downsampling blocks", "p0.5": 0.79, "p1": 0.70},
)
#: readable name of each distance of the runner's ``metrics["correlations"]``
DISTANCE_NAMES: dict[str, str] = {
    "input": "input space Σ(x − x′)²",
    "block1": "after 1 downsampling block",
    "block2": "after 2 downsampling blocks",
    "block3": "after 3 downsampling blocks",
    "block4": "after 4 downsampling blocks",
    "latent": "latent means μ",
}
#: readable name of each anomaly score of the runner's ``metrics["auc"]``
SCORE_NAMES: dict[str, str] = {
    "vae_loss": "VAE loss",
    "emd_mean_qcd": "W₁ to the mean QCD image",
    "emd_medoids": "min W₁ to the k-medoids",
}
#: colour of each anomaly score (Okabe–Ito)
SCORE_COLORS: dict[str, str] = {"vae_loss": "#0072B2", "emd_mean_qcd": "#E69F00", "emd_medoids": "#009E73"}
#: names and colours of label 0 and 1
CLASS_NAMES: tuple[str, str] = ("QCD", "top")
CLASS_COLORS: tuple[str, str] = ("#0072B2", "#D55E00")

_DETA_LABEL, _DPHI_LABEL = "Δη [rad]", "Δφ [rad]"


def _fmt(r) -> str:
    return "—" if r is None or not np.isfinite(r) else f"{float(r):.2f}"


def correlation_table(correlations: Mapping[str, Mapping[str, float]] | None = None,
                      reference: Sequence[Mapping] = PUBLISHED_CORRELATIONS) -> pd.DataFrame:
    """The talk's correlation table with this run's r next to it.

    Parameters
    ----------
    correlations : mapping, optional
        ``{distance: {"p0.5": r, "p1": r}}`` (``VaeEmdResult.metrics["correlations"]``); without
        it (no run yet) the "this run" columns read "—".
    reference : sequence of dict
        The talk's rows (:data:`PUBLISHED_CORRELATIONS`).

    Returns
    -------
    pandas.DataFrame
        Columns ``distance``, ``talk r (p=0.5)``, ``this run r (p=0.5)``, ``talk r (p=1)``,
        ``this run r (p=1)`` as strings with two decimals ("—" where there is none); one row per
        distance of the talk, then this run's other distances (e.g. the latent means).

    Raises
    ------
    ValueError
        An entry of ``correlations`` without both ``"p0.5"`` and ``"p1"``.
    """
    ours = dict(correlations or {})
    for name, rs in ours.items():
        if not isinstance(rs, Mapping) or "p0.5" not in rs or "p1" not in rs:
            raise ValueError(f"correlation_table: {name!r} needs 'p0.5' and 'p1' values, got {rs!r}")
    rows, seen = [], set()
    for ref in reference:
        name = ref["distance"]
        seen.add(name)
        mine = ours.get(name, {})
        rows.append({"distance": ref.get("where", DISTANCE_NAMES.get(name, name)),
                     "talk r (p=0.5)": _fmt(ref.get("p0.5")), "this run r (p=0.5)": _fmt(mine.get("p0.5")),
                     "talk r (p=1)": _fmt(ref.get("p1")), "this run r (p=1)": _fmt(mine.get("p1"))})
    for name, mine in ours.items():
        if name in seen:
            continue
        rows.append({"distance": DISTANCE_NAMES.get(name, name), "talk r (p=0.5)": "—",
                     "this run r (p=0.5)": _fmt(mine["p0.5"]), "talk r (p=1)": "—", "this run r (p=1)": _fmt(mine["p1"])})
    return pd.DataFrame(rows, columns=["distance", "talk r (p=0.5)", "this run r (p=0.5)", "talk r (p=1)",
                                       "this run r (p=1)"])


def distance_density(w: np.ndarray, distance: np.ndarray, *, p: float = 0.5, r: float | None = None,
                     ylabel: str = "latent distance |μ − μ′|", bins: int = 30, title: str | None = None,
                     width: int = 380, height: int = 320) -> hv.Image:
    """2-d histogram of a distance against W_p over the same jet pairs, r in the title.

    Parameters
    ----------
    w : (M,) float array
        W_p of the pairs (dimensionless, no 1/p root).
    distance : (M,) float array
        The other distance of the same pairs (latent Euclidean, or input Σ(x − x′)²).
    p : float
        The W_p power (axis label).
    r : float, optional
        Pearson r shown in the title (default: computed here).
    bins : int
        Bins per axis.

    Returns
    -------
    hv.Image
        kdims ``W_p`` (x), ``distance`` (y), vdim ``pairs`` (count per bin; empty bins NaN, drawn white).

    Raises
    ------
    ValueError
        Different lengths, fewer than 2 pairs, non-finite values or ``bins < 1``.
    """
    w = np.asarray(w, dtype=np.float64).ravel()
    d = np.asarray(distance, dtype=np.float64).ravel()
    if w.shape != d.shape or len(w) < 2:
        raise ValueError(f"distance_density: need two equal arrays of ≥ 2 pairs, got {w.shape} and {d.shape}")
    if not (np.isfinite(w).all() and np.isfinite(d).all()):
        raise ValueError("distance_density: non-finite distances")
    if int(bins) < 1:
        raise ValueError(f"distance_density: bins must be ≥ 1, got {bins}")
    if r is None:
        r = float(np.corrcoef(w, d)[0, 1]) if w.std() > 0 and d.std() > 0 else float("nan")
    def edges(x):
        lo, hi = float(x.min()), float(x.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, int(bins) + 1)
    ex, ey = edges(w), edges(d)
    counts, _, _ = np.histogram2d(w, d, bins=(ex, ey))
    counts = np.where(counts > 0, counts, np.nan)
    xc, yc = (ex[:-1] + ex[1:]) / 2, (ey[:-1] + ey[1:]) / 2
    x_dim = hv.Dimension("W_p", label=f"W_{p:g} (θ/R, no 1/p root)")
    y_dim = hv.Dimension("distance", label=ylabel)
    img = hv.Image((xc, yc, counts.T), [x_dim, y_dim], hv.Dimension("pairs", label="jet pairs"))
    head = title if title is not None else ylabel
    return img.opts(cmap="viridis", colorbar=True, clabel="jet pairs", tools=["hover"],
                    clipping_colors={"NaN": "white"}, title=f"{head} vs W_{p:g}: r = {_fmt(r)}",
                    width=width, height=height, framewise=True, toolbar="above", backend=_BACKEND)


def anomaly_rocs(rocs: Mapping[str, tuple[np.ndarray, np.ndarray, float]], *,
                 title: str = "ROC: top (anomaly) vs QCD test jets", width: int = 440, height: int = 380) -> hv.Overlay:
    """ROC curves of the anomaly scores overlaid, AUC in the legend.

    Parameters
    ----------
    rocs : dict
        ``{score: (fpr, tpr, auc)}`` with ``(M,)`` rates in [0, 1] (``VaeEmdResult.roc``); score
        keys as in :data:`SCORE_NAMES`.

    Returns
    -------
    hv.Overlay
        The dashed diagonal (random) and one ``hv.Curve`` per score (kdim ``fpr``: QCD jets
        called anomalous; vdim ``tpr``: top jets called anomalous), labelled ``"<name> (AUC 0.812)"``.

    Raises
    ------
    ValueError
        Rates of different lengths or outside [0, 1].
    """
    fpr_dim = hv.Dimension("fpr", label="false-positive rate (QCD called anomalous)", range=(0.0, 1.0))
    tpr_dim = hv.Dimension("tpr", label="true-positive rate (top called anomalous)", range=(0.0, 1.0))
    layers = [hv.Curve(([0.0, 1.0], [0.0, 1.0]), fpr_dim, tpr_dim, label="random (AUC 0.5)").opts(
        color="#7f7f7f", line_dash="dashed", line_width=1, backend=_BACKEND)]
    for k, (score, (fpr, tpr, auc)) in enumerate(rocs.items()):
        fpr = np.asarray(fpr, dtype=np.float64).ravel()
        tpr = np.asarray(tpr, dtype=np.float64).ravel()
        if fpr.shape != tpr.shape:
            raise ValueError(f"anomaly_rocs: {score}: {len(fpr)} false-positive rates but {len(tpr)} true-positive rates")
        if len(fpr) and (fpr.min() < 0 or fpr.max() > 1 or tpr.min() < 0 or tpr.max() > 1):
            raise ValueError(f"anomaly_rocs: {score}: rates must lie in [0, 1]")
        color = SCORE_COLORS.get(score, ("#CC79A7", "#000000", "#56B4E9")[k % 3])
        layers.append(hv.Curve((fpr, tpr), fpr_dim, tpr_dim, label=f"{SCORE_NAMES.get(score, score)} (AUC {float(auc):.3f})")
                      .opts(color=color, line_width=2, tools=["hover"], backend=_BACKEND))
    return hv.Overlay(layers).opts(title=title, width=width, height=height, xlim=(0.0, 1.0), ylim=(0.0, 1.02),
                                   show_grid=True, legend_position="bottom_right", toolbar="above", backend=_BACKEND)


def _centres(n: int, width: float) -> np.ndarray:
    return -width / 2 + (np.arange(n) + 0.5) * (width / n)


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2 or image.shape[0] != image.shape[1] or image.shape[0] < 1:
        raise ValueError(f"{what}: expected an (n_pix, n_pix) image, got shape {image.shape}")
    return image


def jet_image(image: np.ndarray, width: float, *, title: str = "", logz: bool = True,
              frame_width: int = 200, frame_height: int = 200, colorbar: bool = True) -> hv.Image:
    """One jet image (pT fraction per pixel) with Δη on x and Δφ on y.

    Parameters
    ----------
    image : (n_pix, n_pix) or (1, n_pix, n_pix) float array
        pT fractions, Δη down the rows, Δφ along the columns.
    width : float
        Side of the image in Δη and Δφ (rad); the image covers ``[−width/2, width/2)``.
    logz : bool
        Logarithmic colour scale (empty pixels white).
    frame_width, frame_height : int
        Size of the image area in screen pixels (without axes and colour bar).

    Returns
    -------
    hv.Image
        kdims ``deta, dphi`` (rad), vdim ``fraction`` (pT fraction); data ``image.T`` (rows = Δφ).

    Raises
    ------
    ValueError
        Not a square 2-d image, or ``width`` ≤ 0.
    """
    image = _check_image(image, "jet_image")
    if not width > 0:
        raise ValueError(f"jet_image: width must be > 0 rad, got {width}")
    c = _centres(image.shape[0], float(width))
    half = float(width) / 2
    kdims = [hv.Dimension("deta", label=_DETA_LABEL, range=(-half, half)),
             hv.Dimension("dphi", label=_DPHI_LABEL, range=(-half, half))]
    vdim = hv.Dimension("fraction", label="pT fraction")
    top = float(image.max())
    positive = image[image > 0]
    use_log = bool(logz and top > 0 and len(positive))
    clim = (max(float(positive.min()), top * 1e-4), top) if use_log else (0.0, top if top > 0 else 1.0)
    if use_log and clim[0] >= clim[1]:
        clim = (clim[1] / 10.0, clim[1])
    return hv.Image((c, c, image.T), kdims, vdim).opts(
        cmap="viridis", logz=use_log, clim=clim, colorbar=colorbar, clabel="pT fraction",
        clipping_colors={"min": "white", "NaN": "white"}, tools=["hover"], title=title,
        frame_width=frame_width, frame_height=frame_height, framewise=True, toolbar=None, backend=_BACKEND)


def jet_images(images: Sequence[np.ndarray], titles: Sequence[str], width: float, *, cols: int = 4,
               logz: bool = True, frame_width: int = 170, frame_height: int = 170) -> hv.Layout:
    """Several jet images side by side (:func:`jet_image` each).

    Parameters
    ----------
    images : sequence of (n_pix, n_pix) arrays
    titles : sequence of str
        One title per image.
    width : float
        Image side (rad).

    Raises
    ------
    ValueError
        No image, or as many titles as images not given.
    """
    if len(images) == 0 or len(images) != len(titles):
        raise ValueError(f"jet_images: need ≥ 1 image and one title each, got {len(images)} and {len(titles)}")
    panels = [jet_image(img, width, title=t, logz=logz, frame_width=frame_width, frame_height=frame_height)
              for img, t in zip(images, titles)]
    return hv.Layout(panels).cols(max(1, int(cols))).opts(shared_axes=False, backend=_BACKEND)


def transport_plan(image_a: np.ndarray, image_b: np.ndarray, flow: np.ndarray, width: float, *,
                   max_arrows: int = 300, title: str = "", frame_width: int = 300,
                   frame_height: int = 300) -> hv.Overlay:
    """The optimal transport plan between two jet images, as arrows weighted by their flow.

    Parameters
    ----------
    image_a, image_b : (n_pix, n_pix) float arrays
        The two images (pT fractions); their nonzero pixels in row-major order are the rows
        (``image_a``) and columns (``image_b``) of ``flow`` (as
        :func:`jetviz.models.emd.from_image` orders them).
    flow : (P_a, P_b) float array
        The plan f_ij (normalised: sums to 1), from :func:`jetviz.models.emd.emd` with
        ``return_flow=True``.
    width : float
        Image side (rad).
    max_arrows : int
        Only the largest flows are drawn (segments of one pixel onto itself are skipped).

    Returns
    -------
    hv.Overlay
        ``hv.Points`` of jet a (label ``"jet A"``) and jet b (``"jet B"``), point size ∝ √pT
        fraction, and ``hv.Segments`` (kdims ``deta, dphi, deta_end, dphi_end``, vdim ``flow``)
        with line width and alpha growing with the flow; both axes zoomed onto the occupied
        pixels (symmetric about the jet axis, at most ``±width/2``).

    Raises
    ------
    ValueError
        Images of different shapes, or a flow whose shape is not (nonzero pixels of a, of b).
    """
    a = _check_image(image_a, "transport_plan")
    b = _check_image(image_b, "transport_plan")
    if a.shape != b.shape:
        raise ValueError(f"transport_plan: images of shapes {a.shape} and {b.shape}")
    c = _centres(a.shape[0], float(width))
    ia, ja = np.nonzero(a)
    ib, jb = np.nonzero(b)
    flow = np.asarray(flow, dtype=np.float64)
    if flow.shape != (len(ia), len(ib)):
        raise ValueError(f"transport_plan: flow of shape {flow.shape}, need {(len(ia), len(ib))} "
                         "(nonzero pixels of image a, of image b)")
    half = float(width) / 2
    deta = hv.Dimension("deta", label=_DETA_LABEL, range=(-half, half))
    dphi = hv.Dimension("dphi", label=_DPHI_LABEL, range=(-half, half))
    frac = hv.Dimension("fraction", label="pT fraction")
    rows, cols = np.nonzero(flow > 0)
    values = flow[rows, cols]
    moved = (ia[rows] != ib[cols]) | (ja[rows] != jb[cols])
    rows, cols, values = rows[moved], cols[moved], values[moved]
    order = np.argsort(values)[::-1][: int(max_arrows)][::-1]  # the largest drawn last (on top)
    rows, cols, values = rows[order], cols[order], values[order]
    top = float(values.max()) if len(values) else 1.0
    seg = pd.DataFrame({"deta": c[ia[rows]], "dphi": c[ja[rows]], "deta_end": c[ib[cols]], "dphi_end": c[jb[cols]],
                        "flow": values, "lw": 0.5 + 4.5 * values / top, "alpha": 0.25 + 0.75 * values / top})
    segments = hv.Segments(seg, [deta, dphi, "deta_end", "dphi_end"], [hv.Dimension("flow", label="flow"), "lw", "alpha"],
                           label="transport").opts(color="#444444", line_width="lw", alpha="alpha", tools=["hover"],
                                                   backend=_BACKEND)

    def points(img, i, j, label, color, marker):
        w = img[i, j]
        df = pd.DataFrame({"deta": c[i], "dphi": c[j], "fraction": w, "size": 3 + 25 * np.sqrt(w / max(w.max(), 1e-12))})
        return hv.Points(df, [deta, dphi], [frac, "size"], label=label).opts(
            color=color, size="size", alpha=0.6, marker=marker, tools=["hover"], backend=_BACKEND)

    pitch = float(width) / a.shape[0]
    used = np.r_[c[ia], c[ib], c[ja], c[jb]]
    reach = min(half, float(np.abs(used).max()) + 2 * pitch) if len(used) else half  # zoom onto the jets
    return hv.Overlay([points(a, ia, ja, "jet A", CLASS_COLORS[0], "circle"),
                       points(b, ib, jb, "jet B", CLASS_COLORS[1], "square"), segments]).opts(
        title=title, frame_width=frame_width, frame_height=frame_height, xlim=(-reach, reach), ylim=(-reach, reach),
        legend_position="top_right", show_grid=True, toolbar="above", backend=_BACKEND)


def pair_points(w: np.ndarray, distance: np.ndarray, i: np.ndarray, j: np.ndarray, *, p: float = 1.0,
                ylabel: str = "latent distance |μ − μ′|", width: int = 380, height: int = 320) -> hv.Points:
    """The jet pairs as points (W_p on x, a distance on y) to click on (with a ``Tap`` stream).

    Parameters
    ----------
    w, distance : (M,) float arrays
        W_p and the other distance of each pair.
    i, j : (M,) int arrays
        Sample indices of the two jets of each pair (``VaeEmdResult.pairs()``).

    Returns
    -------
    hv.Points
        kdims ``W_p, distance``, vdims ``jet_a, jet_b``; tap and hover tools.

    Raises
    ------
    ValueError
        Arrays of different lengths.
    """
    arrays = [np.asarray(x).ravel() for x in (w, distance, i, j)]
    if len({len(x) for x in arrays}) != 1:
        raise ValueError(f"pair_points: arrays of lengths {[len(x) for x in arrays]}")
    df = pd.DataFrame({"W_p": arrays[0].astype(float), "distance": arrays[1].astype(float),
                       "jet_a": arrays[2].astype(np.int64), "jet_b": arrays[3].astype(np.int64)})
    x_dim = hv.Dimension("W_p", label=f"W_{p:g} (θ/R, no 1/p root)")
    y_dim = hv.Dimension("distance", label=ylabel)
    return hv.Points(df, [x_dim, y_dim], ["jet_a", "jet_b"]).opts(
        size=5, alpha=0.6, color="#0072B2", tools=["tap", "hover"], nonselection_alpha=0.2, selection_color="#D55E00",
        title="QCD pairs (click one)", width=width, height=height, show_grid=True,
        toolbar="above", backend=_BACKEND)


def pca_2d(latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of ``(N, D)`` latent vectors (numpy SVD).

    Returns
    -------
    (N, 2) float array
        The centred vectors projected on the two leading directions (a single direction and
        zeros when ``D == 1``).
    (2,) float array
        Share of the variance along each (0 where there is no variance).

    Raises
    ------
    ValueError
        Not a 2-d array of ≥ 2 rows, or non-finite values.
    """
    x = np.asarray(latent, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 or x.shape[1] < 1:
        raise ValueError(f"pca_2d: need (N ≥ 2, D ≥ 1) latent vectors, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("pca_2d: non-finite latent values")
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    coords = np.zeros((len(x), 2))
    k = min(2, vt.shape[0])
    coords[:, :k] = x @ vt[:k].T
    var = s**2
    share = np.zeros(2)
    if var.sum() > 0:
        share[:k] = var[:k] / var.sum()
    return coords, share


def latent_points(coords: np.ndarray, labels: np.ndarray, index: np.ndarray, *,
                  share: Sequence[float] = (0.0, 0.0), width: int = 420, height: int = 380) -> hv.Points:
    """Test jets in the plane of the latent space's first two principal components, QCD/top coloured.

    Parameters
    ----------
    coords : (N, 2) float array
        PCA coordinates (:func:`pca_2d`).
    labels : (N,) int array
        0 QCD, 1 top.
    index : (N,) int array
        Sample index of each jet (a vdim, so a selection can name the jets).
    share : (2,) floats
        Variance shares of the two components (axis labels).

    Returns
    -------
    hv.Points
        kdims ``pc1, pc2``, vdims ``jet`` (sample index), ``class`` (``"QCD"``/``"top"``),
        coloured by class, with box and lasso selection tools.

    Raises
    ------
    ValueError
        Shapes that do not match.
    """
    coords = np.asarray(coords, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    index = np.asarray(index).ravel()
    if coords.ndim != 2 or coords.shape[1] != 2 or not (len(coords) == len(labels) == len(index)):
        raise ValueError(f"latent_points: coords {coords.shape}, labels {labels.shape}, index {index.shape}")
    df = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1], "jet": index.astype(np.int64),
                       "class": [CLASS_NAMES[int(k)] for k in labels]})
    pc1 = hv.Dimension("pc1", label=f"latent PC 1 ({100 * share[0]:.0f}% of the variance)")
    pc2 = hv.Dimension("pc2", label=f"latent PC 2 ({100 * share[1]:.0f}% of the variance)")
    return hv.Points(df, [pc1, pc2], ["jet", "class"]).opts(
        color="class", cmap={CLASS_NAMES[0]: CLASS_COLORS[0], CLASS_NAMES[1]: CLASS_COLORS[1]}, size=5, alpha=0.6,
        tools=["box_select", "lasso_select", "hover"], nonselection_alpha=0.1, legend_position="top_right",
        title="Latent means μ of the test jets (PCA)", xrotation=30, width=width, height=height,
        show_grid=True, toolbar="above", backend=_BACKEND)


def beta_scan_plot(rows: Sequence[Mapping], *, width: int = 440, height: int = 320) -> hv.Layout:
    """AUC of the three anomaly scores and the latent r (p = 0.5, 1) against β, log x axis.

    Parameters
    ----------
    rows : sequence of dict
        ``beta_scan`` rows: ``beta``, ``auc_vae_loss``, ``auc_emd_mean_qcd``, ``auc_emd_medoids``,
        ``r_latent_p0.5``, ``r_latent_p1`` (missing keys are skipped).

    Returns
    -------
    hv.Layout
        Two overlays of ``hv.Curve`` + ``hv.Scatter`` (kdim ``beta``). β = 0 cannot sit on a log
        axis: it is drawn a decade left of the smallest β > 0 and the x label says so.

    Raises
    ------
    ValueError
        No rows, a row without ``beta``, or a negative β.
    """
    if not rows:
        raise ValueError("beta_scan_plot: no scan rows")
    if any("beta" not in row for row in rows):
        raise ValueError("beta_scan_plot: every row needs a 'beta'")
    rows = sorted(rows, key=lambda row: float(row["beta"]))
    betas = np.array([float(row["beta"]) for row in rows])
    if (betas < 0).any():
        raise ValueError(f"beta_scan_plot: β must be ≥ 0, got {betas.min()}")
    positive = betas[betas > 0]
    zero_at = (positive.min() / 10) if len(positive) else 1e-12
    x = np.where(betas > 0, betas, zero_at)
    xlabel = "β (log scale)" + (f"; β = 0 drawn at {zero_at:.0e}" if (betas == 0).any() else "")
    x_dim = hv.Dimension("beta", label=xlabel)

    def overlay(keys, names, colors, y_dim, title, ylim):
        layers = []
        for key, name, color in zip(keys, names, colors):
            y = np.array([float(row.get(key, np.nan)) if row.get(key) is not None else np.nan for row in rows])
            if np.isnan(y).all():
                continue
            layers.append(hv.Curve((x, y), x_dim, y_dim, label=name).opts(color=color, line_width=2, backend=_BACKEND))
            layers.append(hv.Scatter((x, y), x_dim, y_dim, label=name).opts(color=color, size=6, tools=["hover"],
                                                                            backend=_BACKEND))
        if not layers:
            layers = [hv.Curve([], x_dim, y_dim)]
        return hv.Overlay(layers).opts(title=title, logx=True, width=width, height=height, ylim=ylim, show_grid=True,
                                       legend_position="bottom_right", toolbar="above", backend=_BACKEND)

    auc = overlay([f"auc_{k}" for k in SCORE_NAMES], list(SCORE_NAMES.values()), list(SCORE_COLORS.values()),
                  hv.Dimension("auc", label="ROC AUC (top vs QCD)"), "Anomaly AUC vs β", (0.0, 1.02))
    corr = overlay(["r_latent_p0.5", "r_latent_p1", "r_input_p0.5"], ["latent r, W_0.5", "latent r, W_1", "input r, W_0.5"],
                   ["#0072B2", "#D55E00", "#7f7f7f"], hv.Dimension("r", label="Pearson r with W_p"),
                   "Latent distance vs W_p correlation vs β", (-0.1, 1.02))
    return hv.Layout([auc, corr]).cols(2).opts(shared_axes=False, backend=_BACKEND)


def training_curve(history: Sequence[Mapping], *, width: int = 440, height: int = 280) -> hv.Overlay:
    """Training (and validation) loss per epoch of the VAE.

    Parameters
    ----------
    history : sequence of dict
        Rows with ``epoch``, ``train_loss`` and optionally ``val_loss`` (loss per jet, (1−β)·MSE + β·KLD).

    Returns
    -------
    hv.Overlay
        ``hv.Curve`` + ``hv.Scatter`` per loss (kdim ``epoch``, vdim ``loss``); an empty curve without rows.
    """
    e_dim, l_dim = hv.Dimension("epoch", label="epoch"), hv.Dimension("loss", label="loss per jet")
    layers = []
    for key, name, color in (("train_loss", "training", "#0072B2"), ("val_loss", "validation (QCD test)", "#D55E00")):
        xy = [(float(r["epoch"]), float(r[key])) for r in history if r.get(key) is not None and math.isfinite(float(r[key]))]
        if xy:
            layers.append(hv.Curve(xy, e_dim, l_dim, label=name).opts(color=color, line_width=2, backend=_BACKEND))
            layers.append(hv.Scatter(xy, e_dim, l_dim, label=name).opts(color=color, size=6, backend=_BACKEND))
    if not layers:
        layers = [hv.Curve([], e_dim, l_dim)]
    return hv.Overlay(layers).opts(title="VAE loss per epoch", width=width, height=height, show_grid=True,
                                   legend_position="top_right", toolbar="above", backend=_BACKEND)
