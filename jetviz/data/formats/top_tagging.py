"""Top-tagging HDF5: the layout of the public "Top Quark Tagging Reference Dataset".

A pandas HDFStore with key ``table`` and columns ``E_i, PX_i, PY_i, PZ_i`` for i < 200 (GeV,
zero-padded, constituents in decreasing pT), ``truthE, truthPX, truthPY, truthPZ`` (the matched
top), ``ttv`` (0/1/2 = train/test/validation in the original files) and ``is_signal_new``
(1 = top), in PyTables "table" format (as ``DataFrame.to_hdf(..., format="table")`` writes it)
or pandas' "fixed" format.

Rows are read straight from the PyTables table (or the fixed format's block arrays) a range at a
time, without building a DataFrame: :func:`iterate_top_tagging_arrays` yields the constituents of
each row range as one ``(n, S, 4)`` block (E, px, py, pz), the fast path for consumers that want
padded arrays; :func:`read_top_tagging_h5` / :func:`iterate_top_tagging_h5` turn the same blocks
into schema events. :func:`write_top_tagging_h5` writes the layout (atomically, refusing to
overwrite by default).

Every block is validated (:mod:`jetviz.data.validate`) before it is used: numeric columns,
finite values, E ≥ |p| per constituent slot, integer labels; errors name the file, the column
(``PX_17``) and the row.
"""
from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import awkward as ak
import numpy as np

from jetviz.data.formats._common import (
    DEFAULT_STEP,
    JetBlock,
    all_chunks,
    build_events,
    each_chunk,
    integer_labels,
    padded_by_pt,
    refuse_overwrite,
    require_file,
    short,
)
from jetviz.data.io import atomic_path
from jetviz.data.kinematics import invariant_mass, pt_eta_phi
from jetviz.data.schema import validate_events
from jetviz.data.validate import require_energy_above_momentum, require_finite, require_numeric
from jetviz.errors import DataFileError

__all__ = [
    "read_top_tagging_h5",
    "iterate_top_tagging_h5",
    "iterate_top_tagging_arrays",
    "write_top_tagging_h5",
    "describe_top_tagging_h5",
]

_TT_KEY = "table"
_TT_COMPONENTS = ("E", "PX", "PY", "PZ")
_TT_TRUTH = (("truthE", "truth_E"), ("truthPX", "truth_px"), ("truthPY", "truth_py"), ("truthPZ", "truth_pz"))
_TT_LABEL = "is_signal_new"
_TT_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")


@dataclass
class _Layout:
    """Where each needed column lives: ``{column: (block, position)}``, and the row count."""

    is_table: bool
    nrows: int
    n_slots: int
    where: dict[str, tuple[str, int]]
    truth: list[tuple[str, str]]
    has_ttv: bool
    blocks: dict[str, object] = field(default_factory=dict)  # fixed format: block name -> node


def _column_blocks(storer) -> tuple[dict[str, tuple[str, int]], dict[str, np.dtype], dict[str, object]]:
    """``{column: (block, position)}``, ``{column: dtype}`` and (fixed format) the block nodes."""
    where, dtypes, nodes = {}, {}, {}
    if getattr(storer, "is_table", False):
        table = storer.table
        for axis in storer.values_axes:
            names = [str(v) for v in np.atleast_1d(axis.values)]
            column_dtype = np.dtype(table.coldtypes[axis.cname].base)
            for k, name in enumerate(names):
                where[name] = (axis.cname, k)
                dtypes[name] = column_dtype
        return where, dtypes, nodes
    group = storer.group
    for k in range(int(storer.nblocks)):
        items = [v.decode() if isinstance(v, bytes) else str(v) for v in storer.read_index(f"block{k}_items")]
        node = getattr(group, f"block{k}_values")
        atom = getattr(node, "atom", None)
        node_dtype = np.dtype(atom.dtype) if atom is not None and getattr(atom, "kind", "") != "object" else np.dtype(object)
        if type(node).__name__ == "VLArray":
            node_dtype = np.dtype(object)
        nodes[f"block{k}"] = node
        for j, name in enumerate(items):
            where[name] = (f"block{k}", j)
            dtypes[name] = node_dtype
    return where, dtypes, nodes


