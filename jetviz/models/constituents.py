"""Jet constituents as padded tensors, and JetCLR's physically motivated augmentations (seed 004).

A batch of jets is ``x`` ``(B, P, 3)`` = (pT [GeV], Δη, Δφ [rad]) of up to P constituents
relative to the jet axis, hardest first and left-aligned, with ``mask`` ``(B, P)`` bool (True
for a real constituent; padded rows are all zero). :func:`pad_constituents` builds it from
awkward jets. Every augmentation takes and returns such a pair, is vectorised over the batch
(torch, CPU or GPU), leaves padded rows at zero, never writes into its inputs and draws its
randomness from an optional ``torch.Generator`` (on the batch's device):

* :func:`rotate` — rotation by an angle about the jet axis in the (η, φ) plane;
* :func:`translate` — one shift (δη, δφ) for all constituents of a jet, uniform in ±width times
  the jet's own extent (as JetCLR's reference, ``unit="jet_extent"``) or in ±width rad;
* :func:`collinear_split` — constituents split into two with pT fractions z and 1 − z at the
  same (η, φ), filling the jet's padded slots (a jet with no free slot is unchanged): total pT
  and the pT-weighted axis are exact invariants (collinear safety);
* :func:`soft_smear` — η′ ~ N(η, σ), φ′ ~ N(φ, σ), σ = Λ_soft / max(pT, pT_clip), Λ_soft = 0.1
  GeV, pT_clip = 0.1 GeV (the reference's clip: no constituent moves by more than ~1 rad):
  soft constituents move, hard ones stay (infrared safety).

:func:`augment` applies a chosen set in JetCLR's order (collinear, soft, rotations,
translations). :func:`make_views` builds the two views of a batch for the contrastive loss:

* ``scheme="reference"`` (JetCLR's ``run_jetclr.py``): the first view is only rotated and
  translated, the second is rotated, split, smeared and translated — the talk's "x′ is an
  augmented version of x". Each view draws its own rotation and translation.
* ``scheme="symmetric"`` (jetviz before issue 18): both views get every chosen augmentation.

With no augmentation chosen both views are the jet itself. Two details of the reference are
deliberately not copied: it rotates every jet once more by a shared random angle before making
its views, even in ablation rows without rotations (here a row without rotations trains on the
jets as they are, so the rows mean what their names say); and it measures a jet's extent over
its zero-padded rows too (here over its real constituents, before augmentation).

Unlike JetCLR's reference code these respect the masks (it smears zero-padded rows by up to
1 rad), rotate about the jet axis (inputs are centred by :func:`pad_constituents`; it rotates
about the origin), run on CPU and GPU and split without Python loops.
"""
from __future__ import annotations

from collections.abc import Iterable

import awkward as ak
import numpy as np
import torch

from jetviz.errors import ConfigError, SchemaError

__all__ = [
    "AUGMENTATIONS",
    "ABLATION",
    "LAMBDA_SOFT",
    "PT_CLIP_MIN",
    "TRANSLATION_UNITS",
    "VIEW_SCHEMES",
    "pad_constituents",
    "pad_constituent_block",
    "check_batch",
    "rotate",
    "jet_extent",
    "translate",
    "collinear_split",
    "soft_smear",
    "augment",
    "make_views",
]

#: the switchable augmentations, in the order :func:`augment` applies them
AUGMENTATIONS = ("collinear", "soft", "rotations", "translations")
#: the seed's ablation rows → the augmentations each uses
ABLATION: dict[str, tuple[str, ...]] = {
    "none": (),
    "translations": ("translations",),
    "rotations": ("rotations",),
    "soft+collinear": ("collinear", "soft"),
    "all": AUGMENTATIONS,
}
#: Λ_soft of the soft smearing (GeV)
LAMBDA_SOFT = 0.1
#: the pT (GeV) below which the soft smearing width stops growing: σ = Λ_soft / max(pT, PT_CLIP_MIN)
PT_CLIP_MIN = 0.1
#: how :func:`translate`'s width is measured: in units of each jet's extent, or in radians
TRANSLATION_UNITS = ("jet_extent", "rad")
#: how :func:`make_views` augments the two views (see the module docstring)
VIEW_SCHEMES = ("reference", "symmetric")


