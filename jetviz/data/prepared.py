"""The preparation cache: a runner's inputs made from a large file chunk by chunk, kept memory-mapped.

A runner that trains on a file (a dataset) needs arrays derived from it: padded constituents,
jet images, features. :func:`prepare_cached` makes them without ever holding the file in memory:

1. the file is read in chunks (:func:`jetviz.data.formats.iterate_jet_blocks` for padded jet
   arrays, :func:`jetviz.data.formats.iterate` for awkward events);
2. the caller's ``transform(chunk) -> {name: array}`` turns each chunk into rows (one per jet or
   event, any trailing shape);
3. the rows are written, chunk after chunk, into ``.npy`` files opened with
   :func:`numpy.lib.format.open_memmap` in a temporary directory, which is renamed into place
   (atomically) once every chunk is written;
4. the next call with the same key — the file's :func:`~jetviz.data.datasets.fingerprint`, the
   preparation ``params``, the transform's name and ``version``, the chunk kind — opens those
   files memory-mapped instead of preparing again.

Training reads batches from the memory maps (:meth:`Prepared.batches`), so resident memory is a
chunk plus a batch, whatever the file's size. The cache lives in ``$JETVIZ_CACHE/prepared``
(default ``~/.cache/jetviz/prepared``), one directory per key holding ``meta.json`` (key,
dataset record, params, shapes, seconds) and one ``.npy`` per array. A damaged entry (a missing
or truncated array) is reported with a warning, removed and prepared again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import queue
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from jetviz.data.datasets import Dataset, from_path
from jetviz.data.io import json_default
from jetviz.data.kinematics import block_kinematics
from jetviz.data.samples import Progress
from jetviz.errors import ConfigError, DataFileError

__all__ = ["BlockTransform", "CACHE_FORMAT", "Prepared", "Transform", "prepared_dir", "prepare_cached", "preparation_key"]

#: Layout version of a cache entry (part of every key).
CACHE_FORMAT = 1
#: ``transform(chunk) -> {name: (n, ...) array}``; ``chunk`` is a JetBlock or an awkward events chunk.
Transform = Callable[[Any], Mapping[str, np.ndarray]]


def prepared_dir() -> Path:
    """``$JETVIZ_CACHE/prepared`` (default ``~/.cache/jetviz/prepared``), created if needed."""
    from jetviz.data.samples import cache_home

    path = cache_home() / "prepared"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(path, f"cannot create the preparation cache: {exc.strerror or exc} (set $JETVIZ_CACHE)") from None
    return path


@dataclass(frozen=True)
class Prepared:
    """Prepared arrays of one dataset: memory-mapped, read-only.

    Attributes
    ----------
    arrays : dict of name -> np.memmap
        One row per jet/event of the dataset, in file order.
    path : Path
        The cache entry's directory.
    key : str
        Its key (see :func:`preparation_key`).
    meta : dict
        ``meta.json``: dataset record, params, transform, shapes, dtypes, ``seconds`` to prepare.
    from_cache : bool
        True when this call found the entry ready.
    """

    arrays: dict[str, np.ndarray]
    path: Path
    key: str
    meta: dict
    from_cache: bool

    def __len__(self) -> int:
        return int(self.meta["n_rows"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def batches(self, batch_size: int, names: list[str] | None = None, shuffle: bool = True, seed: int = 0,
                rows: np.ndarray | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Batches as in-memory arrays, read from the memory maps a batch at a time.

        Parameters
        ----------
        batch_size : int
        names : list of str, optional
            Arrays to include (default: all).
        shuffle : bool
            Visit the rows in a seeded random order (each batch's rows are read in increasing
            order, so the reads touch the file forwards).
        seed : int
        rows : (m,) int array, optional
            Only these rows (e.g. a training split).
        """
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be positive, got {batch_size}")
        index = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        if shuffle:
            index = np.random.default_rng(seed).permutation(index)
        for begin in range(0, len(index), int(batch_size)):
            pick = np.sort(index[begin : begin + int(batch_size)])
            yield {name: self.rows(name, pick) for name in (names or self.arrays)}

    def rows(self, name: str, index: np.ndarray | slice) -> np.ndarray:
        """Rows of one array as an in-memory copy, read through a mapping opened for this read only.

        Unlike indexing :attr:`arrays` (one long-lived mapping, whose touched pages stay in this
        process's resident set), the pages read here leave it when the read ends, so a pass over
        a cache larger than memory keeps the resident set at one batch.
        """
        mapped = np.load(self.path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        out = np.array(mapped[index])
        del mapped
        return out


def _transform_name(transform: Transform) -> str:
    return f"{getattr(transform, '__module__', '?')}.{getattr(transform, '__qualname__', type(transform).__name__)}"


def preparation_key(record: dict, params: Mapping, transform: Transform, version: str, chunks: str,
                    max_constituents: int) -> str:
    """The cache key: SHA-256 (20 hex digits) over the file's fingerprint and format, the params,
    the transform's qualified name and version, the chunk kind and the cache layout version."""
    content = {
        "fingerprint": {k: record["fingerprint"][k] for k in ("size_bytes", "mtime_ns", "head_tail_sha256")},
        "format": record.get("format"),
        "params": dict(params),
        "transform": _transform_name(transform),
        "version": str(version),
        "chunks": chunks,
        "max_constituents": int(max_constituents) if chunks == "jets" else None,
        "cache_format": CACHE_FORMAT,
    }
    try:
        text = json.dumps(content, sort_keys=True, default=json_default)
    except TypeError as exc:
        raise ConfigError(f"preparation params must be JSON-serialisable: {exc}") from None
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _open_entry(entry: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """meta and memory maps of a finished entry; DataFileError if anything is missing or inconsistent."""
    meta_path = entry / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataFileError(meta_path, f"unreadable preparation cache metadata: {exc}") from None
    arrays = {}
    for name, spec in meta.get("arrays", {}).items():
        path = entry / f"{name}.npy"
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFileError(path, f"damaged prepared array: {exc}") from None
        if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
            raise DataFileError(path, f"holds {array.shape} {array.dtype}, its metadata says {spec['shape']} {spec['dtype']}")
        arrays[name] = array
    if not arrays:
        raise DataFileError(meta_path, "lists no arrays")
    return meta, arrays


def _n_rows(dataset: Dataset, chunks: str, step: int, options: dict) -> int:
    """Rows the dataset will give: from its header, or by counting chunks when only a read can tell."""
    n = dataset.describe().get("n_events")
    if n is not None:
        return int(n)
    from jetviz.data import formats

    return sum(len(chunk) for chunk in formats.iterate(dataset.path, step_size=step, **options))


def prepare_cached(
    dataset: Dataset | str | os.PathLike,
    transform: Transform,
    params: Mapping[str, Any] | None = None,
    chunk_size: int = 50_000,
    progress: Progress | None = None,
    *,
    version: str = "1",
    chunks: str = "jets",
    max_constituents: int = 200,
    validate: bool = True,
    **options: Any,
) -> Prepared:
    """Prepare a dataset's arrays chunk by chunk into a memory-mapped cache, or reuse them.

    Parameters
    ----------
    dataset : Dataset, str or path-like
        A file dataset (:func:`jetviz.data.datasets.dataset` for UI names; a path is taken as
        given, :func:`~jetviz.data.datasets.from_path`). Recipes are generated and cached by
        :func:`jetviz.data.samples.load_sample` instead.
    transform : callable
        ``transform(chunk) -> {name: array}``: the same rows in, one output row per input row
        (any trailing shape, any numeric dtype), independent of how the file is chunked.
        ``chunk`` is a :class:`~jetviz.data.formats.JetBlock` (``chunks="jets"``: padded
        ``(n, S, 4)`` float32 constituents E, px, py, pz, labels, per-jet fields) or schema
        events (``chunks="events"``).
    params : mapping
        The preparation parameters the transform uses (pixels, widths, n_constituents ...):
        JSON-serialisable, part of the cache key.
    chunk_size : int
        Rows read and transformed at a time (memory ≈ one chunk of input and output).
    progress : callable, optional
        ``progress(done_rows, total_rows)`` after each chunk (and once, complete, on a cache hit).
    version : str
        The transform's version: change it when the transform's code changes.
    chunks : ``"jets"`` or ``"events"``
    max_constituents : int
        Slots S of the padded blocks (``chunks="jets"``).
    validate : bool
        Passed to the readers.
    **options
        Passed to the format's iterator (e.g. ``collections`` for Delphes).

    Returns
    -------
    Prepared
        The arrays, memory-mapped read-only.

    Raises
    ------
    ConfigError
        A recipe dataset, params that are not JSON, a transform whose output rows do not match
        its input or change shape/dtype between chunks.
    DataFileError
        The dataset cannot be read (named file, column, row), the cache cannot be written.
    """
    from jetviz.data import formats

    if chunks not in ("jets", "events"):
        raise ConfigError(f"chunks must be 'jets' or 'events', not {chunks!r}")
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be positive, got {chunk_size}")
    if not isinstance(dataset, Dataset):
        dataset = from_path(dataset)
    if dataset.is_recipe:
        raise ConfigError(f"{dataset.name!r} is a recipe: generate it with jetviz.data.samples.load_sample")
    params = dict(params or {})
    record = dataset.record()
    key = preparation_key(record, params, transform, version, chunks, max_constituents)
    root = prepared_dir()
    entry = root / key
    if entry.is_dir():
        try:
            meta, arrays = _open_entry(entry)
        except DataFileError as err:
            warnings.warn(f"damaged preparation cache entry {err}; removed it and preparing again", stacklevel=2)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            if progress:
                progress(int(meta["n_rows"]), int(meta["n_rows"]))
            return Prepared(arrays, entry, key, meta, True)

    start = time.perf_counter()
    total = _n_rows(dataset, chunks, int(chunk_size), options)
    if total < 1:
        raise DataFileError(dataset.path, "holds no events to prepare")
    if chunks == "jets":
        source = formats.iterate_jet_blocks(dataset.path, int(chunk_size), max_constituents, validate, **options)
    else:
        source = formats.iterate(dataset.path, step_size=int(chunk_size), validate=validate, **options)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=root))
    try:
        specs, done = _fill(tmp, dataset.path, source, transform, total, progress)
        meta = {
            "key": key, "dataset": record, "params": params, "transform": _transform_name(transform),
            "version": str(version), "chunks": chunks, "max_constituents": max_constituents, "n_rows": done,
            "arrays": specs, "seconds": round(time.perf_counter() - start, 3), "cache_format": CACHE_FORMAT,
        }
        with open(tmp / "meta.json", "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=1, default=json_default)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.rename(tmp, entry)  # atomic; fails if another process finished the same entry first
        except OSError:
            if not entry.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    meta, arrays = _open_entry(entry)
    return Prepared(arrays, entry, key, meta, False)


class _Pipeline:
    """Read ahead and write behind in two threads, so reading, transforming and writing overlap.

    The reader thread pulls chunks from the source iterator into a queue of ``depth`` chunks (the
    readers release the GIL inside HDF5, zlib, Parquet and file reads); the writer thread takes
    ``(path, byte offset, array)`` and writes it with plain file writes (no mapping: written pages
    go to the page cache, not to this process's resident set). An error in either thread is
    raised in the caller's; on any exit both threads stop and the open files are closed.
    """

    _END = object()

    def __init__(self, source: Iterator, depth: int = 2):
        self._chunks: queue.Queue = queue.Queue(maxsize=depth)
        self._writes: queue.Queue = queue.Queue(maxsize=depth * 4)
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._files: dict[Path, Any] = {}
        self._reader = threading.Thread(target=self._read, args=(source,), name="jetviz-prepare-read", daemon=True)
        self._writer = threading.Thread(target=self._write, name="jetviz-prepare-write", daemon=True)
        self._reader.start()
        self._writer.start()

    def _put(self, target: queue.Queue, item) -> bool:
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, source: Iterator) -> None:
        try:
            for chunk in source:
                if not self._put(self._chunks, chunk):
                    break
        except BaseException as exc:  # handed to the caller's thread
            self._errors.append(exc)
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
            self._put(self._chunks, self._END)

    def _write(self) -> None:
        while True:
            try:
                item = self._writes.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is self._END:
                return
            path, offset, values = item
            try:
                handle = self._files.get(path) or self._files.setdefault(path, open(path, "r+b"))
                handle.seek(offset)
                handle.write(memoryview(np.ascontiguousarray(values)).cast("B"))
            except BaseException as exc:
                self._errors.append(exc)
                self._stop.set()
                return

    def _raise(self) -> None:
        if self._errors:
            raise self._errors[0]

    def chunks(self) -> Iterator:
        """The source's chunks, in order."""
        while True:
            self._raise()
            try:
                item = self._chunks.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is self._END:
                self._raise()
                return
            yield item

    def write(self, path: Path, offset: int, values: np.ndarray) -> None:
        """Queue ``values`` to be written at byte ``offset`` of ``path``."""
        self._raise()
        if not self._put(self._writes, (path, offset, values)):
            self._raise()

    def finish(self) -> None:
        """Wait for every queued write, fsync and close the files."""
        self._put(self._writes, self._END)
        self._writer.join()
        self._raise()
        for handle in self._files.values():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        self._stop.set()
        self._reader.join()
        self._writer.join()
        for handle in self._files.values():
            handle.close()


