"""Run registry displays: the epoch history of several runs overlaid, and runs per status.

Pure functions from a run's ``history`` rows (as :class:`jetviz.compute.registry.RunRecord`
holds them: one mapping per epoch with ``epoch`` and the runner's numbers, e.g.
``train_loss``, ``alignment``, ``seconds``) to HoloViews elements. No Panel and no torch here:
:mod:`jetviz.ui.registry` composes these into the runs page.

Conventions:

- ``histories`` maps a run's label (its registry id) to its rows, in the order the curves are
  drawn; rows are sorted by ``epoch`` (1-based, dimensionless) before drawing.
- A metric is a numeric column of the rows (same units as the runner reports it: losses are
  dimensionless, ``seconds`` in s, ``jets_per_s`` in jets/s); ``epoch`` and ``epochs`` (the
  planned total) are not metrics.
"""
from __future__ import annotations

import math
from datetime import datetime
from numbers import Real
from typing import Mapping, Sequence

import holoviews as hv
import pandas as pd

__all__ = ["TABLE_COLUMNS", "MAIN_METRICS", "is_number", "main_metric", "runs_frame", "metrics_rows", "RUN_COLORS", "STATUS_ORDER", "STATUS_COLORS", "common_metrics", "history_curves", "status_counts"]

#: columns of the table of runs
TABLE_COLUMNS = ("id", "runner", "status", "backend", "device", "epochs", "created", "seconds", "metric", "run_dir",
                 "damaged")
#: the metric shown in the table: the first of these in a run's metrics, else its first number
MAIN_METRICS = ("auc", "test_loss", "accuracy", "val_loss", "loss", "final_train_loss")

_BACKEND = "bokeh"
#: colours of the runs' curves, in order (Okabe–Ito)
RUN_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: a run's life, in the order the status bars are drawn
STATUS_ORDER = ("queued", "running", "done", "failed", "cancelled")
STATUS_COLORS = {"queued": "#999999", "running": "#56B4E9", "done": "#009E73", "failed": "#D55E00",
                 "cancelled": "#E69F00"}
