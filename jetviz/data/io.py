"""Writing files safely, and JSON for everything jetviz stores.

Every file jetviz writes goes through :func:`atomic_path` / :func:`atomic_write`: the bytes go to
a temporary file in the target's directory, are flushed and fsync'ed, and only then renamed onto
the target, so a reader never sees half a file and a failed write leaves the old file untouched.
A directory that cannot be written (permissions, read-only file system, a file in the way) is a
:class:`~jetviz.errors.DataFileError` naming the target, raised before anything is written.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from jetviz.errors import DataFileError

__all__ = ["atomic_path", "atomic_write", "json_default", "read_json", "read_npz", "read_csv_rows", "load_torch_file"]

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

    Parameters
    ----------
    path
        the target file. Missing parent directories are created.
    overwrite
        if False and ``path`` exists (before or when committing), raise
        :class:`~jetviz.errors.DataFileError` and leave it untouched.

    Returns
    -------
        A context manager yielding the temporary :class:`~pathlib.Path`.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise _refuse(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataFileError(target, f"cannot be written: {reason} ({exc.filename or target.parent})") from None
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

    Parameters
    ----------
    path
        the target file. Missing parent directories are created.
    mode
        ``"wb"`` (default), ``"w"`` or ``"wt"``.
    overwrite
        if False and ``path`` exists, raise
        :class:`~jetviz.errors.DataFileError` ("exists; refusing to overwrite ...").
    encoding
        text encoding for text modes (default UTF-8).

    Returns
    -------
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
# JSON
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


# ----------------------------------------------------------------------------------------------
# reading back what jetviz wrote: every failure a DataFileError naming the file and the problem
# ----------------------------------------------------------------------------------------------
def _missing(path: Path) -> DataFileError:
    return DataFileError(path, "missing from the run directory")


def read_json(path: Path, kind: type | None = dict) -> Any:
    """The JSON value in ``path`` (a ``kind`` instance unless ``kind`` is None).

    Raises
    ------
    DataFileError
        The file is missing, empty, unreadable, not JSON or not a ``kind``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _missing(path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if not text.strip():
        raise DataFileError(path, "is empty (a run killed while writing it?)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"is not valid JSON ({err})") from None
    if kind is not None and not isinstance(value, kind):
        raise DataFileError(path, f"holds a JSON {type(value).__name__}, expected a {kind.__name__}")
    return value


def read_npz(path: Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` archive ``path`` (never unpickled); ``required`` names missing are an error."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({type(err).__name__}: {err})") from None
    if magic != b"PK\x03\x04":
        raise DataFileError(path, "is not an .npz archive (no zip header: truncated, empty or another format)")
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise DataFileError(path, "holds object (pickled) arrays, which jetviz never loads") from None
        raise DataFileError(path, f"is not a readable .npz archive ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise DataFileError(path, f"is not a readable .npz archive ({type(err).__name__}: {err})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DataFileError(path, f"lacks the array(s) {missing} (has {sorted(arrays)})")
    return arrays


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def read_csv_rows(path: Path) -> list[dict]:
    """The rows of the CSV file ``path`` as dicts (numbers as ints or floats, empty cells left out)."""
    if not path.is_file():
        raise _missing(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [{k: _number(v) for k, v in row.items() if v not in ("", None) and k is not None}
                    for row in csv.DictReader(handle)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataFileError(path, f"is not a readable CSV file ({type(err).__name__}: {err})") from None


def load_torch_file(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; any failure a DataFileError saying why in one line."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise _missing(path) from None
    except pickle.UnpicklingError:  # torch's message advises weights_only=False: never do that
        raise DataFileError(path, "is not a torch file of tensors (damaged, or it holds pickled objects, "
                                  "which jetviz never loads)") from None
    except Exception as err:  # RuntimeError / EOFError / zip errors from torch
        lines = str(err).strip().splitlines()
        raise DataFileError(path, f"is not a readable torch file ({type(err).__name__}: "
                                  f"{(lines[0] if lines else '')[:160]})") from None
