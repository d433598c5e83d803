"""jetviz.plots.runs: several runs' epoch curves overlaid, the metrics they share, runs per status."""
from __future__ import annotations

import math

import holoviews as hv
import pytest

from jetviz.plots import runs as plots


def rows(n: int, start: float = 3.0, **extra) -> list[dict]:
    return [{"epoch": e, "train_loss": start - 0.1 * e, "seconds": 0.5, "epochs": n, "note": "x", **extra}
            for e in range(1, n + 1)]


def test_overlay_has_one_curve_per_run_in_order():
    histories = {"run-a": rows(3), "run-b": list(reversed(rows(5, start=4.0)))}
    overlay = plots.history_curves(histories, "train_loss")
    assert isinstance(overlay, hv.Overlay)
    assert [type(e) for e in overlay] == [hv.Curve, hv.Scatter, hv.Curve, hv.Scatter]  # points: one epoch shows
    curves = [e for e in overlay if isinstance(e, hv.Curve)]
    assert len(curves) == 2
    assert [c.label for c in curves] == ["run-a", "run-b"]
    assert curves[0].kdims[0].name == "epoch" and curves[0].vdims[0].name == "train_loss"
    assert list(curves[1].dimension_values("epoch")) == [1, 2, 3, 4, 5]  # sorted by epoch
    assert curves[1].dimension_values("train_loss")[0] == pytest.approx(3.9)
    assert plots.history_curves({"only": rows(2)}).opts.get().kwargs["title"] == "train loss per epoch"
    hv.render(overlay, backend="bokeh")  # draws


def test_non_finite_values_are_gaps():
    history = rows(3)
    history[1]["train_loss"] = float("inf")
    ys = list(plots.history_curves({"a": history}))[0].dimension_values("train_loss")
    assert math.isnan(ys[1]) and ys[0] == pytest.approx(2.9)


def test_a_missing_metric_is_a_clear_error():
    histories = {"run-a": rows(2), "run-b": rows(2, accuracy=0.9)}
    with pytest.raises(ValueError, match=r"run 'run-a' has no numeric 'accuracy'.*every run has: train_loss, seconds"):
        plots.history_curves(histories, "accuracy")
    with pytest.raises(ValueError, match="no run"):
        plots.history_curves({})
    with pytest.raises(ValueError, match="run 'empty' has no epoch rows"):
        plots.history_curves({"empty": [], "b": rows(1)})


def test_common_metrics_are_numeric_columns_of_every_row():
    assert plots.common_metrics({"a": rows(2), "b": rows(3, accuracy=0.5)}) == ["train_loss", "seconds"]
    partial = rows(2)
    del partial[1]["seconds"]
    assert plots.common_metrics({"a": partial}) == ["train_loss"]
    assert plots.common_metrics({"a": [{"epoch": 1, "ok": True, "loss": 1}]}) == ["loss"]  # booleans are no metric
    assert plots.common_metrics({}) == [] and plots.common_metrics({"a": rows(1), "b": []}) == []


def test_status_counts_has_a_bar_per_status():
    bars = plots.status_counts(["done", "done", "cancelled", "weird"])
    assert list(bars.dimension_values("status")) == [*plots.STATUS_ORDER, "weird"]
    assert list(bars.dimension_values("runs")) == [0, 0, 2, 0, 1, 1]
    hv.render(bars, backend="bokeh")
