"""Energy Mover's Distance (EMD) and its W_p generalisation between jets, by exact optimal transport.

A jet (or an event, or a jet image) is a **weighted point set** in a ground space
(:class:`PointSet`): weights ``(P,)`` ≥ 0 (pT or E in GeV, or pixel intensities) and
coordinates ``(P, gdim)``; for jets gdim = 2, (η, φ) in radians. :func:`from_pt_eta_phi` reads
the project's ``(P, 3)`` = (pT, η, φ) particle arrays, :func:`from_image` / :func:`from_images`
the nonzero pixels of η–φ images (with :func:`pixel_centres` for the grid). Particles of zero
weight take no part in the transport (so zero-padded arrays are fine).

**Event arrays** (energyflow's form) are ``(P, 1 + k)``: the weight, then k coordinate
columns. ``gdim`` says how many of them form the ground space; further columns (a particle id,
a charge ...) are ignored. Without ``gdim`` only the unambiguous shape is read: ``(P, 3)`` as
(pT, y, φ) (``(P, 4)`` as (E, px, py, pz) for ``measure="spherical", coords="cartesian"``);
any other number of columns is an error naming the shape, never a guess. A 1-d array of
1 + k numbers is one particle. With ``dists=`` only the weights are read (a 1-d array is then
the weights).

**Ground distance.** θ_ij is the Euclidean distance in the gdim-dimensional ground space,
with the coordinate in column ``phi_col`` (2, i.e. φ) taken on the circle (|Δφ| ≤ π) when
``periodic_phi=True``; or, with ``measure="spherical"``, the angle between the particles'
momenta (weights are then energies: (pT, y, φ[, m]) rows are converted to (E, p⃗)). An external
``(P_a, P_b)`` matrix of θ_ij can be given instead (``dists=``, :func:`emd` only). The cost of
moving one unit of weight from particle i to particle j is c_ij = (θ_ij / R)^p, p > 0 (p = 1 is
the EMD of arXiv:1902.02346; the talk of seed 002 also uses p = 0.5; energyflow calls p ``beta``).

**Normalised** (``norm=True``): each jet's weights are divided by their sum, and

    W = min_f Σ_ij f_ij c_ij,   f_ij ≥ 0,  Σ_j f_ij = w_i/Σw,  Σ_i f_ij = w'_j/Σw'.

**Unnormalised** (``norm=False``, the default: energyflow's ``emd.emd`` / ``emds`` definition,
arXiv:1902.02346 eq. 1)

    W = min_f Σ_ij f_ij c_ij + |Σ_i E_i − Σ_j E'_j|,
        f_ij ≥ 0,  Σ_j f_ij ≤ E_i,  Σ_i f_ij ≤ E'_j,  Σ_ij f_ij = min(Σ E, Σ E'),

in the units of the weights (GeV): the energy difference is carried by an extra particle on
the lighter side at θ = R (cost 1 per unit). It is solved exactly as a balanced problem with
that extra particle at zero cost, |ΣE − ΣE′| being added afterwards (the same value and plans).
For p = 1 this is a metric when R ≥ θ_max/2 (half the largest ground distance that occurs).

**Empty events** (no particle of weight > 0, after ``mask``): unnormalised, the distance is
defined — all the other event's weight moves to the extra particle, W = ΣE′ (0 between two
empty events); normalised it is not (nothing to normalise). ``empty_policy``: None (default)
= the defined value, an error where there is none; ``"error"`` = always an error; a number =
that value for every pair with an empty event (energyflow's ``empty_policy``).

**No 1/p root.** The value returned is Σ f c itself, *without* the 1/p power of the textbook
p-Wasserstein distance (W_p^p for p ≥ 1), as in the talk ("in the present form (no 1/p power)").
For p ≤ 1, (θ/R)^p is itself a metric, so this value is a metric on normalised jets (a W_1 with
the ground metric θ^p); for p > 1 it is not (pass ``root=True`` to get (Σ f c)^(1/p), the
metric W_p). ``root=True`` applies the same power to the unnormalised value.

Every distance is exact: the transport problem is solved by the compiled network simplex of
:mod:`jetviz.models.transport` (the LEMON algorithm of POT and ``wasserstein``, started from
the optimal plan of the first-coordinate projections); a pair it cannot finish within
``num_iter_max`` pivots is solved again by POT's network simplex (:func:`ot.emd`), and a
solution that neither proves optimal raises :class:`EMDSolverError`. Computations are in
float64 (float32 inputs are read exactly); ``dtype="float32"`` returns float32 results.

**One value per pair.** :func:`emd` and :func:`emd_matrix` validate and pack jets the same
way and solve each pair with the same compiled code, the two jets always in one canonical
order (by total weight, then size, then content), so ``emd_matrix(X)[i, j] == emd(X[i], X[j])``
bit for bit, ``emd(a, b) == emd(b, a)`` bit for bit, and a jet is at distance exactly 0 from
an identical one.

**Many pairs.** :func:`emd_matrix` computes an ``(N, M)`` matrix between two lists of jets,
or the symmetric ``(N, N)`` matrix of one list (only i < j is solved; the diagonal is 0). Jets
are validated and packed into flat arrays once; the pairs are cut into rectangular tiles of
many pairs, each solved by one compiled call (cost matrices included) that releases the GIL:
in this thread (``n_jobs=1``), in a pool of threads (``n_jobs > 1``: no process start-up, no
copies of the jets) or on a ``dask.distributed`` client (``client=``; the packed jets are
scattered once). Progress is reported per tile to a ``progress(done_pairs, total_pairs)``
callback and/or a tqdm bar.

docs/emd.md maps energyflow's ``emd``/``emds`` arguments to these. Inputs are never mutated.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from collections.abc import Iterable
from typing import Any, Callable, NamedTuple

import numpy as np

from jetviz.data.kinematics import wrap_phi
from jetviz.errors import ConfigError, JetvizError, SchemaError
from jetviz.models.transport import (
    EUCLIDEAN,
    OPTIMAL,
    SPHERICAL,
    cost_block,
    pair_plan,
    pair_problem,
    pairwise_tile,
    transport,
)

__all__ = [
    "PointSet",
    "EMDSolverError",
    "DEFAULT_NUM_ITER_MAX",
    "point_set",
    "from_pt_eta_phi",
    "as_point_set",
    "pixel_centres",
    "from_image",
    "from_images",
    "ground_distance",
    "cost_matrix",
    "emd",
    "emd_matrix",
]

#: Default iteration limit of the network simplex (POT's own default is 100 000, which large
#: jet images can exceed).
DEFAULT_NUM_ITER_MAX = 10_000_000

#: ``progress(done_pairs, total_pairs)`` — called from the caller's thread as tiles finish.
Progress = Callable[[int, int], None]


class EMDSolverError(JetvizError, RuntimeError):
    """The optimal-transport solver did not return a proven optimum (iteration limit, infeasible)."""


class PointSet(NamedTuple):
    """One jet as a weighted point set.

    Attributes
    ----------
    weights : (P,) float64 np.ndarray
        Weights ≥ 0 (pT or E in GeV, or pixel intensities).
    coords : (P, gdim) float64 np.ndarray
        Coordinates; for jets ``(P, 2)`` (η, φ) in radians.
    """

    weights: np.ndarray
    coords: np.ndarray


# ----------------------------------------------------------------------------- building point sets
def point_set(weights: Any, coords: Any) -> PointSet:
    """A :class:`PointSet` holding float64 copies of ``weights`` ``(P,)`` and ``coords`` ``(P, d)`` (e.g. (η, φ)).

    Only the shapes are checked here; values are validated where distances are computed.
    """
    w, c = _arrays(weights, coords)
    return PointSet(w.copy(), c.copy())


def _arrays(weights: Any, coords: Any) -> tuple[np.ndarray, np.ndarray]:
    """float64 arrays (views where possible: never written into) with checked shapes."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.asarray(coords, dtype=np.float64)
    if w.ndim != 1:
        raise SchemaError(f"weights must be a 1-d array (P,), got shape {w.shape}")
    if c.ndim != 2 or c.shape[1] < 1:
        raise SchemaError(f"coords must be a (P, d) array (d ≥ 1 coordinates per particle, e.g. (eta, phi)), "
                          f"got shape {c.shape}")
    if len(c) != len(w):
        raise SchemaError(f"weights have {len(w)} entries but coords {len(c)} rows")
    return w, c


