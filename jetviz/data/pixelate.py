"""Pixelisation: particles, calorimeter cells and jets → float32 η–φ images.

Every image jetviz makes is a float32 array ``(N, C, n_eta, n_phi)`` (or ``(N, n_eta, n_phi)``
from :func:`pixelate`): η on the second-to-last axis, φ on the LAST axis. φ is periodic: an
entry at φ = π + δ lands in the first φ column, exactly as one at −π + δ does.

Pixel ``(i, j)`` covers ``[lo_η + i·Δη, lo_η + (i+1)·Δη) × [lo_φ + j·Δφ, lo_φ + (j+1)·Δφ)``
(half-open, so every point belongs to exactly one pixel); :func:`pixel_index` gives that
mapping per entry, so a per-pixel prediction (a U-Net's) can be read back per particle.

All functions are vectorised over all events at once (one ``np.add.at`` for the whole
batch, no Python loop over events or particles) and never mutate their inputs.

Inputs may be

- flat 1-d numpy arrays plus ``event_index`` (which event each entry belongs to),
- jagged awkward arrays ``N * var * float`` (the event index is derived from the counts),
- zero-padded 2-d numpy arrays ``(N, P)`` (each row is one event; a zero weight adds nothing),
- a single 1-d numpy array without ``event_index`` (one event).
"""
from __future__ import annotations

from typing import Any, Sequence

import awkward as ak
import numpy as np

from jetviz.data.kinematics import delta_phi, pt_eta_phi, wrap_phi
from jetviz.data.pdg import is_visible
from jetviz.errors import ConfigError, SchemaError

__all__ = ["pixel_index", "pixelate", "energy_map", "event_images", "jet_images", "image_block", "CHANNELS", "channel_maps"]

_TWO_PI = 2.0 * np.pi


# ----------------------------------------------------------------------------- input handling
def _check_grid(n_eta: int, n_phi: int, eta_range: Sequence[float], phi_range: Sequence[float], periodic_phi: bool) -> None:
    if int(n_eta) < 1 or int(n_phi) < 1:
        raise ConfigError(f"image size must be at least 1×1 pixels, got n_eta={n_eta}, n_phi={n_phi}")
    if not (np.isfinite(eta_range[0]) and np.isfinite(eta_range[1]) and eta_range[1] > eta_range[0]):
        raise ConfigError(f"eta_range must be (low, high) with low < high, got {tuple(eta_range)}")
    if not (np.isfinite(phi_range[0]) and np.isfinite(phi_range[1]) and phi_range[1] > phi_range[0]):
        raise ConfigError(f"phi_range must be (low, high) with low < high, got {tuple(phi_range)}")
    if periodic_phi and phi_range[1] - phi_range[0] > _TWO_PI * (1 + 1e-12):
        raise ConfigError(f"a periodic phi_range spans at most 2π, got {tuple(phi_range)}")


def _is_awkward(x: Any) -> bool:
    return isinstance(x, ak.Array)