def _fill(tmp: Path, file: Path, source: Iterator, transform: Transform, total: int,
          progress: Progress | None) -> tuple[dict, int]:
    """Write the transformed chunks into ``.npy`` files of ``total`` rows (headers made with ``open_memmap``)."""
    specs: dict[str, dict] = {}
    done = 0
    pipeline = _Pipeline(source)
    try:
        for chunk in pipeline.chunks():
            n = len(chunk)
            result = transform(chunk)
            if not isinstance(result, Mapping) or not result:
                raise ConfigError(f"transform {_transform_name(transform)} must return a non-empty dict of arrays")
            if done + n > total:
                raise DataFileError(file, f"gave more rows ({done + n}) than its header says ({total})")
            if specs and set(result) != set(specs):
                raise ConfigError(f"transform outputs changed between chunks: {sorted(result)} vs {sorted(specs)}")
            for name, values in result.items():
                values = np.asarray(values)
                if not name.isidentifier():
                    raise ConfigError(f"transform output name {name!r} must be an identifier (it names a file)")
                if values.dtype.kind not in "biuf" or len(values) != n:
                    raise ConfigError(f"transform output {name!r}: {values.shape} {values.dtype} for a chunk of {n} rows "
                                      "(one numeric row per input row expected)")
                if name not in specs:
                    shape = (total, *values.shape[1:])
                    header = np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=values.dtype, shape=shape)
                    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * values.dtype.itemsize
                    specs[name] = {"shape": list(shape), "dtype": str(values.dtype), "offset": int(header.offset),
                                   "row_bytes": row_bytes}
                    del header
                spec = specs[name]
                if list(values.shape[1:]) != spec["shape"][1:] or str(values.dtype) != spec["dtype"]:
                    raise ConfigError(f"transform output {name!r} changed from {tuple(spec['shape'][1:])} {spec['dtype']} "
                                      f"to {values.shape[1:]} {values.dtype} between chunks")
                pipeline.write(tmp / f"{name}.npy", spec["offset"] + done * spec["row_bytes"], values)
            done += n
            if progress:
                progress(done, total)
        if done != total:
            raise DataFileError(file, f"gave {done} rows but its header says {total}")
        pipeline.finish()
    finally:
        pipeline.close()
    return {name: {"shape": spec["shape"], "dtype": spec["dtype"]} for name, spec in specs.items()}, done


class BlockTransform:
    """A jet runner's file preparation: ``features(block, **params)`` of each block of padded jets
    (:class:`~jetviz.data.formats.JetBlock`) plus the block's ``label``, ``pt`` and ``mass``.

    It is named (for the preparation cache's key) by ``features``; ``params`` are the preparation
    parameters, part of that key.
    """

    def __init__(self, features: Callable[..., dict], params: Mapping[str, Any]):
        self.features, self.params = features, dict(params)
        self.__module__, self.__qualname__ = features.__module__, features.__qualname__

    def __call__(self, block) -> dict[str, np.ndarray]:
        pt, mass = block_kinematics(block.p4)
        return {**self.features(block, **self.params), "label": np.asarray(block.label, np.int64), "pt": pt,
                "mass": mass}
