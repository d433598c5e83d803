"""Boosted decision trees (XGBoost, native API) on feature tables: fit with early stopping, score, importances.

The settings are plain arguments, so the same calls serve the classify runner, its benchmark
and a notebook. XGBoost's own ``train`` fits the trees; nothing here loops over epochs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["xgboost_device", "fit_xgboost", "xgboost_scores", "xgboost_importances"]


def xgboost_device(device: str) -> str:
    """"cuda" when asked for and xgboost was built with CUDA, else "cpu"."""
    import xgboost

    if device == "cuda" and xgboost.build_info().get("USE_CUDA", False):
        return "cuda"
    return "cpu"


def fit_xgboost(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, *,
                n_estimators: int, max_depth: int, learning_rate: float, early_stopping: int, threads: int = 0,
                device: str = "cpu", seed: int = 0, columns: Sequence[str] | None = None):
    """XGBoost (binary log-loss, ``tree_method="hist"``) with early stopping on the validation set.

    Parameters
    ----------
    train_x, val_x : (N, F) arrays
        Features. train_y, val_y : (N,) 0/1 labels.
    n_estimators, max_depth, learning_rate, early_stopping : int, int, float, int
        Boosting rounds at most, tree depth, η, rounds without validation improvement before stopping.
    threads : int
        CPU threads (0: the library default). device : "cpu" or "cuda" (see :func:`xgboost_device`).
    seed : int
        The booster's seed. columns : feature names (kept in the booster).

    Returns
    -------
    (booster, history)
        The ``xgboost.Booster`` (``best_iteration`` is the kept round) and one row per round with
        ``epoch`` (the round), ``train_loss`` and ``val_loss`` (log-loss) and ``best_epoch``.
    """
    import xgboost

    names = list(columns) if columns is not None else None
    train = xgboost.DMatrix(train_x, label=train_y, feature_names=names)
    val = xgboost.DMatrix(val_x, label=val_y, feature_names=names)
    params = {
        "objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
        "device": xgboost_device(device), "max_depth": max_depth, "eta": learning_rate, "seed": seed,
        "nthread": threads or 0,
    }
    evals: dict = {}
    booster = xgboost.train(params, train, num_boost_round=n_estimators, evals=[(train, "train"), (val, "val")],
                            early_stopping_rounds=early_stopping, evals_result=evals, verbose_eval=False)
    best = int(booster.best_iteration) + 1
    history = [{"epoch": i + 1, "train_loss": float(a), "val_loss": float(b), "best_epoch": best}
               for i, (a, b) in enumerate(zip(evals["train"]["logloss"], evals["val"]["logloss"]))]
    return booster, history


def xgboost_scores(booster, features: np.ndarray, columns: Sequence[str] | None = None) -> np.ndarray:
    """P(class 1) ``(N,)`` of a booster at its best round for ``(N, F)`` features."""
    import xgboost

    matrix = xgboost.DMatrix(features, feature_names=list(columns) if columns is not None else None)
    best = getattr(booster, "best_iteration", None)
    rounds = (0, int(best) + 1) if best is not None else (0, 0)
    return np.asarray(booster.predict(matrix, iteration_range=rounds), dtype=np.float64)


def xgboost_importances(booster, columns: Sequence[str]) -> dict[str, float]:
    """Gain share of each feature column (sums to 1; 0 for columns never split on)."""
    gain = booster.get_score(importance_type="gain")
    values = np.array([gain.get(c, 0.0) for c in columns], dtype=np.float64)
    total = values.sum()
    return {c: float(v / total) if total > 0 else 0.0 for c, v in zip(columns, values)}
