"""One validation layer for every reader, the sample cache and in-memory events.

Every check names the data (a file, or a description such as ``"top_qcd (seed 3)"``), the
*column* and the first offending *event* (counted from 0 as stored in the file: an HDF5 row, a
ROOT entry, an ``.npz``/Parquet index, an LHE ``<event>`` block) and says what is wrong. When the
data is a file (a :class:`~pathlib.Path`) the error is a :class:`~jetviz.errors.DataFileError`,
otherwise a :class:`~jetviz.errors.SchemaError`.

The checks
----------
- **numeric dtypes**: momentum, energy, angle, charge, pid, label and truth columns are
  booleans, integers or floats (not strings or Python objects);
- **finite values** in every numeric field of particles, jets and events (``d0``/``z0`` may be
  NaN: "no track"; never ±inf);
- **E ≥ |p|** for every particle and jet, i.e. m² ≥ 0, within the tolerance
  E ≥ |p| − (:data:`E_REL_TOL` · |p| + :data:`E_ABS_TOL`): a relative 8 float32 ulps
  (8 · 2⁻²³ ≈ 9.5·10⁻⁷) plus 10⁻⁶ GeV. Files that store E and p as float32 (the public
  top-tagging set, Delphes) round each to half an ulp, and massless constituents then show
  E < |p| by up to ~2 ulps; E computed in float32 arithmetic adds a few more. A genuinely
  unphysical E (by 10⁻⁶ of |p| or more) is reported;
- **pT ≥ 0** where a format stores pT (``.npz``, Delphes ``PT``/``ET``) and **mass ≥ 0** where
  it stores a mass (Delphes ``Mass``);
- **integer PIDs and labels**: integer dtypes, or floats holding whole numbers (211.0 is read
  as 211; 211.5 is an error, never truncated).

Every reader takes ``validate=True``; ``validate=False`` skips the value checks (finite,
E ≥ |p|, pT ≥ 0, mass ≥ 0) for users who know their data, never the dtype and structure checks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import awkward as ak
import numpy as np

from jetviz.errors import DataFileError, JetvizError, SchemaError

__all__ = [
    "E_REL_TOL",
    "E_ABS_TOL",
    "Source",
    "error",
    "require_numeric",
    "require_finite",
    "require_nonnegative",
    "require_energy_above_momentum",
    "as_integers",
    "check_particle_arrays",
    "check_events",
]

#: Relative tolerance of E ≥ |p|: 8 float32 ulps (8 · 2⁻²³).
E_REL_TOL = 8 * 2.0**-23
#: Absolute tolerance of E ≥ |p|, GeV.
E_ABS_TOL = 1e-6

#: What the data is: a file (errors are DataFileError) or a description (errors are SchemaError).
Source = Path | str

Columns = str | Sequence[str]


def error(source: Source, problem: str) -> JetvizError:
    """The error for ``problem`` in ``source``: DataFileError for a file, SchemaError otherwise."""
    if isinstance(source, Path):
        return DataFileError(source, problem)
    return SchemaError(f"{source}: {problem}")


def _first(bad: np.ndarray, columns: Columns, rows: np.ndarray | None, offset: int) -> tuple[str, int, tuple]:
    """Column name, file event index and array index of the first True in ``bad`` ((n,) or (n, k))."""
    index = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), bad.shape)
    column = columns if isinstance(columns, str) else columns[index[1] if bad.ndim > 1 else 0]
    row = int(rows[index[0]]) if rows is not None else int(index[0])
    return column, offset + row, index


def _report(source, bad, columns, rows, offset, describe) -> None:
    column, row, index = _first(bad, columns, rows, offset)
    count = int(bad.sum())
    more = f" ({count} such values in this read)" if count > 1 else ""
    raise error(source, f"column {column!r}, event {row}: {describe(index)}{more}")


def require_numeric(dtype: np.dtype, source: Source, column: str) -> None:
    """Raise unless ``dtype`` is boolean, integer or floating point."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise error(source, f"column {column!r} is not numeric (dtype {dtype}); expected numbers")


