"""What every runner shares: bounded configs, the Runner and RunResult bases, the device, parallel jobs.

Design notes: docs/architecture.md, section ``jetviz.runners.base``.
"""
from __future__ import annotations

import functools

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import param

from jetviz.data.datasets import SampleName, sample_dataset
from jetviz.data.prepared import BlockTransform
from jetviz.errors import ConfigError, JetvizError
from jetviz.runners.loop import Progress, stage_event
from jetviz.runners.rundir import RunDir

__all__ = ["RunConfig", "JetSampleConfig", "Rows", "JetSample", "Runner", "JetRunner", "RunResult", "Progress",
           "pick_device", "load_run_sample", "load_run_jets", "parallel_map"]


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


class JetSampleConfig(RunConfig):
    """Base of the jet runners' configs: which jets (a subclass sets its own defaults)."""

    sample = SampleName(default="top_qcd", recipes=("top_qcd", "toy_top_qcd"),
                        doc="top (label 1) vs QCD (label 0) jets: a recipe, or a file of jets (top-tagging HDF5, "
                            "energyflow .npz, jetviz Parquet) under the data root")
    n_jets = param.Integer(default=3000, bounds=(40, 5_000_000), doc="jets in all, half top")
    jet_R = param.Number(default=1.0, bounds=(0.2, 2.0), doc="anti-kt radius R")
    pt_min = param.Number(default=450.0, bounds=(10.0, 5000.0), doc="jet pT above (GeV)")
    pt_max = param.Number(default=1000.0, bounds=(20.0, 10000.0), doc="jet pT below (GeV)")


class Rows:
    """Base of the runners' data classes: dataclasses whose fields are arrays of one row per
    event or jet (axis 0)."""

    def __len__(self) -> int:
        return len(next(iter(vars(self).values())))

    def subset(self, rows):
        """The same class holding rows ``rows`` (an index array, a mask or a slice) of every field."""
        return type(self)(**{name: value[rows] for name, value in vars(self).items()})


@dataclass
class JetSample(Rows):
    """What every jet runner keeps of its jets besides the model inputs.

    Attributes
    ----------
    labels : (N,) int64 np.ndarray
        1 top, 0 QCD.
    pt, mass : (N,) np.ndarray
        Jet pT and mass (GeV).
    split : (N,) int8 np.ndarray
        The runner's parts (training, test, …).
    """

    labels: np.ndarray
    pt: np.ndarray
    mass: np.ndarray
    split: np.ndarray


def pick_device(name: str = "auto") -> str:
    """``"cuda"`` when asked for or available under ``"auto"``, else ``"cpu"``; never assumes a GPU."""
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but this kernel has no CUDA device")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def load_run_sample(sample: str, n: int, seed: int, progress: Progress | None = None, unit: str = "events",
                    span: tuple[float, float] = (0.0, 0.1), **params):
    """:func:`jetviz.data.samples.load_sample` reporting generation as ``stage`` events.

    ``span``: the part ``(start, width)`` of the run's progress (``fraction``) that loading fills.
    """
    from jetviz.data.samples import load_sample

    def sample_progress(done: int, total: int) -> None:
        if progress:
            progress(stage_event("sample", f"generating {sample}: {done}/{total} {unit}",
                                 span[0] + span[1] * done / max(total, 1), done=done, total=total))

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