def _layout(store, path: Path, max_constituents: int) -> _Layout:
    keys = [k.lstrip("/") for k in store.keys()]
    if _TT_KEY not in keys:
        raise DataFileError(path, f"has no key {_TT_KEY!r} (keys: {keys}); not the top-tagging layout")
    storer = store.get_storer(_TT_KEY)
    is_table = bool(getattr(storer, "is_table", False))
    nrows = int(storer.nrows) if is_table else int(storer.shape[0])
    where, dtypes, nodes = _column_blocks(storer)
    indices = [int(m.group(2)) for m in map(_TT_COLUMN.match, where) if m]
    if not indices:
        raise DataFileError(path, "has no constituent columns E_0, PX_0, PY_0, PZ_0, ...")
    n_slots = min(int(max_constituents), max(indices) + 1)
    needed = [f"{c}_{i}" for i in range(n_slots) for c in _TT_COMPONENTS] + [_TT_LABEL]
    missing = [c for c in needed if c not in where]
    if missing:
        shown = ", ".join(missing[:12]) + (f", ... ({len(missing)} in all)" if len(missing) > 12 else "")
        raise DataFileError(path, f"lacks column(s) {shown}")
    truth = [(col, name) for col, name in _TT_TRUTH if col in where]
    has_ttv = "ttv" in where
    for column in needed + [c for c, _ in truth] + (["ttv"] if has_ttv else []):
        require_numeric(dtypes[column], path, column)
    return _Layout(is_table, nrows, n_slots, {c: where[c] for c in needed + [c for c, _ in truth] + (["ttv"] if has_ttv else [])},
                   truth, has_ttv, nodes)


@contextlib.contextmanager
def _open(path: Path, max_constituents: int) -> Iterator[tuple[object, _Layout]]:
    import pandas as pd

    require_file(path)
    if int(max_constituents) < 1:
        raise ValueError("max_constituents must be positive")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:
        raise DataFileError(path, f"is not a readable HDF5 file (truncated or corrupted?): {short(exc)}") from None
    try:
        try:
            layout = _layout(store, path, max_constituents)
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"cannot read the layout of key {_TT_KEY!r}: {short(exc)}") from None
        yield store, layout
    finally:
        store.close()


def _gather(blocks: dict[str, np.ndarray], layout: _Layout, columns: list[str]) -> np.ndarray:
    """``(n, len(columns))`` values of ``columns``; a plain slice when they sit in order in one block."""
    names = {layout.where[c][0] for c in columns}
    if len(names) == 1:
        (name,) = names
        positions = np.array([layout.where[c][1] for c in columns])
        values = blocks[name]
        if np.array_equal(positions, np.arange(positions[0], positions[0] + len(positions))):
            return values[:, positions[0] : positions[0] + len(positions)]
        return values[:, positions]
    return np.stack([blocks[layout.where[c][0]][:, layout.where[c][1]] for c in columns], axis=1)


def _read_rows(store, layout: _Layout, begin: int, end: int) -> dict[str, np.ndarray]:
    """The needed blocks of rows ``begin:end`` as 2-D arrays ``{block: (n, k)}``."""
    wanted = {block for block, _ in layout.where.values()}
    storer = store.get_storer(_TT_KEY)
    if layout.is_table:
        records = storer.table.read(start=begin, stop=end)
        return {name: records[name].reshape(len(records), -1) for name in wanted}
    out = {}
    for name in wanted:
        node = layout.blocks[name]
        if getattr(node.attrs, "transposed", False):  # pandas stores a block's (columns, rows) values transposed
            out[name] = np.asarray(node[begin:end])
        else:
            out[name] = np.asarray(node[:, begin:end]).T
    return out


