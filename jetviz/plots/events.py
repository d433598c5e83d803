"""Event displays: particles, detector images, jet and particle tables, sample histograms.

Pure functions from numpy arrays to HoloViews elements (or pandas tables for a table widget).
No Panel here; :mod:`jetviz.ui.events` composes these into the events page.

Conventions (the same in every jetviz plot):

- η on the x axis (label ``"η"``), φ on the y axis (label ``"φ [rad]"``); φ spans (−π, π] and
  is wrapped into it before plotting.
- Images are ``(n_eta, n_phi)`` arrays, φ on the last axis, as :mod:`jetviz.data.pixelate`
  makes them; pixel ``(i, j)`` covers η ∈ [lo + iΔη, lo + (i+1)Δη), φ ∈ [−π + jΔφ, ...).
- Energies and momenta in GeV, angles in radians.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import holoviews as hv
import numpy as np
import pandas as pd

from jetviz.data.kinematics import pt_eta_phi, wrap_phi

__all__ = [
    "EventData",

    "ETA_LABEL",
    "PHI_LABEL",
    "CHANNELS",
    "NO_JET",
    "NO_JET_COLOR",
    "JET_PALETTE",
    "jet_names",
    "jet_color_map",
    "particles_scatter",
    "detector_image",
    "particle_table",
    "jet_table",
    "multiplicity_histogram",
    "pt_histogram",
]

ETA_LABEL = "η"
PHI_LABEL = "φ [rad]"
#: detector image channels, in the order of :func:`jetviz.data.pixelate.event_images`,
#: with the quantity each pixel holds.
CHANNELS: dict[str, str] = {"ECal": "ECal E [GeV]", "HCal": "HCal E [GeV]", "tracks": "track pT [GeV]"}
#: legend entry of particles that belong to no truth jet (``jet == -1``).
NO_JET = "no jet"
NO_JET_COLOR = "#9e9e9e"
#: colour of truth jet k is ``JET_PALETTE[k % len(JET_PALETTE)]`` (Okabe–Ito + Tableau, colour-blind safe first).
JET_PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
    "#F0E442", "#000000", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f",
)

if "bokeh" not in hv.Store.renderers:  # register the bokeh options without choosing an output
    import holoviews.plotting.bokeh  # noqa: F401

_BACKEND = "bokeh"
_ETA = hv.Dimension("eta", label=ETA_LABEL)
_PHI = hv.Dimension("phi", label=PHI_LABEL, range=(-np.pi, np.pi))


def jet_names(jet: np.ndarray) -> np.ndarray:
    """Legend names of truth-jet indices: ``"jet k"`` for k ≥ 0, :data:`NO_JET` for −1.

    Parameters
    ----------
    jet : (M,) int array
        Truth-jet index per particle, −1 for none.

    Returns
    -------
    (M,) object array of str
    """
    jet = np.asarray(jet, dtype=np.int64)
    return np.array([f"jet {k}" if k >= 0 else NO_JET for k in jet.tolist()], dtype=object)


def jet_color_map(jets: Sequence[int]) -> dict[str, str]:
    """``{legend name: colour}`` for the given jet indices (−1 → grey :data:`NO_JET_COLOR`)."""
    out = {}
    for k in sorted(set(int(j) for j in jets)):
        out[f"jet {k}" if k >= 0 else NO_JET] = JET_PALETTE[k % len(JET_PALETTE)] if k >= 0 else NO_JET_COLOR
    return out


def particles_scatter(
    eta: np.ndarray,
    phi: np.ndarray,
    pt: np.ndarray,
    jet: np.ndarray | None = None,
    *,
    energy: np.ndarray | None = None,
    pid: np.ndarray | None = None,
    title: str = "",
    pt_ref: float | None = None,
    eta_lim: float | None = None,
    marker_size: tuple[float, float] = (3.0, 18.0),
    frame_width: int = 340,
    frame_height: int = 300,
) -> hv.Points:
    """Particles of one event in the η–φ plane, coloured by truth jet and sized by pT.

    Parameters
    ----------
    eta, phi, pt : (M,) float arrays
        Pseudorapidity, azimuth (radians, wrapped into (−π, π]) and transverse momentum (GeV).
    jet : (M,) int array, optional
        Truth-jet index per particle, −1 (drawn grey) for none; default all −1.
    energy : (M,) float array, optional
        Energy (GeV), shown in the hover tooltip.
    pid : (M,) int array, optional
        PDG id, shown in the hover tooltip.
    title : str
        Plot title.
    pt_ref : float, optional
        pT (GeV) that gets the largest marker; default the event's largest pT. Pass one value
        for a whole sample to make marker sizes comparable between events.
    eta_lim : float, optional
        Show η ∈ [−eta_lim, eta_lim]; default: the data range.
    marker_size : (float, float)
        Smallest and largest marker size (screen pixels); size ∝ √pT in between.
    frame_width, frame_height : int
        Size of the plot area (without axes and legend) in screen pixels.

    Returns
    -------
    hv.Points
        kdims ``eta, phi``; vdims ``pt, E, pid, jet, jet_name, size``; coloured by the
        categorical ``jet_name`` (``"jet k"`` / ``"no jet"``).
    """
    eta = np.asarray(eta, dtype=np.float64).ravel()
    n = len(eta)
    phi = wrap_phi(np.asarray(phi, dtype=np.float64).ravel())
    pt = np.asarray(pt, dtype=np.float64).ravel()
    jet = np.full(n, -1, dtype=np.int64) if jet is None else np.asarray(jet, dtype=np.int64).ravel()
    energy = np.full(n, np.nan) if energy is None else np.asarray(energy, dtype=np.float64).ravel()
    pid = np.zeros(n, dtype=np.int64) if pid is None else np.asarray(pid, dtype=np.int64).ravel()
    for name, arr in (("phi", phi), ("pt", pt), ("jet", jet), ("energy", energy), ("pid", pid)):
        if arr.shape != (n,):
            raise ValueError(f"particles_scatter: {name} has {arr.shape[0]} entries, eta has {n}")
    ref = float(pt_ref) if pt_ref else (float(pt.max()) if n and pt.max() > 0 else 1.0)
    lo, hi = marker_size
    size = lo + (hi - lo) * np.sqrt(np.clip(pt / ref, 0.0, 1.0))
    # grouped by jet (legend order jet 0, jet 1, ..., no jet), big markers first within a jet
    order = np.lexsort((-pt, np.where(jet < 0, np.iinfo(np.int64).max, jet)))
    data = pd.DataFrame({
        "eta": eta, "phi": phi, "pt": pt, "E": energy, "pid": pid, "jet": jet,
        "jet_name": jet_names(jet), "size": size,
    }).iloc[order].reset_index(drop=True)
    vdims = [
        hv.Dimension("pt", label="pT", unit="GeV"), hv.Dimension("E", label="E", unit="GeV"),
        hv.Dimension("pid", label="PDG id"), hv.Dimension("jet", label="jet index"),
        hv.Dimension("jet_name", label="truth jet"), "size",
    ]
    xlim = (-float(eta_lim), float(eta_lim)) if eta_lim else (None, None)
    points = hv.Points(data, [_ETA, _PHI], vdims, label="particles")
    return points.opts(
        color="jet_name", cmap=jet_color_map(jet), size="size", alpha=0.8, line_color="white",
        line_width=0.5, tools=["hover"], hover_tooltips=[
            ("η", "@eta{0.00}"), ("φ", "@phi{0.00}"), ("pT [GeV]", "@pt{0.00}"), ("E [GeV]", "@E{0.00}"),
            ("PDG id", "@pid"), ("truth jet", "@jet_name"),
        ],
        xlim=xlim, ylim=(-np.pi, np.pi), title=title, frame_width=frame_width, frame_height=frame_height,
        legend_position="right", show_grid=True, toolbar="above", xlabel=ETA_LABEL, ylabel=PHI_LABEL, backend=_BACKEND,
    )


def detector_image(
    image: np.ndarray,
    eta_range: tuple[float, float] = (-2.5, 2.5),
    channel: str = "ECal",
    *,
    phi_range: tuple[float, float] = (-np.pi, np.pi),
    logz: bool = True,
    title: str | None = None,
    cmap: str = "viridis",
    frame_width: int = 270,
    frame_height: int = 300,
) -> hv.Image:
    """One channel of a detector image as an ``hv.Image`` (η on x, φ on y).

    Parameters
    ----------
    image : (n_eta, n_phi) float array
        Pixel contents (GeV), φ on the last axis, as from
        :func:`jetviz.data.pixelate.event_images` ``[i, c]``.
    eta_range : (float, float)
        η edges of the grid (the detector's ``(−eta_max, eta_max)``).
    channel : str
        One of :data:`CHANNELS` (``"ECal"``, ``"HCal"``, ``"tracks"``), or any name (then the
        colour bar reads ``"<channel> [GeV]"``).
    phi_range : (float, float)
        φ edges of the grid, radians.
    logz : bool
        Logarithmic colour scale (empty pixels drawn white).
    title : str, optional
        Plot title; default the channel name.
    cmap : str
        Colour map name.
    frame_width, frame_height : int
        Size of the plot area (without axes and colour bar) in screen pixels.

    Returns
    -------
    hv.Image
        kdims ``eta, phi``, vdim ``value`` (labelled with the channel's quantity); the data
        array is ``image.T`` (rows = φ), values unchanged.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"detector_image: expected an (n_eta, n_phi) array, got shape {image.shape}")
    n_eta, n_phi = image.shape
    (e0, e1), (p0, p1) = eta_range, phi_range
    eta_c = e0 + (np.arange(n_eta) + 0.5) * (e1 - e0) / n_eta
    phi_c = p0 + (np.arange(n_phi) + 0.5) * (p1 - p0) / n_phi
    label = CHANNELS.get(channel, f"{channel} [GeV]")
    vdim = hv.Dimension("value", label=label)
    kdims = [_ETA.clone(range=(e0, e1)), _PHI.clone(range=(p0, p1))]
    img = hv.Image((eta_c, phi_c, image.T), kdims, vdim, label=channel)
    top = float(image.max()) if image.size else 0.0
    positive = image[image > 0]
    use_log = bool(logz and top > 0)
    clim = (max(float(positive.min()), top * 1e-3), top) if use_log else (0.0, top if top > 0 else 1.0)
    if use_log and clim[0] >= clim[1]:
        clim = (clim[1] / 10.0, clim[1])
    return img.opts(
        cmap=cmap, logz=use_log, clim=clim, colorbar=True, clabel=label,
        clipping_colors={"min": "white", "NaN": "white"}, tools=["hover"],
        title=channel if title is None else title, frame_width=frame_width, frame_height=frame_height,
        xlabel=ETA_LABEL, ylabel=PHI_LABEL, framewise=True, toolbar="above", backend=_BACKEND,
    )


def particle_table(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    pid: np.ndarray,
    charge: np.ndarray,
    jet: np.ndarray,
) -> pd.DataFrame:
    """Particles of one event as a table, highest pT first.

    Parameters
    ----------
    pt, eta, phi, energy : (M,) float arrays
        GeV, -, radians, GeV.
    pid, jet : (M,) int arrays
        PDG id; truth-jet index (−1 for none).
    charge : (M,) float array
        Units of e.

    Returns
    -------
    pandas.DataFrame
        Columns ``pT [GeV], η, φ [rad], E [GeV], PDG id, charge, jet``, M rows; the index is
        the particle's position in the event.
    """
    df = pd.DataFrame({
        "pT [GeV]": np.asarray(pt, dtype=np.float64), "η": np.asarray(eta, dtype=np.float64),
        "φ [rad]": wrap_phi(np.asarray(phi, dtype=np.float64)), "E [GeV]": np.asarray(energy, dtype=np.float64),
        "PDG id": np.asarray(pid, dtype=np.int64), "charge": np.asarray(charge, dtype=np.float64),
        "jet": np.asarray(jet, dtype=np.int64),
    })
    df.index.name = "particle"
    return df.sort_values("pT [GeV]", ascending=False, kind="stable")


def jet_table(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    energy: np.ndarray,
    n_particles: np.ndarray | None = None,
) -> pd.DataFrame:
    """Jets of one event as a table, in the given order (truth jet k is row k).

    Parameters
    ----------
    px, py, pz, energy : (K,) float arrays
        Jet four-momenta, GeV.
    n_particles : (K,) int array, optional
        Particles assigned to each jet.

    Returns
    -------
    pandas.DataFrame
        Columns ``jet, E [GeV], pT [GeV], η, φ [rad], m [GeV]`` (+ ``particles``), K rows.
    """
    px, py, pz, energy = (np.asarray(a, dtype=np.float64).ravel() for a in (px, py, pz, energy))
    pt, eta, phi = pt_eta_phi(px, py, pz)
    mass = np.sqrt(np.clip(energy**2 - px**2 - py**2 - pz**2, 0.0, None))
    df = pd.DataFrame({
        "jet": np.arange(len(px)), "E [GeV]": energy, "pT [GeV]": pt, "η": eta, "φ [rad]": phi, "m [GeV]": mass,
    })
    if n_particles is not None:
        df["particles"] = np.asarray(n_particles, dtype=np.int64).ravel()
    return df


def _histogram(values: np.ndarray, bins, dim: hv.Dimension, title: str, mark: float | None,
               logy: bool, width: int, height: int) -> hv.Histogram | hv.Overlay:
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins)
    ylim = (0.5, max(1.0, float(counts.max(initial=0))) * 2.0) if logy else (0, None)
    hist = hv.Histogram((edges, counts), kdims=[dim], vdims=[hv.Dimension("count", label="entries")]).opts(
        title=title, width=width, height=height, tools=["hover"], color="#0072B2", line_color="white",
        logy=logy, ylim=ylim, xlabel=dim.pprint_label, ylabel="entries", backend=_BACKEND,
    )
    if mark is None:
        return hist
    return (hist * hv.VLine(float(mark)).opts(color="#D55E00", line_width=2, backend=_BACKEND)).opts(
        title=title, backend=_BACKEND)