#: row columns that are never metrics
_NOT_METRICS = ("epoch", "epochs")


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def common_metrics(histories: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """Numeric columns present in every row of every run (``epoch`` and ``epochs`` excluded).

    Parameters
    ----------
    histories : mapping
        ``{run label: epoch rows}``; each row a mapping of column → value.

    Returns
    -------
    list of str
        The metrics, in the column order of the first run's first row; empty when there is no
        run or a run has no rows.
    """
    if not histories:
        return []
    names: list[str] | None = None
    for rows in histories.values():
        if not rows:
            return []
        for row in rows:
            numeric = [k for k, v in row.items() if k not in _NOT_METRICS and _is_number(v)]
            names = numeric if names is None else [k for k in names if k in numeric]
    return names or []


def history_curves(histories: Mapping[str, Sequence[Mapping]], metric: str = "train_loss", *,
                   title: str | None = None, width: int = 560, height: int = 320, logy: bool = False) -> hv.Overlay:
    """One curve per run of ``metric`` against the epoch, overlaid with a legend.

    Parameters
    ----------
    histories : mapping
        ``{run label: epoch rows}`` (at least one run); each row holds ``epoch`` (int, 1-based)
        and ``metric``. The label names the curve in the legend.
    metric : str
        The column to draw (units as the runner reports it), e.g. ``train_loss``.
    title : str, optional
        Plot title (default: ``"<metric> per epoch"``).
    width, height : int
        Plot size in screen pixels.
    logy : bool
        Log y axis (only where every value is > 0).

    Returns
    -------
    hv.Overlay
        Per run, in the order of ``histories``, one ``hv.Curve`` (kdim ``epoch``, vdim ``metric``)
        and an ``hv.Scatter`` of the same points (so a run of one epoch shows); non-finite values
        are drawn as gaps.

    Raises
    ------
    ValueError
        No run, a run without rows, or a run whose rows lack ``metric`` (or hold a non-number
        there); the message names the run and the metrics all runs have.
    """
    if not histories:
        raise ValueError("history_curves: no run to draw")
    known = common_metrics(histories)
    hint = f"metrics every run has: {', '.join(known) if known else 'none'}"
    epoch_dim = hv.Dimension("epoch", label="epoch")
    value_dim = hv.Dimension(metric, label=metric.replace("_", " "))
    curves = []
    for index, (label, rows) in enumerate(histories.items()):
        if not rows:
            raise ValueError(f"history_curves: run {label!r} has no epoch rows yet; {hint}")
        missing = [row.get("epoch", "?") for row in rows if not _is_number(row.get(metric))]
        if missing:
            raise ValueError(f"history_curves: run {label!r} has no numeric {metric!r} "
                             f"(epochs {missing[:5]}{' …' if len(missing) > 5 else ''}); {hint}")
        if any(not _is_number(row.get("epoch")) for row in rows):
            raise ValueError(f"history_curves: run {label!r} has a row without an epoch number")
        ordered = sorted(rows, key=lambda row: row["epoch"])
        xs = [int(row["epoch"]) for row in ordered]
        ys = [float(row[metric]) if math.isfinite(float(row[metric])) else math.nan for row in ordered]
        color = RUN_COLORS[index % len(RUN_COLORS)]
        curves.append(hv.Curve((xs, ys), epoch_dim, value_dim, label=str(label)).opts(
            color=color, line_width=2, tools=["hover"], backend=_BACKEND))
        curves.append(hv.Scatter((xs, ys), epoch_dim, value_dim, label=str(label)).opts(
            color=color, size=4 if len(xs) > 30 else 6, backend=_BACKEND))
    return hv.Overlay(curves).opts(
        title=title if title is not None else f"{metric.replace('_', ' ')} per epoch", width=width, height=height,
        show_grid=True, logy=logy, legend_position="top_right", show_legend=True, backend=_BACKEND)


def status_counts(statuses: Sequence[str], *, width: int = 320, height: int = 220) -> hv.Bars:
    """How many runs are in each status (bars in :data:`STATUS_ORDER`, zero bars included).

    Parameters
    ----------
    statuses : sequence of str
        One status per run; a status outside :data:`STATUS_ORDER` gets a bar after them.
    width, height : int
        Plot size in screen pixels.

    Returns
    -------
    hv.Bars
        kdim ``status``, vdim ``runs`` (a count), coloured by status.
    """
    order = list(STATUS_ORDER) + sorted({s for s in statuses if s not in STATUS_ORDER})
    counts = [(name, sum(1 for s in statuses if s == name)) for name in order]
    return hv.Bars(counts, hv.Dimension("status"), hv.Dimension("runs")).opts(
        color="status", cmap={**STATUS_COLORS}, width=width, height=height, title="runs per status",
        show_legend=False, tools=["hover"], backend=_BACKEND)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (not a bool)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def main_metric(metrics: Mapping | None) -> tuple[str, float] | None:
    """``(name, value)`` of a run's headline metric (see :data:`MAIN_METRICS`), or None."""
    if not metrics:
        return None
    for name in MAIN_METRICS:
        if is_number(metrics.get(name)):
            return name, float(metrics[name])
    for name, value in metrics.items():
        if is_number(value):
            return name, float(value)
    return None


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


def runs_frame(records: Sequence, epochs: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The table of runs: one row per record (columns :data:`TABLE_COLUMNS`).

    Parameters
    ----------
    records : sequence of RunRecord
        The runs, in table order.
    epochs : mapping, optional
        ``{run id: epoch rows recorded}`` (0 where missing).

    Returns
    -------
    pandas.DataFrame
        ``created`` in local time (``YYYY-MM-DD HH:MM:SS``), ``seconds`` the wall time in s
        (NaN before the run started), ``metric`` as ``"name value"``, ``damaged`` what of the
        stored row cannot be read ('' when nothing: the rest of the runs stay usable).
    """
    epochs = epochs or {}
    rows = []
    for r in records:
        headline = main_metric(r.metrics)
        seconds = r.seconds
        rows.append({
            "id": r.id, "runner": r.runner, "status": r.status, "backend": r.backend, "device": r.device or "",
            "epochs": int(epochs.get(r.id, 0)),
            "created": datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M:%S") if r.created else "",
            "seconds": round(seconds, 1) if seconds is not None else math.nan,
            "metric": f"{headline[0]} {_fmt(headline[1])}" if headline else "",
            "run_dir": r.run_dir,
            "damaged": r.damaged,
        })
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def metrics_rows(metrics: Mapping | None) -> pd.DataFrame:
    """A run's metrics as a two-column table (``metric``, ``value``); lists joined, mappings skipped."""
    rows = []
    for name, value in (metrics or {}).items():
        if is_number(value):
            text = _fmt(float(value))
        elif isinstance(value, str):
            text = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            text = ", ".join(_fmt(v) if is_number(v) else str(v) for v in value)
        else:
            continue
        rows.append({"metric": name, "value": text})
    return pd.DataFrame(rows, columns=["metric", "value"])