def _blocks(
    path: Path, start: int, stop: int | None, max_constituents: int, step_size: int, validate: bool
) -> Iterator[JetBlock]:
    if int(step_size) < 1:
        raise ValueError("step_size must be positive")
    with _open(path, max_constituents) as (store, layout):
        constituent_columns = [f"{c}_{i}" for i in range(layout.n_slots) for c in _TT_COMPONENTS]
        energy_columns = constituent_columns[0::4]
        first, last, _ = slice(start, stop).indices(layout.nrows)
        for begin in range(first, last, int(step_size)):
            end = min(begin + int(step_size), last)
            try:
                blocks = _read_rows(store, layout, begin, end)
            except Exception as exc:
                raise DataFileError(
                    path, f"cannot read rows {begin}..{end - 1} (truncated or corrupted?): {short(exc)}"
                ) from None
            flat = _gather(blocks, layout, constituent_columns)
            if len(flat) != end - begin:
                raise DataFileError(path, f"rows {begin}..{end - 1}: got {len(flat)} rows (truncated?)")
            p4 = flat.reshape(end - begin, layout.n_slots, 4)
            truth_columns = [c for c, _ in layout.truth]
            truth = _gather(blocks, layout, truth_columns).astype(np.float64) if truth_columns else np.zeros((len(p4), 0))
            if validate:
                require_finite(flat, path, constituent_columns, offset=begin)
                require_energy_above_momentum(p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3], path, energy_columns,
                                              offset=begin)
                require_finite(truth, path, truth_columns, offset=begin)
            label = integer_labels(path, _gather(blocks, layout, [_TT_LABEL])[:, 0], _TT_LABEL, begin)
            fields = {name: truth[:, k] for k, (_, name) in enumerate(layout.truth)}
            if layout.has_ttv:
                fields["ttv"] = integer_labels(path, _gather(blocks, layout, ["ttv"])[:, 0], "ttv", begin)
            yield JetBlock(begin, p4, label, fields)


def iterate_top_tagging_arrays(
    path: str | Path,
    step_size: int = DEFAULT_STEP,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    validate: bool = True,
) -> Iterator[JetBlock]:
    """Read a top-tagging file as padded constituent blocks, ``step_size`` rows at a time.

    The fast path for padded-array consumers (constituent transformers, jet images): rows are
    read straight from PyTables into an ``(n, S, 4)`` array in the file's dtype (float32 in the
    public files), with no DataFrame and no awkward records.

    Parameters
    ----------
    path : str or Path
    step_size : int
        Rows per block; one block in memory at a time.
    start, stop : int
        Row range, Python slice semantics.
    max_constituents : int
        Slots S read per row (at most those in the file).
    validate : bool
        Check finite values and E ≥ |p| (:mod:`jetviz.data.validate`).

    Yields
    ------
    JetBlock
    """
    yield from _blocks(Path(path), start, stop, max_constituents, step_size, validate)


def _to_events(path: Path, block: JetBlock, drop_empty: bool, validate: bool) -> tuple[ak.Array, int]:
    p4 = block.p4.astype(np.float64)
    mask = (p4 != 0).any(axis=2)
    counts = mask.sum(axis=1)
    flat = p4[mask]
    n_flat = len(flat)
    particles = {"E": flat[:, 0], "px": flat[:, 1], "py": flat[:, 2], "pz": flat[:, 3],
                 "charge": np.zeros(n_flat), "pid": np.zeros(n_flat, np.int64), "jet": np.zeros(n_flat, np.int64)}
    fields: dict[str, np.ndarray] = dict(block.fields)
    summed = p4.sum(axis=1)
    jet_pt, jet_eta, jet_phi = pt_eta_phi(summed[:, 1], summed[:, 2], summed[:, 3])
    jet_mass = invariant_mass(summed[:, 1], summed[:, 2], summed[:, 3], summed[:, 0])
    fields.update(jet_pt=jet_pt, jet_eta=jet_eta, jet_phi=jet_phi, jet_mass=jet_mass)
    return build_events(path, particles, counts, block.label, fields, block.offset, drop_empty, padded=True,
                        validate=validate)