def _flat_inputs(
    coords: Sequence[Any],
    weights: Any,
    event_index: Any = None,
    n_events: int | None = None,
    positive_only: bool = False,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, int]:
    """Flatten per-entry arrays of any accepted layout.

    Parameters
    ----------
    coords
        arrays of equal layout (η, φ, ... ).
    weights
        array of the same layout, a scalar, or None (weight 1).
    event_index
        ``(M,)`` int event of each entry, only with flat 1-d inputs.
    n_events
        number of events N (default: derived from the layout or ``max(event_index)+1``).
    positive_only
        keep only entries with weight > 0 (padding of zero-padded jets).

    Returns
    -------
        (flat coords as float64 ``(M,)`` arrays, flat weights ``(M,)`` float64,
        event index ``(M,)`` int64, N). Without ``positive_only`` the arrays may be views of
        the inputs (callers must not write into them); with it they are always copies.
    """
    first = coords[0]
    if _is_awkward(first):
        if event_index is not None:
            raise SchemaError("event_index is derived from jagged (awkward) inputs; do not pass it")
        counts = ak.to_numpy(ak.num(first, axis=1)).astype(np.int64)
        n = len(counts)
        flat = [np.asarray(ak.to_numpy(ak.flatten(c, axis=1)), dtype=np.float64) for c in coords]
        if weights is None:
            w = np.ones(len(flat[0]))
        elif _is_awkward(weights):
            w = np.asarray(ak.to_numpy(ak.flatten(weights, axis=1)), dtype=np.float64)
        elif np.ndim(weights) == 0:
            w = np.full(len(flat[0]), float(weights))
        else:  # flat per-entry weights
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
        idx = np.repeat(np.arange(n, dtype=np.int64), counts)
    else:
        arrays = [np.asarray(c, dtype=np.float64) for c in coords]
        shape = arrays[0].shape
        if weights is None or np.ndim(weights) == 0:
            w = np.full(shape, 1.0 if weights is None else float(weights))
        else:
            w = np.asarray(weights, dtype=np.float64)
        for name, a in zip(("coordinate",) * len(arrays) + ("weights",), arrays + [w]):
            if a.shape != shape:
                raise SchemaError(f"{name} array has shape {a.shape}, expected {shape} like the first coordinate")
        if len(shape) == 2:
            if event_index is not None:
                raise SchemaError("event_index is implied by (N, P) padded inputs; do not pass it")
            n = shape[0]
            if positive_only:  # mask before flattening: padding never gets copied
                real = w > 0
                idx = np.repeat(np.arange(n, dtype=np.int64), real.sum(axis=1))
                where = np.flatnonzero(real)
                return [a.reshape(-1).take(where) for a in arrays], w.reshape(-1).take(where), idx, n
            idx = np.repeat(np.arange(n, dtype=np.int64), shape[1])
            flat = [a.reshape(-1) for a in arrays]
            w = w.reshape(-1)
        elif len(shape) == 1:
            flat = arrays
            if event_index is None:
                idx = np.zeros(shape[0], dtype=np.int64)
                n = 1
            else:
                idx = np.asarray(event_index)
                if idx.shape != shape:
                    raise SchemaError(f"event_index has shape {idx.shape}, expected {shape}")
                if idx.size and not np.issubdtype(idx.dtype, np.integer):
                    raise SchemaError(f"event_index must hold integers, got dtype {idx.dtype}")
                idx = idx.astype(np.int64)
                n = int(idx.max()) + 1 if idx.size else 0
        else:
            raise SchemaError(f"expected flat (M,), padded (N, P) or jagged inputs, got shape {shape}")
    if len(w) != len(flat[0]):
        raise SchemaError(f"weights have {len(w)} entries, coordinates {len(flat[0])}")
    if n_events is not None:
        if idx.size and (idx.min() < 0 or idx.max() >= n_events):
            raise SchemaError(f"event_index must lie in [0, {n_events}), got [{idx.min()}, {idx.max()}]")
        n = int(n_events)
    elif idx.size and idx.min() < 0:
        raise SchemaError(f"event_index must be ≥ 0, got {idx.min()}")
    if positive_only:
        real = w > 0
        flat, w, idx = [a[real] for a in flat], w[real], idx[real]
    return flat, w, idx, n


