"""benchmarks/_stats.py: mean ± std over seeds, bootstrap errors and the ordering check of the benchmarks."""
import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _stats  # noqa: E402
from jetviz.models.metrics import roc_auc  # noqa: E402


def test_over_seeds_and_pm():
    s = _stats.over_seeds([1, 2, 3])
    assert (s["mean"], s["std"], s["n"], s["values"]) == (2.0, 1.0, 3, [1.0, 2.0, 3.0])
    assert _stats.pm(s) == "2.000 ± 1.000 (n=3)" and _stats.pm(s, ".1f", n=False) == "2.0 ± 1.0"
    assert _stats.over_seeds([4.0])["std"] == 0.0
    one = _stats.over_seeds([1.0, float("nan")])
    assert (one["mean"], one["n"]) == (1.0, 1)
    inf = _stats.over_seeds([float("inf")] * 2)
    assert inf["mean"] == float("inf") and inf["n"] == 0 and np.isnan(inf["std"])
    rows = _stats.aggregate_rows([{"seed": 0, "a": 1.0, "ok": True}, {"seed": 1, "a": 3.0, "ok": False}])
    assert set(rows) == {"seed", "a"} and rows["a"]["mean"] == 2.0


def test_parse_seeds_refuses_bad_lists():
    assert _stats.parse_seeds("0, 1,2") == [0, 1, 2]
    for bad in ("", "1,1", "a", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            _stats.parse_seeds(bad)


def test_bootstrap_error_matches_the_spread_of_independent_test_sets():
    rng = np.random.default_rng(0)

    def sample(n):
        labels = np.r_[np.zeros(n), np.ones(n)]
        return labels, labels + rng.normal(size=2 * n)

    spread = np.std([roc_auc(*sample(300)) for _ in range(200)])
    boot = _stats.bootstrap(roc_auc, *sample(300), n_resamples=200, seed=1)
    assert boot["n_test"] == 600 and boot["lo"] < boot["mean"] < boot["hi"]
    assert 0.7 * spread < boot["std"] < 1.4 * spread
    # paired: identical score sets give identical resampled values, so their difference has no spread
    labels, scores = sample(100)
    values = _stats.paired_bootstrap(roc_auc, labels, [scores, 2 * scores], 50)
    assert values.shape == (50, 2) and np.array_equal(values[:, 0], values[:, 1])


def test_ordering_tells_resolved_unresolved_and_contradicted_steps():
    steps = _stats.ordering(["a", "b", "c", "d"], [{"mean": 0.3, "std": 0.1}, {"mean": 0.05, "std": 0.1},
                                                    {"mean": -0.5, "std": 0.1}], strict=[True, False, True])
    assert [(s["relation"], s["holds"], s["beyond_errors"], s["contradicted"]) for s in steps] == [
        ("<", True, True, False), ("≤", True, False, False), ("<", False, False, True)]
