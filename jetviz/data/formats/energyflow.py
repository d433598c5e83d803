"""energyflow ``.npz``: ``X`` (N, M, 4) = (pT, rapidity y, φ, pid), zero-padded, and labels ``y``."""
from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Iterator

import awkward as ak
import numpy as np

from jetviz.data import pdg
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
from jetviz.data.io import atomic_write
from jetviz.data.schema import validate_events
from jetviz.data.validate import as_integers, require_finite, require_nonnegative
from jetviz.errors import DataFileError

__all__ = ["read_npz", "iterate_npz", "write_npz", "describe_npz"]


def _read_member_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(handle)
    raise ValueError(f"unsupported .npy format version {version}")


@contextlib.contextmanager
def _open_npz(path: Path) -> Iterator[tuple[zipfile.ZipFile, dict[str, str]]]:
    """The archive and its members by array name (``X`` -> ``X.npy``); clear errors otherwise."""
    require_file(path)
    with open(path, "rb") as probe:
        if probe.read(6) == b"\x93NUMPY":
            raise DataFileError(path, "is a single .npy array, not an .npz archive with X and y")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataFileError(path, f"is not a readable .npz archive (truncated or corrupted?): {short(exc)}") from None
    with archive:
        members = {name[:-4] if name.endswith(".npy") else name: name for name in archive.namelist()}
        missing = [k for k in ("X", "y") if k not in members]
        if missing:
            raise DataFileError(path, f"lacks array(s) {missing} (has {sorted(members)})")
        yield archive, members