def multiplicity_histogram(
    counts: np.ndarray,
    *,
    mark: float | None = None,
    bins: int | np.ndarray | None = None,
    title: str = "particle multiplicity",
    width: int = 420,
    height: int = 280,
) -> hv.Histogram | hv.Overlay:
    """Histogram of particles per event over a sample, optionally marking one event.

    Parameters
    ----------
    counts : (N,) int array
        Particles per event.
    mark : float, optional
        Draw a vertical line here (e.g. the shown event's multiplicity).
    bins : int or array, optional
        Bins; default one bin per integer up to 60 bins.

    Returns
    -------
    hv.Histogram (``hv.Overlay`` with an ``hv.VLine`` when ``mark`` is given)
        kdim ``multiplicity``, vdim ``count``; the counts sum to N.
    """
    counts = np.asarray(counts, dtype=np.float64).ravel()
    if bins is None:
        lo, hi = (counts.min(), counts.max()) if len(counts) else (0.0, 1.0)
        n_bins = int(min(60, max(1, hi - lo + 1)))
        bins = np.linspace(lo - 0.5, hi + 0.5, n_bins + 1)
    return _histogram(counts, bins, hv.Dimension("multiplicity", label="particles per event"), title, mark,
                      False, width, height)


def pt_histogram(
    pt: np.ndarray,
    *,
    mark: float | None = None,
    bins: int | np.ndarray = 50,
    logy: bool = True,
    title: str = "particle pT",
    width: int = 420,
    height: int = 280,
) -> hv.Histogram | hv.Overlay:
    """Histogram of particle pT (GeV), log y by default.

    Parameters
    ----------
    pt : (M,) float array
        Transverse momenta, GeV (non-finite values are dropped).
    mark : float, optional
        Draw a vertical line here.
    bins : int or array
        Bins (``numpy.histogram`` semantics).

    Returns
    -------
    hv.Histogram (``hv.Overlay`` when ``mark`` is given), kdim ``pt``, vdim ``count``.
    """
    return _histogram(pt, bins, hv.Dimension("pt", label="pT", unit="GeV"), title, mark, logy, width, height)


