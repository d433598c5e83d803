"""jetviz Parquet events files: the events exactly as saved, with provenance metadata.

A jetviz events file is a Parquet file written from :func:`awkward.to_arrow_table` (so every
field, its dtype and its nesting come back exactly, optional ``jets``, ``d0``/``z0`` and extra
per-event fields included). The Parquet schema's key-value metadata holds, under the key
``jetviz``, one JSON object::

    {"format": "jetviz-events", "format_version": 1, "n_events": N,
     "jetviz_version": "...", "metadata": {...}}

where ``metadata`` is the caller's dict (recipe name, parameters, seed, generator versions, ...).
Data pages carry CRC checksums, which are verified on load, so a damaged file is reported
instead of read as wrong numbers. Files are written atomically (:mod:`jetviz.data.io`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import awkward as ak

from jetviz.data.formats._common import refuse_overwrite, require_file, short
from jetviz.data.io import atomic_write, json_default
from jetviz.data.schema import validate_events
from jetviz.errors import DataFileError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "save_events",
    "load_events",
    "file_metadata",
    "file_info",
    "read_parquet_events",
    "iterate_parquet_events",
    "write_parquet_events",
    "describe_parquet",
]

FORMAT_NAME = "jetviz-events"
FORMAT_VERSION = 1
METADATA_KEY = b"jetviz"


def _read_header(path: Path) -> dict:
    """Read and check the ``jetviz`` JSON object from the Parquet footer (cheap)."""
    import pyarrow.parquet as pq

    require_file(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # ArrowInvalid, OSError, ... for truncated or foreign files
        raise DataFileError(
            path, f"is not a readable Parquet file (truncated or corrupted?): {short(exc)}"
        ) from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise DataFileError(path, "is a Parquet file but not a jetviz events file (no 'jetviz' metadata)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataFileError(path, f"has unreadable 'jetviz' metadata: {short(exc)}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise DataFileError(path, f"'jetviz' metadata does not describe a {FORMAT_NAME!r} file")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataFileError(
            path, f"has format_version {version!r}; this jetviz reads versions up to {FORMAT_VERSION}"
        )
    if not isinstance(header.get("metadata", {}), dict):
        raise DataFileError(path, "'jetviz' metadata field 'metadata' is not a JSON object")
    return header


def save_events(
    events: ak.Array, path: str | Path, metadata: dict | None = None, overwrite: bool = False
) -> Path:
    """Write events to a Parquet file with provenance metadata, atomically.

    Parameters
    ----------
    events
        a schema events array (checked with
        :func:`~jetviz.data.schema.validate_events`; a :class:`~jetviz.errors.SchemaError`
        is raised before anything is written).
    path
        the file to write (conventionally ``*.parquet``); parent directories are created.
    metadata
        a JSON-serialisable dict stored in the file (recipe name, parameters, seed,
        generator versions, ...). numpy scalars/arrays and paths are converted; tuples come
        back as lists.
    overwrite
        replace an existing file (default False: raise
        :class:`~jetviz.errors.DataFileError` and leave it untouched).

    Returns
    -------
        The path written, as a :class:`~pathlib.Path`.
    """
    import pyarrow.parquet as pq

    from jetviz import __version__

    path = Path(path)
    validate_events(events, source=str(path))
    refuse_overwrite(path, overwrite)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise TypeError(f"save_events: metadata must be a dict, not {type(metadata).__name__}")
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "n_events": len(events),
        "jetviz_version": __version__,
        "metadata": metadata,
    }
    try:
        encoded = json.dumps(header, default=json_default, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise DataFileError(path, f"metadata cannot be stored as JSON: {exc}") from None
    table = ak.to_arrow_table(events, extensionarray=True)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: encoded})
    with atomic_write(path, "wb", overwrite=overwrite) as handle:
        pq.write_table(table, handle, compression="zstd", write_page_checksum=True)
    return path


def _check(events: ak.Array, path: Path, offset: int, validate: bool = True) -> None:
    """Schema structure, dtypes and (with ``validate``) values; errors name the file, column and event."""
    validate_events(events, source=path, values=validate, offset=offset)


def load_events(path: str | Path, validate: bool = True) -> tuple[ak.Array, dict]:
    """Read events and their metadata from a file written by :func:`save_events`.

    Parameters
    ----------
    path : str or Path
        The Parquet file.
    validate : bool
        Check values (finite, E ≥ |p|, ...; :mod:`jetviz.data.validate`); the schema and the
        dtypes are checked either way.

    Returns
    -------
    (events, metadata)
        The events exactly as saved (same fields, dtypes, nesting) and the metadata dict as
        JSON decodes it.

    Raises
    ------
    DataFileError
        The file is missing, truncated or corrupted, not a jetviz events file, or does not hold
        schema-conforming events; the message names the file, the column and the event.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    header = _read_header(path)
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except Exception as exc:
        raise DataFileError(path, f"cannot be read (truncated or corrupted?): {short(exc)}") from None
    try:
        events = ak.from_arrow(table)
    except Exception as exc:
        raise DataFileError(path, f"does not hold an awkward events table: {short(exc)}") from None
    _check(events, path, 0, validate)
    n_expected = header.get("n_events")
    if n_expected is not None and n_expected != len(events):
        raise DataFileError(path, f"holds {len(events)} events but its metadata says {n_expected}")
    return events, dict(header.get("metadata") or {})