def from_pt_eta_phi(particles: Any) -> PointSet:
    """A :class:`PointSet` from a ``(P, 3)`` array of (pT [GeV], η, φ [rad]) rows (copies).

    Zero-padded rows (pT = 0) are kept; they take no part in the transport.
    """
    x = np.asarray(particles, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise SchemaError(f"particles must be a (P, 3) array of (pt, eta, phi), got shape {x.shape}")
    return PointSet(x[:, 0].copy(), x[:, 1:3].copy())


def _unambiguous_columns(cartesian: bool) -> int:
    return 4 if cartesian else 3


def _event_array(x: np.ndarray, gdim: int | None, cartesian: bool) -> tuple[np.ndarray, np.ndarray]:
    """(weights, coords) views of an energyflow-style ``(P, 1 + k)`` event array (or one ``(1 + k,)`` particle)."""
    if x.ndim == 1:
        if x.shape[0] == 0:  # an empty event without columns
            return x, np.zeros((0, gdim or 0))
        x = x[None, :]  # one particle
    if x.ndim != 2:
        raise SchemaError(f"an event array must be (P, 1 + gdim) rows of (weight, coordinates...), got shape {x.shape}")
    k = x.shape[1] - 1
    if gdim is None:
        need = _unambiguous_columns(cartesian)
        if x.shape[1] != need:
            if cartesian:
                raise SchemaError(
                    f"an event array of shape {x.shape} is ambiguous: (P, 4) arrays of (E, px, py, pz) are read "
                    f"without gdim; pass gdim=3 to read (E, px, py, pz) and ignore further columns")
            raise SchemaError(
                f"an event array of shape {x.shape} is ambiguous: only a (P, 3) array of (pt, eta, phi) rows is read "
                f"without gdim; pass gdim (the number of coordinate columns after the weight that form the ground "
                f"space: gdim=1 for (weight, x) rows, gdim=2 to read (pt, y, phi) and ignore further columns such as a "
                f"particle id, gdim={max(k, 1)} to use all {k} coordinate columns)")
        gdim = k
    elif k < gdim:
        raise SchemaError(f"an event array of shape {x.shape} has {k} coordinate column(s) after the weight, "
                          f"fewer than gdim={gdim}")
    return x[:, 0], x[:, 1 : 1 + gdim]


def as_point_set(jet: Any, gdim: int | None = None) -> PointSet:
    """Any accepted jet form as a :class:`PointSet`.

    Accepted: a :class:`PointSet` or a ``(weights, coords)`` tuple (a Python ``tuple``, not a
    list; coords ``(P, d)``), or an array-like event ``(P, 1 + k)`` of (weight, coordinates...)
    rows — ``(P, 3)`` (pT, η, φ) without ``gdim``; with ``gdim``, the first ``gdim`` coordinate
    columns (further columns are ignored) — or one particle ``(1 + k,)``. The arrays of a tuple
    are converted to float64 without a copy where they already are (they are only read).
    """
    return _as_point_set(jet, gdim, False)


def _as_point_set(jet: Any, gdim: int | None, cartesian: bool) -> PointSet:
    if isinstance(jet, tuple):
        if len(jet) != 2:
            raise SchemaError(f"a jet given as a tuple must be (weights, coords), got a tuple of {len(jet)}")
        w, c = _arrays(*jet)  # no copy: nothing downstream writes into them
        if gdim is not None:
            if c.shape[1] < gdim:
                raise SchemaError(f"coords of shape {c.shape} have fewer than gdim={gdim} columns")
            c = c[:, :gdim]
        return PointSet(w, c)
    return PointSet(*_event_array(np.asarray(jet, dtype=np.float64), gdim, cartesian))


def pixel_centres(n: int, lo: float, hi: float) -> np.ndarray:
    """Centres ``(n,)`` of ``n`` equal pixels covering [lo, hi): ``lo + (k + ½)(hi − lo)/n``.

    For :func:`jetviz.data.pixelate.pixelate` use its ``eta_range``/``phi_range``; for
    :func:`jetviz.data.pixelate.jet_images` use ``(-width/2, width/2)`` on both axes.
    """
    if int(n) < 1 or not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ConfigError(f"need n ≥ 1 and finite lo < hi, got n={n}, lo={lo}, hi={hi}")
    return lo + (np.arange(int(n)) + 0.5) * ((hi - lo) / int(n))


def from_image(image: Any, eta_centres: Any, phi_centres: Any) -> PointSet:
    """The nonzero pixels of one η–φ image as a :class:`PointSet`.

    Parameters
    ----------
    image : (n_eta, n_phi) array_like
        Pixel intensities (≥ 0; also ``(1, n_eta, n_phi)``).
    eta_centres : (n_eta,) array_like
        η of the pixel centres (see :func:`pixel_centres`).
    phi_centres : (n_phi,) array_like
        φ of the pixel centres, radians.

    Returns
    -------
    PointSet
        Weights = the nonzero pixel values (float64), coords = their (η, φ) centres, in
        row-major pixel order. An all-zero image gives an empty point set (see the module's
        empty-event policy).
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise SchemaError(f"image must be (n_eta, n_phi), got shape {img.shape}")
    eta_c = np.asarray(eta_centres, dtype=np.float64)
    phi_c = np.asarray(phi_centres, dtype=np.float64)
    if eta_c.shape != (img.shape[0],) or phi_c.shape != (img.shape[1],):
        raise SchemaError(
            f"image {img.shape} needs eta_centres ({img.shape[0]},) and phi_centres ({img.shape[1]},), "
            f"got {eta_c.shape} and {phi_c.shape}"
        )
    i, j = np.nonzero(img)
    return PointSet(img[i, j].astype(np.float64), np.stack([eta_c[i], phi_c[j]], axis=1))


def from_images(images: Any, eta_centres: Any, phi_centres: Any) -> list[PointSet]:
    """:func:`from_image` for each of ``(N, n_eta, n_phi)`` or ``(N, 1, n_eta, n_phi)`` images."""
    imgs = np.asarray(images)
    if imgs.ndim == 4 and imgs.shape[1] == 1:
        imgs = imgs[:, 0]
    if imgs.ndim != 3:
        raise SchemaError(f"images must be (N, n_eta, n_phi) or (N, 1, n_eta, n_phi), got shape {np.shape(images)}")
    return [from_image(img, eta_centres, phi_centres) for img in imgs]


# ----------------------------------------------------------------------------- parameters and validation
class _Params(NamedTuple):
    R: float
    p: float
    norm: bool
    periodic_phi: bool
    phi_col: int
    gdim: int | None  # None: read from the jets
    metric: int  # transport.EUCLIDEAN or transport.SPHERICAL
    cartesian: bool  # spherical measure on (E, px, py, pz) rows
    mask: bool
    empty_policy: Any  # None, "error" or a float
    num_iter_max: int
    dtype: Any  # np.float64 or np.float32


def _number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _params(R: float, p: float | None, norm: bool, periodic_phi: bool, num_iter_max: int | None, *,
            beta: float | None = None, gdim: int | None = None, phi_col: int = 2, measure: str = "euclidean",
            coords: str = "hadronic", mask: bool = False, empty_policy: Any = None, n_iter_max: int | None = None,
            dtype: Any = "float64") -> _Params:
    if not (_number(R) and np.isfinite(R) and R > 0):
        raise ConfigError(f"R must be a finite number > 0, got {R!r}")
    if beta is not None:
        if p is not None and p != beta:
            raise ConfigError(f"p={p!r} and beta={beta!r} name the same exponent: give one of them")
        p = beta
    p = 1.0 if p is None else p
    if not (_number(p) and np.isfinite(p) and p > 0):
        raise ConfigError(f"p must be a finite number > 0 (energyflow calls it beta), got {p!r}")
    if n_iter_max is not None:
        if num_iter_max is not None and num_iter_max != n_iter_max:
            raise ConfigError(f"num_iter_max={num_iter_max!r} and n_iter_max={n_iter_max!r} name the same limit: "
                              "give one of them")
        num_iter_max = n_iter_max
    num_iter_max = DEFAULT_NUM_ITER_MAX if num_iter_max is None else num_iter_max
    if not isinstance(num_iter_max, (int, np.integer)) or isinstance(num_iter_max, bool) or num_iter_max < 1:
        raise ConfigError(f"num_iter_max must be a positive integer, got {num_iter_max!r}")
    if gdim is not None and (not isinstance(gdim, (int, np.integer)) or isinstance(gdim, bool) or gdim < 1):
        raise ConfigError(f"gdim must be an integer ≥ 1 (the dimension of the ground space) or None, got {gdim!r}")
    if not isinstance(phi_col, (int, np.integer)) or isinstance(phi_col, bool) or phi_col < 1:
        raise ConfigError(f"phi_col must be an integer ≥ 1 (the event column of phi; 0 is the weight), got {phi_col!r}")
    if measure not in ("euclidean", "spherical"):
        raise ConfigError(f"measure must be 'euclidean' or 'spherical', got {measure!r}")
    if coords not in ("hadronic", "cartesian"):
        raise ConfigError(f"coords must be 'hadronic' (pt, y, phi[, m]) or 'cartesian' (E, px, py, pz), got {coords!r}")
    spherical = measure == "spherical"
    if coords == "cartesian" and not spherical:
        raise ConfigError("coords='cartesian' (E, px, py, pz) needs measure='spherical' (the angle between momenta)")
    if spherical and mask:
        raise ConfigError("mask (drop particles farther than R from the origin) needs measure='euclidean'")
    if spherical:
        if coords == "cartesian" and gdim not in (None, 3):
            raise ConfigError(f"coords='cartesian' reads the 3 columns (px, py, pz) after E: gdim must be 3, got {gdim}")
        if coords == "hadronic" and gdim not in (None, 2, 3):
            raise ConfigError(f"measure='spherical' with coords='hadronic' reads (y, phi) or (y, phi, m): gdim must "
                              f"be 2 or 3, got {gdim}")
    if not (empty_policy is None or empty_policy == "error" or (_number(empty_policy) and not isinstance(empty_policy, str))):
        raise ConfigError(f"empty_policy must be None (the defined value), 'error' or a number, got {empty_policy!r}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        out_dtype = None
    if out_dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ConfigError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return _Params(float(R), float(p), bool(norm), bool(periodic_phi) and not spherical, int(phi_col),
                   None if gdim is None else int(gdim), SPHERICAL if spherical else EUCLIDEAN, coords == "cartesian",
                   bool(mask), None if empty_policy is None else (empty_policy if empty_policy == "error"
                                                                   else float(empty_policy)),
                   int(num_iter_max), out_dtype.type)


def _phi_dim(params: _Params, gdim: int) -> int:
    """Index of the periodic coordinate, −1 for none; checks that phi_col lies in the ground space."""
    if not params.periodic_phi:
        return -1
    if params.phi_col > gdim:
        raise ConfigError(
            f"periodic_phi=True wraps event column phi_col={params.phi_col}, but the ground space has gdim={gdim} "
            f"coordinate column(s): pass periodic_phi=False (energyflow's default), or phi_col ≤ {gdim}")
    return params.phi_col - 1


class _Jet(NamedTuple):
    """A validated jet: only particles of weight > 0 (after the mask), periodic coordinates wrapped."""

    w: np.ndarray  # (Q,) weights > 0, divided by their sum when normalised
    X: np.ndarray  # (Q, gdim) C-contiguous ground-space coordinates (unit 3-vectors when spherical)
    total: float  # sum of the raw weights (after the mask)
    keep: np.ndarray  # (Q,) indices of these particles in the input
    size: int  # P, particles in the input (zero weights included)
    problem: str  # why the jet is empty ("" when it is not)


def _read(jet: Any, params: _Params, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return _as_point_set(jet, params.gdim, params.cartesian)
    except SchemaError as error:
        raise SchemaError(f"{name}: {error}") from None


def _to_sphere(w: np.ndarray, c: np.ndarray, cartesian: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(weights E, unit momentum directions (Q, 3)) of particles given as (E; px, py, pz) or (pT; y, phi[, m])."""
    if cartesian:
        energy, p3 = w, c
    else:
        pt, y, phi = w, c[:, 0], c[:, 1]
        mt = np.sqrt(pt * pt + c[:, 2] ** 2) if c.shape[1] > 2 else pt
        energy = mt * np.cosh(y)
        p3 = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=1)
    norm = np.sqrt((p3 * p3).sum(axis=1))
    if (norm == 0).any():
        raise SchemaError(f"{name} has {int((norm == 0).sum())} particles with zero momentum: they have no direction "
                          "on the sphere")
    return np.ascontiguousarray(energy, dtype=np.float64), np.ascontiguousarray(p3 / norm[:, None])


