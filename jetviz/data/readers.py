"""Readers (and writers) for the public file formats jetviz events come in.

Every reader returns schema events (:func:`jetviz.data.schema.make_events`) and reports any
problem with the file as :class:`~jetviz.errors.DataFileError` naming the file and the problem:
missing file, truncated or corrupted file, missing columns/branches (named), NaN or infinite
momenta (with the index of the first offending event, counted from 0 in the file), negative
energies, and *empty events* (no particle left after removing the zero padding). Empty events
raise unless ``drop_empty=True``, which drops them and reports how many with
:func:`warnings.warn`.

Formats:

- **Top-tagging HDF5** (the "Top Quark Tagging Reference Dataset" layout): a pandas HDFStore
  with key ``table`` and columns ``E_i, PX_i, PY_i, PZ_i`` for i < 200 (zero-padded,
  constituents in decreasing pT), ``truthE, truthPX, truthPY, truthPZ`` (the matched top),
  ``ttv`` (0/1/2 = train/test/validation in the original files) and ``is_signal_new`` (1 = top).
  :func:`read_top_tagging_h5` / :func:`iterate_top_tagging_h5` read it in row chunks;
  :func:`write_top_tagging_h5` writes it.
- **Delphes ROOT** via uproot, chunked with :meth:`uproot.TTree.iterate`:
  :func:`iterate_delphes` / :func:`read_delphes`.
- **energyflow .npz**: ``X`` of shape (N, M, 4) with columns (pT, rapidity y, φ, pid),
  zero-padded, and ``y`` labels: :func:`read_npz` / :func:`write_npz`.

Writers go through :func:`jetviz.data.io.atomic_path` / :func:`~jetviz.data.io.atomic_write`
(temporary file in the same directory, fsync, rename) and refuse to overwrite by default.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import awkward as ak
import numpy as np

from jetviz.data.io import atomic_path, atomic_write
from jetviz.data.kinematics import invariant_mass, pt_eta_phi, wrap_phi
from jetviz.data.schema import make_events, validate_events
from jetviz.errors import DataFileError, SchemaError

__all__ = [
    "PID_MASSES",
    "PID_CHARGES",
    "pid_mass",
    "pid_charge",
    "read_top_tagging_h5",
    "iterate_top_tagging_h5",
    "write_top_tagging_h5",
    "iterate_delphes",
    "read_delphes",
    "read_npz",
    "write_npz",
]

#: Masses (GeV, PDG 2022) of the long-lived particles that reach a detector, by |PDG id|.
#: Unknown ids are treated as massless.
PID_MASSES: dict[int, float] = {
    11: 0.51099895e-3, 12: 0.0, 13: 0.1056583755, 14: 0.0, 15: 1.77686, 16: 0.0, 22: 0.0,
    111: 0.1349768, 130: 0.497611, 211: 0.13957039, 310: 0.497611, 311: 0.497611,
    321: 0.493677, 2112: 0.93956542052, 2212: 0.93827208816, 3112: 1.197449,
    3122: 1.115683, 3212: 1.192642, 3222: 1.18937, 3312: 1.32171, 3322: 1.31486,
    3334: 1.67245,
}
#: Electric charge (units of e) of the particle with a *positive* PDG id; the antiparticle
#: (negative id) has the opposite charge. Ids not listed are neutral.
PID_CHARGES: dict[int, int] = {
    11: -1, 13: -1, 15: -1, 211: 1, 321: 1, 2212: 1, 3112: -1, 3222: 1, 3312: -1, 3334: -1,
}

_DEFAULT_STEP = 10_000


# ----------------------------------------------------------------------------------------------
# helpers shared by all formats
# ----------------------------------------------------------------------------------------------
def _lookup(pid: np.ndarray, table: Mapping[int, float], default: float) -> np.ndarray:
    pid = np.asarray(pid, dtype=np.int64)
    unique, inverse = np.unique(np.abs(pid), return_inverse=True)
    values = np.array([table.get(int(u), default) for u in unique], dtype=np.float64)
    return values[inverse.reshape(pid.shape)] if unique.size else np.zeros(pid.shape)


def pid_mass(pid: np.ndarray) -> np.ndarray:
    """Mass (GeV) for each PDG id from :data:`PID_MASSES` (0 for ids not listed)."""
    return _lookup(pid, PID_MASSES, 0.0)


def pid_charge(pid: np.ndarray) -> np.ndarray:
    """Charge (units of e, float) for each PDG id from :data:`PID_CHARGES` (0 if not listed)."""
    pid = np.asarray(pid, dtype=np.int64)
    return _lookup(pid, PID_CHARGES, 0.0) * np.sign(pid)


def _short(exc: BaseException, limit: int = 200) -> str:
    """One line saying what a library exception says: its type and the gist of its message."""
    text = str(exc).strip()
    if text.startswith("HDF5 error back trace"):  # PyTables: the innermost reason is the useful one
        reasons = [
            line.strip()
            for line in text.split("End of HDF5 error back trace")[0].splitlines()[1:]
            if line.strip() and not line.strip().startswith("File ")
        ]
        text = reasons[-1] if reasons else "HDF5 error"
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def _require_file(path: Path) -> None:
    if not path.exists():
        raise DataFileError(path, "no such file")
    if path.is_dir():
        raise DataFileError(path, "is a directory, not a file")


def _strip_source(exc: SchemaError, path: Path) -> str:
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _build_events(
    path: Path,
    particles: dict[str, np.ndarray],
    counts: np.ndarray,
    label: np.ndarray,
    event_fields: dict[str, np.ndarray] | None,
    offset: int,
    drop_empty: bool,
    padded: bool = False,
) -> tuple[ak.Array, int]:
    """Check one chunk read from ``path`` and turn it into schema events.

    ``offset`` is the file index of the chunk's first event, so that messages name the event
    as counted in the file; ``padded`` says the format zero-pads (for the empty-event message).
    Returns ``(events, number of empty events dropped)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_events = len(counts)
    event_index = np.repeat(np.arange(n_events), counts)
    for name in ("px", "py", "pz", "E", "pt", "eta", "phi"):
        if name not in particles:
            continue
        bad = ~np.isfinite(particles[name])
        if bad.any():
            first = offset + int(event_index[np.flatnonzero(bad)[0]])
            raise DataFileError(
                path,
                f"particle {name} is NaN or infinite in event {first} "
                f"({int(bad.sum())} bad value(s) in events {offset}..{offset + n_events - 1})",
            )
    negative = particles["E"] < 0
    if negative.any():
        first = offset + int(event_index[np.flatnonzero(negative)[0]])
        raise DataFileError(path, f"negative particle energy in event {first}")
    label = np.broadcast_to(np.asarray(label), (n_events,))
    event_fields = dict(event_fields or {})
    empty = counts == 0
    n_empty = int(empty.sum())
    if n_empty:
        if not drop_empty:
            first = offset + int(np.flatnonzero(empty)[0])
            raise DataFileError(
                path,
                f"event {first} is empty ({'an all-zero row' if padded else 'no particles'}); "
                f"{n_empty} empty event(s) in events {offset}..{offset + n_events - 1}; "
                "pass drop_empty=True to drop them",
            )
        keep = ~empty
        counts, label = counts[keep], label[keep]
        event_fields = {k: np.asarray(v)[keep] for k, v in event_fields.items()}
    try:
        events = make_events(particles, counts, label, event_fields=event_fields, source=str(path))
    except SchemaError as exc:
        raise DataFileError(path, _strip_source(exc, path)) from None
    return events, n_empty


