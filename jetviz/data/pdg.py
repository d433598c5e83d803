"""Particle facts by PDG code: masses, charges, which particles a detector sees.

The one place jetviz keeps them; readers (masses and charges of formats that store only a pid),
the BSM parton generators, the detector, the truth clustering and the pixelisation all use it.

Masses (GeV)
    Leptons and the long-lived hadrons that reach a detector: PDG 2022. Quarks, gluon and the
    heavy bosons: the pole masses jetviz's parton-level generators hand to Pythia (Pythia 8.3's
    defaults: c 1.5, b 4.8, t 173.0, Z 91.1876, W 80.385, H 125.0), with u, d, s massless as in
    matrix-element generators. Ids not listed are treated as massless.
Charges
    In units of e/3 (:data:`CHARGES3`, exact integers) for the particle with a *positive* id;
    the antiparticle (negative id) has the opposite charge. Ids not listed are neutral. The
    table covers every particle Pythia leaves stable by default (γ, e, μ, ν, π±, K±, K_L, n, p)
    and the long-lived strange baryons, quarks and bosons.
Visibility
    A detector sees every particle except neutrinos, the lightest neutralino and the gravitino
    (:data:`INVISIBLE`); :func:`is_visible` is the one definition of "visible".
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = [
    "ELECTRON", "MUON", "TAU", "PHOTON", "GLUON", "Z_BOSON", "W_BOSON", "HIGGS",
    "NEUTRINOS", "INVISIBLE", "EM_SHOWERING", "MASSES", "CHARGES3",
    "mass", "charge", "charge3", "is_visible", "is_invisible",
]

ELECTRON, MUON, TAU = 11, 13, 15
PHOTON, GLUON, Z_BOSON, W_BOSON, HIGGS = 22, 21, 23, 24, 25
#: |PDG id| of the three neutrinos.
NEUTRINOS: tuple[int, ...] = (12, 14, 16)
#: |PDG id| of particles no detector sees: ν_e, ν_μ, ν_τ, the lightest neutralino, the gravitino.
INVISIBLE: tuple[int, ...] = (*NEUTRINOS, 1000022, 1000039)
#: |PDG id| of particles that shower in an ECal: e±, γ, and π⁰ (→ γγ) if left undecayed.
EM_SHOWERING: tuple[int, ...] = (ELECTRON, PHOTON, 111)

#: Mass (GeV) by |PDG id| (see the module docstring for the sources); unknown ids: massless.
MASSES: dict[int, float] = {
    1: 0.0, 2: 0.0, 3: 0.0, 4: 1.5, 5: 4.8, 6: 173.0,
    11: 0.51099895e-3, 12: 0.0, 13: 0.1056583755, 14: 0.0, 15: 1.77686, 16: 0.0,
    21: 0.0, 22: 0.0, 23: 91.1876, 24: 80.385, 25: 125.0,
    111: 0.1349768, 130: 0.497611, 211: 0.13957039, 310: 0.497611, 311: 0.497611,
    321: 0.493677, 2112: 0.93956542052, 2212: 0.93827208816, 3112: 1.197449,
    3122: 1.115683, 3212: 1.192642, 3222: 1.18937, 3312: 1.32171, 3322: 1.31486,
    3334: 1.67245,
}
#: Electric charge in units of e/3 of the particle with a positive id; unknown ids: neutral.
CHARGES3: dict[int, int] = {
    1: -1, 2: 2, 3: -1, 4: 2, 5: -1, 6: 2,
    11: -3, 13: -3, 15: -3, 24: 3,
    211: 3, 321: 3, 2212: 3, 3112: -3, 3222: 3, 3312: -3, 3334: -3,
}


def _lookup(pid: np.ndarray, table: Mapping[int, float], default: float) -> np.ndarray:
    pid = np.asarray(pid, dtype=np.int64)
    unique, inverse = np.unique(np.abs(pid), return_inverse=True)
    values = np.array([table.get(int(u), default) for u in unique], dtype=np.float64)
    return values[inverse.reshape(pid.shape)] if unique.size else np.zeros(pid.shape)


def mass(pid: np.ndarray) -> np.ndarray:
    """Mass for each PDG id.

    Parameters
    ----------
    pid : array of int, any shape
        PDG codes (the sign is ignored).

    Returns
    -------
    array of float64, the shape of ``pid``
        Masses in GeV from :data:`MASSES`, 0 for ids not listed.
    """
    return _lookup(pid, MASSES, 0.0)


def charge3(pid: np.ndarray) -> np.ndarray:
    """Electric charge in units of e/3 for each PDG id (int64, the shape of ``pid``; 0 if not listed)."""
    pid = np.asarray(pid, dtype=np.int64)
    return (_lookup(pid, CHARGES3, 0.0) * np.sign(pid)).astype(np.int64)


def charge(pid: np.ndarray) -> np.ndarray:
    """Electric charge in units of e (float64, the shape of ``pid``; 0 for ids not listed)."""
    return charge3(pid) / 3.0


def is_invisible(pid: np.ndarray) -> np.ndarray:
    """Boolean mask, the shape of ``pid``: True where |pid| is in :data:`INVISIBLE`."""
    return np.isin(np.abs(np.asarray(pid)), INVISIBLE)


def is_visible(pid: np.ndarray) -> np.ndarray:
    """Boolean mask, the shape of ``pid``: True for particles a detector sees (not :data:`INVISIBLE`)."""
    return ~is_invisible(pid)