def pad_constituents(particles: ak.Array, n_constituents: int = 50, extra_slots: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Centred, pT-ordered, zero-padded constituents of awkward jets.

    Parameters
    ----------
    particles : (N, var) ak.Array
        Records with ``pt`` (GeV), ``eta``, ``phi`` (rad).
    n_constituents : int, optional
        Keep the hardest this many constituents of each jet.
    extra_slots : int, optional
        Further zero rows per jet (room for :func:`collinear_split`).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``x`` float32 ``(N, n_constituents + extra_slots, 3)`` = (pT, Δη, Δφ), Δφ wrapped about
        the hardest constituent, then both centred on the pT-weighted axis of the kept
        constituents; ``mask`` bool ``(N, P)``.

    Raises
    ------
    SchemaError
        Missing fields, a jet without constituents, NaN/inf or negative pT.
    """
    for field in ("pt", "eta", "phi"):
        if field not in ak.fields(particles):
            raise SchemaError(f"constituents need a '{field}' field (have {ak.fields(particles)})")
    if int(n_constituents) < 1 or int(extra_slots) < 0:
        raise ConfigError(f"need n_constituents ≥ 1 and extra_slots ≥ 0, got {n_constituents}, {extra_slots}")
    counts = ak.to_numpy(ak.num(particles, axis=1))
    if (counts == 0).any():
        raise SchemaError(f"{int((counts == 0).sum())} jet(s) have no constituents, e.g. jet {int(np.flatnonzero(counts == 0)[0])}")
    order = ak.argsort(particles.pt, axis=1, ascending=False)
    hardest = particles[order][:, : int(n_constituents)]
    P = int(n_constituents) + int(extra_slots)

    def pad(values) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(ak.pad_none(values, P, axis=1, clip=True), 0.0)).astype(np.float64)

    pt, eta, phi = pad(hardest.pt), pad(hardest.eta), pad(hardest.phi)
    n = np.minimum(counts, int(n_constituents))
    mask = np.arange(P)[None, :] < n[:, None]
    bad = ~np.isfinite(np.stack([pt, eta, phi])).all(axis=(0, 2))
    if bad.any():
        raise SchemaError(f"{int(bad.sum())} jet(s) have NaN or infinite pT, η or φ, e.g. jet {int(np.flatnonzero(bad)[0])}")
    if (pt < 0).any():
        raise SchemaError(f"negative constituent pT in jet {int(np.flatnonzero((pt < 0).any(1))[0])}")
    dphi = np.where(mask, np.mod(phi - phi[:, :1] + np.pi, 2 * np.pi) - np.pi, 0.0)
    total = pt.sum(1, keepdims=True)
    if (total <= 0).any():
        raise SchemaError(f"jet {int(np.flatnonzero(total[:, 0] <= 0)[0])} has zero total pT")
    deta = np.where(mask, eta - (pt * eta).sum(1, keepdims=True) / total, 0.0)
    dphi = np.where(mask, dphi - (pt * dphi).sum(1, keepdims=True) / total, 0.0)
    return np.stack([pt, deta, dphi], axis=-1).astype(np.float32), mask


def pad_constituent_block(p4: np.ndarray, n_constituents: int = 50, extra_slots: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pad_constituents` for jets already padded as four-vectors (numpy only, no awkward).

    The array path for files read as ``(N, S, 4)`` blocks (the top-tagging layout,
    :func:`jetviz.data.formats.iterate_jet_blocks`); gives the same output as
    :func:`pad_constituents` of the same jets.

    Parameters
    ----------
    p4 : (N, S, 4) array
        Constituents (E, px, py, pz) in GeV, zero-padded (a slot with all four components zero
        is padding), in any order.
    n_constituents : int
        Keep the hardest this many constituents of each jet.
    extra_slots : int
        Further zero rows per jet (room for :func:`collinear_split`).

    Returns
    -------
    x : (N, n_constituents + extra_slots, 3) float32
        (pT, Δη, Δφ), as :func:`pad_constituents`.
    mask : (N, n_constituents + extra_slots) bool
    """
    p4 = np.asarray(p4)
    if p4.ndim != 3 or p4.shape[2] != 4:
        raise SchemaError(f"constituent blocks must be (N, S, 4) = (E, px, py, pz), got {p4.shape}")
    if int(n_constituents) < 1 or int(extra_slots) < 0:
        raise ConfigError(f"need n_constituents ≥ 1 and extra_slots ≥ 0, got {n_constituents}, {extra_slots}")
    real = (p4[..., 0] != 0) | (p4[..., 1] != 0) | (p4[..., 2] != 0) | (p4[..., 3] != 0)
    counts = real.sum(axis=1)
    if (counts == 0).any():
        raise SchemaError(f"{int((counts == 0).sum())} jet(s) have no constituents, e.g. jet {int(np.flatnonzero(counts == 0)[0])}")
    keep = min(int(n_constituents), p4.shape[1])
    key = np.where(real, -np.hypot(p4[..., 1].astype(np.float64), p4[..., 2].astype(np.float64)), np.inf)
    with np.errstate(invalid="ignore"):  # inf - inf between padding slots
        ordered = bool((np.diff(key, axis=1) >= 0)[np.isfinite(key[:, 1:])].all())
    if ordered:  # already hardest first (the public files): no sort
        pt = -key[:, :keep]
        px, py, pz = (p4[:, :keep, k].astype(np.float64) for k in (1, 2, 3))
    else:
        order = np.argsort(key, axis=1, kind="stable")[:, :keep]
        pt = -np.take_along_axis(key, order, axis=1)
        px, py, pz = (np.take_along_axis(p4[..., k], order, axis=1).astype(np.float64) for k in (1, 2, 3))
    pt = np.where(np.isfinite(pt), pt, 0.0)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    phi = np.arctan2(py, px)
    P = int(n_constituents) + int(extra_slots)
    n = np.minimum(counts, keep)
    mask = np.arange(P)[None, :] < n[:, None]
    within = mask[:, :keep]
    pt, eta, phi = (np.where(within, a, 0.0) for a in (pt, eta, phi))
    if not np.isfinite(np.stack([pt, eta, phi])).all():
        bad = ~np.isfinite(np.stack([pt, eta, phi])).all(axis=(0, 2))
        raise SchemaError(f"{int(bad.sum())} jet(s) have NaN or infinite pT, η or φ, e.g. jet {int(np.flatnonzero(bad)[0])}")
    dphi = np.where(within, np.mod(phi - phi[:, :1] + np.pi, 2 * np.pi) - np.pi, 0.0)
    total = pt.sum(1, keepdims=True)
    if (total <= 0).any():
        raise SchemaError(f"jet {int(np.flatnonzero(total[:, 0] <= 0)[0])} has zero total pT")
    deta = np.where(within, eta - (pt * eta).sum(1, keepdims=True) / total, 0.0)
    dphi = np.where(within, dphi - (pt * dphi).sum(1, keepdims=True) / total, 0.0)
    x = np.zeros((len(p4), P, 3), dtype=np.float32)
    x[:, :keep] = np.stack([pt, deta, dphi], axis=-1)
    return x, mask


def check_batch(x: torch.Tensor, mask: torch.Tensor, name: str = "jets") -> None:
    """Raise :class:`SchemaError` unless ``x`` is ``(B, P, 3)`` finite with pT ≥ 0, ``mask`` ``(B, P)``
    bool, every jet has a real constituent and padded rows are zero."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[2] != 3:
        raise SchemaError(f"{name} must be a (B, P, 3) tensor of (pt, eta, phi), got "
                          f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != x.shape[:2]:
        raise SchemaError(f"{name}: mask must be a bool tensor {tuple(x.shape[:2])}, got "
                          f"{getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).any(2).any(1).nonzero()[0, 0]
        raise SchemaError(f"{name} hold NaN or infinite values (first in jet {int(bad)})")
    empty = ~mask.any(1)
    if empty.any():
        raise SchemaError(f"{name}: {int(empty.sum())} jet(s) are all padding (no constituent), e.g. jet "
                          f"{int(empty.nonzero()[0, 0])}")
    if (x[..., 0] < 0).any():
        raise SchemaError(f"{name} hold negative pT")
    zero = (x[..., 0] * mask).sum(1) <= 0
    if zero.any():
        raise SchemaError(f"{name}: {int(zero.sum())} jet(s) have zero total pT, e.g. jet {int(zero.nonzero()[0, 0])}")
    stray = ((x != 0).any(2) & ~mask).any(1)
    if stray.any():
        raise SchemaError(f"{name}: padded rows (mask False) must be zero; jet {int(stray.nonzero()[0, 0])} has a "
                          f"nonzero one")


def _uniform(shape, low: float, high: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)


def rotate(x: torch.Tensor, mask: torch.Tensor, angles: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate each jet's (Δη, Δφ) about the jet axis (the origin) by ``angles`` ``(B,)`` rad
    (default: uniform in [0, 2π))."""
    if angles is None:
        angles = _uniform(x.shape[:1], 0.0, 2 * np.pi, x, generator)
    angles = torch.as_tensor(angles, dtype=x.dtype, device=x.device).reshape(-1, 1)
    cos, sin = torch.cos(angles), torch.sin(angles)
    eta, phi = x[..., 1], x[..., 2]
    out = x.clone()
    out[..., 1] = cos * eta - sin * phi
    out[..., 2] = sin * eta + cos * phi
    return out, mask


def jet_extent(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, 2)`` extent of each jet: max − min of Δη and of Δφ over its real constituents (rad)."""
    inf = torch.tensor(float("inf"), dtype=x.dtype, device=x.device)
    angles = x[..., 1:]
    real = mask[..., None]
    high = torch.where(real, angles, -inf).amax(1)
    low = torch.where(real, angles, inf).amin(1)
    return high - low


def translate(x: torch.Tensor, mask: torch.Tensor, width: float = 1.0, shifts: torch.Tensor | None = None,
              generator: torch.Generator | None = None, unit: str = "jet_extent",
              extent: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift every real constituent of a jet by one (δη, δφ) (padded rows stay zero).

    Parameters
    ----------
    width : float, optional
        Half-width of the uniform shifts: δη ~ U(±width·Δ_η), δφ ~ U(±width·Δ_φ) with
        Δ the jet's extent (``unit="jet_extent"``, JetCLR's reference with width 1), or
        δη, δφ ~ U(±width) rad (``unit="rad"``).
    shifts : (B, 2) torch.Tensor | None, optional
        Shifts (δη, δφ) in rad to use instead of random ones.
    extent : (B, 2) torch.Tensor | None, optional
        Extents to scale by (default :func:`jet_extent` of ``x``);
        :func:`augment` passes the unaugmented jet's.
    """
    if unit not in TRANSLATION_UNITS:
        raise ConfigError(f"translation unit must be one of {TRANSLATION_UNITS}, got {unit!r}")
    if not width >= 0:
        raise ConfigError(f"translation width must be ≥ 0, got {width}")
    if shifts is None:
        shifts = _uniform((x.shape[0], 2), -width, width, x, generator)
        if unit == "jet_extent":
            shifts = shifts * (jet_extent(x, mask) if extent is None else extent.to(x.dtype))
    shifts = torch.as_tensor(shifts, dtype=x.dtype, device=x.device).reshape(-1, 1, 2)
    out = x.clone()
    out[..., 1:] = (x[..., 1:] + shifts) * mask[..., None]
    return out, mask


def collinear_split(x: torch.Tensor, mask: torch.Tensor, probability: float = 0.5,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Split constituents collinearly into the jet's free (padded) slots.

    Each real constituent is chosen with ``probability`` (as many as there are free slots,
    hardest first); a chosen one keeps z·pT, z ~ U(0, 1), and a new constituent with
    (1 − z)·pT at the same (η, φ) takes the next free slot. Total pT, the pT-weighted axis
    and every IRC-safe observable are unchanged.
    """
    if not 0.0 <= probability <= 1.0:
        raise ConfigError(f"probability must lie in [0, 1], got {probability}")
    B, P, _ = x.shape
    n_real = mask.sum(1, keepdim=True)  # (B, 1)
    chosen = (torch.rand((B, P), generator=generator, device=x.device) < probability) & mask
    rank = torch.cumsum(chosen.long(), 1) - 1  # 0, 1, ... among the chosen
    chosen &= rank < (P - n_real)  # only as many as there are free slots
    z = _uniform((B, P), 0.0, 1.0, x, generator)
    out = x.clone()
    out_mask = mask.clone()
    pt = x[..., 0]
    out[..., 0] = torch.where(chosen, z * pt, pt)
    rows, cols = chosen.nonzero(as_tuple=True)
    target = (n_real[:, 0][rows] + rank[rows, cols])
    out[rows, target, 0] = (1 - z[rows, cols]) * pt[rows, cols]
    out[rows, target, 1:] = x[rows, cols, 1:]
    out_mask[rows, target] = True
    return out, out_mask


def soft_smear(x: torch.Tensor, mask: torch.Tensor, lambda_soft: float = LAMBDA_SOFT,
               generator: torch.Generator | None = None,
               pt_clip_min: float = PT_CLIP_MIN) -> tuple[torch.Tensor, torch.Tensor]:
    """η′ ~ N(η, σ), φ′ ~ N(φ, σ), σ = Λ_soft / max(pT, ``pt_clip_min``) for every real constituent.

    pT, Λ_soft and ``pt_clip_min`` in GeV. The clip bounds σ by Λ_soft/pt_clip_min (1 rad with
    the defaults, as in JetCLR's reference); ``pt_clip_min=0`` gives the unclipped σ = Λ_soft/pT
    (pT guarded at 1e-12 GeV only), under which a constituent of a few MeV — one made by a
    collinear split, say — is thrown thousands of radians.
    """
    if not lambda_soft >= 0:
        raise ConfigError(f"lambda_soft must be ≥ 0 GeV, got {lambda_soft}")
    if not pt_clip_min >= 0:
        raise ConfigError(f"pt_clip_min must be ≥ 0 GeV, got {pt_clip_min}")
    pt = x[..., 0].clamp_min(max(float(pt_clip_min), 1e-12))
    width = torch.where(mask, lambda_soft / pt, torch.zeros_like(pt))
    noise = torch.randn((*x.shape[:2], 2), generator=generator, device=x.device, dtype=x.dtype)
    out = x.clone()
    out[..., 1:] = x[..., 1:] + noise * width[..., None]
    return out, mask


def augment(x: torch.Tensor, mask: torch.Tensor, which: Iterable[str] = AUGMENTATIONS, translation_width: float = 1.0,
            split_probability: float = 0.5, lambda_soft: float = LAMBDA_SOFT,
            generator: torch.Generator | None = None, pt_clip_min: float = PT_CLIP_MIN,
            translation_unit: str = "jet_extent") -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the augmentations named in ``which`` (a subset of :data:`AUGMENTATIONS`) in that
    module order: collinear splitting, soft smearing, rotation, translation (by
    ``translation_width`` in ``translation_unit``; a jet's extent is that of the jet given here,
    before the other augmentations)."""
    which = set(which)
    unknown = which - set(AUGMENTATIONS)
    if unknown:
        raise ConfigError(f"unknown augmentation(s) {sorted(unknown)}; choose from {AUGMENTATIONS}")
    extent = jet_extent(x, mask) if "translations" in which and translation_unit == "jet_extent" else None
    if "collinear" in which:
        x, mask = collinear_split(x, mask, split_probability, generator)
    if "soft" in which:
        x, mask = soft_smear(x, mask, lambda_soft, generator, pt_clip_min=pt_clip_min)
    if "rotations" in which:
        x, mask = rotate(x, mask, generator=generator)
    if "translations" in which:
        x, mask = translate(x, mask, translation_width, generator=generator, unit=translation_unit, extent=extent)
    return x, mask


def make_views(x: torch.Tensor, mask: torch.Tensor, which: Iterable[str] = AUGMENTATIONS, scheme: str = "reference",
               generator: torch.Generator | None = None, **options) -> tuple[tuple[torch.Tensor, torch.Tensor],
                                                                             tuple[torch.Tensor, torch.Tensor]]:
    """The two views ``((x_a, mask_a), (x_b, mask_b))`` of a batch for the contrastive loss.

    Parameters
    ----------
    which : Iterable[str], optional
        The chosen augmentations (a subset of :data:`AUGMENTATIONS`).
    scheme : str, optional
        ``"reference"`` — view a gets only the chosen rotations and translations, view b
        every chosen augmentation (JetCLR's reference code); ``"symmetric"`` — both views get
        every chosen augmentation. Each view draws its own random numbers.
    options : dict
        Passed to :func:`augment` (``translation_width``, ``translation_unit``,
        ``split_probability``, ``lambda_soft``, ``pt_clip_min``).
    """
    if scheme not in VIEW_SCHEMES:
        raise ConfigError(f"view scheme must be one of {VIEW_SCHEMES}, got {scheme!r}")
    which = tuple(which)
    first = which if scheme == "symmetric" else tuple(w for w in which if w in ("rotations", "translations"))
    return augment(x, mask, first, generator=generator, **options), augment(x, mask, which, generator=generator, **options)