class Runner:
    """Base of the runners: a config, its run directory and the data prepared for it.

    Parameters
    ----------
    config : RunConfig
        The run's settings.
    run_dir : str or Path, optional
        Where to write (default: a new directory under :func:`~jetviz.runners.rundir.runs_dir`);
        an unfinished run there with the same settings resumes from its last checkpoint.
    events : ak.Array, optional
        Events to use instead of loading ``config.sample``.
    data : object, optional
        Data already prepared for this config (by a scan, an ablation or a page): not prepared twice.

    A subclass sets :attr:`name` and defines :meth:`prepare_data` and ``fit(progress, cancel)``,
    which starts with :meth:`begin` and ends with :meth:`finish`: ``progress`` is called with the
    event dicts (``kind`` "stage", "step", "epoch", "unit", "done"), ``cancel`` polled between steps
    (True: :class:`~jetviz.errors.Cancelled`, the last checkpoint kept).
    """

    name: str = "run"

    def __init__(self, config: RunConfig, run_dir: str | Path | None = None, events=None, data=None):
        self.config = config
        self.run = RunDir(run_dir) if run_dir is not None else RunDir.new(self.name)
        self.run.path.mkdir(parents=True, exist_ok=True)
        self._events, self._data = events, data

    @property
    def run_dir(self) -> Path:
        """The run directory's path."""
        return self.run.path

    def load_data(self, progress: Progress | None = None):
        """The run's prepared data (prepared on first call, then kept)."""
        if self._data is None:
            self._data = self.prepare_data(progress or (lambda event: None))
        return self._data

    def prepare_data(self, progress: Progress):
        """Load and prepare the run's data (a subclass's job)."""
        raise NotImplementedError

    def dataset_record(self) -> dict:
        """What the run is trained on, as ``config.json`` records it: the recipe, or the file's
        name, format, size and content fingerprint (:meth:`jetviz.data.datasets.Dataset.record`)."""
        if self._events is not None:
            return {"name": self.config.sample, "source": "events given to the runner"}
        source = sample_dataset(self.config.sample)
        return {"name": self.config.sample, "source": "recipe"} if source is None else source.record()

    def read_events(self, n: int, progress: Progress, needed: str = "n_events", unit: str = "events", **params):
        """The first ``n`` events of the config's sample: the events given, a recipe (generated on
        first use, then cached) or a dataset file read chunk by chunk (never the whole file).
        ``needed`` says where ``n`` comes from, for messages."""
        config = self.config
        if self._events is not None:
            if len(self._events) < n:
                raise ConfigError(f"{len(self._events)} {unit} given, {needed} = {n} needed")
            return self._events[:n]
        source = sample_dataset(config.sample)
        if source is None:
            return load_run_sample(config.sample, n, config.seed, progress, unit, **params)

        def report(done: int, total: int) -> None:
            progress(stage_event("sample", f"reading {source.name}: {done}/{total} {unit}", 0.1 * done / total,
                                 done=done, total=total))

        events = source.head(n, report)
        if len(events) < n:
            raise ConfigError(f"{source.name} holds {len(events)} {unit}; {needed} = {n} needed (use fewer)")
        return events

    def begin(self, progress: Progress | None) -> tuple[Progress, str, Any]:
        """The first step of ``fit``: torch threads, claim the run directory, pick the device, load the data;
        returns ``(emit, device, data)``: the progress callable (a no-op for None), "cpu" or "cuda", the data.
        """
        import torch

        threads = getattr(self.config, "threads", 0)
        if threads:
            torch.set_num_threads(int(threads))
        self.run.claim(self.config, dataset=self.dataset_record())
        emit = progress or (lambda event: None)
        device = pick_device(self.config.device)
        return emit, device, self.load_data(emit)

    def finish(self, emit: Progress, metrics: Mapping, arrays: Mapping | None = None, arrays_name: str = "arrays",
               states: Mapping | None = None, history: list[dict] | None = None) -> None:
        """The last step of ``fit``: state dicts, arrays and history, then ``metrics.json`` (which
        marks the run finished), the checkpoint removed and a ``done`` event."""
        for name, module in (states or {}).items():
            self.run.save_state(name, module.state_dict() if hasattr(module, "state_dict") else module)
        if arrays is not None:
            self.run.write_arrays(arrays_name, arrays)
        if history is not None:
            self.run.write_history(history)
        self.run.write_metrics(metrics)
        self.run.clear_checkpoint()
        emit({"kind": "done", "metrics": dict(metrics), "fraction": 1.0})


class JetRunner(Runner):
    """Base of the jet runners: the data is ``from_arrays(arrays, config)``, where the arrays are

    - ``events_arrays(jets, config)`` of the config's recipe sample (or the jets given), or
    - a dataset file's blocks of padded jets through :class:`BlockTransform` of
      ``block_features(block, **preparation_params(config))``, prepared chunk by chunk into the
      memory-mapped preparation cache (:func:`jetviz.data.prepared.prepare_cached`, reused by the
      next run of the same file and settings); the run takes its first ``n_jets`` rows.

    A subclass sets the four as static methods.
    """

    events_arrays: Callable = staticmethod(lambda events, config: {})
    block_features: Callable = staticmethod(lambda block: {})
    preparation_params: Callable = staticmethod(lambda config: {})
    from_arrays: Callable = staticmethod(lambda arrays, config: arrays)

    @classmethod
    def prepare(cls, events, config) -> Any:
        """The data of jets (schema events with a per-jet ``label``)."""
        return cls.from_arrays(cls.events_arrays(events, config), config)

    def prepare_data(self, progress: Progress):
        """The run's jets, prepared (recipes: generated on first use, then from the sample cache;
        files: from the preparation cache, prepared chunk by chunk on first use)."""
        config = self.config
        source = sample_dataset(config.sample) if self._events is None else None
        if source is None:
            return load_run_jets(config, self._events, progress, type(self).prepare)
        from jetviz.data.prepared import prepare_cached

        transform = BlockTransform(type(self).block_features, type(self).preparation_params(config))

        def report(done: int, total: int) -> None:
            progress(stage_event("prepare", f"preparing {source.name}: {done}/{total} jets", 0.1 * done / max(total, 1),
                                 done=done, total=total))

        prepared = prepare_cached(source, transform, transform.params, progress=report)
        if len(prepared) < config.n_jets:
            raise ConfigError(f"{source.name} holds {len(prepared)} jets; n_jets = {config.n_jets} (use fewer)")
        rows = slice(0, config.n_jets)
        return type(self).from_arrays({name: np.asarray(values[rows]) for name, values in prepared.arrays.items()},
                                      config)