def _prepare(jet: Any, params: _Params, gdim: int, phi_dim: int, name: str = "jet") -> _Jet:
    w, c = _read(jet, params, name)
    if c.shape[1] != gdim and len(w):
        raise SchemaError(f"{name} has {c.shape[1]} coordinate column(s) but the other jets {gdim}")
    bad = ~np.isfinite(w)
    if bad.any():
        raise SchemaError(f"{name} has {int(bad.sum())} NaN or infinite weights (first at index {int(np.argmax(bad))})")
    bad = ~np.isfinite(c).all(axis=1)
    if bad.any():
        label = "(eta, phi)" if gdim == 2 else "coordinates"
        raise SchemaError(f"{name} has {int(bad.sum())} particles with NaN or infinite {label} "
                          f"(first at index {int(np.argmax(bad))})")
    if (w < 0).any():
        raise SchemaError(f"{name} has {int((w < 0).sum())} negative weights (first at index {int(np.argmax(w < 0))})")
    X = c.reshape(len(w), gdim)
    if phi_dim >= 0:
        X = X.copy()
        X[:, phi_dim] = wrap_phi(X[:, phi_dim])
    selected = w > 0
    if params.mask:  # energyflow's mask: drop particles farther than R from the origin
        selected &= (X * X).sum(axis=1) <= params.R * params.R
    keep = np.flatnonzero(selected)
    wk, Xk = w[keep], X[keep]
    if params.metric == SPHERICAL and len(keep):
        wk, Xk = _to_sphere(wk, Xk, params.cartesian, name)
    total = float(wk.sum())
    problem = ""
    if len(w) == 0:
        problem = f"{name} is empty: it has no particles"
    elif len(keep) == 0 or not total > 0:
        problem = (f"{name} has zero total weight: all its {len(w)} weights are 0" if not (w > 0).any()
                   else f"{name} has no particle within R={params.R:g} of the origin (mask=True)")
    if problem:
        return _Jet(np.zeros(0), np.zeros((0, 3 if params.metric == SPHERICAL else gdim)), 0.0, keep[:0], len(w), problem)
    if params.norm:
        wk = wk / total
    return _Jet(np.ascontiguousarray(wk, dtype=np.float64), np.ascontiguousarray(Xk, dtype=np.float64), total, keep,
                len(w), "")