def file_metadata(path: str | Path) -> dict:
    """The metadata dict stored by :func:`save_events`, reading only the file's footer.

    Parameters
    ----------
    path
        a jetviz events Parquet file.

    Returns
    -------
        The same dict :func:`load_events` returns as its second element.
    """
    return dict(_read_header(Path(path)).get("metadata") or {})


def file_info(path: str | Path) -> dict:
    """Everything cheap to know about an events file (for ``jetviz info PATH``).

    Parameters
    ----------
    path
        a jetviz events Parquet file.

    Returns
    -------
        dict with ``path``, ``size_bytes``, ``format``, ``format_version``, ``n_events``,
        ``jetviz_version`` (that wrote it), ``fields`` (top-level column names) and ``metadata``.
        Only the Parquet footer is read.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    header = _read_header(path)
    fields = list(pq.read_schema(path).names)
    return {
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "format": header.get("format"),
        "format_version": header.get("format_version"),
        "n_events": header.get("n_events"),
        "jetviz_version": header.get("jetviz_version"),
        "fields": fields,
        "metadata": dict(header.get("metadata") or {}),
    }


def read_parquet_events(path: str | Path, validate: bool = True) -> ak.Array:
    """The events of a jetviz Parquet file (:func:`load_events` without the metadata)."""
    return load_events(path, validate)[0]


def write_parquet_events(events: ak.Array, path: str | Path, overwrite: bool = False, metadata: dict | None = None) -> Path:
    """:func:`save_events` with the argument order of the other writers (events, path, overwrite, ...)."""
    return save_events(events, path, metadata=metadata, overwrite=overwrite)


def iterate_parquet_events(path: str | Path, step_size: int = 10_000, validate: bool = True) -> Iterator[ak.Array]:
    """Read a jetviz Parquet file ``step_size`` events at a time (Parquet record batches).

    Each chunk is checked like :func:`load_events` checks the whole file, with events counted
    from the start of the file in messages.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    _read_header(path)
    if int(step_size) < 1:
        raise ValueError("step_size must be positive")
    try:
        handle = pq.ParquetFile(path, page_checksum_verification=True)
    except Exception as exc:
        raise DataFileError(path, f"cannot be read (truncated or corrupted?): {short(exc)}") from None
    offset = 0
    with handle:
        batches = handle.iter_batches(batch_size=int(step_size))
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as exc:
                raise DataFileError(path, f"cannot read events from {offset} on (truncated or corrupted?): {short(exc)}") from None
            try:
                events = ak.from_arrow(pa.Table.from_batches([batch]))
            except Exception as exc:
                raise DataFileError(path, f"does not hold an awkward events table: {short(exc)}") from None
            _check(events, path, offset, validate)
            offset += len(events)
            yield events


def describe_parquet(path: str | Path) -> dict:
    """Cheap facts about a jetviz Parquet file, from its footer only.

    Returns
    -------
    dict
        ``kind`` (``"jets"`` when each event is one jet: the recipe says so, or the events carry
        ``jet_pt``/``jet_eta``/``jet_phi`` fields and no ``jets`` list; else ``"events"``),
        ``n_events``, ``labels`` (the range of ``label`` from the column statistics, as the list
        of integers min..max, or None), ``label_source`` ``"label"``, ``has_particle_truth``
        (particle ``jet`` indices ≥ 0 somewhere, from the statistics), ``fields``, ``metadata``.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    info = file_info(path)
    try:
        footer = pq.ParquetFile(path).metadata
    except Exception as exc:
        raise DataFileError(path, f"is not a readable Parquet file (truncated or corrupted?): {short(exc)}") from None
    low, high = _column_range(footer, "label"), None
    jet_range = _column_range(footer, ".jet", nested=True)
    if low is not None:
        low, high = low
    fields = info["fields"]
    recipe = str(info["metadata"].get("recipe", ""))
    one_jet = recipe.endswith("top_qcd") or ({"jet_pt", "jet_eta", "jet_phi"} <= set(fields) and "jets" not in fields)
    labels = list(range(int(low), int(high) + 1)) if low is not None and high - low < 1000 else None
    return {
        "kind": "jets" if one_jet else "events",
        "n_events": info["n_events"],
        "labels": labels,
        "label_source": "label",
        "has_particle_truth": bool(jet_range is not None and jet_range[1] >= 0),
        "fields": fields,
        "metadata": info["metadata"],
    }


def _column_range(footer, name: str, nested: bool = False) -> tuple | None:
    """(min, max) of a column over all row groups from the footer statistics, or None if unknown."""
    low = high = None
    for g in range(footer.num_row_groups):
        group = footer.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            path = column.path_in_schema
            if not (path.endswith(name) and path.startswith("particles") if nested else path == name):
                continue
            stats = column.statistics
            if stats is None or not stats.has_min_max:
                return None
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
    return None if low is None else (low, high)
