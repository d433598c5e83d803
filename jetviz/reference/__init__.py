"""Reference runs: one finished, small run of each runner, shipped inside the package.

Design notes: docs/architecture.md, section ``jetviz.reference``.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from jetviz.errors import ConfigError, DataFileError
from jetviz.runners.catalog import RUNNER_NAMES, runner_spec
from jetviz.runners.loop import Progress
from jetviz.runners.rundir import RunDir

__all__ = [
    "REFERENCE_CONFIGS",
    "REFERENCE_ROOT",
    "DATA_NAME",
    "INFO_FILE",
    "BUILD_COMMAND",
    "references_enabled",
    "reference_dir",
    "has_reference",
    "reference_info",
    "is_reference_run",
    "reference_label",
    "run_label",
    "store_data",
    "load_data",
    "build",
    "open_run",
    "open_reference",
    "open_shared",
    "shared_if_ready",
]

#: where the shipped reference runs live (package data: ``jetviz/reference/<runner>/``)
REFERENCE_ROOT = Path(__file__).resolve().parent
#: the run's prepared data: ``<DATA_NAME>.npz`` in the run directory
DATA_NAME = "data"
#: what the page's label says about the run (JSON)
INFO_FILE = "reference.json"
#: the command that makes them
BUILD_COMMAND = "jetviz reference build"

#: runner → the settings of its reference run: the page's default run (real physics, small enough
#: for a CPU: each builds in a minute or two on two cores); ``device`` stays "auto", so *Train* next
#: to a reference run uses a GPU where there is one
REFERENCE_CONFIGS: dict[str, dict[str, Any]] = {
    "colorize": {"sample": "ee_6jet", "n_train": 200, "n_test": 50, "base_channels": 8, "epochs": 10,
                 "batch_size": 16},
    "classify": {"sample": "bh_sph", "n_events": 400, "n_folds": 3, "width": 4, "epochs": 3},
    "vae_emd": {"sample": "top_qcd", "n_jets": 2000, "epochs": 30, "n_corr": 80, "n_pool": 40, "n_medoids": 5,
                "n_anomaly": 100, "channels": 8},
    "jetclr": {"sample": "top_qcd", "n_jets": 800, "epochs": 3, "d_model": 32, "n_heads": 4, "n_layers": 1,
               "n_angles": 13, "n_invariance": 64},
}


def references_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the pages open the reference runs: not when ``JETVIZ_REFERENCE`` is ``0``/``false``/``no``/``off``."""
    environ = os.environ if environ is None else environ
    return environ.get("JETVIZ_REFERENCE", "1").strip().lower() not in ("0", "false", "no", "off")


def _check_runner(runner_name: str) -> None:
    if runner_name not in RUNNER_NAMES:
        raise ConfigError(f"unknown runner {runner_name!r}; one of {list(RUNNER_NAMES)}")


def reference_dir(runner_name: str, root: str | Path | None = None) -> Path:
    """The reference run directory of ``runner_name`` (under ``root``, default :data:`REFERENCE_ROOT`)."""
    _check_runner(runner_name)
    return (REFERENCE_ROOT if root is None else Path(root)) / runner_name


def has_reference(runner_name: str, root: str | Path | None = None) -> bool:
    """Whether a finished reference run of ``runner_name`` is there (its ``metrics.json`` and ``reference.json``)."""
    path = reference_dir(runner_name, root)
    return RunDir(path).finished and (path / INFO_FILE).is_file()


def reference_info(runner_name: str, root: str | Path | None = None) -> dict:
    """``reference.json`` of the reference run: runner, sample, n, unit, epochs, device, date, command, seconds.

    Raises
    ------
    DataFileError
        The file is missing or not a JSON object.
    """
    return RunDir(reference_dir(runner_name, root)).read_json(INFO_FILE)