def _tt_chunks(path: Path, start, stop, max_constituents, drop_empty, step_size, validate) -> Iterator[tuple[ak.Array, int]]:
    for block in _blocks(path, start, stop, max_constituents, step_size, validate):
        yield _to_events(path, block, drop_empty, validate)


def iterate_top_tagging_h5(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    drop_empty: bool = False,
    step_size: int = DEFAULT_STEP,
    validate: bool = True,
) -> Iterator[ak.Array]:
    """Read a top-tagging HDF5 file as schema events, chunk by chunk.

    Parameters
    ----------
    path, start, stop, max_constituents, step_size, validate
        As for :func:`iterate_top_tagging_arrays`.
    drop_empty : bool
        Drop rows without constituents (a warning per chunk) instead of raising.

    Yields
    ------
    ak.Array
        Schema events, one chunk at a time (see :func:`read_top_tagging_h5`).
    """
    path = Path(path)
    yield from each_chunk(path, _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size, validate))


def read_top_tagging_h5(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    drop_empty: bool = False,
    step_size: int = DEFAULT_STEP,
    validate: bool = True,
) -> ak.Array:
    """Read (a row range of) a file in the Top Quark Tagging Reference Dataset layout.

    Momentum columns of any numeric dtype are accepted and converted to float64 (the public
    files and :func:`write_top_tagging_h5` hold float32).

    Parameters
    ----------
    path : str or Path
    start, stop : int
        Row range, Python slice semantics (``stop=None``: to the end).
    max_constituents : int
        Read at most this many constituent slots per row.
    drop_empty : bool
        Drop rows without any constituent and warn how many, instead of raising.
    step_size : int
        Rows per read.
    validate : bool
        Check values (:mod:`jetviz.data.validate`).

    Returns
    -------
    ak.Array
        Schema events, one per row kept: particles are the non-zero constituents in file order,
        with ``charge = 0``, ``pid = 0`` (the format has no particle identification) and
        ``jet = 0``; ``label`` = ``is_signal_new``; event fields ``ttv`` and
        ``truth_E, truth_px, truth_py, truth_pz`` when the file has those columns, and
        ``jet_pt, jet_eta, jet_phi, jet_mass`` of the constituent sum.

    Raises
    ------
    DataFileError
        Missing/truncated/corrupted file, missing key or columns (named), non-numeric columns,
        NaN/inf values or E < |p| (column and row named), empty rows without ``drop_empty``.
    """
    path = Path(path)
    return all_chunks(path, _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size, validate))


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

    Parameters
    ----------
    events
        schema events (validated first).
    path
        the ``.h5`` file to write; parent directories are created.
    max_constituents
        number of constituent slots per row (the reference has 200).
    overwrite
        replace an existing file (default: raise DataFileError, file untouched).
    dtype
        float dtype of the momentum and truth columns.
    complevel
        zlib compression level 0–9 (0: no compression and no checksums).

    Returns
    -------
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
    for column, name in _TT_TRUTH:
        values = ak.to_numpy(events[name]) if name in have else np.zeros(n_events)
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
    with _open(Path(path), 10**9) as (_, layout):
        fields = ["label", *(["ttv"] if layout.has_ttv else []), *(f for _, f in layout.truth),
                  "jet_pt", "jet_eta", "jet_phi", "jet_mass"]
        return {
            "kind": "jets",
            "n_events": layout.nrows,
            "n_constituent_slots": layout.n_slots,
            "labels": None,
            "label_source": _TT_LABEL,
            "has_truth_top": bool(layout.truth),
            "has_particle_truth": False,
            "fields": fields,
        }
