"""How well a particle → jet assignment reproduces a truth assignment (seed 000, issue 18).

Arrays only (numpy + scipy, no torch): ``predicted`` and ``truth`` ``(B, P)`` int colours of
the particles of B events (truth −1: the particle belongs to no truth jet/parton and is left
out of every metric; predicted −1: the particle got no prediction, e.g. outside the image — its
energy counts as lost), ``energy`` ``(B, P)`` GeV, ``mask`` ``(B, P)`` bool (real particles).
Colours are permutation-free: predicted colours are matched to truth partons per event by the
Hungarian algorithm, maximising the shared energy.

Accuracy alone hides what matters for resonance masses: merging one jet into a neighbour in
every event costs only ~10 % accuracy yet ruins the W mass. So, energy-weighted, with the
shared energy S[a, k] of truth parton a and predicted colour k and E_a the energy of parton a:

* **purity** of predicted colour k: S[a(k), k] / Σ_a S[a, k], a(k) its matched parton (0 for a
  colour that holds no energy). An event is *all pure* when every one of its K colours is at
  least ``pure_threshold`` (default 90 %) pure;
* **merged** parton a: some predicted colour holds ≥ ``merge_share`` (default 50 %) of E_a and
  ≥ ``merge_share`` of the energy of another parton b (then b is merged too);
* **split** parton a: at least two predicted colours each hold ≥ ``split_share`` (default 30 %)
  of E_a.

:func:`assignment_metrics` returns all of them; the tests check them exactly on constructed
assignments (perfect, one forced merge per event, one split per event).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from jetviz.errors import ConfigError, SchemaError

__all__ = [
    "shared_energy",
    "match_colours",
    "assignment_accuracy",
    "jet_purity",
    "merged_and_split",
    "assignment_metrics",
]


def _check(predicted, truth, energy, mask, n_colours) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    energy, mask = np.asarray(energy, dtype=np.float64), np.asarray(mask, dtype=bool)
    if not (predicted.shape == truth.shape == energy.shape == mask.shape) or predicted.ndim != 2:
        raise SchemaError(f"predicted, truth, energy and mask must all be (B, P); got {predicted.shape}, "
                          f"{truth.shape}, {energy.shape}, {mask.shape}")
    for name, colours in (("predicted", predicted), ("truth", truth)):
        if not np.issubdtype(colours.dtype, np.integer):
            raise SchemaError(f"{name} colours must be integers, got {colours.dtype}")
        outside = mask & ((colours < -1) | (colours >= n_colours))
        if outside.any():
            b, p = np.argwhere(outside)[0]
            raise SchemaError(f"{name} colour {int(colours[b, p])} of particle {p} in event {b} is outside "
                              f"[-1, {n_colours})")
    if not np.isfinite(energy[mask]).all() or (energy[mask] < 0).any():
        raise SchemaError("particle energies must be finite and ≥ 0")
    return predicted.astype(np.int64), truth.astype(np.int64), energy, mask


def shared_energy(predicted: np.ndarray, truth: np.ndarray, energy: np.ndarray, mask: np.ndarray,
                  n_colours: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy shared by truth partons and predicted colours.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(shared, truth_energy)``: ``shared`` ``(B, K, K)`` GeV, S[b, a, k] = Σ E_i over the
        particles of event b with truth a and predicted colour k; ``truth_energy`` ``(B, K)``
        GeV, E_a over all particles of truth a (also those with no prediction).
    """
    predicted, truth, energy, mask = _check(predicted, truth, energy, mask, n_colours)
    labelled = mask & (truth >= 0)
    truth_energy = np.zeros((len(truth), n_colours))
    b, p = np.nonzero(labelled)
    np.add.at(truth_energy, (b, truth[b, p]), energy[b, p])
    shared = np.zeros((len(truth), n_colours, n_colours))
    b, p = np.nonzero(labelled & (predicted >= 0))
    np.add.at(shared, (b, truth[b, p], predicted[b, p]), energy[b, p])
    return shared, truth_energy


def match_colours(shared: np.ndarray) -> np.ndarray:
    """``(B, K)`` predicted colour matched to each truth parton, maximising the summed shared energy."""
    return np.stack([linear_sum_assignment(-s)[1] for s in shared]) if len(shared) else np.zeros((0, shared.shape[-1]), int)


