"""Top-tagging HDF5: the layout of the public "Top Quark Tagging Reference Dataset".

A pandas HDFStore with key ``table`` and columns ``E_i, PX_i, PY_i, PZ_i`` for i < 200 (GeV,
zero-padded, constituents in decreasing pT), ``truthE, truthPX, truthPY, truthPZ`` (the matched
top), ``ttv`` (0/1/2 = train/test/validation in the original files) and ``is_signal_new``
(1 = top). :func:`read_top_tagging_h5` / :func:`iterate_top_tagging_h5` read it in row chunks;
:func:`write_top_tagging_h5` writes it (atomically, refusing to overwrite by default).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterator

import awkward as ak
import numpy as np

from jetviz.data.formats._common import (
    DEFAULT_STEP,
    all_chunks,
    build_events,
    each_chunk,
    from_padded,
    integer_labels,
    padded_by_pt,
    refuse_overwrite,
    require_file,
    short,
)
from jetviz.data.io import atomic_path
from jetviz.data.kinematics import invariant_mass, pt_eta_phi
from jetviz.data.schema import validate_events
from jetviz.errors import DataFileError

__all__ = ["read_top_tagging_h5", "iterate_top_tagging_h5", "write_top_tagging_h5"]

_TT_KEY = "table"
_TT_COMPONENTS = ("E", "PX", "PY", "PZ")
_TT_TRUTH = (("truthE", "truth_E"), ("truthPX", "truth_px"), ("truthPY", "truth_py"), ("truthPZ", "truth_pz"))
_TT_LABEL = "is_signal_new"
_TT_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")


def _tt_layout(store, path: Path, max_constituents: int) -> dict:
    keys = [k.lstrip("/") for k in store.keys()]
    if _TT_KEY not in keys:
        raise DataFileError(path, f"has no key {_TT_KEY!r} (keys: {keys}); not the top-tagging layout")
    storer = store.get_storer(_TT_KEY)
    is_table = bool(getattr(storer, "is_table", False))
    nrows = int(storer.nrows) if is_table else int(storer.shape[0])
    columns = list(store.select(_TT_KEY, start=0, stop=0).columns)
    indices = [int(m.group(2)) for m in map(_TT_COLUMN.match, map(str, columns)) if m]
    if not indices:
        raise DataFileError(path, "has no constituent columns E_0, PX_0, PY_0, PZ_0, ...")
    n_slots = min(int(max_constituents), max(indices) + 1)
    constituent_columns = [f"{c}_{i}" for i in range(n_slots) for c in _TT_COMPONENTS]
    have = set(map(str, columns))
    missing = [c for c in constituent_columns if c not in have]
    if _TT_LABEL not in have:
        missing.append(_TT_LABEL)
    if missing:
        shown = ", ".join(missing[:12]) + (f", ... ({len(missing)} in all)" if len(missing) > 12 else "")
        raise DataFileError(path, f"lacks column(s) {shown}")
    truth = [(col, field) for col, field in _TT_TRUTH if col in have]
    extra = ["ttv"] if "ttv" in have else []
    return {
        "is_table": is_table,
        "nrows": nrows,
        "n_slots": n_slots,
        "constituents": constituent_columns,
        "truth": truth,
        "read": constituent_columns + [_TT_LABEL] + extra + [c for c, _ in truth],
        "ttv": bool(extra),
    }


def _tt_chunk(path: Path, frame, layout: dict, offset: int, drop_empty: bool) -> tuple[ak.Array, int]:
    n_rows = len(frame)
    block = frame[layout["constituents"]].to_numpy(dtype=np.float64).reshape(n_rows, layout["n_slots"], 4)
    mask, counts, flat = from_padded(block)
    particles = {"E": flat[:, 0], "px": flat[:, 1], "py": flat[:, 2], "pz": flat[:, 3]}
    n_flat = len(flat)
    particles.update(charge=np.zeros(n_flat), pid=np.zeros(n_flat, np.int64), jet=np.zeros(n_flat, np.int64))
    label = integer_labels(path, frame[_TT_LABEL].to_numpy(), _TT_LABEL)
    fields: dict[str, np.ndarray] = {}
    if layout["ttv"]:
        fields["ttv"] = integer_labels(path, frame["ttv"].to_numpy(), "ttv")
    for column, field in layout["truth"]:
        fields[field] = frame[column].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        summed = np.where(mask[..., None], block, 0.0).sum(axis=1)
        jet_pt, jet_eta, jet_phi = pt_eta_phi(summed[:, 1], summed[:, 2], summed[:, 3])
        jet_mass = invariant_mass(summed[:, 1], summed[:, 2], summed[:, 3], summed[:, 0])
    fields.update(jet_pt=jet_pt, jet_eta=jet_eta, jet_phi=jet_phi, jet_mass=jet_mass)
    return build_events(path, particles, counts, label, fields, offset, drop_empty, padded=True)


def _tt_chunks(
    path: str | Path, start: int, stop: int | None, max_constituents: int, drop_empty: bool, step_size: int
) -> Iterator[tuple[ak.Array, int]]:
    import pandas as pd

    path = Path(path)
    require_file(path)
    if int(max_constituents) < 1 or int(step_size) < 1:
        raise ValueError("max_constituents and step_size must be positive")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:
        raise DataFileError(path, f"is not a readable HDF5 file (truncated or corrupted?): {short(exc)}") from None
    try:
        try:
            layout = _tt_layout(store, path, max_constituents)
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"cannot read the layout of key {_TT_KEY!r}: {short(exc)}") from None
        first, last, _ = slice(start, stop).indices(layout["nrows"])
        columns = layout["read"] if layout["is_table"] else None
        for begin in range(first, last, int(step_size)):
            end = min(begin + int(step_size), last)
            try:
                frame = store.select(_TT_KEY, start=begin, stop=end, columns=columns)
            except Exception as exc:
                raise DataFileError(
                    path, f"cannot read rows {begin}..{end - 1} (truncated or corrupted?): {short(exc)}"
                ) from None
            if len(frame) != end - begin:
                raise DataFileError(path, f"rows {begin}..{end - 1}: got {len(frame)} rows (truncated?)")
            yield _tt_chunk(path, frame, layout, begin, drop_empty)
    finally:
        store.close()


def iterate_top_tagging_h5(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    drop_empty: bool = False,
    step_size: int = DEFAULT_STEP,
) -> Iterator[ak.Array]:
    """Read a top-tagging HDF5 file chunk by chunk (rows ``start:stop``, ``step_size`` at a time).

    Arguments:
        path: HDF5 file in the top-tagging reference layout (see :func:`read_top_tagging_h5`).
        start, stop: row range, with Python slice semantics (``stop=None``: to the end).
        max_constituents: read at most this many constituent slots per row.
        drop_empty: drop rows without constituents (with a warning per chunk) instead of raising.
        step_size: rows per chunk; only one chunk is in memory at a time.
    Returns:
        An iterator of schema events arrays, one per chunk.
    """
    path = Path(path)
    yield from each_chunk(path, _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size))


def read_top_tagging_h5(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    drop_empty: bool = False,
    step_size: int = DEFAULT_STEP,
) -> ak.Array:
    """Read (a row range of) a file in the Top Quark Tagging Reference Dataset layout.

    The layout: a pandas HDFStore, key ``table`` (PyTables "table" or "fixed" format), one row
    per jet with columns ``E_i, PX_i, PY_i, PZ_i`` (GeV) for i < 200, zero-padded, then
    ``truthE, truthPX, truthPY, truthPZ``, ``ttv`` and ``is_signal_new``. The rows are read
    ``step_size`` at a time with ``HDFStore.select(start=, stop=)``, so a slice of a 1.2M-row
    file never loads the whole file.

    Arguments:
        path: the ``.h5`` file.
        start, stop: row range, with Python slice semantics (``stop=None``: to the end).
        max_constituents: read at most this many constituent slots per row (≤ those in the file).
        drop_empty: drop rows without any constituent and warn how many, instead of raising.
        step_size: rows per read.
    Momentum columns of any numeric dtype are accepted and converted to float64 (files written
    by :func:`write_top_tagging_h5` hold float32 by default; pandas keeps whatever dtype the
    DataFrame had when the file was written).

    Returns:
        Schema events, one per row kept: particles are the non-zero constituents in file order,
        with ``charge = 0``, ``pid = 0`` (the format has no particle identification) and
        ``jet = 0``; ``label`` = ``is_signal_new``; event fields ``ttv`` and
        ``truth_E, truth_px, truth_py, truth_pz`` when the file has those columns, and
        ``jet_pt, jet_eta, jet_phi, jet_mass`` of the constituent sum.
    Raises:
        DataFileError: missing/truncated/corrupted file, missing key or columns (named),
            NaN/inf momenta (first event named, as a file row index), empty rows without
            ``drop_empty``.
    """
    path = Path(path)
    return all_chunks(path, _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size))


def write_top_tagging_h5(
    events: ak.Array,
    path: str | Path,
    max_constituents: int = 200,
    overwrite: bool = False,
    dtype: str | np.dtype = "float32",
    complevel: int = 1,
) -> Path:
    """Write events in the Top Quark Tagging Reference Dataset layout, atomically.

    Columns ``E_i, PX_i, PY_i, PZ_i`` (i < ``max_constituents``, constituents in decreasing
    pT, zero-padded; events with more particles keep the hardest, with a warning), then
    ``truthE, truthPX, truthPY, truthPZ`` (from the event fields ``truth_E, truth_px, ...``
    where present, else 0), ``ttv`` (the event field ``ttv`` where present, else 0) and
    ``is_signal_new`` (= ``label``), in a pandas HDFStore under key ``table`` in PyTables
    "table" format (so readers can select rows and columns).

    Momenta are stored as ``dtype`` (default float32: half the bytes of float64, and ample for
    momenta; float64 is exact). pandas stores each column with the dtype of the DataFrame, so
    reading back gives the written values exactly, i.e. the original momenta rounded to
    ``dtype``. With ``complevel > 0`` (default 1) the table is zlib-compressed (the zero
    padding shrinks ~7×) with Fletcher-32 checksums, so a corrupted file is reported rather
    than read as wrong numbers; zlib and Fletcher-32 are standard HDF5 filters that pandas,
    PyTables and h5py read transparently. ``complevel=0`` writes an uncompressed file without
    checksums. ``charge``, ``pid``, ``jet``, ``d0``/``z0``, ``jets`` and other event fields
    are not part of the format and are not written; a particle whose four components are all
    zero cannot be told from padding.

    Arguments:
        events: schema events (validated first).
        path: the ``.h5`` file to write; parent directories are created.
        max_constituents: number of constituent slots per row (the reference has 200).
        overwrite: replace an existing file (default: raise DataFileError, file untouched).
        dtype: float dtype of the momentum and truth columns.
        complevel: zlib compression level 0–9 (0: no compression and no checksums).
    Returns:
        The path written.
    """
    import pandas as pd

    path = Path(path)
    validate_events(events, source=str(path))
    n_slots = int(max_constituents)
    if n_slots < 1:
        raise ValueError("write_top_tagging_h5: max_constituents must be positive")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"write_top_tagging_h5: dtype must be a float dtype, not {dtype}")
    refuse_overwrite(path, overwrite)
    counts = ak.num(events.particles, axis=1).to_numpy()
    n_truncated = int((counts > n_slots).sum())
    if n_truncated:
        warnings.warn(
            f"{path}: {n_truncated} event(s) have more than {n_slots} particles; "
            f"only the {n_slots} hardest are written",
            stacklevel=2,
        )
    n_events = len(events)
    block = padded_by_pt(events.particles, ("E", "px", "py", "pz"), n_slots, dtype)
    columns = [f"{c}_{i}" for i in range(n_slots) for c in _TT_COMPONENTS]
    frame = pd.DataFrame(block.reshape(n_events, 4 * n_slots), columns=columns)
    have = set(ak.fields(events))
    extra: dict[str, np.ndarray] = {}
    for column, field in _TT_TRUTH:
        values = ak.to_numpy(events[field]) if field in have else np.zeros(n_events)
        extra[column] = np.asarray(values, dtype=dtype)
    extra["ttv"] = np.asarray(ak.to_numpy(events["ttv"]), dtype=np.int64) if "ttv" in have else np.zeros(n_events, np.int64)
    extra[_TT_LABEL] = np.asarray(ak.to_numpy(events.label), dtype=np.int64)
    frame = pd.concat([frame, pd.DataFrame(extra)], axis=1)
    filters = {"complevel": int(complevel), "complib": "zlib", "fletcher32": True} if complevel else {}
    with atomic_path(path, overwrite=overwrite) as tmp:
        with pd.HDFStore(tmp, mode="w", **filters) as store:
            store.put(_TT_KEY, frame, format="table", track_times=False)
    return path


def describe_top_tagging_h5(path: str | Path) -> dict:
    """Cheap facts about a top-tagging HDF5 file: its layout and row count, no rows read.

    Returns
    -------
    dict
        ``kind`` ``"jets"``, ``n_events`` (rows), ``n_constituent_slots``, ``labels`` (None: the
        label column is not read), ``label_source`` ``"is_signal_new"``, ``has_truth_top``,
        ``has_particle_truth`` False, ``fields`` (the event fields a read gives).
    """
    import pandas as pd

    path = Path(path)
    require_file(path)
    try:
        with pd.HDFStore(path, mode="r") as store:
            layout = _tt_layout(store, path, 10**9)
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(path, f"is not a readable top-tagging HDF5 file (truncated or corrupted?): {short(exc)}") from None
    fields = ["label", *(["ttv"] if layout["ttv"] else []), *(f for _, f in layout["truth"]),
              "jet_pt", "jet_eta", "jet_phi", "jet_mass"]
    return {
        "kind": "jets",
        "n_events": layout["nrows"],
        "n_constituent_slots": layout["n_slots"],
        "labels": None,
        "label_source": _TT_LABEL,
        "has_truth_top": bool(layout["truth"]),
        "has_particle_truth": False,
        "fields": fields,
    }
