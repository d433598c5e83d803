"""The runs page's data store: every run of the registry, the selection, the comparison and a resume.

Design notes: docs/architecture.md, section ``jetviz.ui.runs.store``.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Sequence

import panel as pn
import param
from panel.viewable import Viewer

from jetviz.compute.registry import Registry, RunRecord, default_registry_path
from jetviz.plots.runs import (MAIN_METRICS, TABLE_COLUMNS, common_metrics, history_curves, is_number, main_metric,
                               metrics_rows, runs_frame)
from jetviz.runners.catalog import RUNNER_NAMES
from jetviz.ui.background import QueuePolling, WorkStatus, served
from jetviz.ui.backends import BackendChoice
from jetviz.ui.widgets import SIDEBAR_WIDTH

__all__ = ["RunsStore", "TABLE_COLUMNS", "MAIN_METRICS", "ACTIVE", "RESUMABLE", "main_metric", "runs_frame",
           "reopen_href", "metrics_rows"]

#: statuses of a run that is still going (the table refreshes itself while one is listed)
ACTIVE = ("queued", "running")
#: statuses of a run that can be resumed from its last checkpoint
RESUMABLE = ("failed", "cancelled")
#: how often (ms) the table is read again while a run is queued or running (served pages only)
AUTO_REFRESH_MS = 3000
_ALL = "all"


def reopen_href(record: RunRecord) -> str:
    """The deep link that reopens ``record``'s run on its runner's page: ``?page=<runner>&run=<dir name>``."""
    return f"?page={record.runner}&run={Path(record.run_dir).name}"


class RunsStore(BackendChoice, WorkStatus, QueuePolling, Viewer):
    """The runs page's data store: the registry's runs, the selection, the comparison and a resume.

    ``path``: the registry file ('' = :func:`~jetviz.compute.registry.default_registry_path`, i.e.
    ``$JETVIZ_REGISTRY`` or ``<runs_dir()>/registry.sqlite``); ``runner``: only its runs ("all":
    every run); ``backend``: where a resumed run executes, one the operator allows
    (:mod:`jetviz.ui.backends`). :meth:`refresh` (*Refresh*) reads the registry again, :meth:`select`
    chooses runs (two at most: the last two win), :meth:`resume` resumes the focused run and
    :meth:`cancel` stops it again.
    """

    path = param.String(default="", doc="registry file; '' for the default ($JETVIZ_REGISTRY)")
    runner = param.Selector(default=_ALL, objects=[_ALL, *RUNNER_NAMES], doc="only runs of this runner")
    refresh_button = param.Event(label="↻ Refresh")
    resume_button = param.Event(label="Resume")
    cancel_button = param.Event(label="Cancel")
    buttons = {"resume_button": "resume", "cancel_button": "cancel"}

    records = param.List(default=[], item_type=RunRecord, precedence=-1, doc="the runs listed, newest first")
    frame = param.DataFrame(default=None, precedence=-1, doc="the table of runs (runs_frame)")
    selected = param.List(default=[], item_type=str, precedence=-1, doc="selected run ids, two at most")
    histories = param.Dict(default={}, precedence=-1, doc="{run id: epoch rows} of the selected runs")
    metric = param.Selector(default=None, objects=[], allow_None=True, label="Metric",
                            doc="the compared metric (one every selected run has)")
    focus = param.ClassSelector(class_=RunRecord, default=None, allow_None=True, precedence=-1,
                                doc="the run selected last (Reopen / Resume act on it)")
    resuming = param.Boolean(default=False, precedence=-1, doc="a resumed run is under way")
    resumed_id = param.String(default="", precedence=-1, doc="id of the run resumed last")
    final_status = param.String(default="", precedence=-1, doc="how the resumed run ended ('' while it runs)")
    latest = param.Dict(default={}, precedence=-1, doc="the resumed run's latest step/epoch event")

    def __init__(self, **params):
        requested = params.pop("backend", None)
        super().__init__(**params)
        self._init_backends(requested)
        self._cancel_event = threading.Event()
        self._auto = None  # the periodic refresh while runs are active
        self._auto_cleanup = False
        self._registry: Registry | None = None
        self.refresh()

    # ----------------------------------------------------------------------------- registry
    @property
    def registry_path(self) -> Path:
        """The registry file read."""
        return Path(self.path) if self.path else default_registry_path()

    def registry(self) -> Registry:
        """The registry (opened once per path; a file that is not a registry raises DataFileError)."""
        if self._registry is None or self._registry.path != self.registry_path:
            self._registry = None
            self._registry = Registry(self.registry_path)
        return self._registry

    @param.depends("refresh_button", "runner", "path", watch=True)
    def refresh(self) -> None:
        """Read the runs again (table, selection, histories); a bad registry file goes to ``error``."""
        try:
            registry = self.registry()
            records = registry.runs(runner=None if self.runner == _ALL else self.runner)
            counts = registry.epoch_counts()
        except Exception as err:  # shown in the page
            self._stop_auto()
            self.param.update(records=[], frame=runs_frame([]), selected=[], histories={}, focus=None,
                              error=f"Cannot read the run registry {self.registry_path}: {type(err).__name__}: {err}")
            return
        known = {r.id for r in records}
        selected = [i for i in self.selected if i in known]
        error = "" if self.error.startswith("Cannot read the run registry") else self.error
        self.param.update(records=records, frame=runs_frame(records, counts), error=error,
                          loaded=f"{len(records)} run(s) in {self.registry_path}")
        self.select(selected, force=True)
        self._update_auto()

    # ----------------------------------------------------------------------------- selection
    def record(self, run_id: str) -> RunRecord | None:
        """The listed run ``run_id`` (without history), or None."""
        return next((r for r in self.records if r.id == run_id), None)

    def select(self, ids: Sequence[str], force: bool = False) -> None:
        """Select runs by id (unknown ids dropped; the last two kept) and load their epoch rows."""
        known = [i for i in dict.fromkeys(ids) if self.record(i) is not None][-2:]
        if known == self.selected and not force:
            return
        histories = {}
        try:
            registry = self.registry() if known else None
            for run_id in known:
                histories[run_id] = registry.get(run_id).history
        except Exception as err:
            self.error = f"Cannot read the runs {known} from {self.registry_path}: {type(err).__name__}: {err}"
            histories = {}
        metrics = common_metrics(histories) if histories else []
        metric = self.metric if self.metric in metrics else (
            "train_loss" if "train_loss" in metrics else (metrics[0] if metrics else None))
        self.param.metric.objects = metrics
        self.param.update(selected=known, histories=histories, metric=metric,
                          focus=self.record(known[-1]) if known else None)

    def comparison(self):
        """The selected runs' ``metric`` per epoch (:func:`jetviz.plots.runs.history_curves`), or
        None without a selected run or a metric they all have."""
        if not self.histories or self.metric is None:
            return None
        return history_curves(self.histories, self.metric)

    @property
    def reopen_href(self) -> str:
        """Deep link that reopens the focused run on its runner's page ('' unless it is done)."""
        return reopen_href(self.focus) if self.focus is not None and self.focus.status == "done" else ""

    @property
    def can_resume(self) -> bool:
        """Whether the focused run can be resumed now (failed or cancelled, nothing else resuming)."""
        return self.focus is not None and self.focus.status in RESUMABLE and not self.resuming

    # ----------------------------------------------------------------------------- auto refresh
    def _update_auto(self) -> None:
        """Refresh every :data:`AUTO_REFRESH_MS` while a listed run is queued or running (served only)."""
        active = any(r.status in ACTIVE for r in self.records)
        if active and self._auto is None and served():
            self._auto = pn.state.add_periodic_callback(self.refresh, period=AUTO_REFRESH_MS, start=True)
            if not self._auto_cleanup:
                pn.state.on_session_destroyed(lambda context: self._stop_auto())
                self._auto_cleanup = True
        elif not active:
            self._stop_auto()

    def _stop_auto(self) -> None:
        if self._auto is not None:
            self._auto.stop()
            self._auto = None

    # ----------------------------------------------------------------------------- resume
    def resume(self, run_id: str | None = None, blocking: bool | None = None) -> None:
        """Resume a failed or cancelled run (``run_id``, default :attr:`focus`) from its last checkpoint:
        ``record.config`` submitted on :attr:`backend` with ``run_dir=record.run_dir`` (same registry id),
        its progress followed; ``blocking`` as in :meth:`~jetviz.ui.background.QueuePolling._start_work`.
        """
        if self.resuming:
            self.report("A resumed run is under way: wait for it or press Cancel.")
            return
        record = self.record(run_id) if run_id is not None else self.focus
        if record is None:
            self.report(f"No run {run_id!r} in the registry." if run_id else "Select a failed or cancelled run first.")
            return
        if record.status not in RESUMABLE:
            self.report(f"Run {record.id} is {record.status}: only a failed or cancelled run can be resumed.")
            return
        chosen = self.backend_or_report()
        if chosen is None:
            return
        self._cancel_event.clear()
        self.param.update(resuming=True, resumed_id=record.id, final_status="", latest={}, progress=0, error="",
                          notice="", status=f"resuming {record.runner} run {record.id} on {self.backend} …")
        self._start_work(self._resume_work, (self.registry_path, record, chosen, self._cancel_event),
                         blocking, f"jetviz-resume-{record.id}")

    def cancel(self) -> None:
        """Stop the resumed run after its current step (its checkpoint is kept)."""
        if self.resuming:
            self._cancel_event.set()
            self.status = "cancelling after the current step …"

    @staticmethod
    def _resume_work(token: int, messages: queue.SimpleQueue, path: Path, record: RunRecord, backend,
                     cancel: threading.Event) -> None:
        """Worker: submit the run again in its own directory, relay its events, report how it ended."""
        from jetviz.compute import submit
        from jetviz.errors import ConfigError

        if not Path(record.run_dir).is_dir():
            raise ConfigError(f"the run directory {record.run_dir} is gone: run {record.id} cannot be resumed")
        job = submit(record.runner, record.config, backend, run_dir=record.run_dir, registry=Registry(path))
        index, asked = 0, False
        while True:
            new = job.events(index, timeout=0.2)
            index += len(new)
            for event in new:
                messages.put(("event", token, event))
            if cancel.is_set() and not asked:
                job.cancel()
                asked = True
            if job.done and not job.events(index):
                break
        messages.put(("end", token, job.status, job.error))

    def _drain(self) -> None:
        """Apply the resume worker's messages (on the session's loop)."""
        if self._queue is None:
            return
        for kind, payload in self._messages():
            if kind == "event":
                self._on_event(payload[0])
            elif kind == "end":
                self._finish()
                self._ended(*payload)
            elif kind in ("error", "cancelled"):
                self._finish()
                self._ended("failed" if kind == "error" else "cancelled", payload[0])

    def _on_event(self, event: dict) -> None:
        kind = event.get("kind")
        if kind in ("step", "epoch"):
            epoch, epochs = event.get("epoch") or 0, event.get("epochs")
            latest = {**self.latest, **{k: v for k, v in event.items() if k != "kind"}, "epochs": epochs}
            loss = next((event[k] for k in ("loss", "train_loss") if is_number(event.get(k))), latest.get("loss"))
            if loss is not None:
                latest["loss"] = loss
            parts = [f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"]
            if loss is not None:
                parts.append(f"loss {float(loss):.4g}")
            if is_number(event.get("eta_s")):
                parts.append(f"ETA {event['eta_s']:.0f} s")
            self.param.update(latest=latest, status=" · ".join(parts))
        elif kind == "hello":
            self.status = event.get("message", "started")
            self.refresh()  # the table shows the run running (and refreshes itself while it does)
        elif kind == "stage":
            self.status = event.get("message", event.get("stage", ""))
        if is_number(event.get("fraction")):  # the runner's run-wide progress
            self.progress = max(0, min(99, int(100 * float(event["fraction"]))))

    def _ended(self, status: str, message: str = "") -> None:
        update = {"resuming": False, "final_status": status, "status": ""}
        if status == "done":
            update["progress"] = 100
        elif status == "cancelled":
            update["notice"] = f"Cancelled: {message or 'on request'} (the checkpoint is kept: Resume again)"
        else:
            update["error"] = f"Resuming run {self.resumed_id} failed: {message}"
        self.param.update(**update)
        self.refresh()

    def _on_session_destroyed(self) -> None:
        super()._on_session_destroyed()  # a running resume's messages are dropped
        self._cancel_event.set()  # and it stops: nobody is watching (its checkpoint is kept)
        self._stop_auto()

    # ----------------------------------------------------------------------------- view
    def __panel__(self) -> pn.viewable.Viewable:
        wide = {"sizing_mode": "stretch_width"}
        path = pn.pane.Markdown(pn.bind(lambda _p: f"Registry: `{self.registry_path}`", self.param.path),
                                css_classes=["jetviz-registry-path"], **wide)
        runner = pn.widgets.Select.from_param(self.param.runner, label="Runner", css_classes=["jetviz-runner"], **wide)
        refresh = pn.widgets.Button.from_param(self.param.refresh_button, css_classes=["jetviz-refresh"], **wide)
        backend = pn.widgets.Select.from_param(self.param.backend, label="Backend for Resume",
                                               css_classes=["jetviz-backend"], **wide)
        alert, notice = self.alert_panes()
        return pn.Column(path, runner, refresh, backend, notice, alert, width=SIDEBAR_WIDTH)


