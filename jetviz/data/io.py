"""Saving and loading events: Parquet with provenance metadata, written atomically.

A jetviz events file is a Parquet file written from :func:`awkward.to_arrow_table` (so every
field, its dtype and its nesting come back exactly, optional ``jets``, ``d0``/``z0`` and extra
per-event fields included). The Parquet schema's key-value metadata holds, under the key
``jetviz``, one JSON object::

    {"format": "jetviz-events", "format_version": 1, "n_events": N,
     "jetviz_version": "...", "metadata": {...}}

where ``metadata`` is the caller's dict (recipe name, parameters, seed, generator versions, ...).
Data pages carry CRC checksums, which are verified on load, so a damaged file is reported
instead of read as wrong numbers.

Every file written here goes through :func:`atomic_path` / :func:`atomic_write`: the bytes go to
a temporary file in the target's directory, are flushed and fsync'ed, and only then renamed onto
the target, so a reader never sees half a file and a failed write leaves the old file untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

import awkward as ak
import numpy as np

from jetviz.data.schema import validate_events
from jetviz.errors import DataFileError, SchemaError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "atomic_path",
    "atomic_write",
    "save_events",
    "load_events",
    "file_metadata",
    "file_info",
    "json_default",
]

FORMAT_NAME = "jetviz-events"
FORMAT_VERSION = 1
METADATA_KEY = b"jetviz"
_TMP_SUFFIX = ".tmp"


# ----------------------------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------------------------
def _default_file_mode() -> int:
    """Permission bits a plain ``open(path, "w")`` would give a new file (0o666 & ~umask)."""
    umask = 0o022
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError):
        pass
    return 0o666 & ~umask


def _fsync_path(path: Path) -> None:
    """fsync a file or a directory by path (best effort for directories)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _refuse(target: Path) -> DataFileError:
    return DataFileError(target, "exists; refusing to overwrite it (pass overwrite=True to replace it)")


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    """Move ``tmp`` onto ``target``: ``os.replace``, or a no-clobber hard link without overwrite."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic and fails if the target appeared meanwhile
    except FileExistsError:
        raise _refuse(target) from None
    except OSError:  # file system without hard links: check, then rename
        if target.exists():
            raise _refuse(target) from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """Give a temporary path next to ``path``; on success move it onto ``path`` atomically.

    For writers that want a file *name* (PyTables/pandas ``to_hdf``, uproot, ...). The
    temporary file already exists (empty) when the block starts; the writer may truncate or
    replace it. When the block ends without an exception the file is fsync'ed and renamed onto
    ``path`` (``os.replace``); when it raises, the temporary file is removed, the exception
    propagates, and any existing ``path`` is left untouched.

    Arguments:
        path: the target file. Missing parent directories are created.
        overwrite: if False and ``path`` exists (before or when committing), raise
            :class:`~jetviz.errors.DataFileError` and leave it untouched.
    Returns:
        A context manager yielding the temporary :class:`~pathlib.Path`.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise _refuse(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        mode = (target.stat().st_mode & 0o7777) if target.exists() else _default_file_mode()
        os.chmod(tmp, mode)
        yield tmp
        _fsync_path(tmp)
        _commit(tmp, target, overwrite)
        _fsync_path(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "wb", overwrite: bool = True, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Open a file for writing so that it appears at ``path`` complete or not at all.

    Writes go to a temporary file in the same directory; when the block ends without an
    exception the file is flushed, fsync'ed and renamed onto ``path`` with ``os.replace``.
    When the block raises, the temporary file is removed, the exception propagates and any
    existing ``path`` keeps its old bytes.

    Arguments:
        path: the target file. Missing parent directories are created.
        mode: ``"wb"`` (default), ``"w"`` or ``"wt"``.
        overwrite: if False and ``path`` exists, raise
            :class:`~jetviz.errors.DataFileError` ("exists; refusing to overwrite ...").
        encoding: text encoding for text modes (default UTF-8).
    Returns:
        A context manager yielding the open temporary file object.
    """
    if mode not in ("wb", "w", "wt"):
        raise ValueError(f"atomic_write: mode must be 'wb', 'w' or 'wt', not {mode!r}")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


# ----------------------------------------------------------------------------------------------
# Parquet events files
# ----------------------------------------------------------------------------------------------
def json_default(value: Any) -> Any:
    """``json.dump``'s ``default`` for everything jetviz writes as JSON.

    numpy (and torch) scalars become Python numbers, arrays lists, paths strings and sets
    sorted lists; anything else raises ``TypeError`` (so a value that cannot be stored is
    reported, not written as its ``repr``).
    """
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataFileError(path, "no such file")
    if path.is_dir():
        raise DataFileError(path, "is a directory, not a file")


def _read_header(path: Path) -> dict:
    """Read and check the ``jetviz`` JSON object from the Parquet footer (cheap)."""
    import pyarrow.parquet as pq

    _check_file(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # ArrowInvalid, OSError, ... for truncated or foreign files
        raise DataFileError(
            path, f"is not a readable Parquet file (truncated or corrupted?): {_short(exc)}"
        ) from None
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise DataFileError(path, "is a Parquet file but not a jetviz events file (no 'jetviz' metadata)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataFileError(path, f"has unreadable 'jetviz' metadata: {_short(exc)}") from None
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

    Arguments:
        events: a schema events array (checked with
            :func:`~jetviz.data.schema.validate_events`; a :class:`~jetviz.errors.SchemaError`
            is raised before anything is written).
        path: the file to write (conventionally ``*.parquet``); parent directories are created.
        metadata: a JSON-serialisable dict stored in the file (recipe name, parameters, seed,
            generator versions, ...). numpy scalars/arrays and paths are converted; tuples come
            back as lists.
        overwrite: replace an existing file (default False: raise
            :class:`~jetviz.errors.DataFileError` and leave it untouched).
    Returns:
        The path written, as a :class:`~pathlib.Path`.
    """
    import pyarrow.parquet as pq

    from jetviz import __version__

    path = Path(path)
    validate_events(events, source=str(path))
    if not overwrite and path.exists():
        raise _refuse(path)
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


def load_events(path: str | Path) -> tuple[ak.Array, dict]:
    """Read events and their metadata from a file written by :func:`save_events`.

    Arguments:
        path: the Parquet file.
    Returns:
        ``(events, metadata)``: the events exactly as saved (same fields, dtypes, nesting) and
        the metadata dict as JSON decodes it.
    Raises:
        DataFileError: the file is missing, truncated or corrupted, not a jetviz events file,
            or does not hold schema-conforming events; the message names the file and problem.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    header = _read_header(path)
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except Exception as exc:
        raise DataFileError(path, f"cannot be read (truncated or corrupted?): {_short(exc)}") from None
    try:
        events = ak.from_arrow(table)
    except Exception as exc:
        raise DataFileError(path, f"does not hold an awkward events table: {_short(exc)}") from None
    try:
        validate_events(events, source=str(path))
    except SchemaError as exc:
        message = str(exc)
        prefix = f"{path}: "
        raise DataFileError(
            path, f"does not hold valid jetviz events: {message[len(prefix):] if message.startswith(prefix) else message}"
        ) from None
    n_expected = header.get("n_events")
    if n_expected is not None and n_expected != len(events):
        raise DataFileError(path, f"holds {len(events)} events but its metadata says {n_expected}")
    return events, dict(header.get("metadata") or {})


def file_metadata(path: str | Path) -> dict:
    """The metadata dict stored by :func:`save_events`, reading only the file's footer.

    Arguments:
        path: a jetviz events Parquet file.
    Returns:
        The same dict :func:`load_events` returns as its second element.
    """
    return dict(_read_header(Path(path)).get("metadata") or {})


def file_info(path: str | Path) -> dict:
    """Everything cheap to know about an events file (for ``jetviz info PATH``).

    Arguments:
        path: a jetviz events Parquet file.
    Returns:
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
