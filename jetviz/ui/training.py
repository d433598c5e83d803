"""What the pages that train runs share: the training store, its views' base and the page around them.

Design notes: docs/architecture.md, section ``jetviz.ui.training``.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import panel as pn
import param
from panel.viewable import Viewer
from param.parameterized import batch_call_watchers

from jetviz import reference as references
from jetviz.data.datasets import sample_choices
from jetviz.runners.base import RunConfig
from jetviz.runners.catalog import runner_spec
from jetviz.runners.loop import stage_event
from jetviz.runners.rundir import RunDir, runs_dir
from jetviz.ui.backends import BackendChoice
from jetviz.ui.background import QueuePolling, WorkStatus, served
from jetviz.ui.widgets import SIDEBAR_WIDTH, bounded_input

log = logging.getLogger(__name__)

__all__ = ["parse_value", "config_defaults", "apply_url_query", "finished_runs", "fit_on_backend", "TrainingStore",
           "TrainingView", "TrainingPage"]


def parse_value(config_class: type[param.Parameterized], name: str, text: str) -> Any:
    """A string (env var, URL query) → a value for ``config_class.param[name]``.

    Booleans are ``1/0/true/false/yes/no/on/off``; list selectors a JSON list or comma-separated
    names; anything else is passed on as the string.

    Raises
    ------
    ValueError
        ``text`` is not a value of the param's type.
    """
    p = config_class.param[name]
    if isinstance(p, param.Boolean):
        lowered = text.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"{text!r} is not a boolean")
        return lowered in ("1", "true", "yes", "on")
    if isinstance(p, param.Integer):
        return int(text)
    if isinstance(p, param.Number):
        return float(text)
    if isinstance(p, param.ListSelector):
        return json.loads(text) if text.strip().startswith("[") else [t.strip() for t in text.split(",") if t.strip()]
    return text


def config_defaults(config_class: type[RunConfig], page_defaults: Mapping[str, Any], env_prefix: str,
                    environ: Mapping[str, str] | None = None, **overrides) -> RunConfig:
    """A page's default config: ``page_defaults`` (the page's own), then env vars, then ``overrides``.

    Any param ``x`` of ``config_class`` can be set with the env var ``<env_prefix>X`` (e.g.
    ``JETVIZ_COLORIZE_N_TRAIN=32``, read by :func:`parse_value`) of ``environ`` (default ``os.environ``).

    Raises
    ------
    jetviz.errors.ConfigError
        A value that cannot be parsed or is out of bounds (names the variable).
    """
    from jetviz.errors import ConfigError

    environ = os.environ if environ is None else environ
    values = dict(page_defaults)
    for name in config_class.param:
        key = f"{env_prefix}{name.upper()}"
        if name != "name" and key in environ:
            try:
                values[name] = parse_value(config_class, name, environ[key])
            except ValueError as err:
                raise ConfigError(f"{key}={environ[key]!r}: {err}") from None
    values.update(overrides)
    return config_class.from_dict(values)


def apply_url_query(config: param.Parameterized, args: Mapping[str, Sequence], names: Sequence[str]) -> list[str]:
    """Set ``config``'s params ``names`` from a URL query (``pn.state.session_args``; the last value wins);
    returns the rejected values as ``name='value'`` (unparsable or out of bounds: those params are kept).
    """
    rejected = []
    for name in names:
        if name not in args:
            continue
        raw = args[name][-1]
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            setattr(config, name, parse_value(type(config), name, text))
        except (ValueError, TypeError):
            rejected.append(f"{name}={text!r}")
    return rejected


def finished_runs(runner: str, root: Path | None = None) -> list[Path]:
    """Finished run directories of ``runner`` under ``root`` (default :func:`~jetviz.runners.rundir.runs_dir`),
    newest first: the ``<runner>-*`` directories with ``metrics.json`` and a ``config.json`` valid for
    the runner's config class (another runner's, or a damaged one, is not offered).
    """
    root = runs_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    config_class = runner_spec(runner).config

    def valid(path: Path) -> bool:
        run = RunDir(path)
        if not run.finished:
            return False
        try:
            run.read_config(config_class)
        except Exception:  # another runner's or a damaged config: not offered
            return False
        return True

    runs = [path for path in root.glob(f"{runner}-*") if path.is_dir() and valid(path)]
    return sorted(runs, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)


def trained_on(result) -> str:
    """What a run of a dataset file was trained on, as its ``config.json`` records it ('' for a recipe)."""
    dataset = result.dataset or {}
    if dataset.get("source") != "file":
        return ""
    sha = (dataset.get("fingerprint") or {}).get("head_tail_sha256", "")[:12]
    return f" · trained on {dataset['name']} ({dataset.get('format')}, {dataset.get('n_events')} rows, sha {sha})"


def fit_on_backend(runner, backend, progress: Callable[[dict], None], cancel: threading.Event,
                   runner_kwargs: Mapping[str, Any] | None = None):
    """Train ``runner`` (a runner object: its config and run directory) as a :mod:`jetviz.compute` job.

    Blocks (call it from a worker thread), relays the job's events to ``progress``, cancels it
    when ``cancel`` is set, and returns the runner's result (raises what
    :meth:`jetviz.compute.Job.result` raises). ``backend`` is a :class:`jetviz.compute.Backend` of
    the operator's allow-list; on a thread of this process the job gets ``runner_kwargs`` (data
    the page prepared already).
    """
    from jetviz.compute import ThreadBackend, run_job

    chosen = ThreadBackend(dict(runner_kwargs or {})) if isinstance(backend, ThreadBackend) else backend
    return run_job(runner.name, runner.config, chosen, run_dir=runner.run_dir, progress=progress, cancel=cancel.is_set)


def _no_derivation(result, data, progress) -> tuple:
    return ()


class TrainingStore(BackendChoice, WorkStatus, QueuePolling, Viewer):
    """Base of a page's data store that trains runs of one runner and reopens finished ones.

    Set the ``config``'s params and press *Train* (or call :meth:`train`); *Cancel* stops the
    run after the current step (what it finished is kept). *Open run* reopens a finished run
    from :func:`~jetviz.runners.rundir.runs_dir` without retraining (:meth:`open_run`). Results
    arrive in ``history`` (live), ``data``, ``result``; errors in ``error``, rejected inputs and
    cancellations in ``notice``. The config's defaults are :attr:`page_defaults`, then the
    ``JETVIZ_<RUNNER>_<PARAM>`` env vars, then the keyword arguments (:meth:`default_config`).

    What a page passes in (class attributes of its subclass):

    - :attr:`runner_name`, :attr:`page_defaults`, :attr:`url_params`, :attr:`step_labels`;
    - :attr:`derive`: ``derive(result, data, progress, **options) -> tuple``, run in the worker
      thread after a training or reopening (predictions, an untrained encoder …), ``options``
      from :meth:`derive_options`; its tuple arrives in :meth:`show`;
    - :meth:`show` (a result, its data and what was derived), :meth:`show_data` (new data before a
      training), :meth:`describe` (the line saying what is shown) and :meth:`controls_list`;
    - :meth:`on_message` for the messages of the page's own actions (started with :meth:`start`).
    """

    runner_name: str = "run"
    page_defaults: Mapping[str, Any] = {}
    url_params: tuple[str, ...] = ()
    #: what the status line calls the epochs and the loss of a step
    step_labels: tuple[str, str] = ("epoch", "loss")
    #: the datasets the runner takes: "jets" (one jet per row) or "events"; "events+truth" needs per-particle truth
    sample_kind: str = "events"
    derive: Callable[..., tuple] = staticmethod(_no_derivation)
    buttons = {"train_button": "train", "cancel_button": "cancel", "open_button": "open_chosen"}

    config = param.ClassSelector(class_=RunConfig, doc="the run's settings")
    train_button = param.Event(label="Train", doc="train a new run with these settings")
    cancel_button = param.Event(label="Cancel", doc="stop the running training after its current step "
                                                    "(what it finished is kept)")
    run = param.Selector(default=None, objects=[], allow_None=True, label="Finished runs",
                         doc="a finished run directory under runs_dir()")
    open_button = param.Event(label="Open run", doc="reopen the chosen run without retraining")
    refresh_button = param.Event(label="↻", doc="list the run directories again")

    history = param.List(default=[], precedence=-1, doc="training rows of the run (live while training)")
    data = param.Parameter(default=None, precedence=-1, doc="the run's prepared data")
    result = param.Parameter(default=None, precedence=-1, doc="the result of the run shown, or None")
    running = param.Boolean(default=False, precedence=-1, doc="training or opening is under way")
    training = param.Boolean(default=False, precedence=-1, doc="a training (cancellable) is under way")
    where = param.String(default="", precedence=-1, doc="where the training runs (from the job's hello event)")
    samples = param.Dict(default={}, precedence=-1,
                         doc="{label: sample name} offered: the runner's recipes and the compatible dataset files")
    reference = param.String(default="", precedence=-1,
                             doc="the label of the reference run shown (:mod:`jetviz.reference`), '' for none")

    def __init__(self, **params):
        if params.get("config") is None:
            config_class = self.config_class()
            config_params = {k: params.pop(k) for k in list(params) if k in config_class.param and k != "name"}
            params["config"] = self.default_config(**config_params)
        requested = params.pop("backend", None)
        super().__init__(**params)
        self._init_backends(requested)
        self._cancel = threading.Event()
        self._run_config: RunConfig | None = None  # the running training's config
        self._last_step: dict | None = None  # the newest training step of the messages being drained
        self.show_config()
        self.refresh_samples()
        self.refresh_runs()

    # ----------------------------------------------------------------------------- configuration
    @classmethod
    def config_class(cls) -> type[RunConfig]:
        """The runner's config class (the ``config`` param's ``class_``)."""
        return cls.param["config"].class_

    @classmethod
    def env_prefix(cls) -> str:
        """Prefix of the env vars that set config defaults: ``JETVIZ_<RUNNER_NAME>_``."""
        return f"JETVIZ_{cls.runner_name.upper()}_"

    @classmethod
    def default_config(cls, environ: Mapping[str, str] | None = None, **overrides) -> RunConfig:
        """The page's default config: :attr:`page_defaults`, then ``JETVIZ_<RUNNER_NAME>_X`` env
        vars, then ``overrides`` (see :func:`config_defaults`)."""
        return config_defaults(cls.config_class(), cls.page_defaults, cls.env_prefix(), environ, **overrides)

    def read_url_query(self, args: Mapping[str, Sequence]) -> list[str]:
        """Set the config's :attr:`url_params` from a URL query; report and return the rejected ones.

        ``?backend=`` chooses among the allowed backends only; ``?run=<run directory name>``
        reopens that finished run.
        """
        sample = self.config.sample
        rejected = apply_url_query(self.config, args, self.url_params)
        if self.config.sample not in self.samples.values():  # a page reads only the listed files of the data root
            rejected.append(f"sample={self.config.sample!r} (not a recipe of this page nor a file it takes under "
                            "the data root)")
            self.config.sample = sample
        self.show_config()
        if "backend" in args:  # one of the allowed backends only (a refusal is reported by choose_backend)
            raw = args["backend"][-1]
            self.choose_backend(raw.decode() if isinstance(raw, bytes) else str(raw))
        if "run" in args:
            raw = args["run"][-1]
            name = Path(raw.decode() if isinstance(raw, bytes) else str(raw)).name
            if str(runs_dir() / name) in self.param.run.objects.values():
                self.run = str(runs_dir() / name)
                self.open_run(self.run)
            else:
                rejected.append(f"run={name!r}")
        self.report_url_rejected(rejected)
        return rejected

    def show_config(self) -> None:
        """Update params derived from ``config`` (after it was built or changed by the URL)."""

    # ----------------------------------------------------------------------------- run list
    @classmethod
    def list_runs(cls, root: Path | None = None) -> list[Path]:
        """Finished run directories of this runner, newest first (see :func:`finished_runs`)."""
        return finished_runs(cls.runner_name, root)

    @param.depends("refresh_button", watch=True)
    def refresh_samples(self) -> None:
        """List the runner's recipes and the compatible dataset files under the data root again."""
        self.samples = sample_choices(self.config_class(), self.sample_kind)

    @param.depends("refresh_button", watch=True)
    def refresh_runs(self) -> None:
        """List the finished run directories again (the selector's options, newest first)."""
        runs = [str(p) for p in self.list_runs()]
        keep = self.run if self.run in runs else (runs[0] if runs else None)
        self.param.run.objects = {Path(p).name: p for p in runs}
        self.run = keep

    def _show_run(self, run_dir: Path) -> None:
        """List the runs again and choose ``run_dir`` (the run just shown) when it is listed."""
        self.refresh_runs()
        self.run = str(run_dir) if str(run_dir) in self.param.run.objects.values() else self.run

    # ----------------------------------------------------------------------------- actions
    def open_chosen(self) -> None:
        """Reopen the run chosen in the list (*Open run*)."""
        if self.run:
            self.open_run(self.run)
        else:
            self.report(f"No finished {self.runner_name} run yet: train one first.")

    def busy(self) -> bool:
        """True (and a notice) when a run is under way, so a new one must wait."""
        if self.running:
            self.report("A run is already under way: wait for it or press Cancel.")
        return self.running

    def copy_config(self) -> RunConfig:
        """A copy of the current ``config`` for a worker (the page may change its own meanwhile)."""
        return type(self.config).from_dict(self.config.to_dict())

    def cancel(self) -> None:
        """Ask the running training to stop after its current step (what it finished is kept)."""
        if self.training:
            self._cancel.set()
            self.status = "cancelling after the current step …"

    def train(self, blocking: bool | None = None) -> None:
        """Train a new run with the current ``config`` (a new directory under ``runs_dir()``; ``blocking`` as in
        :meth:`~jetviz.ui.background.QueuePolling._start_work`).
        """
        if self.busy():
            return
        chosen = self.backend_or_report()
        if chosen is None:
            return
        config = self.copy_config()
        self._cancel.clear()
        self._run_config = config
        self.param.update(history=[], training=True, notice="", where="")
        self.start(self._train_work, (self.runner_name, config, self._cancel, chosen, self.derivation()),
                   blocking, f"training on {self.describe_config(config)} …")

    def open_run(self, run_dir: str | Path, blocking: bool | None = None) -> None:
        """Reopen a finished run without retraining (``blocking`` as in :meth:`train`)."""
        if self.running:
            self.report("A run is under way: wait for it or press Cancel.")
            return
        self.start(self._open_work, (self.runner_name, Path(run_dir), self.derivation()), blocking,
                   f"opening {Path(run_dir).name} …")

    def run_study(self, study: Callable[..., list], name: str, status: str, blocking: bool | None = None,
                  **options) -> None:
        """Run ``study(config, root=…, progress=…, **options)`` (the runner's ablation, a β scan: one run per
        row) on a copy of the config, in a new directory ``<name>-*``; its rows arrive in :meth:`show_study`."""
        if self.busy():
            return
        config = self._run_config = self.copy_config()
        self.notice = ""
        self.start(self._study_work, (study, name, config, options), blocking, status)

    def show_study(self, rows: list[dict], root: Path) -> None:
        """The rows of a finished :meth:`run_study` (a page shows them); default: nothing."""

    def open_reference(self, blocking: bool | None = None) -> None:
        """Show the runner's shipped reference run when nothing is shown or under way (the page's
        start; off with ``JETVIZ_REFERENCE=0``; see :mod:`jetviz.reference`)."""
        if self.result is None and not self.running and references.references_enabled() and \
                references.has_reference(self.runner_name):
            run_dir = references.reference_dir(self.runner_name)
            shared = references.shared_if_ready(self.runner_name, run_dir, self.derivation())
            if shared is None:
                self.open_run(run_dir, blocking)
            else:  # opened by the server's warm-up or an earlier session: the page's first render has every plot
                self._apply(*shared)

    def warm_reference(self) -> None:
        """Open the reference run with this store's derivation into the process's shared runs
        (:func:`jetviz.reference.open_shared`), blocking; nothing is shown. Nothing happens when the reference runs
        are switched off or there is none."""
        if references.references_enabled() and references.has_reference(self.runner_name):
            references.open_shared(self.runner_name, references.reference_dir(self.runner_name), self.derivation())

    def update_view(self, name: str, compute: Callable[[], Any], what: str) -> None:
        """Set param ``name`` to ``compute()`` once data is shown (None before it is).

        A failure leaves ``name`` None and is shown in the page's error line as
        ``"{what}: {type}: {message}"``: the rest of the page keeps working."""
        if self.data is None:
            setattr(self, name, None)
            return
        try:
            setattr(self, name, compute())
        except Exception as err:  # shown in the page
            setattr(self, name, None)
            self.error = f"{what}: {type(err).__name__}: {err}"

    def derivation(self) -> Callable[..., tuple]:
        """:attr:`derive` with the page's :meth:`derive_options` bound (read here, on the session's loop)."""
        return functools.partial(type(self).derive, **self.derive_options())

    def derive_options(self) -> dict:
        """Keyword arguments of :attr:`derive` taken from the page's params (default: none)."""
        return {}

    def start(self, work: Callable[..., None], args: tuple, blocking: bool | None, status: str) -> None:
        """Start ``work(token, messages, *args)`` in the background (see :mod:`jetviz.ui.background`)."""
        self.param.update(running=True, progress=0, error="", status=status, reference="")
        name = f"jetviz-{self.runner_name}"
        if blocking is not True and served() and not pn.state.loaded:
            # started while the session's page is built (a ?run= link, the reference run): the work
            # starts once the browser has drawn the page; plots replaced while their first render is
            # under way stay blank in it
            pn.state.onload(functools.partial(self._start_work, work, args, blocking, name))
            return
        self._start_work(work, args, blocking, name)

    def describe_config(self, config: RunConfig) -> str:
        """What a training of ``config`` runs on, for the status line."""
        for name, unit in (("n_jets", "jets"), ("n_events", "events")):
            if name in config.param:
                return f"{getattr(config, name)} {config.sample} {unit}"
        return str(config.sample)

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _train_work(token: int, messages, runner_name: str, config: RunConfig, cancel: threading.Event,
                    backend, derive: Callable) -> None:
        """Worker: prepare the data, train as a job on ``backend``, derive the page's extras."""
        runner = runner_spec(runner_name).runner(config)

        def put(event: dict) -> None:
            messages.put(("event", token, event))
            if event.get("kind") == "unit" and runner.run.exists(RunDir.HISTORY):  # every row of the finished units
                messages.put(("history", token, runner.run.read_history()))

        put(stage_event("run", f"run directory {runner.run_dir.name}", 0.0, run_dir=str(runner.run_dir)))
        data = runner.load_data(put)
        messages.put(("data", token, data))
        result = fit_on_backend(runner, backend, put, cancel, {"data": data})
        messages.put(("done", token, result, data, derive(result, data, put)))

    @staticmethod
    def _study_work(token: int, messages, study: Callable, name: str, config: RunConfig, options: dict) -> None:
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        root = RunDir.new(name).path
        put(stage_event("run", f"{name} directory {root.name}"))
        messages.put(("study", token, study(config, root=root, progress=put, **options), root))

    @staticmethod
    def _open_work(token: int, messages, runner_name: str, run_dir: Path, derive: Callable) -> None:
        """Worker: reopen the run, prepare its data again (from the caches, or a reference run's
        shipped data), derive the page's extras."""
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        messages.put(("done", token, *references.open_shared(runner_name, run_dir, derive, put)))

    # ----------------------------------------------------------------------------- messages
    def _on_session_destroyed(self) -> None:
        super()._on_session_destroyed()  # a running job's result is dropped
        self._cancel.set()  # and a training stops (what it finished is kept): nobody is watching

    def _drain(self) -> None:
        """Apply the worker's messages (runs on the session's event loop)."""
        if self._queue is None:
            return
        events: list[dict] = []
        try:
            for kind, payload in self._messages():
                if kind == "event":
                    events.append(payload[0])
                    continue
                self._on_events(events)
                events = []
                if kind == "done":
                    self._finish()
                    self._apply(*payload)
                elif kind == "data":
                    self.show_data(payload[0])
                elif kind == "history":
                    self.history = list(payload[0])
                elif kind == "study":
                    self._finish()
                    self.param.update(running=False, training=False, progress=100, status="")
                    self.show_study(*payload)
                elif kind == "cancelled":
                    self._finish()
                    self.param.update(running=False, training=False, status="", notice=f"Cancelled: {payload[0]}")
                    self.refresh_runs()
                elif kind == "error":
                    self._finish()
                    self.param.update(running=False, training=False, status="", error=payload[0])
                else:
                    self.on_message(kind, payload)
            self._on_events(events)
        except Exception as err:  # a view or the store failed on a message: say so (never a silent, stuck page)
            log.exception("jetviz %s page: applying the worker's messages failed", self.runner_name)
            self._finish()
            self.param.update(running=False, training=False, status="",
                              error=f"Showing the run failed: {type(err).__name__}: {err}")
        finally:
            last_step, self._last_step = self._last_step, None
            if last_step is not None and self.running:
                self._on_step(last_step)

    def _on_events(self, events: list[dict]) -> None:
        """Apply a run of progress events with the watchers called once per changed param at the
        end: a fast training (many epochs per drain) redraws its plots once per drain, not once per
        epoch, so the server's event loop stays free for the other sessions."""
        if not events:
            return
        with batch_call_watchers(self):
            for event in events:
                self._on_event(event)

    def _on_event(self, event: dict) -> None:
        """One progress event of the runner (or the job's ``hello``)."""
        kind = event.get("kind")
        if "fraction" in event and kind != "step":
            self.progress = int(round(100 * min(max(float(event["fraction"]), 0.0), 1.0)))
        if kind == "step":
            self._last_step = event  # only the newest step of a drain is shown
            self.on_step(event)
            return
        if kind == "hello":
            gpu = "a GPU is available" if event.get("cuda") else "no GPU"
            self.where = (f"Training on **{event.get('host', '?')}** (pid {event.get('pid', '?')}, device "
                          f"{event.get('device', '?')}; {gpu}) via `{self.backend}`")
        elif kind == "stage":
            self.status = event.get("message", event.get("stage", ""))
        elif kind == "epoch":
            self.history = [*self.history, {k: v for k, v in event.items() if k not in ("kind", "epochs", "fraction")}]
        elif kind == "unit":
            self.status = event.get("message", "")
        elif kind == "done":
            self.status = "evaluated"

    def _on_step(self, event: dict) -> None:
        """Show the newest ``step`` event: the progress bar at its ``fraction``, epoch, step and loss."""
        config = self._run_config or self.config
        if "fraction" in event:
            self.progress = int(round(100 * min(max(float(event["fraction"]), 0.0), 1.0)))
        epochs = int(event.get("epochs") or getattr(config, "epochs", 1))
        epoch_label, loss_label = self.step_labels
        where = ""
        if "model" in event:
            where = f"{event['model']}" + (f", fold {event['fold'] + 1}/{config.n_folds}" if "fold" in event else "") + ": "
        self.status = (f"{where}{epoch_label} {event['epoch']}/{epochs}, step {event['step']}/{event['n_steps']}, "
                       f"{loss_label} {event['loss']:.4g}")

    def on_step(self, event: dict) -> None:
        """Every ``step`` event as it is drained (a page with a per-step curve collects them); default: nothing."""

    def on_message(self, kind: str, payload: list) -> None:
        """A message of the page's own actions (not event, data, done, cancelled or error); default: ignored."""

    def _apply(self, result, data, derived: tuple = ()) -> None:
        """Show a finished or reopened run (the ``"done"`` message)."""
        config = result.config
        reference = references.run_label(result.run_dir)  # a reference run keeps the page's own settings
        if not reference:
            self.config.param.update(**{k: v for k, v in config.to_dict().items() if k in self.config.param})
        with batch_call_watchers(self):
            self.param.update(result=result, data=data, history=list(result.history), running=False, training=False,
                              progress=100, status="", loaded=self.describe(result, data, derived) + trained_on(result),
                              reference=reference)
            self.show(result, data, *derived)
        changed = result.dataset_changed()
        if changed:
            self.notice = f"The dataset this run was trained on has changed since: {changed}"
        self._show_run(result.run_dir)

    def show(self, result, data, *derived) -> None:
        """Page-specific params of a shown run (called once ``result``/``data`` are set)."""

    def show_data(self, data) -> None:
        """New data arrived (before a training): show it; the previous result goes."""
        self.param.update(data=data, result=None, loaded="")

    def describe(self, result, data, derived: tuple = ()) -> str:
        """The line saying what is shown."""
        metrics = result.metrics
        return f"{result.run_dir.name} · {result.config.sample} · device {metrics.get('device', '?')}"

    # ----------------------------------------------------------------------------- view
    def number(self, name: str, label: str, widget=pn.widgets.IntInput, **kw) -> pn.widgets.Widget:
        """A bounded number input for the config param ``name`` (rejected values go to ``notice``)."""
        return bounded_input(self.config, name, self.report, widget=widget, label=label,
                             sizing_mode="stretch_width", **kw)

    def controls_list(self) -> list:
        """The config's controls, top of the settings panel."""
        return [self.sample_select()]

    def sample_select(self) -> pn.widgets.Select:
        """The sample: the runner's recipes and the compatible datasets under the data root (:attr:`samples`)."""
        select = pn.widgets.Select(options=dict(self.samples), value=self.config.sample, label="Sample",
                                   sizing_mode="stretch_width", css_classes=["jetviz-sample"],
                                   description="a recipe (generated and cached) or a file under the data root "
                                               "($JETVIZ_DATA); ↻ lists them again")

        def to_config(event) -> None:
            if event.new is not None and event.new != self.config.sample:
                self.config.sample = event.new

        def to_widget(*_) -> None:
            options = dict(self.samples)
            if self.config.sample not in options.values():  # a dataset named by the URL or a reopened run
                options[self.config.sample] = self.config.sample
            select.param.update(options=options, value=self.config.sample)

        select.param.watch(to_config, "value")
        self.config.param.watch(to_widget, "sample")
        self.param.watch(to_widget, "samples")
        return select

    def __panel__(self) -> pn.viewable.Viewable:
        wide = {"sizing_mode": "stretch_width"}
        train = pn.widgets.Button.from_param(self.param.train_button, color="primary", disabled=self.param.running,
                                             css_classes=["jetviz-train"])
        cancel = pn.widgets.Button.from_param(self.param.cancel_button, color="danger", variant="outline",
                                              disabled=self.param.training.rx.not_(), css_classes=["jetviz-cancel"])
        progress, status = self.progress_panes(self.param.running)
        alert, notice = self.alert_panes()
        where = pn.pane.Markdown(self.param.where, visible=self.param.training, margin=(0, 10),
                                 css_classes=["jetviz-where"])
        reference = pn.pane.Alert(self.param.reference, alert_type="info", visible=self.param.reference.rx.bool(),
                                  sizing_mode="stretch_width", css_classes=["jetviz-reference"])
        runs = pn.widgets.Select.from_param(self.param.run, label="Finished runs", sizing_mode="stretch_width",
                                            css_classes=["jetviz-runs"])
        refresh = pn.widgets.Button.from_param(self.param.refresh_button, width=40, margin=(24, 5, 5, 0))
        open_button = pn.widgets.Button.from_param(self.param.open_button, color="primary", variant="outline",
                                                   disabled=self.param.running, css_classes=["jetviz-open"], **wide)
        backend = pn.widgets.Select.from_param(self.param.backend, sizing_mode="stretch_width",
                                               css_classes=["jetviz-backend"])
        return pn.Column(
            *self.controls_list(), backend, notice, reference, pn.Row(train, cancel, **wide),
            progress, status, where, alert, pn.layout.Divider(), pn.Row(runs, refresh, **wide), open_button,
            width=SIDEBAR_WIDTH,
        )


