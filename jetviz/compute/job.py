"""A job (one submitted training), the feed its backend drives it through, and the base class of backends.

Design notes: docs/architecture.md, section ``jetviz.compute.job``.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from jetviz.compute.credentials import redact
from jetviz.compute.worker import FINAL, end_event
from jetviz.errors import Cancelled, ConfigError, JetvizError
from jetviz.runners.catalog import runner_spec

if TYPE_CHECKING:
    from jetviz.compute.registry import Registry

__all__ = ["Job", "JobFeed", "JobFailed", "Backend"]


class JobFailed(JetvizError, RuntimeError):
    """The executing side of a job failed (an exception, a dead kernel or worker); the message says how
    (for a job in a local thread: the runner's error as ``"Type: message"``)."""


def _epoch_fraction(event: dict, epochs: int | None) -> float | None:
    """Fraction of the run done at a step/epoch event without a ``fraction`` (from its epoch and step)."""
    epochs, epoch = event.get("epochs") or epochs, event.get("epoch")
    if event.get("kind") not in ("step", "epoch") or not epochs or not epoch:
        return None
    if event["kind"] == "step" and event.get("n_steps"):
        return (epoch - 1 + event.get("step", 0) / event["n_steps"]) / epochs
    return epoch / epochs


class Job:
    """One submitted training: its progress stream, status, cancel and result (made by :func:`jetviz.compute.submit`).

    Attributes
    ----------
    id : str
        Registry id (a resumed run keeps its id).
    runner : str
        The runner's name.
    config : dict
        Its settings, as a dict of values.
    run_dir : Path
        The run directory.
    backend_name : str
        Where it runs (the backend's label: never a credential).
    status : str
        "queued", "running", "done", "failed" or "cancelled".
    error : str
        The failure's message ("" if none).
    info : dict
        The executing side's ``hello`` event (host, pid, device, cuda, torch).
    """

    def __init__(self, runner: str, config: dict, run_dir: Path, backend_name: str, registry: Registry | None = None,
                 run_id: str | None = None):
        self.id = run_id or uuid.uuid4().hex[:12]
        self.runner, self.config, self.run_dir, self.backend_name = runner, config, Path(run_dir), backend_name
        self.registry = registry
        self.status, self.error, self.info = "queued", "", {}
        self._events: list[dict] = []
        self._end: dict = {}
        self._condition = threading.Condition()
        self._listeners: list[Callable[[dict], None]] = []
        self._cancel_requested = False
        self._cancel_hooks: list[Callable[[], None]] = []
        self._first: tuple[float, float] | None = None  # (monotonic time, fraction of the run) of the first progress
        if registry is not None:
            registry.create(self.id, runner, run_dir, backend_name, config)

    # ----------------------------------------------------------------------------- the user's side
    @property
    def done(self) -> bool:
        """True once the job ended (done, failed or cancelled)."""
        return self.status in FINAL

    def subscribe(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(event)`` (from the backend's thread) for every future event, and once
        with the ``end`` event (``{"kind": "end", "status", "message"}``) when the job ends."""
        self._listeners.append(listener)

    def events(self, start: int = 0, timeout: float | None = None) -> list[dict]:
        """Progress events from index ``start`` on; waits up to ``timeout`` s for a first new one (None: no wait)."""
        with self._condition:
            if timeout is not None and len(self._events) <= start and not self.done:
                self._condition.wait(timeout)
            return list(self._events[start:])

    def stream(self, poll: float = 0.5) -> Iterator[dict]:
        """Iterate over all progress events, live, until the job ends."""
        return (event for new in self.batches(poll) for event in new)

    def batches(self, poll: float = 0.5) -> Iterator[list[dict]]:
        """The progress events that came in each ``poll`` s (maybe none), until the job ends."""
        index = 0
        while True:
            new = self.events(index, timeout=poll)
            index += len(new)
            yield new
            if self.done and not self.events(index):
                return

    def cancel(self) -> None:
        """Stop after the current step (the run's checkpoint is kept); no effect on an ended job or a second time."""
        with self._condition:
            if self.done or self._cancel_requested:
                return
            self._cancel_requested = True
            hooks = list(self._cancel_hooks)
        for hook in hooks:
            hook()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job ends; True if it did within ``timeout`` s."""
        with self._condition:
            return self._condition.wait_for(lambda: self.done, timeout)

    def result(self, timeout: float | None = None):
        """The runner's result (reopened from the run directory), waiting up to ``timeout`` s (TimeoutError).

        Raises :class:`JobFailed` when the executing side failed (the message says how) and
        :class:`~jetviz.errors.Cancelled` when the job was cancelled (its checkpoint is kept: submit the
        same ``run_dir`` to resume).
        """
        if not self.wait(timeout):
            raise TimeoutError(f"job {self.id} ({self.runner} on {self.backend_name}) still {self.status} after {timeout} s")
        if self.status == "failed":
            if self.backend_name == "local":  # the runner's own error, as if called directly
                raise JobFailed(self.error)
            raise JobFailed(f"{self.runner} job {self.id} on {self.backend_name} failed: {self.error}")
        if self.status == "cancelled":
            raise Cancelled(f"{self.runner} job {self.id} cancelled ({self.error or 'on request'}); "
                            f"its checkpoint is kept in {self.run_dir}")
        return runner_spec(self.runner).result.load(self._end.get("run_dir", self.run_dir))

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.runner} on {self.backend_name}: {self.status}>"

    # ----------------------------------------------------------------------------- fed by JobFeed
    def _eta(self, event: dict) -> float | None:
        """Seconds left, from the run-wide ``fraction`` (or the epoch/step) of this event and of the first one."""
        fraction = event.get("fraction")
        if fraction is None:
            fraction = _epoch_fraction(event, self.config.get("epochs"))
        if fraction is None:
            return None
        now = time.monotonic()
        if self._first is None:
            self._first = (now, fraction)
            return None
        done = fraction - self._first[1]
        return None if done <= 0 else max(0.0, (now - self._first[0]) * (1.0 - fraction) / done)

    def _progress(self, event: dict) -> None:
        event = dict(event)
        kind = event.get("kind")
        if kind == "hello":
            self.info = event
            if self.registry is not None:
                self.registry.set_status(self.id, "running", device=str(event.get("device", "")))
        elif kind in ("step", "epoch", "stage"):
            eta = self._eta(event)
            if eta is not None:
                event["eta_s"] = eta
            if kind == "epoch" and self.registry is not None:
                self.registry.add_epoch(self.id, {k: v for k, v in event.items() if k not in ("kind", "eta_s")})
        with self._condition:
            if self.done:
                return
            self.status = "running"
            self._events.append(event)
            self._condition.notify_all()
        for listener in list(self._listeners):
            listener(event)

    def _finish(self, end: dict) -> None:
        status = end.get("status")
        if status not in FINAL:
            end = end_event("failed", f"the executing side ended with an unknown status {status!r}")
        error = "" if end["status"] == "done" else str(end.get("message", ""))
        with self._condition:
            if self.done:
                return
            if self.registry is not None:  # recorded before anyone waiting sees the end
                self.registry.set_status(self.id, end["status"], error=error or None, metrics=end.get("metrics"))
            self.status, self._end, self.error = end["status"], end, error
            self._condition.notify_all()
        for listener in list(self._listeners):
            listener(end_event(end["status"], error))

    def _add_cancel_hook(self, hook: Callable[[], None]) -> bool:
        with self._condition:
            self._cancel_hooks.append(hook)
            return self._cancel_requested


class JobFeed:
    """A backend's handle on its :class:`Job`, ``job`` (the only way a backend touches it: it reads the job's
    ``runner``, ``config``, ``run_dir`` and ``id``).
    """

    def __init__(self, job: Job):
        self.job = job

    def put(self, event: dict) -> None:
        """One event of the wire protocol (:mod:`jetviz.compute.worker`); the ``end`` event ends the job,
        events after it are dropped."""
        if event.get("kind") == "end":
            self.job._finish(event)
        else:
            self.job._progress(event)

    def fail(self, message: str) -> None:
        """End the job as failed: the executing side is lost or could not start (``message`` says how)."""
        self.put(end_event("failed", message))

    @property
    def ended(self) -> bool:
        """Whether the job has ended."""
        return self.job.done

    def cancel_requested(self) -> bool:
        """Whether the user asked to cancel (a ``cancel`` callable for the runner)."""
        return self.job._cancel_requested

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` when the user cancels (at once if they already did)."""
        if self.job._add_cancel_hook(hook):
            hook()


class Backend:
    """Where jobs execute: one subclass per transport, built from a string by :func:`jetviz.compute.backend`.

    Attributes
    ----------
    name : str
        The label shown in the page, the registry and errors (never a credential).
    schemes : tuple[str, ...]
        The spec prefixes (``"process"``, ``"https"``, ``"tcp"`` …) the subclass parses.
    """

    name = "backend"
    schemes: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: str, environ=None) -> "Backend":
        """The backend ``spec`` (of one of :attr:`schemes`) names; ConfigError if malformed; contacts nothing.

        This default is for a backend without arguments: ``spec`` must be one of its schemes."""
        if spec.lower() not in cls.schemes:
            raise ConfigError(f"backend {redact(spec)[:100]!r} takes no arguments: use {' or '.join(cls.schemes)!r}")
        return cls()

    def start(self, feed: JobFeed) -> None:
        """Start the job of ``feed``, return at once; a thread of the backend feeds it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
