"""What every runner shares: configs as bounded params, run directories, checkpoints, progress.

A run directory holds ``config.json``, ``metrics.json``, ``history.csv`` (one row per epoch),
``model.pt`` (a state dict, loaded with ``torch.load(weights_only=True)``) and
``checkpoint.pt`` (model + optimiser + epoch, written atomically after every epoch, so a
killed run resumes where it stopped). Run directories are never reused for another run: a new
run gets a new, unique directory under :func:`runs_dir`.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import param

from jetviz.data.io import atomic_write, json_default
from jetviz.errors import Cancelled, ConfigError

__all__ = [
    "RunConfig",
    "Progress",
    "Cancelled",
    "runs_dir",
    "new_run_dir",
    "write_json",
    "json_default",
    "read_json",
    "write_history",
    "read_history",
    "save_torch",
    "load_torch",
    "pick_device",
    "claim_run_dir",
    "load_run_sample",
    "load_run_jets",
    "run_jobs",
]

#: ``progress(event)``: event is a dict with at least ``kind`` ("step", "epoch", "stage" or
#: "done") and, depending on it, ``epoch``, ``step``, ``n_steps``, ``loss``, metrics, ``message``.
Progress = Callable[[dict], None]


class RunConfig(param.Parameterized):
    """Base of every runner config: bounded params that serialise to JSON and back."""

    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), doc="seed of the sample, the split and the training")
    device = param.Selector(default="auto", objects=["auto", "cpu", "cuda"], doc="auto = cuda when available")

    def to_dict(self) -> dict:
        """The config's values (JSON-compatible), without param's own ``name``."""
        return {k: v for k, v in self.param.values().items() if k != "name"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build a config; unknown keys or out-of-bounds values raise :class:`ConfigError`."""
        unknown = sorted(set(values) - set(cls.param) - {"name"})
        if unknown:
            raise ConfigError(f"{cls.__name__} has no parameter(s) {unknown}")
        try:
            return cls(**{k: v for k, v in values.items() if k != "name"})
        except ValueError as err:
            raise ConfigError(f"{cls.__name__}: {err}") from None

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        return cls.from_dict(json.loads(text))


def runs_dir() -> Path:
    """Where run directories live: ``$JETVIZ_RUNS`` or ``~/.cache/jetviz/runs``."""
    root = Path(os.environ.get("JETVIZ_RUNS", Path(os.environ.get("JETVIZ_CACHE", Path.home() / ".cache" / "jetviz")) / "runs"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def new_run_dir(runner: str, root: Path | None = None) -> Path:
    """A fresh, unique run directory ``<root>/<runner>-<UTC time>-<random>`` (never an existing one)."""
    root = Path(root) if root is not None else runs_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = root / f"{runner}-{stamp}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_json(path: Path, values: Any) -> None:
    """Write JSON atomically (numpy scalars converted by :func:`json_default`)."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(values, handle, indent=2, sort_keys=True, default=json_default)


def read_json(path: Path) -> Any:
    from jetviz.errors import DataFileError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(path, "missing from the run directory") from None
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"is not valid JSON ({err})") from None


def write_history(path: Path, history: list[dict]) -> None:
    """Write the per-epoch history as CSV atomically (columns = union of keys, in first-seen order)."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(history)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(buffer.getvalue())


def read_history(path: Path) -> list[dict]:
    """Read a history CSV back, numbers as floats (ints where integral)."""
    def number(text: str):
        try:
            value = float(text)
        except ValueError:
            return text
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value

    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def save_torch(obj: Any, path: Path) -> None:
    """``torch.save`` atomically (a crash mid-write never leaves a half checkpoint)."""
    import torch

    with atomic_write(path, "wb") as handle:
        torch.save(obj, handle)


def load_torch(path: Path) -> Any:
    """``torch.load(weights_only=True)`` on CPU; a damaged file raises a DataFileError naming it."""
    import torch

    from jetviz.errors import DataFileError

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataFileError(path, "missing from the run directory") from None
    except Exception as err:  # torch raises RuntimeError / UnpicklingError / EOFError
        raise DataFileError(path, f"is not a readable torch file ({type(err).__name__}: {err})") from None


def pick_device(name: str = "auto") -> str:
    """``"cuda"`` when asked for or available under ``"auto"``, else ``"cpu"``; never assumes a GPU."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but this kernel has no CUDA device")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def claim_run_dir(run_dir: Path, config: RunConfig) -> None:
    """Write ``config.json`` into ``run_dir``, or check that the run already there has these settings.

    A run directory is never reused for other settings (its results would be mixed up):
    a different stored config raises :class:`ConfigError` naming the changed parameters.
    """
    path = Path(run_dir) / "config.json"
    values = config.to_dict()
    if path.exists():
        stored = read_json(path)
        if stored != values:
            changed = sorted(k for k in set(stored) | set(values) if stored.get(k) != values.get(k))
            raise ConfigError(f"{run_dir} holds a run with other settings ({changed}); start a new run directory")
    write_json(path, values)


def load_run_sample(sample: str, n: int, seed: int, progress: Progress | None = None, unit: str = "events", **params):
    """:func:`jetviz.data.samples.load_sample` reporting generation as "stage" progress events."""
    from jetviz.data.samples import load_sample

    def sample_progress(done: int, total: int) -> None:
        if progress:
            progress({"kind": "stage", "stage": "sample", "done": done, "total": total,
                      "message": f"generating {sample}: {done}/{total} {unit}"})

    return load_sample(sample, n, seed, progress=sample_progress, show_progress=False, **params)


def load_run_jets(config: RunConfig, events, progress: Progress | None, prepare: Callable):
    """``prepare(jets, config)`` of a jet runner's sample: the given ``events`` (their first
    ``config.n_jets``), or ``config.sample`` loaded with ``n_jets``, ``seed``, ``jet_R``,
    ``pt_min``, ``pt_max`` (generated on first use, then from the sample cache)."""
    if events is None:
        events = load_run_sample(config.sample, config.n_jets, config.seed, progress, "jets",
                                 R=config.jet_R, pt_min=config.pt_min, pt_max=config.pt_max)
    elif len(events) < config.n_jets:
        raise ConfigError(f"{len(events)} jets given, n_jets = {config.n_jets} needed")
    else:
        events = events[: config.n_jets]
    return prepare(events, config)


def run_jobs(function: Callable, jobs: list[tuple], workers: int = 2, client=None, progress: Progress | None = None,
             describe: Callable[[Any], str] = lambda result: "") -> list:
    """``function(*job)`` for every job, as parallel jobs; results in completion order.

    On a ``dask.distributed`` client when given (``client.map``), else in ``workers`` local
    processes ("spawn": safe beside server threads; ``function`` and the jobs must pickle), or
    one after the other in this process when ``workers ≤ 1``. After each job a "unit" progress
    event (``done``, ``total``, ``message`` = ``describe(result) + " done"``) is emitted.
    """
    import concurrent.futures as cf
    import multiprocessing

    emit = progress or (lambda event: None)
    results: list = []

    def finished(result) -> None:
        results.append(result)
        emit({"kind": "unit", "done": len(results), "total": len(jobs), "message": f"{describe(result)} done".strip()})

    if client is not None:
        for future in client.map(function, *zip(*jobs), pure=False):
            finished(future.result())
    elif workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            finished(function(*job))
    else:
        with cf.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in cf.as_completed([pool.submit(function, *job) for job in jobs]):
                finished(future.result())
    return results
