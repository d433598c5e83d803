"""Four-vector kinematics on plain numpy arrays (no mutation of inputs).

Units: momenta and energies in GeV, angles in radians. φ is always returned in (-π, π].
Functions taking Cartesian components take them as separate arrays of any shape; the
phase-space helpers (:func:`boost`, :func:`rambo`, ...) take and return four-vectors stacked
on the last axis, ``(..., 4)`` = (px, py, pz, E).
"""
from __future__ import annotations

import math

import numpy as np

from jetviz.errors import ConfigError, SchemaError

__all__ = [
    "pt_eta_phi", "p4_from_pt_eta_phi", "wrap_phi", "delta_phi", "delta_r", "invariant_mass",
    "isotropic_directions", "boost", "boost_z", "rescale_to_masses", "rest_frame_with_masses", "rambo",
    "jet_labels_and_kinematics", "block_kinematics",
]

_PT_FLOOR = 1e-9  # GeV; keeps η finite for a particle exactly along the beam


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Map angles (radians) into (-π, π]. Returns a new array."""
    phi = np.asarray(phi, dtype=float)
    wrapped = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    # mod puts +π at -π; keep the (-π, π] convention
    return np.where(wrapped <= -np.pi, wrapped + 2 * np.pi, wrapped)


def delta_phi(phi_a: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """Signed φ_a − φ_b wrapped into (-π, π] (radians)."""
    return wrap_phi(np.asarray(phi_a, dtype=float) - np.asarray(phi_b, dtype=float))


def delta_r(eta_a, phi_a, eta_b, phi_b) -> np.ndarray:
    """ΔR = sqrt(Δη² + Δφ²) with periodic φ."""
    return np.hypot(np.asarray(eta_a, dtype=float) - eta_b, delta_phi(phi_a, phi_b))


def pt_eta_phi(px, py, pz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum (GeV), pseudorapidity and azimuth (radians) from Cartesian momenta.

    Parameters
    ----------
    px, py, pz
        arrays of equal shape, GeV.

    Returns
    -------
        (pt, eta, phi), each of the input shape; η = asinh(pz / pT), finite for pT → 0.
    """
    px = np.asarray(px, dtype=float)
    py = np.asarray(py, dtype=float)
    pz = np.asarray(pz, dtype=float)
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, _PT_FLOOR))
    phi = np.arctan2(py, px)
    return pt, eta, wrap_phi(phi)


