"""Figures of merit shared by the runners (numpy only): binary classification, correlations, distances.

Labels are 0 (background / first class) and 1 (signal / second class); scores are any real
number that grows with the probability of class 1. Ties in the scores are handled exactly
(one ROC point per distinct threshold), so the AUC equals the Mann–Whitney statistic
P(score_signal > score_background) + ½ P(equal).
"""
from __future__ import annotations

import numpy as np

from jetviz.errors import SchemaError

__all__ = ["roc_curve", "roc_auc", "auc", "confusion_matrix", "accuracy", "background_rejection", "pearson",
           "pair_distances"]


def _binary(labels, scores=None) -> tuple[np.ndarray, np.ndarray | None]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise SchemaError(f"labels must be a non-empty 1-d array, got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise SchemaError(f"labels must be 0 or 1, got values {np.unique(labels)[:10].tolist()}")
    if scores is None:
        return labels.astype(np.int64), None
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise SchemaError(f"scores {scores.shape} and labels {labels.shape} differ in shape")
    if not np.isfinite(scores).all():
        raise SchemaError(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite")
    return labels.astype(np.int64), scores


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of scores against 0/1 labels.

    Parameters
    ----------
    labels : (N,) array_like
        0/1 truth (both classes must occur).
    scores : (N,) array_like
        Finite scores, higher = more like class 1.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray]
        ``(fpr, tpr, thresholds)``: false- and true-positive rates (background and signal
        efficiencies) for "score ≥ threshold", from (0, 0) to (1, 1), thresholds decreasing
        (the first is +inf).
    """
    labels, scores = _binary(labels, scores)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise SchemaError(f"a ROC curve needs both classes; labels hold only class {int(labels[0])}")
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # last index of each distinct score
    tp = np.cumsum(labels)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    return fpr, tpr, np.r_[np.inf, scores[last]]


def auc(x, y) -> float:
    """Area under a curve by the trapezoid rule (x increasing)."""
    return float(np.trapezoid(np.asarray(y, float), np.asarray(x, float)))


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (0.5 = chance, 1 = perfect separation)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return auc(fpr, tpr)


def confusion_matrix(labels, predicted, n_classes: int = 2) -> np.ndarray:
    """``(n_classes, n_classes)`` int counts, rows = true class, columns = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise SchemaError(f"labels {labels.shape} and predictions {predicted.shape} must be equal 1-d shapes")
    for name, values in (("labels", labels), ("predictions", predicted)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise SchemaError(f"{name} must lie in [0, {n_classes}), got {values.min()}..{values.max()}")
    return np.bincount(labels * n_classes + predicted, minlength=n_classes**2).reshape(n_classes, n_classes)


def accuracy(labels, predicted) -> float:
    """Fraction of correct predictions."""
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if labels.shape != predicted.shape or labels.size == 0:
        raise SchemaError(f"labels {labels.shape} and predictions {predicted.shape} must be equal, non-empty shapes")
    return float(np.mean(labels == predicted))


def background_rejection(labels, scores, signal_efficiency: float = 0.5) -> float:
    """1/ε_b at the given signal efficiency ε_s (interpolated on the ROC curve; inf if ε_b = 0)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    eps_b = float(np.interp(signal_efficiency, tpr, fpr))
    return float("inf") if eps_b <= 0 else 1.0 / eps_b


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation coefficient of two equal-length 1-d arrays (NaN if either is constant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise SchemaError(f"pearson needs two equal 1-d arrays of ≥ 2 values, got {a.shape} and {b.shape}")
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def pair_distances(features: np.ndarray) -> np.ndarray:
    """Euclidean distances of all pairs i < j of ``(N, D)`` rows (any trailing shape is flattened),
    as a flat ``(N(N−1)/2,)`` array in the order of ``np.triu_indices(N, 1)``."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    sq = (x**2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None)
    return np.sqrt(d2[np.triu_indices(len(x), 1)])
