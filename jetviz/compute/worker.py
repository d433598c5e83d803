"""What runs on the executing side of a job (a thread, a process, a Jupyter kernel or a dask worker), and the wire protocol.

Design notes: docs/architecture.md, section ``jetviz.compute.worker``.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Callable

from jetviz.data.io import json_default
from jetviz.errors import Cancelled
from jetviz.runners.catalog import runner_spec

__all__ = ["FINAL", "EVENT_PREFIX", "CANCEL_FILE", "end_event", "execute", "process_main", "kernel_code",
           "kernel_main", "dask_main"]

#: how a job ends: the ``status`` of its ``end`` event
FINAL = ("done", "failed", "cancelled")
#: marks a progress line on a kernel's stdout
EVENT_PREFIX = "\x1ejetviz-event "
#: a file in the run directory that asks a kernel job to stop after its current step
CANCEL_FILE = "CANCEL"


def end_event(status: str, message: str = "", **out) -> dict:
    """The last event of a job: ``status`` one of :data:`FINAL`, ``message`` (the error), ``out`` (run_dir, metrics)."""
    if status not in FINAL:
        raise ValueError(f"unknown end status {status!r}; one of {FINAL}")
    return {"kind": "end", "status": status, "message": message or status, **out}


def execute(runner: str, config: dict, run_dir: str, emit: Callable[[dict], None],
            cancel: Callable[[], bool] | None = None, runner_kwargs: dict | None = None) -> dict:
    """Fit runner ``runner`` with ``config`` values in ``run_dir``, sending events to ``emit``; returns the ``end`` event.

    A cancel (:class:`~jetviz.errors.Cancelled` or ``KeyboardInterrupt``, a kernel interrupt)
    ends "cancelled"; any other error "failed" with the message ``"Type: message"``.
    ``runner_kwargs``: more arguments of the runner's constructor (in-process only: e.g. the
    ``data`` a page has already prepared, so it is not prepared twice).
    """
    try:
        import torch

        from jetviz.runners.base import pick_device

        spec = runner_spec(runner)
        settings = spec.config.from_dict(config)
        host, device = socket.gethostname(), pick_device(settings.device)
        emit({"kind": "hello", "host": host, "pid": os.getpid(), "cuda": bool(torch.cuda.is_available()),
              "device": device, "torch": torch.__version__, "python": sys.version.split()[0],
              "message": f"{runner} on {host} (pid {os.getpid()}, device {device})"})
        result = spec.runner(settings, run_dir, **(runner_kwargs or {})).fit(progress=emit, cancel=cancel)
        return end_event("done", run_dir=str(result.run_dir), metrics=result.metrics)
    except (Cancelled, KeyboardInterrupt) as err:
        return end_event("cancelled", str(err) or "interrupted")
    except Exception as err:  # reported to the job, which says where it ran
        return end_event("failed", f"{type(err).__name__}: {err}")


def _throttled(check: Callable[[], bool], every: float) -> Callable[[], bool]:
    """``check`` asked at most once per ``every`` seconds (a cancel request asked at every step)."""
    last = [0.0, False]

    def throttled() -> bool:
        now = time.monotonic()
        if now - last[0] > every:
            last[0], last[1] = now, bool(check())
        return last[1]

    return throttled


def _plain(event: dict) -> dict:
    """``event`` with plain JSON types only (numpy scalars converted)."""
    return json.loads(json.dumps(event, default=json_default))


def process_main(runner: str, config: dict, run_dir: str, messages, cancel_event) -> None:
    """Entry point of a spawned local process: every event, the ``end`` event last, on the queue ``messages``."""
    messages.put(execute(runner, config, run_dir, messages.put, cancel_event.is_set))


def kernel_code(runner: str, config: dict, run_dir: str | Path) -> str:
    """The cell a kernel (local or behind a gateway) executes for a job."""
    return ("from jetviz.compute.worker import kernel_main\n"
            f"kernel_main({runner!r}, {json.dumps(config, default=json_default)!r}, {str(run_dir)!r})")


def kernel_main(runner: str, config_json: str, run_dir: str) -> None:
    """Entry point inside a Jupyter kernel: every event (``end`` last) as an ``EVENT_PREFIX + json`` line on stdout."""
    cancel_file = Path(run_dir) / CANCEL_FILE

    def emit(event: dict) -> None:
        sys.stdout.write(EVENT_PREFIX + json.dumps(event, default=json_default) + "\n")
        sys.stdout.flush()

    end = execute(runner, json.loads(config_json), run_dir, emit, _throttled(cancel_file.exists, 0.2))
    cancel_file.unlink(missing_ok=True)  # a request served: a resumed run must not stop at once
    emit(end)


def dask_main(runner: str, config: dict, run_dir: str, topic: str, cancel_name: str) -> dict:
    """Entry point on a dask worker: events via ``log_event(topic, …)``; returns the ``end`` event."""
    from distributed import Event, get_worker

    worker = get_worker()
    cancel = _throttled(Event(cancel_name).is_set, 1.0)  # one scheduler round trip per second at most
    return _plain(execute(runner, config, run_dir, lambda event: worker.log_event(topic, _plain(event)), cancel))
