"""Four-vector kinematics on plain numpy arrays (any shape; no mutation of inputs).

Units: momenta and energies in GeV, angles in radians. φ is always returned in (-π, π].
"""
from __future__ import annotations

import numpy as np

__all__ = ["pt_eta_phi", "p4_from_pt_eta_phi", "wrap_phi", "delta_phi", "delta_r", "invariant_mass"]

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

    Arguments:
        px, py, pz: arrays of equal shape, GeV.
    Returns:
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