def is_reference_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` is a reference run (it holds ``reference.json`` beside its run files)."""
    return (Path(run_dir) / INFO_FILE).is_file()


def reference_label(info: Mapping[str, Any]) -> str:
    """The page's label of a reference run (Markdown), from its :func:`reference_info`."""
    return (f"**Reference run** — {info.get('sample', '?')}, {info.get('n', '?')} {info.get('unit', 'events')}, "
            f"{info.get('epochs', '?')} epochs, {info.get('device', '?')}, {str(info.get('date', '?'))[:10]}; "
            f"made by `{info.get('command', BUILD_COMMAND)}`. Press *Train* for a run of your own.")


def run_label(run_dir: str | Path) -> str:
    """The label of ``run_dir`` when it is a reference run (:func:`reference_label`), else ``""``."""
    path = Path(run_dir)
    return reference_label(RunDir(path).read_json(INFO_FILE)) if is_reference_run(path) else ""


def _size(config) -> tuple[int, str]:
    """``(n, unit)``: how many events or jets the run takes."""
    if "n_jets" in config.param:
        return int(config.n_jets), "jets"
    if "n_events" in config.param:
        return int(config.n_events), "events"
    return int(config.n_train) + int(config.n_test), "events"


def build(runner_name: str, out: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
          progress: Progress | None = None) -> Path:
    """Train the reference run of ``runner_name`` and store it in ``<out>/<runner_name>``.

    The run is trained in a fresh directory beside the target (``<out>/.<runner>-building-…``)
    and replaces the old reference run only once it finished, with its prepared data and
    ``reference.json``; a failed build leaves the old one as it was.

    Parameters
    ----------
    runner_name : str
        One of :data:`~jetviz.runners.catalog.RUNNER_NAMES`.
    out : str or Path, optional
        The reference root (default :data:`REFERENCE_ROOT`, the package's own).
    overrides : mapping, optional
        Config values over :data:`REFERENCE_CONFIGS` (tests build tiny runs of toy samples).
    progress : callable, optional
        The runner's progress events.

    Returns
    -------
    Path
        The reference run directory.

    Raises
    ------
    jetviz.errors.ConfigError
        An unknown runner, bad overrides, or a dataset file as sample (reference runs use recipes).
    """
    from jetviz.data.datasets import is_file_name

    spec = runner_spec(runner_name)
    config = spec.config.from_dict({**REFERENCE_CONFIGS[runner_name], **dict(overrides or {})})
    if is_file_name(config.sample):
        raise ConfigError(f"reference runs are of recipes, not dataset files ({config.sample!r})")
    root = REFERENCE_ROOT if out is None else Path(out)
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".{runner_name}-building-{uuid.uuid4().hex[:6]}"
    try:
        runner = spec.runner(config, building)
        started = time.perf_counter()
        result = runner.fit(progress)
        seconds = time.perf_counter() - started
        layout = store_data(RunDir(building), runner.load_data())
        n, unit = _size(config)
        flags = " ".join(f"--param {k}={json.dumps(v) if not isinstance(v, str) else v}"
                         for k, v in (overrides or {}).items())
        command = f"{BUILD_COMMAND} --runner {runner_name}" + (f" {flags}" if flags else "")
        RunDir(building).write_json(INFO_FILE, {
            "runner": runner_name, "sample": config.sample, "n": n, "unit": unit,
            "epochs": int(getattr(config, "epochs", 0)), "device": result.metrics.get("device", "?"),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command,
            "seconds": round(seconds, 1), "jetviz_version": _version(), "data_layout": layout})
        target = root / runner_name
        old = root / f".{runner_name}-old-{uuid.uuid4().hex[:6]}"
        if target.exists():
            target.rename(old)
        building.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _flatten(value: Any, key: str, arrays: dict[str, np.ndarray]) -> dict:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return {"dataclass": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: _flatten(getattr(value, f.name), f"{key}.{f.name}", arrays)
                           for f in dataclasses.fields(value)}}
    if isinstance(value, (tuple, list)):
        return {"sequence": type(value).__name__,
                "items": [_flatten(item, f"{key}.{i}", arrays) for i, item in enumerate(value)]}
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise ConfigError(f"the runner's data {key} is an object array, which a reference run cannot store")
        arrays[key] = array
        return {"array": key, "scalar": not isinstance(value, np.ndarray)}
    raise ConfigError(f"the runner's data {key} is a {type(value).__name__}, which a reference run cannot store")


def store_data(run: RunDir, data: Any) -> dict:
    """Write a runner's prepared data to ``<DATA_NAME>.npz`` in ``run`` (compressed); return its layout.

    ``data`` is made of dataclasses of the runner modules, tuples, lists, arrays and numbers
    (what the runners' ``prepare_data`` return); the layout (JSON) names the class and array of
    every part, for :func:`load_data`.

    Raises
    ------
    ConfigError
        A part of ``data`` is of another kind (it could not be read back without pickles).
    """
    arrays: dict[str, np.ndarray] = {}
    layout = _flatten(data, "data", arrays)
    run.write_arrays(DATA_NAME, arrays, compressed=True)
    return layout


def _unflatten(layout: Any, arrays: Mapping[str, np.ndarray], path: Path) -> Any:
    bad = DataFileError(path, f"has a data layout that does not fit {DATA_NAME}.npz or the current code "
                              f"(rebuild with `{BUILD_COMMAND}`)")
    if not isinstance(layout, dict):
        raise bad
    if "array" in layout:
        if layout["array"] not in arrays:
            raise bad
        array = arrays[layout["array"]]
        return array.item() if layout.get("scalar") else array
    if "sequence" in layout:
        items = [_unflatten(item, arrays, path) for item in layout.get("items", [])]
        return tuple(items) if layout["sequence"] == "tuple" else items
    module, _, name = str(layout.get("dataclass", "")).partition(":")
    if not module.startswith("jetviz.runners."):  # only the runners' own data classes are ever built
        raise bad
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise DataFileError(path, f"names the data class {module}:{name}, which the current code lacks "
                                  f"(rebuild with `{BUILD_COMMAND}`)") from None
    if not dataclasses.is_dataclass(cls):
        raise bad
    fields = layout.get("fields", {})
    expected = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(fields) != expected:
        raise DataFileError(path, f"stores {name} with the fields {sorted(fields)}, the current code has "
                                  f"{sorted(expected)} (rebuild with `{BUILD_COMMAND}`)")
    return cls(**{k: _unflatten(v, arrays, path) for k, v in fields.items()})


def load_data(run: RunDir, layout: Any) -> Any:
    """The prepared data :func:`store_data` wrote to ``run`` with ``layout``.

    Raises
    ------
    DataFileError
        ``<DATA_NAME>.npz`` is missing or damaged, or the layout does not fit it or the current
        data classes (a stale reference run).
    """
    return _unflatten(layout, run.read_arrays(DATA_NAME), run.file(INFO_FILE))


def _version() -> str:
    from jetviz import __version__

    return __version__


def open_run(runner_name: str, run_dir: str | Path, progress: Progress | None = None):
    """Reopen the finished run in ``run_dir`` without retraining: ``(result, data)``.

    A reference run's data is its shipped ``data.npz`` (nothing generated or prepared,
    nothing written); any other run's data is prepared again from its config (the sample and
    preparation caches).

    Raises
    ------
    DataFileError
        A file of the run is missing or damaged, or its ``config.json`` is no longer valid for
        the runner's config class (a stale reference run: rebuild it with ``jetviz reference build``).
    """
    from jetviz.runners.loop import stage_event

    emit = progress or (lambda event: None)
    spec = runner_spec(runner_name)
    path = Path(run_dir)
    result = spec.result.load(path)
    data = None
    if is_reference_run(path):
        emit(stage_event("open", f"reading the data of the {runner_name} reference run …", 0.0))
        run = RunDir(path)
        data = load_data(run, run.read_json(INFO_FILE).get("data_layout"))
    else:
        emit(stage_event("open", f"loading the data of {path.name} again …", 0.0))
    return result, spec.runner(result.config, path, data=data).load_data(emit)


def open_reference(runner_name: str, root: str | Path | None = None, progress: Progress | None = None):
    """Reopen the reference run of ``runner_name`` with its shipped data: ``(result, data)`` (see :func:`open_run`).

    Raises
    ------
    DataFileError
        The reference run is missing or damaged, or stale (see :func:`open_run`).
    """
    path = reference_dir(runner_name, root)
    if not has_reference(runner_name, root):
        raise DataFileError(path, f"holds no finished reference run; make one with `{BUILD_COMMAND} --runner "
                                  f"{runner_name}`")
    return open_run(runner_name, path, progress)