class TrainingView(Viewer):
    """Base of the views of a :class:`TrainingStore` (a subclass narrows ``store`` to its store class)."""

    store = param.ClassSelector(class_=TrainingStore, doc="the page's data store")

    @staticmethod
    def _empty(what: str = "") -> pn.pane.Markdown:
        return pn.pane.Markdown(f"*Nothing to show yet{what}: press* Train *or open a finished run.*",
                                css_classes=["jetviz-empty"])


class TrainingPage(Viewer):
    """Base of a page composing a :class:`TrainingStore` (its controls, on the left) and its views (``body()``).

    A subclass narrows ``store`` to its store class, names its views in :attr:`views` (``{attribute:
    view class}``: each built on the store and set as that attribute, e.g. ``page.training``) and
    defines ``body()``.

    Parameters
    ----------
    store : TrainingStore, optional
        The data store (default: a new one of the ``store`` param's class, built from the
        remaining keyword arguments, which may be config params).
    url_query : bool
        When served, read config values from the URL query once (deep links such as
        ``?page=colorize&n_train=500``); a bad value is reported in the page.
    """

    views: Mapping[str, type[TrainingView]] = {}

    store = param.ClassSelector(class_=TrainingStore, doc="the page's data store")
    url_query = param.Boolean(default=False, doc="read config values from the URL query (served)")

    def __init__(self, **params):
        store_params = {k: params.pop(k) for k in list(params) if k not in type(self).param and k != "name"}
        if params.get("store") is None:
            params["store"] = type(self).param["store"].class_(**store_params)
        elif store_params:
            params["store"].config.param.update(**store_params)
        super().__init__(**params)
        for attribute, view_class in self.views.items():
            setattr(self, attribute, view_class(store=self.store))
        if self.url_query and served():
            self.store.read_url_query(pn.state.session_args)
            self.store.open_reference()  # unless ?run= opened one

    @classmethod
    def warm(cls) -> None:
        """Open the page's reference run for its default settings, blocking, so that every session's
        page shows it in its first render (the dashboard calls this in a background thread when the
        server starts; see :func:`jetviz.reference.open_shared`)."""
        cls.param["store"].class_().warm_reference()

    def controls(self) -> pn.viewable.Viewable:
        """Run settings, Train / Cancel, progress and errors, finished runs (the store's view)."""
        return self.store

    def body(self) -> pn.viewable.Viewable:
        """The page's views."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.controls(), self.body(), sizing_mode="stretch_width")