def _warn_dropped(path: Path, n_dropped: int) -> None:
    if n_dropped:
        warnings.warn(f"{path}: dropped {n_dropped} empty event(s) (no particles)", stacklevel=3)


def _integer_labels(path: Path, values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind != "f" or not np.all(np.isfinite(values)) or np.any(values != np.rint(values)):
        raise DataFileError(path, f"column {name!r} does not hold integer labels")
    return values.astype(np.int64)


def _concat(path: Path, chunks: list[ak.Array]) -> ak.Array:
    if not chunks:
        raise DataFileError(path, "holds no events in the requested range")
    return chunks[0] if len(chunks) == 1 else ak.to_packed(ak.concatenate(chunks, axis=0))


def _from_padded(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strip zero padding from ``(N, M, C)``: returns (mask (N, M), counts (N,), flat (n, C)).

    A slot is a particle when any of its C values is non-zero (NaN counts as non-zero, so a
    NaN in a padding slot is reported, not silently dropped).
    """
    mask = (block != 0).any(axis=2)
    return mask, mask.sum(axis=1), block[mask]


# ----------------------------------------------------------------------------------------------
# top-tagging reference dataset (pandas HDFStore)
# ----------------------------------------------------------------------------------------------
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
    mask, counts, flat = _from_padded(block)
    particles = {"E": flat[:, 0], "px": flat[:, 1], "py": flat[:, 2], "pz": flat[:, 3]}
    n_flat = len(flat)
    particles.update(charge=np.zeros(n_flat), pid=np.zeros(n_flat, np.int64), jet=np.zeros(n_flat, np.int64))
    label = _integer_labels(path, frame[_TT_LABEL].to_numpy(), _TT_LABEL)
    fields: dict[str, np.ndarray] = {}
    if layout["ttv"]:
        fields["ttv"] = _integer_labels(path, frame["ttv"].to_numpy(), "ttv")
    for column, field in layout["truth"]:
        fields[field] = frame[column].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        summed = np.where(mask[..., None], block, 0.0).sum(axis=1)
        jet_pt, jet_eta, jet_phi = pt_eta_phi(summed[:, 1], summed[:, 2], summed[:, 3])
        jet_mass = invariant_mass(summed[:, 1], summed[:, 2], summed[:, 3], summed[:, 0])
    fields.update(jet_pt=jet_pt, jet_eta=jet_eta, jet_phi=jet_phi, jet_mass=jet_mass)
    return _build_events(path, particles, counts, label, fields, offset, drop_empty, padded=True)


def _tt_chunks(
    path: str | Path, start: int, stop: int | None, max_constituents: int, drop_empty: bool, step_size: int
) -> Iterator[tuple[ak.Array, int]]:
    import pandas as pd

    path = Path(path)
    _require_file(path)
    if int(max_constituents) < 1 or int(step_size) < 1:
        raise ValueError("max_constituents and step_size must be positive")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:
        raise DataFileError(path, f"is not a readable HDF5 file (truncated or corrupted?): {_short(exc)}") from None
    try:
        try:
            layout = _tt_layout(store, path, max_constituents)
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"cannot read the layout of key {_TT_KEY!r}: {_short(exc)}") from None
        first, last, _ = slice(start, stop).indices(layout["nrows"])
        columns = layout["read"] if layout["is_table"] else None
        for begin in range(first, last, int(step_size)):
            end = min(begin + int(step_size), last)
            try:
                frame = store.select(_TT_KEY, start=begin, stop=end, columns=columns)
            except Exception as exc:
                raise DataFileError(
                    path, f"cannot read rows {begin}..{end - 1} (truncated or corrupted?): {_short(exc)}"
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
    step_size: int = _DEFAULT_STEP,
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
    for events, n_dropped in _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size):
        _warn_dropped(path, n_dropped)
        yield events


def read_top_tagging_h5(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    max_constituents: int = 200,
    drop_empty: bool = False,
    step_size: int = _DEFAULT_STEP,
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
    chunks, dropped = [], 0
    for events, n_dropped in _tt_chunks(path, start, stop, max_constituents, drop_empty, step_size):
        chunks.append(events)
        dropped += n_dropped
    _warn_dropped(path, dropped)
    return _concat(path, chunks)


def _padded_by_pt(particles: ak.Array, fields: Sequence[str], n_slots: int, dtype) -> np.ndarray:
    """``(N, n_slots, len(fields))`` array of particle fields, hardest pT first, zero-padded."""
    order = ak.argsort(particles.pt, axis=1, ascending=False, stable=True)
    ordered = particles[order]
    out = np.zeros((len(particles), n_slots, len(fields)), dtype=dtype)
    for j, name in enumerate(fields):
        padded = ak.fill_none(ak.pad_none(ordered[name], n_slots, axis=1, clip=True), 0)
        out[:, :, j] = ak.to_numpy(padded)
    return out


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
    if not overwrite and path.exists():
        raise DataFileError(path, "exists; refusing to overwrite it (pass overwrite=True to replace it)")
    counts = ak.num(events.particles, axis=1).to_numpy()
    n_truncated = int((counts > n_slots).sum())
    if n_truncated:
        warnings.warn(
            f"{path}: {n_truncated} event(s) have more than {n_slots} particles; "
            f"only the {n_slots} hardest are written",
            stacklevel=2,
        )
    n_events = len(events)
    block = _padded_by_pt(events.particles, ("E", "px", "py", "pz"), n_slots, dtype)
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


# ----------------------------------------------------------------------------------------------
# Delphes ROOT files (uproot)
# ----------------------------------------------------------------------------------------------
#: Delphes class of each collection this reader understands, and the leaves it reads.
_DELPHES_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required leaves, optional leaves)
    "gen": (("PID", "Status", "Charge", "Px", "Py", "Pz", "E"), ()),
    "track": (("PT", "Eta", "Phi", "Charge", "PID"), ("Mass", "D0", "DZ")),
    "tower": (("ET", "Eta", "Phi"), ("E",)),
}
_DELPHES_NAMES = {
    "Particle": "gen",
    "GenParticle": "gen",
    "EFlowTrack": "track",
    "Track": "track",
    "EFlowPhoton": "tower",
    "EFlowNeutralHadron": "tower",
    "Tower": "tower",
}


def _delphes_kind(collection: str, names: set[str]) -> str | None:
    if collection in _DELPHES_NAMES:
        return _DELPHES_NAMES[collection]
    for kind, leaf in (("gen", "Status"), ("track", "PT"), ("tower", "ET")):
        if _resolve_leaf(collection, leaf, names):
            return kind
    return None


def _resolve_leaf(collection: str, leaf: str, names: set[str]) -> str | None:
    """Branch name of ``collection``'s ``leaf``: Delphes' ``C.X`` or the flat ``C_X`` form."""
    for candidate in (f"{collection}.{leaf}", f"{collection}_{leaf}"):
        if candidate in names:
            return candidate
    return None


def _delphes_plan(path: Path, tree, tree_name: str, collections: Sequence[str]) -> list[dict]:
    names = set(tree.keys(recursive=True, full_paths=False)) | set(tree.keys(recursive=True))
    plan, missing = [], []
    for collection in collections:
        kind = _delphes_kind(collection, names)
        if kind is None:
            missing.append(f"{collection}.PT/.ET/.Px (no such collection)")
            continue
        required, optional = _DELPHES_KINDS[kind]
        leaves: dict[str, str] = {}
        for leaf in required:
            branch = _resolve_leaf(collection, leaf, names)
            if branch is None:
                missing.append(f"{collection}.{leaf}")
            else:
                leaves[leaf] = branch
        for leaf in optional:
            branch = _resolve_leaf(collection, leaf, names)
            if branch is not None:
                leaves[leaf] = branch
        plan.append({"collection": collection, "kind": kind, "leaves": leaves})
    if missing:
        raise DataFileError(
            path,
            f"tree {tree_name!r} lacks branch(es) {', '.join(missing)} "
            "(looked for Delphes 'Collection.Leaf' and flat 'Collection_Leaf' names)",
        )
    return plan


def _flat(array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)))


def _delphes_collection(entry: dict, arrays: ak.Array, with_tracks: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-event counts and flat schema fields of one collection in one chunk."""
    leaves, kind = entry["leaves"], entry["kind"]
    get = {leaf: arrays[branch] for leaf, branch in leaves.items()}
    reference = next(iter(get.values()))
    counts = np.asarray(ak.to_numpy(ak.num(reference, axis=1)), dtype=np.int64)
    for leaf, values in get.items():
        if not np.array_equal(ak.to_numpy(ak.num(values, axis=1)), counts):
            raise ValueError(f"branch {leaves[leaf]} has per-event lengths unlike the rest of {entry['collection']}")
    if kind == "gen":
        keep = get["Status"] == 1
        get = {leaf: values[keep] for leaf, values in get.items()}
        counts = np.asarray(ak.to_numpy(ak.num(get["PID"], axis=1)), dtype=np.int64)
        px, py, pz, energy = (_flat(get[k]).astype(np.float64) for k in ("Px", "Py", "Pz", "E"))
        pt, eta, phi = pt_eta_phi(px, py, pz)
        pid = _flat(get["PID"]).astype(np.int64)
        charge = _flat(get["Charge"]).astype(np.float64)
        d0 = z0 = np.full(len(px), np.nan)
    else:
        pt_leaf = "PT" if kind == "track" else "ET"
        pt = _flat(get[pt_leaf]).astype(np.float64)
        eta = _flat(get["Eta"]).astype(np.float64)
        phi = wrap_phi(_flat(get["Phi"]).astype(np.float64))
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        if kind == "track":
            pid = _flat(get["PID"]).astype(np.int64)
            charge = _flat(get["Charge"]).astype(np.float64)
            mass = _flat(get["Mass"]).astype(np.float64) if "Mass" in get else pid_mass(pid)
            energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
            d0 = _flat(get["D0"]).astype(np.float64) if "D0" in get else np.full(len(pt), np.nan)
            z0 = _flat(get["DZ"]).astype(np.float64) if "DZ" in get else np.full(len(pt), np.nan)
        else:
            photon = "Photon" in entry["collection"]
            pid = np.full(len(pt), 22 if photon else 0, dtype=np.int64)
            charge = np.zeros(len(pt))
            energy = _flat(get["E"]).astype(np.float64) if "E" in get else pt * np.cosh(eta)
            d0 = z0 = np.full(len(pt), np.nan)
    fields = dict(px=px, py=py, pz=pz, E=energy, pt=pt, eta=eta, phi=phi, charge=charge, pid=pid)
    if with_tracks:
        fields.update(d0=d0, z0=z0)
    return counts, fields


def _delphes_chunk(path: Path, plan: list[dict], arrays: ak.Array, offset: int, label: int, drop_empty: bool):
    with_tracks = any(e["kind"] == "track" and ("D0" in e["leaves"] or "DZ" in e["leaves"]) for e in plan)
    n_events = len(arrays)
    parts = [_delphes_collection(entry, arrays, with_tracks) for entry in plan]
    counts = np.zeros(n_events, dtype=np.int64)
    event_of = []
    for c, _ in parts:
        counts += c
        event_of.append(np.repeat(np.arange(n_events), c))
    order = np.argsort(np.concatenate(event_of), kind="stable")  # per event: collections in order
    particles = {name: np.concatenate([f[name] for _, f in parts])[order] for name in parts[0][1]}
    particles["jet"] = np.full(len(order), -1, dtype=np.int64)
    return _build_events(path, particles, counts, np.full(n_events, label, np.int64), None, offset, drop_empty)


def _delphes_chunks(
    path: str | Path, step_size, collections: Sequence[str], tree: str, label: int, drop_empty: bool
) -> Iterator[tuple[ak.Array, int]]:
    import uproot

    path = Path(path)
    _require_file(path)
    if isinstance(collections, str):
        collections = (collections,)
    if not collections:
        raise ValueError("iterate_delphes: give at least one collection")
    try:
        handle = uproot.open(path)
    except Exception as exc:
        raise DataFileError(path, f"is not a readable ROOT file (truncated or corrupted?): {_short(exc)}") from None
    with handle:
        try:
            keys = handle.keys(cycle=False)
            if tree not in keys:
                raise DataFileError(path, f"has no tree {tree!r} (keys: {sorted(set(keys))})")
            ttree = handle[tree]
            if not hasattr(ttree, "iterate") or not hasattr(ttree, "branches"):
                raise DataFileError(path, f"{tree!r} is a {type(ttree).__name__}, not a TTree")
            plan = _delphes_plan(path, ttree, tree, collections)
            expressions = sorted({b for entry in plan for b in entry["leaves"].values()})
            for arrays, report in ttree.iterate(expressions, step_size=step_size, report=True, library="ak"):
                yield _delphes_chunk(path, plan, arrays, int(report.tree_entry_start), label, drop_empty)
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"cannot be read (truncated or corrupted?): {_short(exc)}") from None


def iterate_delphes(
    path: str | Path,
    step_size: int | str = _DEFAULT_STEP,
    collections: Sequence[str] = ("EFlowTrack", "EFlowPhoton", "EFlowNeutralHadron"),
    tree: str = "Delphes",
    label: int = 0,
    drop_empty: bool = False,
) -> Iterator[ak.Array]:
    """Read a Delphes ROOT file chunk by chunk with uproot (``TTree.iterate``).

    Each event's particles are the entries of ``collections``, concatenated in that order:

    - track collections (``EFlowTrack``, ``Track``; Delphes class ``Track``): ``PT, Eta, Phi,
      Charge, PID`` and, when present, ``Mass`` (else the mass of the PID from
      :data:`PID_MASSES`), ``D0`` and ``DZ`` → ``d0``, ``z0`` (mm);
    - tower collections (``EFlowPhoton``, ``EFlowNeutralHadron``, ``Tower``; class ``Tower``):
      massless ``ET, Eta, Phi`` (pT = ET) with energy from ``E`` when present; charge 0,
      pid 22 for photon collections and 0 (unknown) otherwise; ``d0``/``z0`` NaN;
    - the generator collection ``Particle`` (class ``GenParticle``): ``Px, Py, Pz, E, PID,
      Charge``, keeping ``Status == 1`` only.

    ``d0``/``z0`` exist when a track collection has ``D0``/``DZ``. Branches are looked up by
    Delphes' names (``EFlowTrack.PT``, nested under ``EFlowTrack`` in real Delphes files) or
    in the flat ``EFlowTrack_PT`` form; a test file written with uproot (which cannot write
    Delphes' split TClonesArray branches) uses top-level ``EFlowTrack.PT`` branches with an
    ``EFlowTrack_size`` counter, which both forms cover. Unknown collection names are
    accepted when their leaves tell the class (``Status``: generator, ``PT``: track, ``ET``:
    tower).

    Arguments:
        path: the ROOT file.
        step_size: entries per chunk (or an uproot size string such as ``"100 MB"``).
        collections: collection (branch) names to read, in the order particles are listed.
        tree: the TTree name.
        label: the per-event label given to every event (a Delphes file holds one sample).
        drop_empty: drop events without particles (warning per chunk) instead of raising.
    Returns:
        An iterator of schema events arrays, one per chunk; ``jet`` is −1 (no truth clustering).
    Raises:
        DataFileError: missing, truncated or corrupted file, missing tree or branches (named),
            NaN/inf momenta (first event named, as an entry number of the tree), empty events.
    """
    path = Path(path)
    for events, n_dropped in _delphes_chunks(path, step_size, collections, tree, label, drop_empty):
        _warn_dropped(path, n_dropped)
        yield events


def read_delphes(
    path: str | Path,
    step_size: int | str = _DEFAULT_STEP,
    collections: Sequence[str] = ("EFlowTrack", "EFlowPhoton", "EFlowNeutralHadron"),
    tree: str = "Delphes",
    label: int = 0,
    drop_empty: bool = False,
) -> ak.Array:
    """Read a whole Delphes ROOT file: :func:`iterate_delphes` concatenated.

    Arguments:
        path, step_size, collections, tree, label, drop_empty: as for :func:`iterate_delphes`.
    Returns:
        Schema events, one per tree entry kept.
    """
    path = Path(path)
    chunks, dropped = [], 0
    for events, n_dropped in _delphes_chunks(path, step_size, collections, tree, label, drop_empty):
        chunks.append(events)
        dropped += n_dropped
    _warn_dropped(path, dropped)
    return _concat(path, chunks)


# ----------------------------------------------------------------------------------------------
# energyflow .npz
# ----------------------------------------------------------------------------------------------
def read_npz(path: str | Path, drop_empty: bool = False) -> ak.Array:
    """Read an energyflow-style ``.npz``: ``X`` (N, M, 4) = (pT, y, φ, pid), zero-padded; ``y``.

    energyflow stores the *rapidity* y, not the pseudorapidity η. The momenta are rebuilt
    exactly from rapidity with the particle's mass taken from its pid (:data:`PID_MASSES`;
    unknown pids are massless, for which y = η): m_T = √(pT² + m²), pz = m_T sinh y,
    E = m_T cosh y; η is then computed from the momenta. The charge comes from the pid
    (:data:`PID_CHARGES`). Files with 3 columns (no pid) give pid 0, massless, neutral.
    Files whose pid column was remapped to non-integer codes are refused.

    Arguments:
        path: the ``.npz`` file (read with ``allow_pickle=False``).
        drop_empty: drop all-zero rows with a warning instead of raising.
    Returns:
        Schema events with ``label`` = ``y`` and ``jet`` = 0 for every particle.
    Raises:
        DataFileError: missing/truncated/corrupted file, missing ``X``/``y`` or wrong shapes,
            NaN/inf values (event named), empty rows without ``drop_empty``.
    """
    path = Path(path)
    _require_file(path)
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise DataFileError(path, "is a single .npy array, not an .npz archive with X and y")
            missing = [k for k in ("X", "y") if k not in archive.files]
            if missing:
                raise DataFileError(path, f"lacks array(s) {missing} (has {sorted(archive.files)})")
            block = np.asarray(archive["X"])
            labels = np.asarray(archive["y"])
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(path, f"is not a readable .npz archive (truncated or corrupted?): {_short(exc)}") from None
    if block.ndim != 3 or block.shape[2] not in (3, 4) or block.dtype.kind not in "fiu":
        raise DataFileError(path, f"X has shape {block.shape} ({block.dtype}); expected (N, M, 4) numbers")
    if labels.shape != (block.shape[0],):
        raise DataFileError(path, f"y has shape {labels.shape}; expected ({block.shape[0]},) to match X")
    label = _integer_labels(path, labels, "y")
    block = block.astype(np.float64, copy=False)
    mask, counts, flat = _from_padded(block)
    pt, rapidity, phi = flat[:, 0], flat[:, 1], flat[:, 2]
    if block.shape[2] == 4:
        pid_values = flat[:, 3]
        finite = np.isfinite(pid_values)
        if np.any(finite & (pid_values != np.rint(np.where(finite, pid_values, 0)))):
            raise DataFileError(path, "X[..., 3] holds non-integer pid values (remapped pids are not supported)")
        pid = np.where(finite, np.rint(np.where(finite, pid_values, 0)), 0).astype(np.int64)
    else:
        pid = np.zeros(len(flat), dtype=np.int64)
    event_index = np.repeat(np.arange(len(counts)), counts)
    for j, name in enumerate(("pT", "y", "phi", "pid")[: block.shape[2]]):
        bad = ~np.isfinite(flat[:, j])
        if bad.any():
            raise DataFileError(
                path, f"X {name} is NaN or infinite in event {int(event_index[np.flatnonzero(bad)[0]])}"
            )
    mass = pid_mass(pid)
    transverse_mass = np.sqrt(pt**2 + mass**2)
    particles = {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": transverse_mass * np.sinh(rapidity),
        "E": transverse_mass * np.cosh(rapidity),
        "charge": pid_charge(pid),
        "pid": pid,
        "jet": np.zeros(len(flat), dtype=np.int64),
    }
    events, dropped = _build_events(path, particles, counts, label, None, 0, drop_empty, padded=True)
    _warn_dropped(path, dropped)
    return events


def write_npz(events: ak.Array, path: str | Path, overwrite: bool = False) -> Path:
    """Write events as an energyflow-style ``.npz`` (``X`` (N, M, 4) float64, ``y`` int64), atomically.

    ``X[..., :] = (pT, y, φ, pid)`` with the rapidity y = asinh(pz / m_T),
    m_T = √(E² − pz²), computed from the stored momenta (so it is exact whatever the mass);
    particles are ordered by decreasing pT and zero-padded to M = the largest multiplicity.
    :func:`read_npz` rebuilds E from the pid's mass, so the round trip is exact (to rounding)
    for particles whose mass matches :data:`PID_MASSES` (unknown pids: massless). Only momenta,
    pid and ``label`` are stored: charge is re-derived from pid on reading; ``jet``, ``d0``/``z0``,
    ``jets`` and other event fields are not part of the format.

    Arguments:
        events: schema events (validated first).
        path: the file to write (numpy would append ``.npz`` to a bare name; we write the path
            as given).
        overwrite: replace an existing file (default: raise DataFileError, file untouched).
    Returns:
        The path written.
    """
    path = Path(path)
    validate_events(events, source=str(path))
    if not overwrite and path.exists():
        raise DataFileError(path, "exists; refusing to overwrite it (pass overwrite=True to replace it)")
    counts = ak.num(events.particles, axis=1).to_numpy()
    n_slots = int(counts.max()) if len(counts) else 0
    block = _padded_by_pt(events.particles, ("pt", "pz", "E", "phi", "pid"), n_slots, np.float64)
    pt, pz, energy, phi, pid = (block[..., j] for j in range(5))
    transverse_mass = np.sqrt(np.maximum(energy**2 - pz**2, pt**2))
    with np.errstate(invalid="ignore", divide="ignore"):
        rapidity = np.where(transverse_mass > 0, np.arcsinh(pz / np.where(transverse_mass > 0, transverse_mass, 1.0)), 0.0)
    present = np.arange(n_slots)[None, :] < counts[:, None]
    rapidity = np.where(present, rapidity, 0.0)
    out = np.stack([pt, rapidity, phi, pid], axis=-1)
    labels = np.asarray(ak.to_numpy(events.label), dtype=np.int64)
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        np.savez_compressed(handle, X=out, y=labels)
    return path