def _npz_blocks(path: Path, step_size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(offset, X[offset:offset+step], y[...])`` read from the zip member without loading all of X."""
    if int(step_size) < 1:
        raise ValueError("step_size must be positive")
    with _open_npz(path) as (archive, members):
        try:
            with archive.open(members["y"]) as handle:
                labels = np.lib.format.read_array(handle, allow_pickle=False)
            with archive.open(members["X"]) as handle:
                shape, fortran, dtype = _read_member_header(handle)
                if dtype.hasobject or dtype.kind not in "fiu" or len(shape) != 3 or shape[2] not in (3, 4):
                    raise DataFileError(path, f"X has shape {shape} ({dtype}); expected (N, M, 4) numbers")
                if labels.shape != (shape[0],):
                    raise DataFileError(path, f"y has shape {labels.shape}; expected ({shape[0]},) to match X")
                whole = np.frombuffer(handle.read(), dtype=dtype).reshape(shape, order="F") if fortran else None
                row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
                for begin in range(0, shape[0], int(step_size)):
                    end = min(begin + int(step_size), shape[0])
                    if whole is not None:
                        block = whole[begin:end]
                    else:
                        data = handle.read((end - begin) * row_bytes)
                        if len(data) != (end - begin) * row_bytes:
                            raise DataFileError(path, f"X ends after {begin + len(data) // max(row_bytes, 1)} of {shape[0]} rows (truncated?)")
                        block = np.frombuffer(data, dtype=dtype).reshape((end - begin, *shape[1:]))
                    yield begin, block, labels[begin:end]
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"is not a readable .npz archive (truncated or corrupted?): {short(exc)}") from None


_NPZ_COLUMNS = ("X[..., 0] (pT)", "X[..., 1] (y)", "X[..., 2] (phi)", "X[..., 3] (pid)")


def _npz_chunk(
    path: Path, block: np.ndarray, labels: np.ndarray, offset: int, drop_empty: bool, validate: bool
) -> tuple[ak.Array, int]:
    label = integer_labels(path, labels, "y", offset)
    n_columns = block.shape[2]
    block = block.astype(np.float64, copy=False)
    mask, counts, flat = from_padded(block)
    rows = np.repeat(np.arange(len(counts)), counts)
    names = _NPZ_COLUMNS[:n_columns]
    if validate:
        require_finite(flat, path, names, rows, offset)
        require_nonnegative(flat[:, 0], path, names[0], "pT", rows=rows, offset=offset)
    pt, rapidity, phi = flat[:, 0], flat[:, 1], flat[:, 2]
    if n_columns == 4:
        pid = as_integers(flat[:, 3], path, names[3], rows, offset)
    else:
        pid = np.zeros(len(flat), dtype=np.int64)
    mass = pdg.mass(pid)
    transverse_mass = np.sqrt(pt**2 + mass**2)
    particles = {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": transverse_mass * np.sinh(rapidity),
        "E": transverse_mass * np.cosh(rapidity),
        "charge": pdg.charge(pid),
        "pid": pid,
        "jet": np.zeros(len(flat), dtype=np.int64),
    }
    return build_events(path, particles, counts, label, None, offset, drop_empty, padded=True, validate=validate)


def _npz_chunks(path: Path, step_size: int, drop_empty: bool, validate: bool) -> Iterator[tuple[ak.Array, int]]:
    for offset, block, labels in _npz_blocks(path, step_size):
        yield _npz_chunk(path, block, labels, offset, drop_empty, validate)


def iterate_npz(
    path: str | Path, step_size: int = DEFAULT_STEP, drop_empty: bool = False, validate: bool = True
) -> Iterator[ak.Array]:
    """Read an energyflow ``.npz`` chunk by chunk, streaming ``X`` out of the archive.

    Parameters
    ----------
    path : str or Path
    step_size : int
        Rows (jets) per chunk; only one chunk of ``X`` is decompressed into memory at a time.
    drop_empty : bool
        Drop all-zero rows (a warning per chunk) instead of raising.
    validate : bool
        Check values (finite, pT ≥ 0); pids must be integers either way.

    Yields
    ------
    ak.Array
        Schema events, as :func:`read_npz`.
    """
    path = Path(path)
    yield from each_chunk(path, _npz_chunks(path, step_size, drop_empty, validate))


def read_npz(path: str | Path, drop_empty: bool = False, step_size: int = DEFAULT_STEP, validate: bool = True) -> ak.Array:
    """Read an energyflow-style ``.npz``: ``X`` (N, M, 4) = (pT, y, φ, pid), zero-padded; ``y``.

    energyflow stores the *rapidity* y, not the pseudorapidity η. The momenta are rebuilt
    exactly from rapidity with the particle's mass taken from its pid
    (:data:`jetviz.data.pdg.MASSES`; unknown pids are massless, for which y = η):
    m_T = √(pT² + m²), pz = m_T sinh y, E = m_T cosh y; η is then computed from the momenta.
    The charge comes from the pid (:mod:`jetviz.data.pdg`). Files with 3 columns (no pid) give
    pid 0, massless, neutral. Files whose pid column was remapped to non-integer codes are refused.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file (never unpickled).
    drop_empty : bool
        Drop all-zero rows with a warning instead of raising.
    step_size : int
        Rows converted at a time.
    validate : bool
        Check values: finite, pT ≥ 0 (a negative pT is an error, never read as +pT at φ + π).

    Returns
    -------
    ak.Array
        Schema events with ``label`` = ``y`` and ``jet`` = 0 for every particle.

    Raises
    ------
    DataFileError
        Missing/truncated/corrupted file, missing ``X``/``y`` or wrong shapes, NaN/inf values
        (event named), empty rows without ``drop_empty``.
    """
    path = Path(path)
    return all_chunks(path, _npz_chunks(path, step_size, drop_empty, validate))


def describe_npz(path: str | Path) -> dict:
    """Cheap facts about an energyflow ``.npz``: the shape of ``X`` (its header only) and the labels ``y``.

    Returns
    -------
    dict
        ``kind`` ``"jets"``, ``n_events``, ``n_constituent_slots``, ``n_columns`` (3 or 4),
        ``labels`` (sorted distinct values of ``y``), ``label_source`` ``"y"``,
        ``has_particle_truth`` False, ``fields`` ``["label"]``.
    """
    path = Path(path)
    with _open_npz(path) as (archive, members):
        try:
            with archive.open(members["X"]) as handle:
                shape, _, dtype = _read_member_header(handle)
            with archive.open(members["y"]) as handle:
                labels = np.lib.format.read_array(handle, allow_pickle=False)
        except Exception as exc:
            raise DataFileError(path, f"is not a readable .npz archive (truncated or corrupted?): {short(exc)}") from None
    if len(shape) != 3 or dtype.hasobject:
        raise DataFileError(path, f"X has shape {shape} ({dtype}); expected (N, M, 4) numbers")
    values = np.unique(labels).tolist() if labels.dtype.kind in "iub" else None
    return {
        "kind": "jets",
        "n_events": int(shape[0]),
        "n_constituent_slots": int(shape[1]),
        "n_columns": int(shape[2]),
        "labels": values,
        "label_source": "y",
        "has_particle_truth": False,
        "fields": ["label"],
    }


def write_npz(events: ak.Array, path: str | Path, overwrite: bool = False) -> Path:
    """Write events as an energyflow-style ``.npz`` (``X`` (N, M, 4) float64, ``y`` int64), atomically.

    ``X[..., :] = (pT, y, φ, pid)`` with the rapidity y = asinh(pz / m_T),
    m_T = √(E² − pz²), computed from the stored momenta (so it is exact whatever the mass);
    particles are ordered by decreasing pT and zero-padded to M = the largest multiplicity.
    :func:`read_npz` rebuilds E from the pid's mass, so the round trip is exact (to rounding)
    for particles whose mass matches :data:`jetviz.data.pdg.MASSES` (unknown pids: massless). Only momenta,
    pid and ``label`` are stored: charge is re-derived from pid on reading; ``jet``, ``d0``/``z0``,
    ``jets`` and other event fields are not part of the format.

    Parameters
    ----------
    events
        schema events (validated first).
    path
        the file to write (numpy would append ``.npz`` to a bare name; we write the path
        as given).
    overwrite
        replace an existing file (default: raise DataFileError, file untouched).

    Returns
    -------
        The path written.
    """
    path = Path(path)
    validate_events(events, source=str(path))
    refuse_overwrite(path, overwrite)
    counts = ak.num(events.particles, axis=1).to_numpy()
    n_slots = int(counts.max()) if len(counts) else 0
    block = padded_by_pt(events.particles, ("pt", "pz", "E", "phi", "pid"), n_slots, np.float64)
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