class RunResult:
    """Base of the results: a finished run, reopened from its directory without retraining.

    Attributes
    ----------
    config : RunConfig
        The run's settings. run_dir : Path. history : list of dict (epoch rows).
    metrics : dict
        What the run measured (``metrics.json``).
    arrays : dict of ndarray
        The run's arrays (``<arrays_name>.npz``).
    model : torch.nn.Module or None
        The trained model (CPU, eval mode), where the runner has one.

    A subclass sets :attr:`runner_name`, :attr:`arrays_name` (None: no arrays file),
    :attr:`required_arrays` / :attr:`required_metrics` (checked on loading) and, when it has a
    model, :meth:`build_model`.
    """

    runner_name: str = "run"
    arrays_name: str | None = "arrays"
    required_arrays: tuple[str, ...] = ()
    required_metrics: tuple[str, ...] = ()

    def __init__(self, config: RunConfig, run_dir: str | Path, history: list[dict], metrics: dict,
                 arrays: Mapping | None = None, model=None):
        self.config, self.run_dir, self.history = config, Path(run_dir), list(history)
        self.metrics, self.arrays, self.model = dict(metrics), dict(arrays or {}), model

    @classmethod
    def config_class(cls) -> type[RunConfig]:
        from jetviz.runners.catalog import runner_spec

        return runner_spec(cls.runner_name).config

    @classmethod
    def build_model(cls, config: RunConfig, metrics: dict):
        """A fresh model of this configuration, to load ``model.pt`` into (None: no model)."""
        return None

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunResult":
        """Reopen the finished run in ``run_dir`` (DataFileError naming the file: one missing, damaged or not fitting)."""
        run = RunDir(run_dir)
        config = run.read_config(cls.config_class())
        metrics = run.read_metrics(cls.required_metrics)
        arrays = run.read_arrays(cls.arrays_name, cls.required_arrays) if cls.arrays_name else {}
        model = cls.build_model(config, metrics)
        if model is not None:
            run.load_model(model)
        return cls(config, run.path, run.read_history(required=False), metrics, arrays, model)

    @functools.cached_property
    def dataset(self) -> dict | None:
        """What the run was trained on: ``config.json``'s record (recipe, or file with its fingerprint);
        None when the run did not record it or its ``config.json`` cannot be read."""
        try:
            return RunDir(self.run_dir).dataset()
        except JetvizError:
            return None

    def dataset_changed(self) -> str | None:
        """What changed in the dataset file since the run (None: unchanged, a recipe, or not recorded)."""
        from jetviz.data.datasets import fingerprint_changes

        recorded = self.dataset or {}
        if recorded.get("source") != "file" or not recorded.get("fingerprint"):
            return None
        try:
            source = sample_dataset(recorded["name"])
        except Exception as err:  # moved out of the data root, or gone
            return f"{recorded['name']} cannot be found any more ({err})"
        return fingerprint_changes(recorded["fingerprint"], source.path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.run_dir.name}>"


def parallel_map(function: Callable, jobs: list[tuple], workers: int = 2, client=None, progress: Progress | None = None,
                 describe: Callable[[Any], str] = lambda result: "", span: tuple[float, float] = (0.0, 1.0)) -> list:
    """``function(*job)`` for every job, as parallel jobs; results in completion order.

    On a ``dask.distributed`` client when given (``client.map``), else in ``workers`` local
    processes ("spawn": safe beside server threads; ``function`` and the jobs must pickle), or
    one after the other in this process when ``workers ≤ 1``. After each job a "unit" progress
    event (``done``, ``total``, ``message`` = ``describe(result) + " done"``, ``fraction`` within
    ``span`` = (start, width)) is emitted.
    """
    import concurrent.futures as cf
    import multiprocessing

    emit = progress or (lambda event: None)
    results: list = []

    def finished(result) -> None:
        results.append(result)
        emit({"kind": "unit", "done": len(results), "total": len(jobs), "message": f"{describe(result)} done".strip(),
              "fraction": span[0] + span[1] * len(results) / max(len(jobs), 1)})

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