def require_finite(
    values: np.ndarray, source: Source, columns: Columns, rows: np.ndarray | None = None, offset: int = 0,
    allow_nan: bool = False,
) -> None:
    """Raise at the first NaN or ±inf (±inf only with ``allow_nan``).

    Parameters
    ----------
    values : (n,) or (n, k) array
        One entry per row (or per flat particle when ``rows`` is given); k columns named by ``columns``.
    columns : str or sequence of k str
    rows : (n,) int array, optional
        File event index (before ``offset``) of each entry; default: the entry's position.
    offset : int
        Added to the event index (the chunk's first event in the file).
    allow_nan : bool
        Accept NaN (fields where NaN means "absent", e.g. ``d0``), still refuse ±inf.
    """
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        _report(source, bad, columns, rows, offset,
                lambda i: "NaN" if np.isnan(values[i]) else f"{values[i]} (not finite)")


def require_nonnegative(
    values: np.ndarray, source: Source, columns: Columns, quantity: str, unit: str = "GeV",
    rows: np.ndarray | None = None, offset: int = 0,
) -> None:
    """Raise at the first negative value (``quantity`` names it in the message, e.g. ``"pT"``)."""
    values = np.asarray(values)
    bad = values < 0
    if bad.any():
        _report(source, bad, columns, rows, offset, lambda i: f"{quantity} = {values[i]:.6g} {unit} is negative")


def require_energy_above_momentum(
    E: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, source: Source, columns: Columns,
    rows: np.ndarray | None = None, offset: int = 0,
) -> None:
    """Raise at the first E < |p| − (E_REL_TOL·|p| + E_ABS_TOL), i.e. an unphysical (m² < 0) four-vector.

    ``E, px, py, pz`` (GeV) have one shape, (n,) or (n, k); ``columns`` names the energy column(s).
    """
    arrays = [np.asarray(a) for a in (E, px, py, pz)]
    if all(a.dtype == np.float32 for a in arrays):
        # float32 data: a cheap float32 pass first. |p| computed in float32 is within 3 ulps of
        # the exact value, so every violation of the tolerance (8 ulps) has E below 0.9999995·|p|₃₂;
        # only those candidates are checked exactly in float64.
        e32, x32, y32, z32 = arrays
        with np.errstate(invalid="ignore", over="ignore"):
            candidates = e32 < np.sqrt(x32 * x32 + y32 * y32 + z32 * z32) * np.float32(1 - 4 * 2.0**-23) - np.float32(E_ABS_TOL)
        if not candidates.any():
            return
    E, px, py, pz = (a.astype(np.float64) for a in arrays)
    p = np.sqrt(px**2 + py**2 + pz**2)
    with np.errstate(invalid="ignore"):
        bad = E < p - (E_REL_TOL * p + E_ABS_TOL)
    if bad.any():
        _report(source, bad, columns, rows, offset,
                lambda i: f"E = {E[i]:.9g} GeV is below |p| = {p[i]:.9g} GeV (m² < 0)")


