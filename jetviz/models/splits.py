"""Seeded, stratified splits of labelled samples (numpy only): k folds, a held-out share, several shares.

Every function deals each class separately (shuffled with ``numpy.random.default_rng(seed)``),
so each part keeps the sample's class balance, and gives the same split for the same labels and
seed on any machine.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from jetviz.errors import ConfigError

__all__ = ["stratified_folds", "stratified_holdout", "stratified_parts"]


def stratified_folds(labels: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """``(N,)`` fold number of each event: each class shuffled (seeded) and dealt round-robin.

    Raises
    ------
    ConfigError
        ``n_folds < 2``, or a class has fewer than ``n_folds`` members.
    """
    labels = np.asarray(labels)
    if n_folds < 2:
        raise ConfigError(f"n_folds must be ≥ 2, got {n_folds}")
    counts = np.bincount(labels)
    if counts[counts > 0].min() < n_folds:
        raise ConfigError(f"{n_folds} folds need at least {n_folds} events of each class, have {counts.tolist()}")
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold[members] = np.arange(len(members)) % n_folds
    return fold


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over ``labels``: a stratified ``fraction`` held out (at least one of each class)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), bool)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        mask[members[: max(1, int(round(fraction * len(members))))]] = True
    return mask


def stratified_parts(labels: np.ndarray, shares: Sequence[float], seed: int) -> np.ndarray:
    """``(N,)`` int8 part of each event: part k gets ``shares[k]`` of each class, the last part the rest.

    Parameters
    ----------
    labels : (N,) array
        Class of each event.
    shares : sequence of float
        Shares of the first parts (summing to < 1); part ``len(shares)`` gets the rest.
    seed : int
        Seed of the shuffles.
    """
    labels = np.asarray(labels)
    if sum(shares) >= 1:
        raise ConfigError(f"the shares {list(shares)} sum to {sum(shares):g}: they must leave a last part (< 1)")
    part = np.full(len(labels), len(shares), dtype=np.int8)
    rng = np.random.default_rng(seed)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        edges = np.cumsum([int(round(share * len(members))) for share in shares])
        for k, (a, b) in enumerate(zip(np.r_[0, edges[:-1]], edges)):
            part[members[a:b]] = k
    return part