def p4_from_pt_eta_phi(pt, eta, phi, mass=0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian (px, py, pz, E) in GeV from (pT [GeV], η, φ [rad], mass [GeV])."""
    pt = np.asarray(pt, dtype=float)
    eta = np.asarray(eta, dtype=float)
    phi = np.asarray(phi, dtype=float)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + np.asarray(mass, dtype=float) ** 2)
    return px, py, pz, energy


def invariant_mass(px, py, pz, E, axis: int | None = None) -> np.ndarray:
    """Invariant mass (GeV) of the sum of four-vectors along ``axis`` (or of each vector if None).

    Negative m² from rounding is clipped to 0.
    """
    px, py, pz, E = (np.asarray(a, dtype=float) for a in (px, py, pz, E))
    if axis is not None:
        px, py, pz, E = (a.sum(axis=axis) for a in (px, py, pz, E))
    m2 = E**2 - px**2 - py**2 - pz**2
    return np.sqrt(np.clip(m2, 0.0, None))


# ----------------------------------------------------------------------------------------------
# phase space: four-vectors stacked on the last axis, (..., 4) = (px, py, pz, E)
# ----------------------------------------------------------------------------------------------
def isotropic_directions(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 3)`` unit vectors distributed uniformly on the sphere."""
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors by the velocity ``beta``.

    Parameters
    ----------
    p4 : (..., 4) array
        (px, py, pz, E) in GeV.
    beta : (3,) array
        Boost velocity in units of c, |beta| < 1.

    Returns
    -------
    (..., 4) array
        The boosted four-vectors (a new array).
    """
    beta = np.asarray(beta, dtype=float)
    b2 = float(beta @ beta)
    if b2 == 0.0:
        return np.array(p4, dtype=float, copy=True)
    gamma = 1.0 / math.sqrt(1.0 - b2)
    bp = p4[..., :3] @ beta
    gamma2 = (gamma - 1.0) / b2
    out = np.empty_like(p4, dtype=float)
    out[..., :3] = p4[..., :3] + (gamma2 * bp + gamma * p4[..., 3])[..., None] * beta
    out[..., 3] = gamma * (p4[..., 3] + bp)
    return out


def boost_z(p4: np.ndarray, rapidity: float) -> np.ndarray:
    """Boost ``(..., 4)`` four-vectors along +z by ``rapidity`` (β = tanh y)."""
    return boost(p4, np.array([0.0, 0.0, math.tanh(rapidity)]))


def rescale_to_masses(p3: np.ndarray, masses: np.ndarray, total_mass: float) -> np.ndarray:
    """Scale balanced three-momenta by one factor ξ so that Σ √(m² + ξ²p²) = M.

    Parameters
    ----------
    p3 : (n, 3) array
        Three-momenta (GeV) with Σp⃗ = 0.
    masses : (n,) array
        Particle masses (GeV).
    total_mass : float
        The system's rest mass M (GeV); must exceed Σm.

    Returns
    -------
    (n, 4) array
        (px, py, pz, E) with Σp = (0, 0, 0, M).
    """
    from scipy.optimize import brentq

    masses = np.asarray(masses, dtype=float)
    if masses.sum() >= total_mass:
        raise ConfigError(f"masses {masses.sum():.1f} GeV exceed the available {total_mass:.1f} GeV")
    p2 = (p3**2).sum(axis=1)
    norm = float(np.sqrt(p2).sum())
    xi = brentq(lambda s: float(np.sqrt(masses**2 + s * s * p2).sum()) - total_mass, 0.0,
                total_mass / norm * 1.0000001 + 1e-12, xtol=1e-13, rtol=1e-15, maxiter=200)
    out = np.empty((len(masses), 4))
    out[:, :3] = xi * p3
    out[:, 3] = np.sqrt(masses**2 + xi * xi * p2)
    return out


def rest_frame_with_masses(p4: np.ndarray, masses: np.ndarray, total_mass: float) -> np.ndarray:
    """Boost ``(n, 4)`` four-vectors to their centre-of-mass frame, then give them ``masses`` and total energy M.

    The float residue of the boost (Σp⃗ ≠ 0 at the 1e-13 level) is removed by energy share
    before :func:`rescale_to_masses`. Returns ``(n, 4)`` with Σp = (0, 0, 0, ``total_mass``).
    """
    total = p4.sum(axis=0)
    p4 = boost(p4, -total[:3] / total[3])
    p3 = p4[:, :3] - np.outer(p4[:, 3] / p4[:, 3].sum(), p4[:, :3].sum(axis=0))
    return rescale_to_masses(p3, masses, total_mass)


def rambo(rng: np.random.Generator, sqrt_s: float, masses) -> np.ndarray:
    """Flat n-body phase space at √ŝ in the centre-of-mass frame (RAMBO; Kleiss, Stirling, Ellis 1986).

    Massless momenta from RAMBO, then the three-momenta are scaled by one common factor to give
    the particles their ``masses`` (the standard massive extension, phase-space weight ignored).

    Parameters
    ----------
    rng : numpy Generator
    sqrt_s : float
        √ŝ in GeV.
    masses : (n,) array
        Masses (GeV) of the n ≥ 2 particles.

    Returns
    -------
    (n, 4) array
        (px, py, pz, E) in GeV with Σp = (0, 0, 0, √ŝ).
    """
    masses = np.asarray(masses, dtype=float)
    n = len(masses)
    if n < 2:
        raise ConfigError("rambo needs at least two particles")
    direction = isotropic_directions(rng, n)
    q0 = -np.log(rng.random(n) * rng.random(n))
    q = np.concatenate([direction * q0[:, None], q0[:, None]], axis=1)
    total = q.sum(axis=0)
    mass_q = math.sqrt(total[3] ** 2 - float(total[:3] @ total[:3]))
    b = -total[:3] / mass_q
    x = sqrt_s / mass_q
    gamma = total[3] / mass_q
    a = 1.0 / (1.0 + gamma)
    bq = q[:, :3] @ b
    p = np.empty_like(q)
    p[:, 3] = x * (gamma * q[:, 3] + bq)
    p[:, :3] = x * (q[:, :3] + np.outer(q[:, 3] + a * bq, b))
    p3 = p[:, :3] - np.outer(p[:, 3] / p[:, 3].sum(), p[:, :3].sum(axis=0))
    return rescale_to_masses(p3, masses, sqrt_s)


def jet_labels_and_kinematics(events, runner: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, pt, mass)`` of jets (events whose particles are a jet's constituents), ``(N,)`` each.

    Raises
    ------
    SchemaError
        The events lack ``particles`` or a per-jet ``label`` (names the runner).
    """
    import awkward as ak

    if "label" not in ak.fields(events) or "particles" not in ak.fields(events):
        raise SchemaError(f"{runner} needs jets with 'particles' and a per-jet 'label' (have {ak.fields(events)})")
    particles = events.particles
    px, py, pz, energy = (ak.to_numpy(ak.sum(particles[c], axis=1)) for c in ("px", "py", "pz", "E"))
    pt = np.hypot(px, py)
    return ak.to_numpy(events.label).astype(np.int64), pt, np.sqrt(np.clip(energy**2 - pt**2 - pz**2, 0, None))


def block_kinematics(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pt, mass)`` ``(N,)`` GeV of jets given as padded constituents ``(N, S, 4)`` = (E, px, py, pz)."""
    total = np.asarray(p4, dtype=np.float64).sum(axis=1)
    pt = np.hypot(total[:, 1], total[:, 2])
    return pt, np.sqrt(np.clip(total[:, 0] ** 2 - pt**2 - total[:, 3] ** 2, 0, None))
