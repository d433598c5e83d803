"""Error bars of the benchmarks: mean ± std over seeds, bootstrap errors, "beyond the error bars" checks.

One helper for every script (benchmarks/{classify,colorize,vae_emd,jetclr}.py):

* :func:`parse_seeds` reads ``--seeds 0,1,2``;
* :func:`over_seeds` aggregates one number per seed into ``{"mean", "std", "n", "values"}``
  (``std``: the sample standard deviation, ``ddof = 1``; 0 for one seed) and :func:`pm` prints
  it as ``0.912 ± 0.004 (n=3)``;
* :func:`aggregate_rows` does that for every numeric field of per-seed result rows;
* :func:`bootstrap` resamples a test set (labels, scores) for the error of a metric,
  :func:`paired_bootstrap` several score sets on the same resampled jets (errors of differences);
* :func:`ordering` checks a claimed ordering of rows, step by step, against the errors of the steps;
* :func:`finish` ends a script: its wall time printed and recorded, its numbers written as JSON.
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["parse_seeds", "over_seeds", "pm", "aggregate_rows", "paired_bootstrap", "bootstrap", "ordering", "finish"]


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]`` (distinct, in order); ``argparse`` type of ``--seeds``."""
    import argparse

    try:
        seeds = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds needs at least one seed, distinct and ≥ 0, got {text!r}")
    return seeds


def over_seeds(values: Iterable[float]) -> dict:
    """``{"mean", "std", "n", "values"}`` of one number per seed. Non-finite values (NaN; ±inf, e.g.
    a 1/ε_b with no background passing) are left out of mean and std, and of ``n``; where every
    value is the same infinity the mean is that infinity (std NaN)."""
    values = [float(v) for v in values]
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    infinite = {v for v in values if math.isinf(v)}
    mean = float(np.mean(finite)) if n else (infinite.pop() if len(infinite) == 1 else float("nan"))
    std = float(np.std(finite, ddof=1)) if n > 1 else (0.0 if n == 1 else float("nan"))
    return {"mean": mean, "std": std, "n": n, "values": values}


def pm(summary: Mapping, fmt: str = ".3f", n: bool = True) -> str:
    """``"mean ± std (n=k)"`` of an :func:`over_seeds` (or :func:`bootstrap`) summary."""
    text = f"{summary['mean']:{fmt}} ± {summary['std']:{fmt}}"
    return f"{text} (n={summary['n']})" if n and "n" in summary else text


def aggregate_rows(rows: Sequence[Mapping], keys: Sequence[str] | None = None) -> dict:
    """Per-seed result rows (one dict per seed, same keys) → ``{key: over_seeds(...)}``.

    ``keys``: the fields to aggregate (default: every field that is a real number in the first row).
    """
    if not rows:
        return {}
    if keys is None:
        keys = [k for k, v in rows[0].items() if isinstance(v, (int, float, np.floating, np.integer))
                and not isinstance(v, bool)]
    return {k: over_seeds(row[k] for row in rows) for k in keys}


def paired_bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray,
                     scores: Sequence[np.ndarray], n_resamples: int = 200, seed: int = 0) -> np.ndarray:
    """``(R, K)`` values of ``metric(labels, scores[k])`` on ``R`` resamples of one test set, the same
    resampled jets for every ``k`` (so differences between the K score sets keep their correlation).
    Resamples with one class missing are skipped (``R ≤ n_resamples``)."""
    labels = np.asarray(labels)
    scores = [np.asarray(s) for s in scores]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n_resamples)):
        index = rng.integers(0, len(labels), len(labels))
        if labels[index].min() == labels[index].max():
            continue
        out.append([float(metric(labels[index], s[index])) for s in scores])
    return np.asarray(out, dtype=np.float64).reshape(-1, len(scores))


def bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], labels: np.ndarray, scores: np.ndarray,
              n_resamples: int = 200, seed: int = 0) -> dict:
    """Bootstrap error of ``metric(labels, scores)`` over a test set of ``N`` (labels, scores).

    Returns ``{"mean"`` (the metric on the whole set), ``"std"`` (spread of the ``n_resamples``
    resampled values, ``ddof = 1``), ``"lo"``/``"hi"`` (their 16th/84th percentiles),
    ``"n_resamples"``, ``"n_test"}``. Resamples with one class missing are skipped.
    """
    labels, scores = np.asarray(labels), np.asarray(scores)
    values = paired_bootstrap(metric, labels, [scores], n_resamples, seed)[:, 0]
    finite = values[np.isfinite(values)]
    return {"mean": float(metric(labels, scores)), "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
            "lo": float(np.percentile(finite, 16)) if len(finite) else float("nan"),
            "hi": float(np.percentile(finite, 84)) if len(finite) else float("nan"),
            "n_resamples": int(len(values)), "n_test": int(len(labels))}


def ordering(names: Sequence[str], differences: Sequence[Mapping], strict: Sequence[bool] | None = None) -> list[dict]:
    """Check the claim ``names[0] < names[1] < …`` step by step.

    ``differences[i]``: ``{"mean", "std"}`` of (value of ``names[i + 1]`` − value of ``names[i]``)
    with its error; ``strict[i]``: whether step ``i`` claims ``<`` (True) or ``≤`` (False). Each
    step's row: ``lower``, ``upper``, ``relation``, ``difference``, ``error``, ``holds`` (the claimed
    relation of the central values: > 0 for ``<``, ≥ 0 for ``≤``), ``beyond_errors`` (difference >
    error: the step is resolved) and ``contradicted`` (difference < −error).
    """
    strict = list(strict) if strict is not None else [True] * (len(names) - 1)
    steps = []
    for i in range(len(names) - 1):
        diff, error = float(differences[i]["mean"]), float(differences[i]["std"])
        steps.append({"lower": names[i], "upper": names[i + 1], "relation": "<" if strict[i] else "≤",
                      "difference": diff, "error": error, "holds": bool(diff > 0 if strict[i] else diff >= 0),
                      "beyond_errors": bool(diff > error), "contradicted": bool(diff < -error)})
    return steps


def finish(out: dict, json_path: str | None, started: float | None = None) -> None:
    """End a benchmark script: with ``started`` (a ``time.perf_counter()``), ``out["wall_s"]`` is set
    and printed; ``out`` is written to ``json_path`` (when given) atomically, numpy values as numbers."""
    if started is not None:
        out["wall_s"] = time.perf_counter() - started
        print(f"\nwall time {out['wall_s']:.0f} s")
    if json_path:
        from jetviz.data.io import atomic_write, json_default

        with atomic_write(json_path, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2, default=json_default)
        print(f"numbers written to {json_path}")
