"""One run directory: the files a run writes and reopens, each read back with a clear error.

Design notes: docs/architecture.md, section ``jetviz.runners.rundir``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import numpy as np

from jetviz.data.io import atomic_write, json_default, load_torch_file, read_csv_rows, read_json, read_npz
from jetviz.errors import ConfigError, DataFileError

__all__ = ["RunDir", "runs_dir"]


def runs_dir() -> Path:
    """Where run directories live: ``$JETVIZ_RUNS`` or ``$JETVIZ_CACHE/runs`` (``~/.cache/jetviz/runs``)."""
    cache = Path(os.environ.get("JETVIZ_CACHE", Path.home() / ".cache" / "jetviz"))
    root = Path(os.environ.get("JETVIZ_RUNS", cache / "runs"))
    root.mkdir(parents=True, exist_ok=True)
    return root


class RunDir:
    """The run directory at ``path`` (which need not exist yet)."""

    CONFIG = "config.json"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    CHECKPOINT = "checkpoint.pt"
    DATASET = "dataset"  # the key of config.json that records what the run was trained on

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def new(cls, runner: str, root: str | Path | None = None) -> "RunDir":
        """A fresh, unique directory ``<root>/<runner>-<UTC time>-<random>`` (never an existing one)."""
        root = Path(root) if root is not None else runs_dir()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = root / f"{runner}-{stamp}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    @property
    def name(self) -> str:
        """The directory's name (what a ``?run=`` deep link carries)."""
        return self.path.name

    def file(self, name: str) -> Path:
        """Path of the file ``name`` in the directory."""
        return self.path / name

    def exists(self, name: str) -> bool:
        """Whether the file ``name`` is there."""
        return (self.path / name).is_file()

    @property
    def finished(self) -> bool:
        """Whether the run finished (its ``metrics.json`` is there)."""
        return self.exists(self.METRICS)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @contextmanager
    def _writing(self, name: str, binary: bool = False) -> Iterator[IO]:
        """The open handle of ``name``, written atomically (UTF-8 text unless ``binary``); the directory is made."""
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.file(name), "wb" if binary else "w") as handle:  # text: UTF-8
            yield handle

    # ----------------------------------------------------------------------------- JSON
    def write_json(self, name: str, values: Any) -> Path:
        """Write ``values`` as JSON to ``name`` atomically (numpy values converted)."""
        with self._writing(name) as handle:
            json.dump(values, handle, indent=2, sort_keys=True, default=json_default)
        return self.file(name)

    def read_json(self, name: str, kind: type | None = dict) -> Any:
        """The JSON value in ``name`` (see :func:`jetviz.data.io.read_json`)."""
        return read_json(self.file(name), kind)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` (UTF-8) to ``name`` atomically."""
        with self._writing(name) as handle:
            handle.write(text)
        return self.file(name)

    # ----------------------------------------------------------------------------- config and metrics
    def claim(self, config, dataset: Mapping | None = None) -> None:
        """Write the config (and ``dataset``, the record of what the run is trained on) into ``config.json``,
        or check that the run already there has these settings.

        Raises
        ------
        ConfigError
            The directory holds a run with other settings (names the changed parameters), or a
            run of the same settings on a dataset file whose content changed since.
        """
        values = config.to_dict()
        if self.exists(self.CONFIG):
            stored = self.read_json(self.CONFIG)
            recorded = stored.pop(self.DATASET, None)
            if stored != values:
                changed = sorted(k for k in set(stored) | set(values) if stored.get(k) != values.get(k))
                raise ConfigError(f"{self.path} holds a run with other settings ({changed}); start a new run directory")
            before, now = (recorded or {}).get("fingerprint"), (dataset or {}).get("fingerprint")
            if before and now and before.get("id") != now.get("id"):
                raise ConfigError(f"{self.path} was started on {recorded.get('name')}, whose content has changed since "
                                  "(size, date or bytes): start a new run directory")
            if dataset and not recorded:  # claimed before by a job submission, which does not read the data
                self.write_json(self.CONFIG, {**values, self.DATASET: dict(dataset)})
            return
        self.write_json(self.CONFIG, {**values, **({self.DATASET: dict(dataset)} if dataset else {})})

    def read_config(self, config_class: type):
        """The run's config as a ``config_class``; a stored value it rejects is a DataFileError."""
        values = self.read_json(self.CONFIG)
        values.pop(self.DATASET, None)
        try:
            return config_class.from_dict(values)
        except ConfigError as err:
            raise DataFileError(self.file(self.CONFIG), f"does not hold valid {config_class.__name__} settings: {err}") from None

    def dataset(self) -> dict | None:
        """What the run was trained on (``config.json``'s ``"dataset"``), None for runs that did not record it."""
        recorded = self.read_json(self.CONFIG).get(self.DATASET)
        return dict(recorded) if isinstance(recorded, Mapping) else None

    def write_metrics(self, metrics: Mapping) -> Path:
        """Write ``metrics.json`` (marks the run finished: write it last)."""
        return self.write_json(self.METRICS, dict(metrics))

    def read_metrics(self, required: tuple[str, ...] = ()) -> dict:
        """``metrics.json`` as a dict; ``required`` keys missing are a DataFileError."""
        metrics = self.read_json(self.METRICS)
        missing = [k for k in required if k not in metrics]
        if missing:
            raise DataFileError(self.file(self.METRICS), f"lacks the entr{'y' if len(missing) == 1 else 'ies'} {missing}")
        return metrics

    # ----------------------------------------------------------------------------- history
    def write_history(self, rows: list[dict]) -> Path:
        """Write the per-epoch rows as CSV atomically (columns: the union of keys, first seen first)."""
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns)
        writer.writeheader()
        writer.writerows(rows)
        return self.write_text(self.HISTORY, buffer.getvalue())

    def read_history(self, required: bool = True) -> list[dict]:
        """The history rows (:func:`jetviz.data.io.read_csv_rows`); ``required=False``: ``[]`` when there is no file."""
        path = self.file(self.HISTORY)
        return read_csv_rows(path) if required or path.is_file() else []

    # ----------------------------------------------------------------------------- arrays
    def write_arrays(self, name: str, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> Path:
        """Write numeric arrays to ``<name>.npz`` atomically (object arrays are refused; ``compressed``: deflated)."""
        for key, value in arrays.items():
            if np.asarray(value).dtype.hasobject:
                raise TypeError(f"write_arrays: {key!r} is an object array; only numeric and string arrays are stored")
        with self._writing(f"{name}.npz", binary=True) as handle:
            (np.savez_compressed if compressed else np.savez)(handle, **arrays)
        return self.file(f"{name}.npz")

    def read_arrays(self, name: str, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """The arrays of ``<name>.npz`` (:func:`jetviz.data.io.read_npz`: no pickles, ``required`` names checked)."""
        return read_npz(self.file(f"{name}.npz"), required)

    # ----------------------------------------------------------------------------- torch state
    def save_state(self, name: str, state: Any) -> Path:
        """``torch.save`` of a state dict (or a dict of them) to ``<name>.pt``, atomically."""
        import torch

        with self._writing(f"{name}.pt", binary=True) as handle:
            torch.save(state, handle)
        return self.file(f"{name}.pt")

    def load_state(self, name: str) -> Any:
        """``torch.load(weights_only=True)`` of ``<name>.pt`` on the CPU (see :func:`load_torch_file`)."""
        return load_torch_file(self.file(f"{name}.pt"))

    def load_model(self, model, name: str = "model"):
        """Load the state dict ``<name>.pt`` into ``model`` (returned, in eval mode); DataFileError when the file
        is missing or unreadable or its weights do not fit ``model`` (the message names the first mismatches).
        """
        path = self.file(f"{name}.pt")
        state = self.load_state(name)
        if not isinstance(state, Mapping):
            raise DataFileError(path, f"holds a {type(state).__name__}, not a state dict")
        try:
            model.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as err:
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            detail = "; ".join(lines[1:3] or lines[:1])[:300]
            raise DataFileError(path, f"holds weights of another model configuration than config.json ({detail})") from None
        return model.eval()

    # ----------------------------------------------------------------------------- checkpoint
    @property
    def has_checkpoint(self) -> bool:
        """Whether an unfinished training left a checkpoint."""
        return self.exists(self.CHECKPOINT)

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint (the run finished)."""
        self.file(self.CHECKPOINT).unlink(missing_ok=True)
