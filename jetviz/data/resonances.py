"""Resonance masses from jets: W → jj and t → bjj in e+e- → tt̄ → 6 jets, and their resolution."""
from __future__ import annotations

from itertools import combinations

import numpy as np

from jetviz.data.kinematics import invariant_mass

__all__ = ["M_W", "M_TOP", "ttbar_six_jet_masses", "sigma68"]

M_W = 80.4  # GeV
M_TOP = 172.5  # GeV
_SIGMA_W, _SIGMA_TOP = 10.0, 15.0  # GeV, widths in the χ² that picks the jet pairing


def _pairings() -> np.ndarray:
    """All ways to split 6 jets into (b1, W1a, W1b, b2, W2a, W2b), up to symmetric duplicates: (90, 6)."""
    rows = set()
    for triplet in combinations(range(6), 3):
        rest = tuple(i for i in range(6) if i not in triplet)
        for b1 in triplet:
            w1 = tuple(sorted(i for i in triplet if i != b1))
            for b2 in rest:
                w2 = tuple(sorted(i for i in rest if i != b2))
                first, second = (b1, *w1), (b2, *w2)
                rows.add(min((first, second), (second, first)))
    return np.array([a + b for a, b in sorted(rows)])


_PAIRINGS = _pairings()


def ttbar_six_jet_masses(jets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W and top masses of six-jet tt̄ events, choosing the pairing with the best χ².

    χ² = Σ_{two tops} ((m_W − 80.4)/10)² + ((m_t − 172.5)/15)² over all 90 splits of the
    six jets into (b, W → jj) pairs.

    Parameters
    ----------
    jets
        ``(N, 6, 4)`` four-momenta (px, py, pz, E) in GeV (missing jets as zeros).

    Returns
    -------
        ``(m_w, m_top)``, each ``(N, 2)`` GeV.
    """
    jets = np.asarray(jets, dtype=float)
    if jets.ndim != 3 or jets.shape[1:] != (6, 4):
        raise ValueError(f"jets must have shape (N, 6, 4), got {jets.shape}")
    p = jets[:, _PAIRINGS]  # (N, 90, 6, 4)
    w1 = p[:, :, 1] + p[:, :, 2]
    w2 = p[:, :, 4] + p[:, :, 5]
    t1 = w1 + p[:, :, 0]
    t2 = w2 + p[:, :, 3]
    mass = [invariant_mass(*np.moveaxis(v, -1, 0)) for v in (w1, w2, t1, t2)]
    chi2 = (((mass[0] - M_W) / _SIGMA_W) ** 2 + ((mass[1] - M_W) / _SIGMA_W) ** 2
            + ((mass[2] - M_TOP) / _SIGMA_TOP) ** 2 + ((mass[3] - M_TOP) / _SIGMA_TOP) ** 2)
    best = chi2.argmin(axis=1)
    rows = np.arange(len(jets))
    m_w = np.stack([mass[0][rows, best], mass[1][rows, best]], axis=1)
    m_top = np.stack([mass[2][rows, best], mass[3][rows, best]], axis=1)
    return m_w, m_top


def sigma68(values: np.ndarray) -> float:
    """Half the width of the narrowest interval holding 68.3 % of the (finite) values."""
    values = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = len(values)
    if n < 2:
        return float("nan")
    k = max(int(np.ceil(0.683 * n)), 1)
    widths = values[k - 1:] - values[: n - k + 1]
    return float(widths.min() / 2)