@dataclass(frozen=True)
class EventData:
    """One event, ready to plot.

    Attributes
    ----------
    index : int
        Position in the sample.
    particles : dict[str, np.ndarray]
        Flat ``(M,)`` arrays ``px, py, pz, E, pt, eta, phi, charge, pid, jet`` (GeV, radians).
    jets : dict[str, np.ndarray] or None
        Truth jets ``(K,)`` arrays ``px, py, pz, E`` (GeV), or None when the sample has none.
    image : np.ndarray
        float32 ``(3, n_eta, n_phi)`` detector image (ECal E, HCal E, tracks pT; GeV).
    eta_range : tuple[float, float]
        η edges of the image grid.
    label : int
        Per-event class index; ``class_name`` its name.
    class_name : str
    fields : dict[str, float]
        Further scalar per-event fields (``sqrt_s``, ``jet_pt`` ...; not the ``truth_*`` ones).
    """

    index: int
    particles: dict[str, np.ndarray]
    jets: dict[str, np.ndarray] | None
    image: np.ndarray
    eta_range: tuple[float, float]
    label: int
    class_name: str
    fields: dict[str, float] = field(default_factory=dict)

    @property
    def n_particles(self) -> int:
        """Number of particles M."""
        return len(self.particles["pt"])

    def summary(self) -> str:
        """One line: index, class, multiplicity, visible energy."""
        jets = f", {len(self.jets['E'])} truth jets" if self.jets is not None else ""
        e_sum = float(self.particles["E"].sum())
        label = f" ({self.class_name})" if self.class_name != "events" else ""
        return f"event {self.index}{label}: {self.n_particles} particles{jets}, ΣE = {e_sum:.1f} GeV"
