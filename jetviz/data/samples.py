"""Named, seeded, cached samples: generate on first use (in parallel, with progress), then reuse.

A sample of ``n_events`` is made of fixed-size chunks; chunk ``i`` of (recipe, params, seed) is
always generated with the same derived Pythia seed, so a larger sample extends a smaller one and
the result does not depend on how many workers made it. Every chunk is cached on disk as a
Parquet file (atomic write) whose name is a hash of recipe + parameters + seed + chunk size +
jetviz/generator versions; its metadata records all of them (the sample's provenance).

The cache lives in ``$JETVIZ_CACHE`` (default ``~/.cache/jetviz``).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import awkward as ak
import numpy as np

from jetviz.data.recipes import get_recipe
from jetviz.errors import ConfigError, DataFileError

__all__ = ["cache_home", "cache_dir", "load_sample", "sample_chunks", "chunk_path", "Progress"]

#: ``progress(done_events, total_events)`` — called from the caller's thread as chunks finish.
Progress = Callable[[int, int], None]


def cache_home() -> Path:
    """jetviz's cache directory: ``$JETVIZ_CACHE`` or ``~/.cache/jetviz`` (not created here)."""
    return Path(os.environ.get("JETVIZ_CACHE") or Path.home() / ".cache" / "jetviz")


def cache_dir() -> Path:
    """The sample cache directory (``$JETVIZ_CACHE`` or ``~/.cache/jetviz``), created if needed.

    Raises
    ------
    DataFileError
        The directory cannot be created (permissions, a file in the way).
    """
    path = cache_home() / "samples"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(path, f"cannot create the sample cache directory: {exc.strerror or exc} "
                                  "(set $JETVIZ_CACHE to a writable directory)") from None
    if not path.is_dir():
        raise DataFileError(path, "the sample cache path is not a directory (set $JETVIZ_CACHE)")
    return path


def _provenance(name: str, params: dict, seed: int, chunk: int, chunk_size: int, n_events: int) -> dict:
    import jetviz

    recipe = get_recipe(name)
    info = {
        "recipe": name, "params": params, "seed": seed, "chunk": chunk, "chunk_size": chunk_size,
        "n_events": n_events,
        "jetviz": jetviz.__version__, "classes": list(recipe.classes),
    }
    if recipe.version != 1:  # only then, so the chunks cached before versions existed stay valid
        info["recipe_version"] = recipe.version
    if not recipe.toy:
        from jetviz.data.pythia import pythia_versions

        info["generators"] = pythia_versions()
    return info