# ----------------------------------------------------------------------------- opened once, shared by the sessions
_SHARED: dict[tuple, Future] = {}
_SHARED_LOCK = threading.Lock()


def _shared_key(runner_name: str, run_dir: str | Path, derive: Callable) -> tuple | None:
    """What identifies a shared opening: the reference run (its directory and ``config.json``'s time
    stamp, so a rebuilt run is opened anew) and the derivation's options; None for a user's run."""
    path = Path(run_dir).resolve()
    if not is_reference_run(path):
        return None
    try:
        stamp = (path / RunDir.CONFIG).stat().st_mtime_ns
    except OSError:
        return None
    options = sorted(derive.keywords.items()) if isinstance(derive, functools.partial) else []
    return runner_name, str(path), stamp, repr(options), getattr(derive, "func", derive)


def open_shared(runner_name: str, run_dir: str | Path, derive: Callable,
                progress: Callable[[dict], None] | None = None) -> tuple:
    """Reopen a finished run and derive a page's extras: ``(result, data, derived)``.

    A reference run is opened once per process and the same objects are handed to every session
    that shows it with the same derivation options (the views only read them): the server's
    start-up warm-up (:meth:`jetviz.ui.training.TrainingPage.warm`) or the first session opens it, a session asking
    while it is being opened waits for that opening instead of repeating it, and a failure is not
    kept (the next session tries again). Any other run is opened for the caller alone.

    Parameters
    ----------
    runner_name : str
        The runner (:mod:`jetviz.runners.catalog`).
    run_dir : str or Path
        The finished run's directory.
    derive : callable
        ``derive(result, data, progress) -> tuple`` (a page's :meth:`jetviz.ui.training.TrainingStore.derivation`).
    progress : callable, optional
        Receives the opening's progress events (not when another thread's opening is waited for).
    """
    emit = progress or (lambda event: None)

    def opened() -> tuple:
        result, data = open_run(runner_name, run_dir, emit)
        return result, data, derive(result, data, emit)

    key = _shared_key(runner_name, run_dir, derive)
    if key is None:
        return opened()
    with _SHARED_LOCK:
        future = _SHARED.get(key)
        owner = future is None
        if owner:
            future = _SHARED[key] = Future()
    if owner:
        try:
            future.set_result(opened())
        except BaseException as err:
            with _SHARED_LOCK:
                _SHARED.pop(key, None)
            future.set_exception(err)
    return future.result()


def shared_if_ready(runner_name: str, run_dir: str | Path, derive: Callable) -> tuple | None:
    """``(result, data, derived)`` of a reference run already opened by :func:`open_shared` with
    the same derivation, or None (not opened, still opening, or it failed)."""
    key = _shared_key(runner_name, run_dir, derive)
    future = None if key is None else _SHARED.get(key)
    if future is None or not future.done() or future.exception() is not None:
        return None
    return future.result()
