"""What the pages that train runs share: a run store, its views' base and the page around them.

The colorize and classify pages (:mod:`jetviz.ui.colorize`, :mod:`jetviz.ui.classify`) each
train one kind of run (a :mod:`jetviz.runners` runner) in a background thread and reopen
finished runs. The plumbing is the same for every runner and lives here:

- :class:`RunStore`: the page's data store. It holds the runner's config (its bounded params
  become the controls), *Train* / *Cancel* / *Open run* / *↻* and the list of finished runs, the
  run state (``running``, ``training``, ``progress``, ``status``, ``error``, ``notice``,
  ``loaded``, ``history``, ``result``), starts the worker threads and drains their messages on
  the session's loop (:class:`~jetviz.ui.background.QueuePolling`). A subclass names its
  runner (``runner_name``), its config class (the ``config`` param's ``class_``) and its
  defaults, and writes the workers and what to do with their messages.
- :class:`RunView`: base of the views of one store. :class:`RunPage`: the page composing a
  store and its views, with deep links (config values in the URL query).
- :func:`config_defaults`: a config from page defaults, ``JETVIZ_<PAGE>_<PARAM>`` env vars and
  keyword overrides; :func:`apply_url_query`: config values from a URL query;
  :func:`finished_runs`: the finished run directories of a runner.

Training never runs in the web server's thread: the store's worker thread submits it as a
:mod:`jetviz.compute` job on the store's ``backend`` (a thread of the server process by
default, or a local process, a Jupyter kernel, a gateway URL or a dask cluster; ``JETVIZ_BACKEND``
sets the default) and relays the job's progress stream (:func:`fit_on_backend`); every run is
recorded in the run registry. A deep link ``?run=<run directory name>`` reopens a finished run.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import panel as pn
import param
from panel.viewable import Viewer
from param.parameterized import batch_call_watchers

from jetviz.runners.base import RunConfig, runs_dir
from jetviz.ui.background import QueuePolling, WorkStatus, served
from jetviz.ui.events import bounded_input

__all__ = [
    "parse_value",
    "config_defaults",
    "apply_url_query",
    "finished_runs",
    "fit_on_backend",
    "RunStore",
    "RunView",
    "RunPage",
]


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
    """A page's default config: ``page_defaults``, then env vars, then ``overrides``.

    Parameters
    ----------
    config_class : type
        A :class:`~jetviz.runners.base.RunConfig` subclass.
    page_defaults : mapping
        The page's own defaults (may differ from the config class's).
    env_prefix : str
        Any config param ``x`` can be set with the env var ``<env_prefix>X`` (e.g.
        ``JETVIZ_COLORIZE_N_TRAIN=32``; values as :func:`parse_value` reads them).
    environ : mapping, optional
        The environment (default: ``os.environ``).
    **overrides
        Config values that win over both.

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
    """Set ``config``'s params ``names`` from a URL query (``pn.state.session_args``; the last value wins).

    Returns
    -------
    list of str
        The rejected values as ``name='value'`` (unparsable or out of bounds; those params are kept).
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


def finished_runs(runner: str, files: Sequence[str], root: Path | None = None,
                  valid: Callable[[Path], bool] | None = None) -> list[Path]:
    """Finished run directories of ``runner``, newest first (by the time of their ``metrics.json``).

    Parameters
    ----------
    runner : str
        Only directories named ``<runner>-*`` count.
    files : sequence of str
        Files a finished run directory holds (``metrics.json`` among them).
    root : Path, optional
        Where to look (default: :func:`~jetviz.runners.base.runs_dir`).
    valid : callable, optional
        ``valid(path)``: whether a directory that holds ``files`` counts (default: all do).
    """
    root = runs_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    runs = [path for path in root.glob(f"{runner}-*")
            if all((path / name).is_file() for name in files) and (valid is None or valid(path))]
    return sorted(runs, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)


def fit_on_backend(runner, backend: str, progress: Callable[[dict], None], cancel: threading.Event,
                   runner_kwargs: Mapping[str, Any] | None = None):
    """Train ``runner`` (a runner object: its config and run directory) as a :mod:`jetviz.compute` job.

    Blocks (call it from a worker thread), relays the job's events to ``progress``, cancels it
    when ``cancel`` is set, and returns the runner's result (raises what
    :meth:`jetviz.compute.Job.result` raises). ``backend`` as :func:`jetviz.compute.backend`
    reads it; for "local" the job runs in a thread of this process and gets ``runner_kwargs``
    (data the page prepared already).
    """
    from jetviz.compute import ThreadBackend, run_job

    chosen = ThreadBackend(dict(runner_kwargs or {})) if backend.strip() in ("", "local", "thread") else backend
    return run_job(runner.name, runner.config, chosen, run_dir=runner.run_dir, progress=progress, cancel=cancel.is_set)


class RunStore(WorkStatus, QueuePolling, Viewer):
    """Base of a page's data store that trains runs in the background and reopens finished ones.

    Set the ``config``'s params and press *Train* (or call :meth:`train`); *Cancel* stops the
    run after the current step (what it finished is kept). *Open run* reopens a finished run
    from :func:`~jetviz.runners.base.runs_dir` without retraining (:meth:`open_run`). Errors
    arrive in ``error``, rejected inputs and cancellations in ``notice``.

    A subclass sets the class attributes below, overrides the ``config`` param with its config
    class and defines the workers ``_train_work(token, messages, *work_args, config, cancel, backend)``
    (``backend`` last: pass it to :func:`fit_on_backend`)
    and ``_open_work(token, messages, *work_args, run_dir)`` (static: they touch no param and
    no Panel object, only put ``("event" | "done" | …, token, …)`` messages on the queue; what
    they raise arrives as a ``"cancelled"`` or ``"error"`` message), ``_on_progress(event)`` (a runner progress dict other than a
    stage), ``_apply(*done)`` (the ``"done"`` payload) and ``_settings()`` (the config's controls).

    Attributes
    ----------
    runner_name : str
        Runner name: prefix of the run directories (``<runner_name>-*``), of the env vars
        (``JETVIZ_<RUNNER_NAME>_<PARAM>``) and of the worker thread's name.
    page_defaults : mapping
        The page's default config values (before env vars).
    url_params : tuple of str
        Config params that a deep link (the URL query) may set.
    run_files : tuple of str
        Files that a finished run directory holds.
    sample_progress : int
        Progress (percent) when the sample is loaded (``stage`` events ``"sample"`` go from 0 to it).
    stage_progress : mapping
        ``{stage: progress}``: the progress (percent) at the start of the runner's other stages.
    """

    runner_name: str = "run"
    page_defaults: Mapping[str, Any] = {}
    url_params: tuple[str, ...] = ()
    run_files: tuple[str, ...] = ("metrics.json",)
    sample_progress: int = 10
    stage_progress: Mapping[str, int] = {}

    #: (start, width) in percent of the progress bar that the training steps fill; None: steps are ignored
    step_progress: tuple[int, int] | None = None
    #: what the status line calls the epochs and the loss of a step
    step_labels: tuple[str, str] = ("epoch", "loss")

    _run_config: RunConfig | None = None  # the running training's config (a subclass sets it in _train_updates)
    _last_step: dict | None = None  # the newest training step of the messages being drained

    config = param.ClassSelector(class_=RunConfig, doc="the run's settings")
    train_button = param.Event(label="Train", doc="train a new run with these settings")
    cancel_button = param.Event(label="Cancel", doc="stop the running training after its current step "
                                                    "(what it finished is kept)")
    run = param.Selector(default=None, objects=[], allow_None=True, label="Finished runs",
                         doc="a finished run directory under runs_dir()")
    open_button = param.Event(label="Open run", doc="reopen the chosen run without retraining")
    backend = param.String(default="local", label="Train on",
                           doc="local | process | kernel[:NAME] | http(s)://gateway:port?token=… | dask | "
                               "tcp://scheduler:8786 (default: JETVIZ_BACKEND or local)")
    refresh_button = param.Event(label="↻", doc="list the run directories again")

    history = param.List(default=[], precedence=-1, doc="training rows of the run (live while training)")
    result = param.Parameter(default=None, precedence=-1, doc="the result of the run shown, or None")
    running = param.Boolean(default=False, precedence=-1, doc="training or opening is under way")
    training = param.Boolean(default=False, precedence=-1, doc="a training (cancellable) is under way")
    where = param.String(default="", precedence=-1, doc="where the training runs (from the job's hello event)")

    def __init__(self, **params):
        if params.get("config") is None:
            config_class = self.config_class()
            config_params = {k: params.pop(k) for k in list(params) if k in config_class.param and k != "name"}
            params["config"] = self.default_config(**config_params)
        params.setdefault("backend", os.environ.get("JETVIZ_BACKEND", "local"))
        super().__init__(**params)
        self._cancel = threading.Event()
        self._show_config()
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
        """The page's default config: :attr:`page_defaults`, then env vars, then ``overrides``.

        Parameters
        ----------
        environ : mapping, optional
            The environment (default: ``os.environ``): any config param ``x`` can be set with
            ``JETVIZ_<RUNNER_NAME>_X`` (values as :func:`parse_value` reads them).
        **overrides
            Config values that win over both.

        Raises
        ------
        jetviz.errors.ConfigError
            A value that cannot be parsed or is out of bounds (names the variable).
        """
        return config_defaults(cls.config_class(), cls.page_defaults, cls.env_prefix(), environ, **overrides)

    def read_url_query(self, args: Mapping[str, Sequence]) -> list[str]:
        """Set the config's :attr:`url_params` from a URL query; report and return the rejected ones."""
        rejected = apply_url_query(self.config, args, self.url_params)
        self._show_config()
        if "run" in args:  # ?run=<run directory name>: reopen that finished run
            raw = args["run"][-1]
            name = Path(raw.decode() if isinstance(raw, bytes) else str(raw)).name
            if str(runs_dir() / name) in self.param.run.objects.values():
                self.run = str(runs_dir() / name)
                self.open_run(self.run)
            else:
                rejected.append(f"run={name!r}")
        self.report_url_rejected(rejected)
        return rejected

    def _show_config(self) -> None:
        """Update params derived from ``config`` (after it was built or changed by the URL)."""

    # ----------------------------------------------------------------------------- run list
    @classmethod
    def list_runs(cls, root: Path | None = None) -> list[Path]:
        """Finished run directories of this runner, newest first.

        A directory counts when it is named ``<runner_name>-*``, holds :attr:`run_files` and
        :meth:`_valid_run` accepts it; ``root`` defaults to :func:`~jetviz.runners.base.runs_dir`.
        """
        return finished_runs(cls.runner_name, cls.run_files, root, cls._valid_run)

    @classmethod
    def _valid_run(cls, path: Path) -> bool:
        """Whether the finished run directory ``path`` is offered (default: always)."""
        return True

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
        self.run = str(run_dir) if str(run_dir) in self.param.run.objects else self.run

    # ----------------------------------------------------------------------------- actions
    @param.depends("train_button", watch=True)
    def _on_train(self) -> None:
        self.train()

    @param.depends("cancel_button", watch=True)
    def _on_cancel(self) -> None:
        self.cancel()

    @param.depends("open_button", watch=True)
    def _on_open(self) -> None:
        if self.run:
            self.open_run(self.run)
        else:
            self.report(f"No finished {self.runner_name} run yet: train one first.")

    def cancel(self) -> None:
        """Ask the running training to stop after its current step (what it finished is kept)."""
        if self.training:
            self._cancel.set()
            self.status = "cancelling after the current step …"

    def train(self, blocking: bool | None = None) -> None:
        """Train a new run with the current ``config`` (a new directory under ``runs_dir()``).

        Parameters
        ----------
        blocking : bool or None
            As :meth:`jetviz.ui.events.EventsStore.load`: True works in this thread, False in a
            background thread drained by a periodic callback, None (default) background when
            served or in a Jupyter kernel.
        """
        if self.running:
            self.report("A run is already under way: wait for it or press Cancel.")
            return
        from jetviz.compute import backend as parse_backend
        from jetviz.errors import ConfigError

        try:
            parse_backend(self.backend)
        except ConfigError as err:
            self.report(str(err))
            return
        config = type(self.config).from_dict(self.config.to_dict())  # the worker's own copy
        self._cancel.clear()
        self.param.update(history=[], training=True, notice="", where="", **self._train_updates(config))
        self._start(self._train_work, (*self._work_args(), config, self._cancel, self.backend), blocking,
                    self._train_status(config))

    def open_run(self, run_dir: str | Path, blocking: bool | None = None) -> None:
        """Reopen a finished run without retraining (``blocking`` as in :meth:`train`)."""
        if self.running:
            self.report("A run is under way: wait for it or press Cancel.")
            return
        self.param.update(**self._open_updates())
        self._start(self._open_work, (*self._work_args(), Path(run_dir)), blocking, f"opening {Path(run_dir).name} …")

    def _train_updates(self, config: RunConfig) -> dict:
        """Params to set when a training of ``config`` starts (and private state to reset)."""
        return {}

    def _open_updates(self) -> dict:
        """Params to set when a run is reopened (and private state to reset)."""
        return {}

    def _train_status(self, config: RunConfig) -> str:
        """The status line while a training of ``config`` starts."""
        return f"training on {config.sample} …"

    def _work_args(self) -> tuple:
        """Arguments both workers get after ``token`` and ``messages``."""
        return ()

    # ----------------------------------------------------------------------------- worker plumbing
    def _start(self, work, args: tuple, blocking: bool | None, status: str) -> None:
        self.param.update(running=True, progress=0, error="", status=status)
        self._start_work(work, args, blocking, f"jetviz-{self.runner_name}")

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
                elif kind == "cancelled":
                    self._finish()
                    self.param.update(running=False, training=False, status="", notice=f"Cancelled: {payload[0]}")
                    self.refresh_runs()
                elif kind == "error":
                    self._finish()
                    self.param.update(running=False, training=False, status="", error=payload[0])
                else:
                    self._on_message(kind, payload)
            self._on_events(events)
        finally:
            self._drained()

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
        """A progress dict of the runner (``"event"`` message): stages and the job's ``hello`` here,
        the rest in :meth:`_on_progress`."""
        if event.get("kind") == "step" and self.step_progress is not None:
            self._last_step = event  # only the newest step of a drain is shown: see _drained
            return
        self._last_step = None
        if event.get("kind") == "stage":
            self._on_stage(event)
        elif event.get("kind") == "hello":
            gpu = "a GPU is available" if event.get("cuda") else "no GPU"
            self.where = (f"Training on **{event.get('host', '?')}** (pid {event.get('pid', '?')}, device "
                          f"{event.get('device', '?')}; {gpu}) via `{self.backend}`")
        else:
            self._on_progress(event)

    def _on_stage(self, event: dict) -> None:
        """A ``stage`` event: its message as the status; progress as :attr:`sample_progress` and
        :attr:`stage_progress` say."""
        update = {"status": event.get("message", event.get("stage", ""))}
        stage = event.get("stage")
        if stage == "sample" and event.get("total"):
            update["progress"] = int(self.sample_progress * event["done"] / event["total"])
        elif stage in self.stage_progress:
            update["progress"] = self.stage_progress[stage]
        self.param.update(**update)

    def _on_progress(self, event: dict) -> None:
        """A progress dict of the runner other than a stage (step, epoch, done …)."""
        raise NotImplementedError

    @staticmethod
    def _history_row(event: dict) -> dict:
        """The history row of an ``epoch`` event."""
        return {k: v for k, v in event.items() if k not in ("kind", "epochs")}

    def _on_message(self, kind: str, payload: list) -> None:
        """A message of the store's own ``kind`` (not event, done, cancelled or error); default: ignored."""

    def _drained(self) -> None:
        """Called after each drain (the queue is empty, or the job is over): the newest training
        step of the drain moves the progress bar (:meth:`_on_step`)."""
        last_step, self._last_step = self._last_step, None
        if last_step is not None and self.running:
            self._on_step(last_step)

    def _on_step(self, event: dict) -> None:
        """Show a ``step`` event: progress within :attr:`step_progress`, epoch, step and loss in the status."""
        config = self._run_config or self.config
        epochs, n_steps = max(int(config.epochs), 1), max(int(event["n_steps"]), 1)
        within = ((event["epoch"] - 1) * n_steps + event["step"]) / (epochs * n_steps)
        start, width = self.step_progress or (0, 100)
        epoch_label, loss_label = self.step_labels
        self.param.update(progress=int(start + width * min(within, 1.0)),
                          status=(f"{epoch_label} {event['epoch']}/{epochs}, step {event['step']}/{n_steps}, "
                                  f"{loss_label} {event['loss']:.4g}"))

    def _apply(self, *done) -> None:
        """Show the run of a ``"done"`` message."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- view
    def _number(self, name: str, label: str, widget=pn.widgets.IntInput, **kw) -> pn.widgets.Widget:
        """A bounded number input for the config param ``name`` (rejected values go to ``notice``)."""
        return bounded_input(self.config, name, self.report, widget=widget, label=label,
                             sizing_mode="stretch_width", **kw)

    def _settings(self) -> list:
        """The config's controls, top of the settings panel."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        wide = {"sizing_mode": "stretch_width"}
        train = pn.widgets.Button.from_param(self.param.train_button, color="primary", disabled=self.param.running,
                                             css_classes=["jetviz-train"])
        cancel = pn.widgets.Button.from_param(self.param.cancel_button, color="danger", variant="outline",
                                              disabled=self.param.training.rx.not_(), css_classes=["jetviz-cancel"])
        progress = pn.indicators.Progress(value=self.param.progress, max=100, visible=self.param.running,
                                          bar_color="info", sizing_mode="stretch_width",
                                          css_classes=["jetviz-progress"])
        status = pn.pane.Markdown(self.param.status, visible=self.param.running, margin=(0, 10),
                                  css_classes=["jetviz-status"])
        where = pn.pane.Markdown(self.param.where, visible=self.param.training, margin=(0, 10),
                                 css_classes=["jetviz-where"])
        alert = pn.pane.Alert(self.param.error, alert_type="danger", visible=self.param.error.rx.bool(),
                              sizing_mode="stretch_width", css_classes=["jetviz-error"])
        notice = pn.pane.Alert(self.param.notice, alert_type="warning", visible=self.param.notice.rx.bool(),
                               sizing_mode="stretch_width", css_classes=["jetviz-notice"])
        runs = pn.widgets.Select.from_param(self.param.run, label="Finished runs", sizing_mode="stretch_width",
                                            css_classes=["jetviz-runs"])
        refresh = pn.widgets.Button.from_param(self.param.refresh_button, width=40, margin=(24, 5, 5, 0))
        open_button = pn.widgets.Button.from_param(self.param.open_button, color="primary", variant="outline",
                                                   disabled=self.param.running, css_classes=["jetviz-open"], **wide)
        backend = pn.widgets.TextInput.from_param(self.param.backend, sizing_mode="stretch_width",
                                                  css_classes=["jetviz-backend"],
                                                  placeholder="local, process, kernel:python3, http://…, dask")
        return pn.Column(
            *self._settings(), backend, notice, pn.Row(train, cancel, **wide),
            progress, status, where, alert, pn.layout.Divider(), pn.Row(runs, refresh, **wide), open_button,
            width=290,
        )


class RunView(Viewer):
    """Base of the views of a :class:`RunStore` (a subclass narrows ``store`` to its store class)."""

    store = param.ClassSelector(class_=RunStore, doc="the page's data store")

    @staticmethod
    def _empty(what: str = "") -> pn.pane.Markdown:
        return pn.pane.Markdown(f"*Nothing to show yet{what}: press* Train *or open a finished run.*",
                                css_classes=["jetviz-empty"])


class RunPage(Viewer):
    """Base of a page composing a :class:`RunStore` (its controls, on the left) and its views (``body()``).

    A subclass narrows ``store`` to its store class, names its views in ``views`` and defines
    ``body()``.

    Parameters
    ----------
    store : RunStore, optional
        The data store (default: a new one of the ``store`` param's class, built from the
        remaining keyword arguments, which may be config params).
    url_query : bool
        When served, read config values from the URL query once (deep links such as
        ``?page=colorize&n_train=500``); a bad value is reported in the page.

    Attributes
    ----------
    views : mapping
        ``{attribute: view class}``: each view (a :class:`RunView`) is built on the store and set
        as that attribute of the page (e.g. ``page.training``).
    """

    views: Mapping[str, type[RunView]] = {}

    store = param.ClassSelector(class_=RunStore, doc="the page's data store")
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

    def controls(self) -> pn.viewable.Viewable:
        """Run settings, Train / Cancel, progress and errors, finished runs (the store's view)."""
        return self.store

    def body(self) -> pn.viewable.Viewable:
        """The page's views."""
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.controls(), self.body(), sizing_mode="stretch_width")