def _accuracy(shared: np.ndarray, truth_energy: np.ndarray, match: np.ndarray) -> np.ndarray:
    matched = np.take_along_axis(shared, match[:, :, None], axis=2)[:, :, 0]  # (B, K) S[a, k(a)]
    return matched.sum(1) / np.maximum(truth_energy.sum(1), 1e-12)


def assignment_accuracy(predicted: np.ndarray, truth: np.ndarray, energy: np.ndarray, mask: np.ndarray,
                        n_colours: int) -> np.ndarray:
    """``(B,)`` energy-weighted fraction of the labelled particles in their matched colour, per event.

    Particles with truth −1 are left out; particles with no prediction count as wrong.
    """
    shared, truth_energy = shared_energy(predicted, truth, energy, mask, n_colours)
    return _accuracy(shared, truth_energy, match_colours(shared))


def jet_purity(shared: np.ndarray, match: np.ndarray | None = None) -> np.ndarray:
    """``(B, K)`` energy purity of each predicted colour w.r.t. its matched truth parton (0 if empty).

    ``match``: the :func:`match_colours` of ``shared`` when already at hand.
    """
    match = match_colours(shared) if match is None else match
    parton_of = np.argsort(match, axis=1)  # inverse permutation: truth parton matched to colour k
    in_colour = shared.sum(1)  # (B, K) energy per predicted colour
    own = np.take_along_axis(shared, parton_of[:, None, :], axis=1)[:, 0, :]  # S[a(k), k]
    return np.where(in_colour > 0, own / np.where(in_colour > 0, in_colour, 1.0), 0.0)


def merged_and_split(shared: np.ndarray, truth_energy: np.ndarray, merge_share: float = 0.5,
                     split_share: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Merged and split truth partons (see the module docstring).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(merged, split)``: ``(B, K)`` bool per truth parton.
    """
    if not (0 < merge_share <= 1 and 0 < split_share <= 0.5):
        raise ConfigError(f"need 0 < merge_share ≤ 1 and 0 < split_share ≤ 0.5, got {merge_share}, {split_share}")
    fraction = shared / np.maximum(truth_energy, 1e-300)[:, :, None]  # (B, a, k): share of E_a in colour k
    holds = (fraction >= merge_share) & (truth_energy[:, :, None] > 0)
    partons_held = holds.sum(1)  # (B, k): partons of which colour k holds ≥ merge_share
    merged = (holds & (partons_held[:, None, :] >= 2)).any(2)
    split = ((fraction >= split_share) & (truth_energy[:, :, None] > 0)).sum(2) >= 2
    return merged, split


def assignment_metrics(predicted: np.ndarray, truth: np.ndarray, energy: np.ndarray, mask: np.ndarray,
                       n_colours: int, pure_threshold: float = 0.9, merge_share: float = 0.5,
                       split_share: float = 0.3) -> dict[str, float]:
    """Summary of an assignment over B events.

    Returns
    -------
    dict[str, float]
        ``accuracy`` (mean per-event energy-weighted accuracy), ``all_pure`` (fraction of
        events whose K predicted colours are each ≥ ``pure_threshold`` pure), ``merged_rate`` /
        ``split_rate`` (fractions of the truth partons that are merged / split; partons with no
        energy left out), ``merged_events`` / ``split_events`` (fractions of events with at least
        one), ``purity`` (mean purity of the predicted colours).
    """
    shared, truth_energy = shared_energy(predicted, truth, energy, mask, n_colours)
    match = match_colours(shared)
    purity = jet_purity(shared, match)
    merged, split = merged_and_split(shared, truth_energy, merge_share, split_share)
    present = truth_energy > 0
    n_present = max(int(present.sum()), 1)
    return {
        "accuracy": float(_accuracy(shared, truth_energy, match).mean()),
        "all_pure": float((purity >= pure_threshold).all(1).mean()),
        "merged_rate": float((merged & present).sum() / n_present),
        "split_rate": float((split & present).sum() / n_present),
        "merged_events": float(merged.any(1).mean()),
        "split_events": float(split.any(1).mean()),
        "purity": float(purity.mean()),
    }