def _bin(x: np.ndarray, n: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(k, inside): index of the half-open bin [lo + kΔ, lo + (k+1)Δ) holding x, and x ∈ [lo, hi).

    ``k`` is only meaningful where ``inside`` (False for NaN).
    """
    inside = x >= lo
    inside &= x < hi
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/huge values are masked by inside
        k = ((x - lo) * (n / (hi - lo))).astype(np.int64)  # truncation = floor for x ≥ lo
    np.minimum(k, n - 1, out=k)  # rounding can put x just below hi into bin n
    return k, inside


def _wrap_differences(d: np.ndarray, bounded: bool = False) -> np.ndarray:
    """Wrap angle differences into (−π, π], in place where all lie within [−3π, 3π] (NaN stays NaN).

    ``bounded``: the caller knows |d| ≤ 3π (a difference of two wrapped angles), skip the check.
    """
    if not bounded and d.size and np.fmax.reduce(np.abs(d)) > 3.0 * np.pi:  # fmax skips NaN
        return wrap_phi(d)
    np.subtract(d, _TWO_PI, out=d, where=d > np.pi)
    np.add(d, _TWO_PI, out=d, where=d <= -np.pi)
    return d


# ----------------------------------------------------------------------------- core
def pixel_index(
    eta: np.ndarray,
    phi: np.ndarray,
    n_eta: int = 64,
    n_phi: int = 64,
    eta_range: tuple[float, float] = (-2.5, 2.5),
    phi_range: tuple[float, float] = (-np.pi, np.pi),
    periodic_phi: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel of each (η, φ) point on an ``n_eta × n_phi`` grid.

    Parameters
    ----------
    eta
        pseudorapidities, any shape.
    phi
        azimuths in radians, same shape; with ``periodic_phi`` any value is wrapped onto
        the circle first (φ = π + δ → −π + δ), so no entry is lost in φ when ``phi_range``
        spans 2π.
    n_eta, n_phi
        number of pixels along η and φ.
    eta_range
        (low, high) η edges of the grid; entries outside ``[low, high)`` get −1.
    phi_range
        (low, high) φ edges in radians (at most 2π wide when periodic).
    periodic_phi
        wrap φ (True) or drop entries outside ``phi_range`` (False).

    Returns
    -------
        (i_eta, i_phi): int64 arrays of the input shape; −1 in *both* where the point is off the
        grid (or NaN), so ``image[n, i_eta, i_phi]`` reads the pixel of every valid entry.
    """
    _check_grid(n_eta, n_phi, eta_range, phi_range, periodic_phi)
    eta = np.asarray(eta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    if eta.shape != phi.shape:
        raise SchemaError(f"eta has shape {eta.shape}, phi {phi.shape}")
    shape = eta.shape
    eta, phi = eta.reshape(-1), phi.reshape(-1)  # 1-d views (scalars too)
    lo_phi, hi_phi = float(phi_range[0]), float(phi_range[1])
    i_eta, in_eta = _bin(eta, int(n_eta), float(eta_range[0]), float(eta_range[1]))
    if periodic_phi:
        offset = np.mod(phi - lo_phi, _TWO_PI)  # in [0, 2π]; 2π only by rounding
        offset[offset >= _TWO_PI] = 0.0
        i_phi, in_phi = _bin(offset, int(n_phi), 0.0, hi_phi - lo_phi)
    else:
        i_phi, in_phi = _bin(phi, int(n_phi), lo_phi, hi_phi)
    off = ~(in_eta & in_phi)
    np.copyto(i_eta, -1, where=off)
    np.copyto(i_phi, -1, where=off)
    return i_eta.reshape(shape), i_phi.reshape(shape)


def _accumulate(idx: np.ndarray, i_eta: np.ndarray, i_phi: np.ndarray, w: np.ndarray, n: int, n_eta: int, n_phi: int) -> np.ndarray:
    """Sum weights per (event, i_eta, i_phi) into a float32 ``(n, n_eta, n_phi)`` array, one ``np.add.at``.

    Entries with ``i_eta < 0`` (off the grid) go to a spare slot past the end that is dropped,
    which is cheaper than compacting four arrays.
    """
    total = n * n_eta * n_phi
    ids = idx * n_eta
    ids += i_eta
    ids *= n_phi
    ids += i_phi
    np.copyto(ids, total, where=i_eta < 0)
    image = np.zeros(total + 1, dtype=np.float32)
    np.add.at(image, ids, w.astype(np.float32))
    return image[:total].reshape(n, n_eta, n_phi)


def pixelate(
    eta: Any,
    phi: Any,
    weights: Any = None,
    event_index: Any = None,
    n_events: int | None = None,
    n_eta: int = 64,
    n_phi: int = 64,
    eta_range: tuple[float, float] = (-2.5, 2.5),
    phi_range: tuple[float, float] = (-np.pi, np.pi),
    periodic_phi: bool = True,
) -> np.ndarray:
    """Sum weights into η–φ images, one per event, in one vectorised pass.

    Parameters
    ----------
    eta
        pseudorapidities: flat ``(M,)`` numpy (with ``event_index``), jagged awkward
        ``N * var * float``, or zero-padded ``(N, P)`` numpy.
    phi
        azimuths (radians), same layout as ``eta``.
    weights
        same layout (E or pT in GeV, or anything additive), a scalar, or None
        (= 1, a count image).
    event_index
        ``(M,)`` int event of each entry, with flat inputs only.
    n_events
        N, the number of images (default: ``max(event_index) + 1`` for flat inputs,
        so pass it when trailing events may be empty).
    n_eta, n_phi
        image size.
    eta_range
        (low, high) η edges; entries outside are dropped.
    phi_range
        (low, high) φ edges, radians.
    periodic_phi
        wrap φ onto the circle (True), or drop entries outside ``phi_range``.

    Returns
    -------
        float32 ``(N, n_eta, n_phi)``; each pixel holds the sum (accumulated in float32) of the
        weights of its entries; entries off the grid are dropped.
    """
    _check_grid(n_eta, n_phi, eta_range, phi_range, periodic_phi)
    (eta_f, phi_f), w, idx, n = _flat_inputs((eta, phi), weights, event_index, n_events)
    i_eta, i_phi = pixel_index(eta_f, phi_f, n_eta, n_phi, eta_range, phi_range, periodic_phi)
    return _accumulate(idx, i_eta, i_phi, w, n, int(n_eta), int(n_phi))


# ----------------------------------------------------------------------------- event images
def energy_map(
    events: ak.Array,
    n_eta: int = 64,
    n_phi: int = 64,
    eta_max: float = 3.0,
    weight: str = "E",
    visible_only: bool = True,
) -> np.ndarray:
    """Energy (or any particle field) map of schema events' particles.

    Parameters
    ----------
    events
        schema events (see :mod:`jetviz.data.schema`), N of them.
    n_eta, n_phi
        image size; the grid covers η in [−eta_max, eta_max) and φ in [−π, π).
    eta_max
        η acceptance of the map.
    weight
        particle field summed per pixel (``"E"`` GeV by default, ``"pt"``...).
    visible_only
        leave out invisible particles (neutrinos, see
        :data:`jetviz.data.pdg.INVISIBLE`).

    Returns
    -------
        float32 ``(N, 1, n_eta, n_phi)``.
    """

    particles = events.particles
    if weight not in ak.fields(particles):
        raise SchemaError(f"particles have no field {weight!r} to weight the map with (have {ak.fields(particles)})")
    if visible_only:
        flat_pid = ak.to_numpy(ak.flatten(particles.pid, axis=1))
        visible = ak.unflatten(is_visible(flat_pid), ak.num(particles, axis=1))
        particles = particles[visible]
    image = pixelate(
        particles.eta, particles.phi, particles[weight],
        n_eta=n_eta, n_phi=n_phi, eta_range=(-eta_max, eta_max), phi_range=(-np.pi, np.pi),
    )
    return image[:, None]


def event_images(hits: ak.Array, n_eta: int = 50, n_phi: int = 50, eta_max: float = 2.5) -> np.ndarray:
    """Three-channel (ECal E, HCal E, tracks pT) images of :func:`jetviz.data.detector.simulate` output.

    With the detector's own ``n_eta, n_phi, eta_max`` every cell maps onto exactly one pixel.

    Parameters
    ----------
    hits
        N records with ``ecal``, ``hcal`` (cells: E in GeV) and ``tracks`` (pt in GeV).
    n_eta, n_phi
        image size; the grid covers η in [−eta_max, eta_max) and φ in [−π, π).
    eta_max
        η acceptance of the images.

    Returns
    -------
        float32 ``(N, 3, n_eta, n_phi)``: channel 0 ECal energy, 1 HCal energy, 2 summed track pT.
    """
    for name in ("ecal", "hcal", "tracks"):
        if name not in ak.fields(hits):
            raise SchemaError(f"hits lack the field {name!r} (have {ak.fields(hits)}); pass detector.simulate output")
    grid = dict(n_eta=n_eta, n_phi=n_phi, eta_range=(-eta_max, eta_max), phi_range=(-np.pi, np.pi))
    channels = [
        pixelate(hits.ecal.eta, hits.ecal.phi, hits.ecal.E, **grid),
        pixelate(hits.hcal.eta, hits.hcal.phi, hits.hcal.E, **grid),
        pixelate(hits.tracks.eta, hits.tracks.phi, hits.tracks.pt, **grid),
    ]
    return np.stack(channels, axis=1)


# ----------------------------------------------------------------------------- jet images
def _per_jet(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise SchemaError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}")
    return arr


def jet_images(
    pt: Any,
    eta: Any,
    phi: Any,
    n_pix: int = 40,
    width: float = 1.6,
    jet_eta: Any = None,
    jet_phi: Any = None,
    center: bool = True,
    rotate: bool = False,
    flip: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """pT images of jets in coordinates relative to the jet axis (the classic jet-image preprocessing).

    Steps, all vectorised over the N jets:

    1. centre: Δη = η − η_axis and Δφ = φ − φ_axis wrapped into (−π, π], so a jet at φ ≈ π is
       never split in two. The axis is (``jet_eta``, ``jet_phi``) where given, otherwise the
       pT-weighted centroid (with ``center=True``; φ averaged as differences to the jet's
       first constituent, exact for any jet narrower than π) or (0, 0)
       (``center=False``: the inputs are already relative to the axis).
    2. ``rotate``: turn the jet about the axis so that the principal axis of its pT-weighted
       η–φ covariance lies along the η axis (axis −2 of the image: vertical when the image is
       drawn with η down the rows, as ``imshow`` does).
    3. ``flip``: reflect η (then φ) so that the half-plane Δη > 0 (Δφ > 0) carries more pT
       than Δη < 0 (Δφ < 0). After ``rotate`` this fixes the sign left open by the principal
       axis, so a jet and a copy of it rotated by any angle about its axis give one image.
    4. pixelate ``[−width/2, width/2)²`` into ``n_pix × n_pix`` (no wrap: this is a local
       patch); ``normalize`` scales each image to unit sum (an empty image stays zero).

    Parameters
    ----------
    pt
        constituent transverse momenta (GeV): zero-padded ``(N, P)`` numpy (pt ≤ 0 marks
        padding and is ignored everywhere), jagged awkward ``N * var``, or one jet ``(P,)``.
    eta, phi
        constituent η and φ (radians), same layout.
    n_pix
        pixels along each side.
    width
        full width of the image in η and in φ (radians).
    jet_eta, jet_phi
        optional jet axis, a scalar or ``(N,)``.
    center
        centre on the pT centroid where no axis is given.
    rotate
        align the principal axis with η.
    flip
        put the harder half-planes on the positive side.
    normalize
        each image sums to 1.

    Returns
    -------
        float32 ``(N, 1, n_pix, n_pix)``, axes (jet, channel, Δη, Δφ).
    """
    if int(n_pix) < 1 or not width > 0:
        raise ConfigError(f"need n_pix ≥ 1 and width > 0, got n_pix={n_pix}, width={width}")
    if _is_awkward(pt) != _is_awkward(eta):
        raise SchemaError("pt, eta and phi must share one layout (all jagged or all numpy)")
    (eta_f, phi_f), pt_f, idx, n = _flat_inputs((eta, phi), pt, positive_only=True)

    sum_pt = np.bincount(idx, weights=pt_f, minlength=n)
    safe = np.where(sum_pt > 0, sum_pt, 1.0)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=pt_f * values, minlength=n) / safe

    if jet_eta is not None:
        axis_eta = _per_jet(jet_eta, n, "jet_eta")
    elif center:
        axis_eta = mean(eta_f)
    else:
        axis_eta = np.zeros(n)
    if jet_phi is not None:
        axis_phi = _per_jet(jet_phi, n, "jet_phi")
    elif center:
        # φ differences to one constituent of each jet (the first: the leading one in pT-ordered
        # data), then the linear pT mean of them: the exact centroid for any jet narrower than π.
        first = np.minimum(np.searchsorted(idx, np.arange(n)), max(len(idx) - 1, 0))
        ref = phi_f[first] if len(idx) else np.zeros(n)
        rel = _wrap_differences(phi_f - ref[idx])
        shift = mean(rel)
        axis_phi = wrap_phi(ref + shift)
    else:
        axis_phi = np.zeros(n)

    x = np.subtract(eta_f, axis_eta[idx], out=eta_f)  # eta_f is our own copy
    if jet_phi is None and center:
        y = _wrap_differences(rel - shift[idx], bounded=True)  # = φ − φ_axis; |rel|, |shift| ≤ π
    else:
        y = delta_phi(phi_f, axis_phi[idx])

    if rotate:
        mx, my = mean(x), mean(y)
        sxx = mean(x * x) - mx * mx
        syy = mean(y * y) - my * my
        sxy = mean(x * y) - mx * my
        theta = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)  # major axis angle from the η axis
        c, s = np.cos(theta)[idx], np.sin(theta)[idx]
        x, y = c * x + s * y, c * y - s * x
    if flip:
        for coord in (x, y):
            more_negative = np.bincount(idx, weights=pt_f * (coord < 0), minlength=n) > np.bincount(
                idx, weights=pt_f * (coord > 0), minlength=n
            )
            np.negative(coord, out=coord, where=more_negative[idx])  # x, y are our own arrays

    half = 0.5 * float(width)
    i_x, i_y = pixel_index(x, y, n_pix, n_pix, (-half, half), (-half, half), periodic_phi=False)
    w = pt_f
    if normalize:
        outside = np.flatnonzero(i_x < 0)  # usually few: subtract them from the jet pT
        in_image = sum_pt - np.bincount(idx[outside], weights=w[outside], minlength=n)
        w = w / np.where(in_image > 0, in_image, 1.0)[idx]
    image = _accumulate(idx, i_x, i_y, w, n, int(n_pix), int(n_pix))
    return image[:, None]


def image_block(block, n_pix: int, image_width: float) -> dict[str, np.ndarray]:
    """``images`` ``(n, 1, n_pix, n_pix)`` of a block of padded jets (:class:`~jetviz.data.formats.JetBlock`),
    as :func:`jetviz.runners.vae_emd.events_arrays` gives them for schema events: vae_emd's file preparation."""
    p4 = np.asarray(block.p4, dtype=np.float64)
    pt, eta, phi = pt_eta_phi(p4[..., 1], p4[..., 2], p4[..., 3])
    real = block.mask
    images = jet_images(np.where(real, pt, 0.0), np.where(real, eta, 0.0), np.where(real, phi, 0.0), n_pix=n_pix,
                        width=image_width, rotate=True, flip=True, normalize=True).astype(np.float32)
    return {"images": images}


#: the input maps :func:`channel_maps` makes: particle energy (all, charged, photons), energy × |d0| or |z0| (mm, ≤ 10)
CHANNELS = ("energy", "charged", "photon", "d0", "z0")


def channel_maps(events: ak.Array, channels: Sequence[str], n_eta: int, n_phi: int, eta_max: float) -> np.ndarray:
    """``(N, C, n_eta, n_phi)`` float32 maps of schema events, one per channel of :data:`CHANNELS`: the
    visible energy (:func:`energy_map`), the energy of charged particles or photons (GeV), E·min(|d0|, 10)."""
    particles = events.particles
    maps = []
    for channel in channels:
        if channel == "energy":
            maps.append(energy_map(events, n_eta, n_phi, eta_max))
            continue
        if channel == "charged":
            weight = particles.E * (particles.charge != 0)
        elif channel == "photon":
            weight = particles.E * (particles.pid == 22)
        elif channel in ("d0", "z0"):
            if channel not in ak.fields(particles):
                raise ConfigError(f"channel {channel!r} needs particles with {channel} (this sample has none)")
            weight = particles.E * np.minimum(ak.fill_none(ak.nan_to_none(np.abs(particles[channel])), 0.0), 10.0)
        else:
            raise ConfigError(f"unknown channel {channel!r}; choose from {CHANNELS}")
        maps.append(pixelate(particles.eta, particles.phi, weight, n_eta=n_eta, n_phi=n_phi,
                             eta_range=(-eta_max, eta_max))[:, None])
    return np.concatenate(maps, axis=1).astype(np.float32)
