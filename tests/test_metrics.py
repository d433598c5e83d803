"""ROC, AUC, confusion matrix and background rejection, cross-checked against brute force."""
import numpy as np
import pytest

from jetviz.errors import SchemaError
from jetviz.models.metrics import accuracy, background_rejection, confusion_matrix, roc_auc, roc_curve


def mann_whitney(labels, scores):
    """P(s_signal > s_background) + ½ P(equal), by comparing every pair (independent of the ROC code)."""
    sig, bkg = scores[labels == 1], scores[labels == 0]
    diff = sig[:, None] - bkg[None, :]
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


@pytest.mark.parametrize("n", [2, 17, 500])
@pytest.mark.parametrize("ties", [False, True])
def test_auc_equals_mann_whitney(n, ties):
    rng = np.random.default_rng(n)
    labels = np.r_[0, 1, rng.integers(0, 2, n - 2)] if n > 2 else np.array([0, 1])
    scores = rng.normal(labels * 0.7, 1.0)
    if ties:
        scores = np.round(scores, 1)
    assert roc_auc(labels, scores) == pytest.approx(mann_whitney(labels, scores), abs=1e-12)


def test_roc_curve_endpoints_monotone_and_invariant_under_monotone_maps():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels, 1.0)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thresholds) < 0)
    # the ROC only depends on the ordering of the scores
    fpr2, tpr2, _ = roc_curve(labels, 1 / (1 + np.exp(-3 * scores)))
    np.testing.assert_allclose(fpr, fpr2)
    np.testing.assert_allclose(tpr, tpr2)


def test_perfect_random_and_inverted_classifiers():
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    assert roc_auc(labels, labels + 0.0) == 1.0
    assert roc_auc(labels, -labels + 0.0) == 0.0
    assert roc_auc(labels, np.zeros(100)) == 0.5
    assert background_rejection(labels, labels + 0.0) == float("inf")


def test_background_rejection_of_gaussians():
    # signal N(1,1), background N(0,1): ε_s = 0.5 at threshold 1, ε_b = P(N(0,1) > 1) = 0.1587
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(200_000, int), np.ones(200_000, int)]
    scores = rng.normal(labels, 1.0)
    assert background_rejection(labels, scores, 0.5) == pytest.approx(1 / 0.158655, rel=0.02)


def test_confusion_matrix_and_accuracy():
    labels = np.array([0, 0, 1, 1, 1])
    predicted = np.array([0, 1, 1, 1, 0])
    matrix = confusion_matrix(labels, predicted)
    np.testing.assert_array_equal(matrix, [[1, 1], [1, 2]])
    assert matrix.sum() == 5 and accuracy(labels, predicted) == pytest.approx(np.trace(matrix) / 5)


@pytest.mark.parametrize("labels, scores, match", [
    (np.zeros(5, int), np.arange(5.0), "both classes"),
    (np.array([0, 1, 2]), np.arange(3.0), "0 or 1"),
    (np.array([0, 1]), np.array([0.1, np.nan]), "NaN"),
    (np.array([0, 1]), np.array([0.1, 0.2, 0.3]), "shape"),
])
def test_bad_inputs_name_the_problem(labels, scores, match):
    with pytest.raises(SchemaError, match=match):
        roc_auc(labels, scores)