def _ground_dim(labelled: list[tuple[str, Any]], params: _Params) -> int:
    """The ground-space dimension: ``gdim``, or the one every jet's shape gives unambiguously."""
    if params.metric == SPHERICAL and params.cartesian:
        return 3
    if params.gdim is not None:
        return params.gdim
    found, first = None, None
    for label, jet in labelled:
        w, c = _read(jet, params, label)
        if len(w) == 0 and c.shape[1] == 0:
            continue  # an empty event without columns says nothing
        if found is None:
            found, first = c.shape[1], label
        elif c.shape[1] != found:
            raise SchemaError(f"{label} has {c.shape[1]} coordinate column(s) but {first} has {found}: pass gdim")
    return 2 if found is None else found


def _empty_check(jets: list[_Jet], params: _Params) -> None:
    """Raise for empty jets where the policy says so."""
    for jet in jets:
        if jet.problem:
            if params.empty_policy == "error":
                raise SchemaError(f"{jet.problem} (empty_policy='error')")
            if params.empty_policy is None and params.norm:
                raise SchemaError(f"{jet.problem}: the normalised EMD to an empty event is undefined (pass "
                                  "empty_policy=<a number>, e.g. float('nan'), to get that number for such pairs)")


# ----------------------------------------------------------------------------- ground distances
def _check_coords(coords: Any, name: str) -> np.ndarray:
    c = np.asarray(coords, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 1:
        raise SchemaError(f"{name} must be a (P, d) array of coordinates (e.g. (eta, phi)), got shape {c.shape}")
    if not np.isfinite(c).all():
        raise SchemaError(f"{name} holds NaN or infinite values")
    return c


def ground_distance(coords_a: Any, coords_b: Any, R: float = 1.0, periodic_phi: bool = True,
                    phi_col: int = 2) -> np.ndarray:
    """θ_ij / R ``(P_a, P_b)`` between coordinates ``(P_a, d)`` and ``(P_b, d)`` (e.g. (η, φ), radians).

    θ_ij is the Euclidean distance, with coordinate ``phi_col − 1`` (φ) wrapped into [−π, π]
    when ``periodic_phi``.
    """
    return cost_matrix(coords_a, coords_b, R=R, p=1.0, periodic_phi=periodic_phi, phi_col=phi_col)


def cost_matrix(coords_a: Any, coords_b: Any, R: float = 1.0, p: float = 1.0, periodic_phi: bool = True,
                phi_col: int = 2) -> np.ndarray:
    """Transport cost c_ij = (θ_ij / R)^p ``(P_a, P_b)`` between ``(P_a, d)`` and ``(P_b, d)`` coordinates.

    The formula of the solver's own cost matrices (:func:`jetviz.models.transport.cost_block`).
    """
    params = _params(R, p, True, periodic_phi, 1, phi_col=phi_col)
    a = _check_coords(coords_a, "coords_a")
    b = _check_coords(coords_b, "coords_b")
    if a.shape[1] != b.shape[1]:
        raise SchemaError(f"coords_a has {a.shape[1]} columns but coords_b {b.shape[1]}")
    phi_dim = _phi_dim(params, a.shape[1])
    if phi_dim >= 0:
        a, b = a.copy(), b.copy()
        a[:, phi_dim], b[:, phi_dim] = wrap_phi(a[:, phi_dim]), wrap_phi(b[:, phi_dim])
    return cost_block(np.ascontiguousarray(a), np.ascontiguousarray(b), EUCLIDEAN, phi_dim, params.R, params.p)


# ----------------------------------------------------------------------------- packing and the POT fallback
class _Packed(NamedTuple):
    """Validated jets in flat arrays: jet k is ``[offsets[k], offsets[k+1])``."""

    w: np.ndarray  # (T,)
    X: np.ndarray  # (T, gdim)
    offsets: np.ndarray  # (K + 1,)
    totals: np.ndarray  # (K,)
    rank: np.ndarray  # (K,) canonical order of the jets (pairs are solved lower rank → higher rank)
    group: np.ndarray  # (K,) equal for identical jets (distance exactly 0)
    empty: np.ndarray  # (K,) bool


def _pack(prepared: list[_Jet], gdim: int) -> _Packed:
    offsets = np.zeros(len(prepared) + 1, dtype=np.int64)
    np.cumsum([len(j.w) for j in prepared], out=offsets[1:])
    keys = [(j.total, len(j.w), j.w.tobytes(), j.X.tobytes()) for j in prepared]
    order = sorted(range(len(prepared)), key=keys.__getitem__)
    rank = np.empty(len(prepared), dtype=np.int64)
    rank[order] = np.arange(len(prepared))
    group = np.empty(len(prepared), dtype=np.int64)
    for position, k in enumerate(order):
        same = position and keys[k] == keys[order[position - 1]] and not prepared[k].problem
        group[k] = group[order[position - 1]] if same else position  # empty jets: see empty_policy
    return _Packed(
        np.concatenate([j.w for j in prepared]) if prepared else np.zeros(0),
        np.concatenate([j.X.reshape(-1, gdim) for j in prepared]) if prepared else np.zeros((0, gdim)),
        offsets,
        np.array([j.total for j in prepared], dtype=np.float64),
        rank,
        group,
        np.array([bool(j.problem) for j in prepared], dtype=bool),
    )


_RESULT_CODES = {
    0: "the problem is infeasible",
    2: "the problem is unbounded",
    3: "the iteration limit num_iter_max was reached",
}
_solver: Callable | None = None


def _solve_public(a: np.ndarray, b: np.ndarray, M: np.ndarray, num_iter_max: int) -> tuple[np.ndarray, float, int]:
    """POT's public :func:`ot.emd` (log=True gives the cost and the solver's result code)."""
    import ot

    G, log = ot.emd(a, b, M, numItermax=num_iter_max, log=True, check_marginals=False)
    return G, float(log["cost"]), int(log["result_code"])


def _solve_direct(a: np.ndarray, b: np.ndarray, M: np.ndarray, num_iter_max: int) -> tuple[np.ndarray, float, int]:
    """The compiled solver behind :func:`ot.emd`, without its per-call backend and marginal checks."""
    from ot.lp.emd_wrap import emd_c

    G, cost, _u, _v, code = emd_c(a, b, M, num_iter_max, 1)
    return G, float(cost), int(code)


def _get_solver() -> Callable:
    """``solve(a, b, M, num_iter_max) -> (G, cost, result_code)`` on POT's network simplex.

    ``a``, ``b``: float64 ``(P,)``, ``(Q,)`` > 0 of equal sums; ``M``: C-contiguous float64
    ``(P, Q)``; result code 1 = optimal. Uses the compiled ``ot.lp.emd_wrap.emd_c`` directly
    where it answers a small known problem correctly; otherwise (a POT whose private signature
    changed) the public :func:`ot.emd`. POT is imported on first use (it is slow to import).
    """
    global _solver
    if _solver is None:
        solve = _solve_public
        try:
            G, cost, code = _solve_direct(np.array([0.25, 0.75]), np.array([1.0]), np.array([[1.0], [3.0]]), 1000)
            if code == 1 and abs(cost - 2.5) < 1e-12 and G.shape == (2, 1):
                solve = _solve_direct
        except Exception:  # private API changed: stay with the public one
            pass
        _solver = solve
    return _solver


def _pot_pair(packed: _Packed, s: int, t: int, params: _Params, phi_dim: int) -> tuple[float, np.ndarray]:
    """(value, plan) of packed pair s → t by POT's solver on exactly the problem the compiled solver saw."""
    a, b, C, extra = pair_problem(packed.w, packed.X, packed.totals, packed.offsets, s, t, params.metric, phi_dim,
                                  params.R, params.p, params.norm)
    G, cost, code = _get_solver()(a, b, C, params.num_iter_max)
    if code != 1:
        raise EMDSolverError(
            f"optimal transport between jets of {len(a)} and {len(b)} particles failed: "
            f"{_RESULT_CODES.get(code, f'solver result code {code}')} (num_iter_max={params.num_iter_max})"
        )
    return cost + extra, G


def _finish(value: float, params: _Params, root: bool):
    """The value as returned: the root (by the same array power as :func:`emd_matrix`, whose
    vectorised pow can differ from ``math.pow`` in the last bit) and the output type."""
    value = np.array([value], dtype=np.float64)
    if root:
        np.power(value, 1.0 / params.p, out=value)
    return float(value[0]) if params.dtype is np.float64 else params.dtype(value[0])


# ----------------------------------------------------------------------------- one pair
def emd(
    jet_a: Any,
    jet_b: Any,
    *,
    R: float = 1.0,
    p: float | None = None,
    norm: bool = False,
    root: bool = False,
    periodic_phi: bool = True,
    return_flow: bool = False,
    flow_with_extra: bool = False,
    num_iter_max: int | None = None,
    beta: float | None = None,
    gdim: int | None = None,
    phi_col: int = 2,
    measure: str = "euclidean",
    coords: str = "hadronic",
    mask: bool = False,
    dists: Any = None,
    empty_policy: Any = None,
    n_iter_max: int | None = None,
    dtype: Any = "float64",
) -> Any:
    """EMD / W_p between two jets (see the module docstring for the definitions).

    Parameters
    ----------
    jet_a, jet_b : PointSet, tuple or array_like
        Jets as :class:`PointSet` / ``(weights, coords)`` tuples (weights
        ``(P,)`` ≥ 0, coords ``(P, d)``), event arrays ``(P, 1 + k)`` of (weight,
        coordinates...) rows (``(P, 3)`` = (pT, η, φ) without ``gdim``), or one particle
        ``(1 + k,)``. With ``dists``: 1-d weights ``(P,)`` or event arrays (column 0 read).
    R : float, optional
        Divides the ground distance, > 0 (the jet radius).
    p : float | None, optional
        Power of the cost (θ/R)^p, > 0 (default 1); ``beta`` is energyflow's name for it.
    norm : bool, optional
        Divide each jet's weights by their sum (pure transport); otherwise the
        unnormalised EMD with the energy-difference term |ΣE − ΣE′|.
    root : bool, optional
        Return value^(1/p) (the textbook W_p); default False, the talk's form.
    periodic_phi : bool, optional
        Take event column ``phi_col`` (default 2, φ) on the circle. jetviz's
        default is True (energyflow's False: the same for jets whose φ differences are < π).
    return_flow : bool, optional
        Also return the transport plan.
    flow_with_extra : bool, optional
        With ``return_flow``, append the extra particle's row (jet_a lighter)
        or column (jet_b lighter) to the plan, as energyflow returns it (unnormalised
        jets of unequal totals only).
    num_iter_max : int | None, optional
        Iteration limit of the network simplex (default
        :data:`DEFAULT_NUM_ITER_MAX`); ``n_iter_max`` is energyflow's name for it.
    gdim : int | None, optional
        Number of coordinate columns forming the ground space (any ≥ 1); further columns
        of event arrays are ignored. None: read from the jets where unambiguous.
    phi_col : int, optional
        Event column of φ (0 is the weight) for ``periodic_phi``; ≤ gdim.
    measure : str, optional
        ``"euclidean"`` or ``"spherical"`` (angle between momenta; weights become
        energies; ``periodic_phi`` has no effect).
    coords : str, optional
        With ``measure="spherical"``: ``"hadronic"`` rows (pT, y, φ[, m]) (gdim 2, or 3
        with the mass) or ``"cartesian"`` rows (E, px, py, pz).
    mask : bool, optional
        Drop particles farther than R from the origin of the ground space (energyflow's ``mask``).
    dists : (P_a, P_b) array_like, optional
        Ground distances θ_ij ≥ 0 between the particles (all of them,
        zero weights included) instead of coordinates; the cost is (θ/R)^p and the extra
        particle, unnormalised, sits at θ = R as always.
    empty_policy : None, "error" or float, optional
        None (the defined value where there is one, else an error), ``"error"``,
        or a number returned for a pair with an empty event.
    dtype : str or numpy dtype, optional
        ``"float64"`` or ``"float32"``: the type of the results (computed in float64).

    Returns
    -------
    Any
        The distance (a float or np.float32; dimensionless when ``norm``, in the weights' units
        otherwise), and with ``return_flow`` the plan ``(P_a, P_b)``: f_ij moved from particle i
        of jet_a to particle j of jet_b (normalised units when ``norm``, else the weights' units;
        rows/columns of zero-weight or masked particles are 0); with ``flow_with_extra`` plus
        the extra particle's row or column. Σ f_ij c_ij is the value (minus |ΣE − ΣE′| when not
        ``norm``; before any root).

    Raises
    ------
    SchemaError
        Ambiguous or wrong shapes, negative or non-finite weights, non-finite
        coordinates, an empty jet where the policy says so.
    ConfigError
        R ≤ 0, p ≤ 0, bad num_iter_max, gdim, phi_col, measure, coords, dtype.
    EMDSolverError
        The solver did not reach a proven optimum.
    """
    params = _params(R, p, norm, periodic_phi, num_iter_max, beta=beta, gdim=gdim, phi_col=phi_col, measure=measure,
                     coords=coords, mask=mask, empty_policy=empty_policy, n_iter_max=n_iter_max, dtype=dtype)
    if dists is not None:
        return _emd_dists(jet_a, jet_b, dists, params, root, return_flow, flow_with_extra)
    ground = _ground_dim([("jet_a", jet_a), ("jet_b", jet_b)], params)
    phi_dim = _phi_dim(params, ground)
    a = _prepare(jet_a, params, ground, phi_dim, "jet_a")
    b = _prepare(jet_b, params, ground, phi_dim, "jet_b")
    _empty_check([a, b], params)
    packed = _pack([a, b], 3 if params.metric == SPHERICAL else ground)
    swap = bool(packed.rank[1] < packed.rank[0])  # the canonical order, as in emd_matrix
    s, t = (1, 0) if swap else (0, 1)
    if packed.group[0] == packed.group[1]:  # identical jets: exactly 0, the identity plan
        value, G = 0.0, np.diag(a.w)
    elif packed.empty.any() and isinstance(params.empty_policy, float):
        value, G = params.empty_policy, np.zeros((0, 0))
    else:
        value, code, G = pair_plan(packed.w, packed.X, packed.totals, packed.offsets, s, t, params.metric, phi_dim,
                                   params.R, params.p, params.norm, params.num_iter_max)
        if code != OPTIMAL:  # the pivot limit: let POT's solver try with the same limit
            value, G = _pot_pair(packed, s, t, params, phi_dim)
    value = _finish(value, params, root)
    if not return_flow:
        return value
    if swap:
        G = G.T
    return value, _full_flow(G, a, b, params, flow_with_extra)


def _full_flow(G: np.ndarray, a: _Jet, b: _Jet, params: _Params, with_extra: bool) -> np.ndarray:
    """The plan over the input particles of both jets (+ the extra particle's row or column)."""
    qa, qb = len(a.w), len(b.w)
    extra_row = extra_col = False
    if not params.norm and not (params.empty_policy is not None and (a.problem or b.problem)):
        extra_row, extra_col = b.total > a.total, a.total > b.total
    if G.shape == (0, 0) and (qa or qb) and (extra_row or extra_col):  # one jet empty: all to the extra particle
        G = np.zeros((qa + extra_row, qb + extra_col))
        if extra_row:
            G[qa, :] = b.w
        else:
            G[:, qb] = a.w
    rows = a.size + (with_extra and extra_row)
    cols = b.size + (with_extra and extra_col)
    flow = np.zeros((rows, cols))
    if G.size:
        flow[np.ix_(a.keep, b.keep)] = G[:qa, :qb]
        if with_extra and extra_row:
            flow[a.size, b.keep] = G[qa, :qb]
        if with_extra and extra_col:
            flow[a.keep, b.size] = G[:qa, qb]
    return flow.astype(params.dtype, copy=False)


def _dists_weights(jet: Any, name: str) -> np.ndarray:
    if isinstance(jet, tuple):
        w = _arrays(*jet)[0]
    else:
        x = np.asarray(jet, dtype=np.float64)
        if x.ndim == 2:
            w = x[:, 0]
        elif x.ndim == 1:
            w = x
        else:
            raise SchemaError(f"{name}: with dists, give weights (P,) or an event array (P, 1 + k), got shape {x.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise SchemaError(f"{name} has negative or non-finite weights")
    return w


def _emd_dists(jet_a, jet_b, dists, params: _Params, root: bool, return_flow: bool, with_extra: bool):
    """:func:`emd` on an external matrix of ground distances."""
    wa, wb = _dists_weights(jet_a, "jet_a"), _dists_weights(jet_b, "jet_b")
    D = np.asarray(dists, dtype=np.float64)
    if D.shape != (len(wa), len(wb)):
        raise SchemaError(f"dists must be (P_a, P_b) = ({len(wa)}, {len(wb)}), got shape {D.shape}")
    if not np.isfinite(D).all() or (D < 0).any():
        raise SchemaError("dists must hold finite distances ≥ 0")
    ka, kb = np.flatnonzero(wa > 0), np.flatnonzero(wb > 0)
    total_a, total_b = float(wa.sum()), float(wb.sum())
    jets = []
    for name, w, keep, total in (("jet_a", wa, ka, total_a), ("jet_b", wb, kb, total_b)):
        problem = "" if len(keep) else (f"{name} is empty: it has no particles" if len(w) == 0
                                        else f"{name} has zero total weight: all its {len(w)} weights are 0")
        jets.append(_Jet(w[keep] / total if params.norm and total > 0 else w[keep], np.zeros((len(keep), 0)),
                         total, keep, len(w), problem))
    a, b = jets
    _empty_check(jets, params)
    if a.problem or b.problem:
        value = params.empty_policy if isinstance(params.empty_policy, float) else abs(total_a - total_b)
        G = np.zeros((0, 0))
    else:
        C = (D[np.ix_(ka, kb)] / params.R) ** params.p
        sa, sb, extra = a.w, b.w, 0.0
        if not params.norm and total_a != total_b:
            extra = abs(total_b - total_a)
            if total_b > total_a:
                sa, C = np.append(sa, extra), np.vstack([C, np.zeros((1, C.shape[1]))])
            else:
                sb, C = np.append(sb, extra), np.hstack([C, np.zeros((C.shape[0], 1))])
        sb = sb * (sa.sum() / sb.sum())
        G, cost, code, _ = transport(sa, sb, C, params.num_iter_max)
        if code != OPTIMAL:
            G, cost, code = _get_solver()(sa, sb, np.ascontiguousarray(C), params.num_iter_max)
            if code != 1:
                raise EMDSolverError(f"optimal transport on the given dists failed: "
                                     f"{_RESULT_CODES.get(code, f'solver result code {code}')}")
        value = cost + extra
    value = _finish(value, params, root)
    return (value, _full_flow(G, a, b, params, with_extra)) if return_flow else value


# ----------------------------------------------------------------------------- many pairs
def _prepare_all(jets: Any, params: _Params, name: str) -> list:
    if isinstance(jets, np.ndarray):
        if jets.ndim != 3:
            raise SchemaError(f"{name} as an array must be (N, P, 1 + gdim) events, e.g. (N, P, 3) of (pt, eta, phi), "
                              f"got shape {jets.shape}")
        return list(jets)
    if isinstance(jets, (str, bytes, tuple)) or not isinstance(jets, Iterable):
        # a tuple would be ambiguous with one (weights, coords) jet
        raise SchemaError(f"{name} must be a list of jets or an (N, P, 3) array, got {type(jets).__name__}")
    jets = list(jets)
    if not jets:
        raise SchemaError(f"{name} holds no jets")
    return jets


Tile = tuple[int, int, int, int]  # rows [r0, r1), columns [c0, c1)


def _tile_pairs(tile: Tile, symmetric: bool) -> int:
    r0, r1, c0, c1 = tile
    if symmetric and r0 == c0:  # a diagonal tile: i < j only
        n = r1 - r0
        return n * (n - 1) // 2
    return (r1 - r0) * (c1 - c0)


def _tiles(n_a: int, n_b: int, symmetric: bool, side: int) -> list[Tile]:
    tiles = []
    for r0 in range(0, n_a, side):
        for c0 in range(r0 if symmetric else 0, n_b, side):
            tile = (r0, min(r0 + side, n_a), c0, min(c0 + side, n_b))
            if _tile_pairs(tile, symmetric):
                tiles.append(tile)
    return tiles


def _solve_tile(packed: _Packed, shift: int | None, tile: Tile, params: _Params, phi_dim: int) -> np.ndarray:
    """Values (no root) of one tile, ``(r1 − r0, c1 − c0)``.

    ``shift`` is the index of the first column jet in ``packed`` (None: a symmetric matrix of
    the jets of ``packed``; in its diagonal tiles only the strict upper triangle is filled,
    the rest is 0). Each pair is solved in the canonical order of its two jets; identical jets
    are at 0; pairs the compiled solver does not finish go to POT's solver.
    """
    r0, r1, c0, c1 = tile
    rows, cols = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    if shift is None and r0 == c0:
        upper = rows < cols
        rows, cols = rows[upper], cols[upper]
    rows, cols = rows.ravel(), cols.ravel()
    right = cols if shift is None else cols + shift
    values = np.zeros(len(rows))
    solve = packed.group[rows] != packed.group[right]
    lo = np.where(packed.rank[rows] <= packed.rank[right], rows, right)[solve]
    hi = np.where(packed.rank[rows] <= packed.rank[right], right, rows)[solve]
    found = np.zeros(len(lo))
    codes = np.zeros(len(lo), dtype=np.int64)
    fill = params.empty_policy if isinstance(params.empty_policy, float) else 0.0
    pairwise_tile(packed.w, packed.X, packed.totals, packed.offsets, lo, hi, params.metric, phi_dim, params.R,
                  params.p, params.norm, fill, isinstance(params.empty_policy, float), params.num_iter_max, found, codes)
    for k in np.flatnonzero(codes != OPTIMAL):
        try:
            found[k] = _pot_pair(packed, lo[k], hi[k], params, phi_dim)[0]
        except EMDSolverError as error:
            i = np.flatnonzero(solve)[k]
            raise EMDSolverError(f"pair ({rows[i]}, {cols[i]}): {error}") from None
    values[solve] = found
    out = np.zeros((r1 - r0, c1 - c0))
    out[rows - r0, cols - c0] = values
    return out


def _dask_tile(tile: Tile, data: tuple[_Packed, int | None], params: tuple, phi_dim: int) -> tuple[Tile, np.ndarray]:
    return tuple(tile), _solve_tile(data[0], data[1], tuple(tile), _Params(*params), phi_dim)


def emd_matrix(
    jets_a: Any,
    jets_b: Any = None,
    *,
    R: float = 1.0,
    p: float | None = None,
    norm: bool = False,
    root: bool = False,
    periodic_phi: bool = True,
    n_jobs: int | None = 1,
    client: Any = None,
    block_size: int | None = None,
    progress: Progress | None = None,
    show_progress: bool = False,
    num_iter_max: int | None = None,
    beta: float | None = None,
    gdim: int | None = None,
    phi_col: int = 2,
    measure: str = "euclidean",
    coords: str = "hadronic",
    mask: bool = False,
    empty_policy: Any = None,
    n_iter_max: int | None = None,
    dtype: Any = "float64",
) -> np.ndarray:
    """Matrix of :func:`emd` values between all jets of ``jets_a`` and all of ``jets_b`` (energyflow's ``emds``).

    Parameters
    ----------
    jets_a : sequence or (N, P, 1 + k) array_like
        N jets (a sequence of any form :func:`emd` accepts, or a zero-padded
        ``(N, P, 1 + k)`` array of events, e.g. ``(N, P, 3)`` of (pT, η, φ)).
    jets_b : sequence or array_like, optional
        M jets likewise, or None for the symmetric ``(N, N)`` matrix of ``jets_a``
        (only pairs i < j are solved; the diagonal is 0).
    R, p, beta, norm, root, periodic_phi, num_iter_max, n_iter_max, gdim, phi_col, measure, coords, mask, empty_policy, dtype
        As in :func:`emd` (every jet must give the same gdim).
    n_jobs : int | None, optional
        Threads solving tiles side by side (the compiled solver releases the GIL);
        1 = this thread only (the default; energyflow's default −1 uses all CPUs);
        None or −1 = one per CPU. Ignored when ``client`` is given.
    client : dask.distributed.Client, optional
        A ``dask.distributed.Client``: tiles run on its workers (``client.map``),
        the packed jets are scattered to them once.
    block_size : int | None, optional
        Side of the square tiles of pairs that form one task (default: chosen
        so there are a few tasks per worker and at least ~32 progress steps, ≤ 256).
    progress : Progress | None, optional
        ``progress(done_pairs, total_pairs)``, called in this thread as tiles finish.
    show_progress : bool, optional
        Show a tqdm bar on stderr.

    Returns
    -------
    np.ndarray
        ``(N, M)`` (or ``(N, N)``, symmetric) distances of ``dtype``; entry (i, j) is
        ``emd(jets_a[i], jets_b[j], ...)`` bit for bit.
    """
    params = _params(R, p, norm, periodic_phi, num_iter_max, beta=beta, gdim=gdim, phi_col=phi_col, measure=measure,
                     coords=coords, mask=mask, empty_policy=empty_policy, n_iter_max=n_iter_max, dtype=dtype)
    symmetric = jets_b is None
    list_a = _prepare_all(jets_a, params, "jets_a")
    list_b = [] if symmetric else _prepare_all(jets_b, params, "jets_b")
    ground = _ground_dim([(f"jets_a[{k}]", jet) for k, jet in enumerate(list_a)]
                         + [(f"jets_b[{k}]", jet) for k, jet in enumerate(list_b)], params)
    phi_dim = _phi_dim(params, ground)
    prepared = [_prepare(jet, params, ground, phi_dim, f"jets_a[{k}]") for k, jet in enumerate(list_a)]
    prepared += [_prepare(jet, params, ground, phi_dim, f"jets_b[{k}]") for k, jet in enumerate(list_b)]
    _empty_check(prepared, params)
    packed = _pack(prepared, 3 if params.metric == SPHERICAL else ground)
    n_a = len(list_a)
    n_b = n_a if symmetric else len(list_b)
    shift = None if symmetric else n_a

    if client is None:
        if n_jobs is None or n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        if not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
            raise ConfigError(f"n_jobs must be a positive integer, None or -1, got {n_jobs!r}")
        workers = int(n_jobs)
    else:
        workers = max(1, len(getattr(client, "scheduler_info", lambda: {})().get("workers", {})) or 1)
    total = n_a * (n_a - 1) // 2 if symmetric else n_a * n_b
    if block_size is None:
        tasks = max(32, 4 * workers)
        side = int(min(256, max(1, math.ceil(math.sqrt(max(total, 1) / tasks)))))
    else:
        if not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ConfigError(f"block_size must be a positive integer, got {block_size!r}")
        side = int(block_size)
    tiles = _tiles(n_a, n_b, symmetric, side)

    out = np.zeros((n_a, n_b))
    done = 0
    bar = None
    if show_progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="EMD pairs", unit="pair")
    if progress:
        progress(0, total)

    def store(tile: Tile, block: np.ndarray) -> None:
        nonlocal done
        r0, r1, c0, c1 = tile
        out[r0:r1, c0:c1] += block  # diagonal tiles hold only their upper triangle
        n = _tile_pairs(tile, symmetric)
        done += n
        if bar is not None:
            bar.update(n)
        if progress:
            progress(done, total)

    try:
        if client is not None:
            if tiles:
                from distributed import as_completed as dask_completed

                # hash=False: a fresh key per call, so cancelling it below never hits a later call
                # that scatters the same jets (same token) while this key is being released
                [data] = client.scatter([(packed, shift)], broadcast=True, hash=False)
                futures = client.map(_dask_tile, tiles, data=data, params=tuple(params), phi_dim=phi_dim, pure=False)
                try:
                    for future in dask_completed(futures):
                        store(*future.result())
                finally:
                    client.cancel(futures)
                    client.cancel([data])
        elif workers <= 1 or len(tiles) <= 1:
            for tile in tiles:
                store(tile, _solve_tile(packed, shift, tile, params, phi_dim))
        else:
            with ThreadPoolExecutor(min(workers, len(tiles)), thread_name_prefix="emd") as pool:
                futures = {pool.submit(_solve_tile, packed, shift, tile, params, phi_dim): tile for tile in tiles}
                try:
                    for future in as_completed(futures):
                        store(futures[future], future.result())
                finally:
                    for future in futures:
                        future.cancel()
    finally:
        if bar is not None:
            bar.close()

    if symmetric:
        out += out.T
    if root:
        np.power(out, 1.0 / params.p, out=out)
    return out if params.dtype is np.float64 else out.astype(params.dtype)