def chunk_path(name: str, params: dict, seed: int, chunk: int, chunk_size: int, n_events: int) -> Path:
    """Cache file of one chunk of ``n_events``; the hash covers everything that changes its content."""
    info = _provenance(name, params, seed, chunk, chunk_size, n_events)
    digest = hashlib.sha256(json.dumps(info, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-s{seed}-c{chunk}-{digest}.parquet"


def _chunk_seed(seed: int, chunk: int) -> int:
    from jetviz.data.pythia import pythia_seed

    return pythia_seed(seed, chunk)


def _make_chunk(name: str, params: dict, seed: int, chunk: int, chunk_size: int, n_events: int) -> str:
    """Generate one chunk and cache it; returns the cache path (runs in a worker process)."""
    from jetviz.data.formats.parquet import save_events

    path = chunk_path(name, params, seed, chunk, chunk_size, n_events)
    if not path.exists():
        recipe = get_recipe(name)
        start = time.perf_counter()
        events = recipe.make(n_events, _chunk_seed(seed, chunk), **params)
        meta = _provenance(name, params, seed, chunk, chunk_size, n_events)
        meta["seconds"] = round(time.perf_counter() - start, 3)
        save_events(events, path, meta, overwrite=True)
    return str(path)


def sample_chunks(n_events: int, chunk_size: int) -> list[int]:
    """Sizes of the chunks that make ``n_events``: full chunks, then the rest."""
    full, rest = divmod(n_events, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def load_sample(
    name: str,
    n_events: int,
    seed: int = 0,
    *,
    workers: int | None = None,
    client=None,
    progress: Progress | None = None,
    show_progress: bool = True,
    chunk_size: int | None = None,
    **params,
) -> ak.Array:
    """Events of sample ``name``: read from the cache, generating the missing chunks first.

    Parameters
    ----------
    name
        a recipe name (``ee_6jet``, ``ee_zh_4jet``, ``top_qcd``, ``bh_sph``, ``lhe`` or a
        ``toy_*`` variant); see :data:`jetviz.data.recipes.RECIPES`.
    n_events
        number of events, ≥ 1.
    seed
        sample seed, ≥ 0.
    workers
        processes for generation (default: all cores, at most the missing chunks); 1
        generates in this process.
    client
        a ``dask.distributed.Client``; when given, missing chunks are generated on its
        workers instead of local processes.
    progress
        ``progress(done_events, total_events)`` callback (e.g. a UI progress bar).
    show_progress
        show a tqdm bar on stderr.
    chunk_size
        events per chunk (part of the cache key); default: the recipe's.
    **params
        recipe parameters (see ``RECIPES[name].defaults``).

    Returns
    -------
        schema events ``ak.Array`` of length ``n_events``.
    """
    recipe = get_recipe(name)
    if not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ConfigError(f"n_events must be a positive integer, got {n_events!r}")
    if seed < 0:
        raise ConfigError(f"seed must be ≥ 0, got {seed}")
    if name == "lhe":
        # chunks of one LHE file read disjoint event ranges
        params = {**params, "skip": 0}
    params = recipe.params(**params)
    chunk_size = int(chunk_size or recipe.chunk_size)
    sizes = sample_chunks(int(n_events), chunk_size)
    paths = [
        chunk_path(name, _chunk_params(name, params, i, chunk_size), seed, i, chunk_size, size)
        for i, size in enumerate(sizes)
    ]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    total, done = int(n_events), sum(sizes[i] for i in range(len(sizes)) if i not in missing)
    bar = None
    if show_progress and missing:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=done, desc=f"generating {name}", unit="ev")
    if progress:
        progress(done, total)

    def advance(i: int) -> None:
        nonlocal done
        done += sizes[i]
        if bar is not None:
            bar.update(sizes[i])
        if progress:
            progress(done, total)

    jobs = [(name, _chunk_params(name, params, i, chunk_size), seed, i, chunk_size, sizes[i]) for i in missing]
    try:
        if client is not None and jobs:
            futures = {client.submit(_make_chunk, *job, pure=False): job[3] for job in jobs}
            from distributed import as_completed as dask_completed

            for future in dask_completed(futures):
                future.result()
                advance(futures[future])
        elif jobs:
            n_workers = min(workers or os.cpu_count() or 1, len(jobs))
            if n_workers <= 1:
                for job in jobs:
                    _make_chunk(*job)
                    advance(job[3])
            else:
                context = multiprocessing.get_context("spawn")  # safe beside server threads
                with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
                    futures = {pool.submit(_make_chunk, *job): job[3] for job in jobs}
                    for future in as_completed(futures):
                        future.result()
                        advance(futures[future])
    finally:
        if bar is not None:
            bar.close()
    all_jobs = [(name, _chunk_params(name, params, i, chunk_size), seed, i, chunk_size, sizes[i]) for i in range(len(sizes))]
    return _read_chunks(paths, all_jobs)


def _chunk_params(name: str, params: dict, chunk: int, chunk_size: int) -> dict:
    if name == "lhe":
        return {**params, "skip": chunk * chunk_size}
    return params


def _load_chunk(path: Path, job: tuple) -> ak.Array:
    """The events of one cached chunk; a file that is not what its name promises is a DataFileError."""
    from jetviz.data.formats.parquet import load_events

    events, meta = load_events(path)
    name, _, seed, chunk, _, n_events = job
    expected = {"recipe": name, "seed": seed, "chunk": chunk, "n_events": n_events}
    found = {k: meta.get(k) for k in expected}
    if found != expected or len(events) != n_events:
        raise DataFileError(path, f"holds another chunk ({found}, {len(events)} events) than its name says ({expected})")
    return events


def _read_chunks(paths: list[Path], jobs: list[tuple]) -> ak.Array:
    """Read the cached chunks; a damaged one is reported (a warning), removed and generated again.

    A chunk that is still unreadable after regeneration raises its :class:`DataFileError`.
    """
    arrays = []
    for path, job in zip(paths, jobs):
        try:
            events = _load_chunk(path, job)
        except DataFileError as err:
            warnings.warn(f"damaged sample cache file {err}; removed it and generating the chunk again", stacklevel=3)
            path.unlink(missing_ok=True)
            _make_chunk(*job)
            events = _load_chunk(path, job)
        arrays.append(events)
    return arrays[0] if len(arrays) == 1 else ak.to_packed(ak.concatenate(arrays))