def as_integers(
    values: np.ndarray, source: Source, column: str, rows: np.ndarray | None = None, offset: int = 0
) -> np.ndarray:
    """``values`` as int64; floats must hold whole finite numbers (never truncated), other dtypes are refused."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    require_numeric(values.dtype, source, column)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values != np.rint(values))
    if bad.any():
        _report(source, bad, column, rows, offset, lambda i: f"{values[i].item()!r} is not an integer")
    return values.astype(np.int64)


_MOMENTA = ("px", "py", "pz", "E", "pt", "eta", "phi", "charge")
_MAY_BE_NAN = ("d0", "z0")


def check_particle_arrays(
    particles: Mapping[str, np.ndarray], counts: np.ndarray, source: Source, offset: int = 0,
    prefix: str = "particles.", values: bool = True,
) -> None:
    """Check flat per-particle arrays (``counts`` per event) as described in the module docstring.

    Parameters
    ----------
    particles : mapping of (n,) arrays
        ``px, py, pz, E`` (GeV) and any of ``pt, eta, phi, charge, pid, jet, d0, z0``.
    counts : (N,) int array
    source : Path or str
    offset : int
        File index of the first event.
    prefix : str
        Column names in messages are ``prefix + field``.
    values : bool
        Also check values (finite, E ≥ |p|, pT ≥ 0); False: only dtypes and integers.
    """
    rows = np.repeat(np.arange(len(counts)), np.asarray(counts, dtype=np.int64))
    for name, array in particles.items():
        require_numeric(np.asarray(array).dtype, source, prefix + name)
    for name in ("pid", "jet"):
        if name in particles:
            as_integers(particles[name], source, prefix + name, rows, offset)
    if not values:
        return
    for name in _MOMENTA:
        if name in particles:
            require_finite(particles[name], source, prefix + name, rows, offset)
    for name in _MAY_BE_NAN:
        if name in particles:
            require_finite(particles[name], source, prefix + name, rows, offset, allow_nan=True)
    if "pt" in particles:
        require_nonnegative(particles["pt"], source, prefix + "pt", "pT", rows=rows, offset=offset)
    if all(k in particles for k in ("E", "px", "py", "pz")):
        require_energy_above_momentum(particles["E"], particles["px"], particles["py"], particles["pz"],
                                      source, prefix + "E", rows, offset)


def _leaf_dtype(layout) -> np.dtype | None:
    """dtype of the numbers under list/option nodes of an awkward layout; None for strings, records, unions."""
    while True:
        if layout.parameter("__array__") in ("string", "bytestring", "char", "byte"):
            return None
        if isinstance(layout, ak.contents.NumpyArray):
            return layout.data.dtype if hasattr(layout.data, "dtype") else None
        content = getattr(layout, "content", None)
        if content is None or isinstance(layout, ak.contents.RecordArray):
            return None
        layout = content


def _flat_numbers(array: ak.Array, source: Source, column: str, offset: int = 0) -> np.ndarray:
    dtype = _leaf_dtype(array.layout)
    if dtype is None:
        raise error(source, f"column {column!r} is not numeric (type {ak.type(array)}); expected numbers")
    require_numeric(dtype, source, column)
    for axis in range(array.ndim):
        missing = ak.is_none(array, axis=axis)
        if ak.any(missing):
            first = int(np.flatnonzero(ak.to_numpy(ak.any(missing, axis=-1) if missing.ndim > 1 else missing))[0])
            raise error(source, f"column {column!r}, event {offset + first}: missing (null) value")
    flat = ak.flatten(array, axis=None) if array.ndim > 1 else array
    return np.asarray(ak.to_numpy(ak.drop_none(flat)))


def check_events(events: ak.Array, source: Source, offset: int = 0, values: bool = True) -> ak.Array:
    """Check every numeric field of schema events: particles, ``jets``, ``label`` and event fields.

    The structure (fields present, no empty events) is :func:`jetviz.data.schema.validate_events`'s
    job; this checks dtypes and values. Returns ``events`` unchanged.

    Parameters
    ----------
    events : ak.Array
        Schema events.
    source : Path or str
        A file (errors are DataFileError) or a description (SchemaError).
    offset : int
        File index of ``events[0]``.
    values : bool
        False: dtype and integer checks only (``validate=False`` of the readers).
    """
    particles = events.particles
    counts = ak.to_numpy(ak.num(particles, axis=1))
    flat = {name: _flat_numbers(particles[name], source, f"particles.{name}", offset) for name in ak.fields(particles)}
    check_particle_arrays(flat, counts, source, offset, values=values)
    if "jets" in ak.fields(events):
        jets = events.jets
        jet_counts = ak.to_numpy(ak.num(jets, axis=1))
        jet_flat = {name: _flat_numbers(jets[name], source, f"jets.{name}", offset) for name in ak.fields(jets)}
        check_particle_arrays(jet_flat, jet_counts, source, offset, prefix="jets.", values=values)
    as_integers(_flat_numbers(events.label, source, "label", offset), source, "label", offset=offset)
    for name in ak.fields(events):
        if name in ("particles", "jets", "label"):
            continue
        field = events[name]
        if field.ndim != 1 or _leaf_dtype(field.layout) is None:
            continue  # nested or non-numeric extra fields are the caller's business
        numbers = _flat_numbers(field, source, name, offset)
        if values:
            require_finite(numbers, source, name, offset=offset)
    return events
