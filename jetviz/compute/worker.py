"""What runs on the executing side of a job (a thread, a process, a Jupyter kernel or a dask worker).

:func:`execute` builds the named runner from a JSON-able config and fits it in a run directory,
reporting a first ``hello`` event (host, pid, device, whether ``torch.cuda`` is available)
and then the runner's own progress events. The backends wrap it:

* :func:`process_main` — a spawned local process; events and the end go through a
  ``multiprocessing`` queue, cancel through an event.
* :func:`kernel_main` — inside a Jupyter kernel: every event is one stdout line
  ``<EVENT_PREFIX><json>``; cancel is a file (``<run_dir>/CANCEL``) or a kernel interrupt.
* :func:`dask_main` — on a dask worker: events go to the client with
  ``distributed``'s ``log_event`` under the job's topic; cancel is a ``distributed.Event``.

Results stay in the run directory (shared storage, by path); the backends return only its
path and the metrics.
"""
from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

from jetviz.runners.base import json_default

__all__ = ["RUNNERS", "runner_classes", "execute", "process_main", "kernel_main", "dask_main", "EVENT_PREFIX",
           "CANCEL_FILE"]

#: runner name → (module, config class, runner class, result class)
RUNNERS: dict[str, tuple[str, str, str, str]] = {
    "colorize": ("jetviz.runners.colorize", "ColorizeConfig", "ColorizeRunner", "ColorizeResult"),
    "classify": ("jetviz.runners.classify", "ClassifyConfig", "ClassifyRunner", "ClassifyResult"),
    "vae_emd": ("jetviz.runners.vae_emd", "VaeEmdConfig", "VaeEmdRunner", "VaeEmdResult"),
    "jetclr": ("jetviz.runners.jetclr", "JetclrConfig", "JetclrRunner", "JetclrResult"),
}
#: marks a progress line on a kernel's stdout
EVENT_PREFIX = "\x1ejetviz-event "
#: a file in the run directory that asks a kernel job to stop after its current step
CANCEL_FILE = "CANCEL"


def runner_classes(name: str) -> tuple[type, type, type]:
    """(config class, runner class, result class) of the runner ``name`` (a key of :data:`RUNNERS`)."""
    from jetviz.errors import ConfigError

    if name not in RUNNERS:
        raise ConfigError(f"unknown runner {name!r}; one of {sorted(RUNNERS)}")
    module, *classes = RUNNERS[name]
    loaded = importlib.import_module(module)
    return tuple(getattr(loaded, cls) for cls in classes)  # type: ignore[return-value]


def execute(runner: str, config: dict, run_dir: str, emit: Callable[[dict], None],
            cancel: Callable[[], bool] | None = None, runner_kwargs: dict | None = None) -> dict:
    """Fit runner ``runner`` with ``config`` values in ``run_dir``; returns ``{"run_dir", "metrics"}``.

    ``runner_kwargs``: more arguments of the runner's constructor (in-process only: e.g. the
    ``data`` a page has already prepared, so it is not prepared twice).
    """
    import torch

    from jetviz.runners.base import pick_device

    config_class, runner_class, _ = runner_classes(runner)
    settings = config_class.from_dict(config)
    emit({"kind": "hello", "host": socket.gethostname(), "pid": os.getpid(), "cuda": bool(torch.cuda.is_available()),
          "device": pick_device(settings.device), "torch": torch.__version__, "python": sys.version.split()[0],
          "message": f"{runner} on {socket.gethostname()} (pid {os.getpid()}, device {pick_device(settings.device)})"})
    result = runner_class(settings, run_dir, **(runner_kwargs or {})).fit(progress=emit, cancel=cancel)
    return {"run_dir": str(result.run_dir), "metrics": result.metrics}


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def process_main(runner: str, config: dict, run_dir: str, messages, cancel_event) -> None:
    """Entry point of a spawned local process: ("event", e) … then ("done", out) | ("cancelled", m) | ("error", m)."""
    from jetviz.runners.base import Cancelled

    try:
        out = execute(runner, config, run_dir, lambda event: messages.put(("event", event)), cancel_event.is_set)
        messages.put(("done", out))
    except Cancelled as err:
        messages.put(("cancelled", str(err)))
    except BaseException as err:  # reported to the job, then the process ends
        messages.put(("error", _error_text(err)))


def kernel_main(runner: str, config_json: str, run_dir: str) -> None:
    """Entry point inside a Jupyter kernel: events as ``EVENT_PREFIX + json`` lines on stdout.

    The last line is ``{"kind": "end", "status": "done" | "cancelled" | "error", ...}``. A
    ``KeyboardInterrupt`` (the kernel was interrupted) counts as a cancel.
    """
    from jetviz.runners.base import Cancelled

    cancel_file = Path(run_dir) / CANCEL_FILE
    checked = [0.0, False]

    def cancel() -> bool:  # a stat per step at most every 0.2 s
        now = time.monotonic()
        if now - checked[0] > 0.2:
            checked[0], checked[1] = now, cancel_file.exists()
        return checked[1]

    def emit(event: dict) -> None:
        sys.stdout.write(EVENT_PREFIX + json.dumps(event, default=json_default) + "\n")
        sys.stdout.flush()

    try:
        end = {"kind": "end", "status": "done", **execute(runner, json.loads(config_json), run_dir, emit, cancel)}
    except (Cancelled, KeyboardInterrupt) as err:
        end = {"kind": "end", "status": "cancelled", "message": str(err) or "interrupted"}
    except BaseException as err:
        end = {"kind": "end", "status": "error", "message": _error_text(err)}
    cancel_file.unlink(missing_ok=True)  # a request served: a resumed run must not stop at once
    emit(end)


def dask_main(runner: str, config: dict, run_dir: str, topic: str, cancel_name: str) -> dict:
    """Entry point on a dask worker: events via ``log_event(topic, …)``; cancel via ``distributed.Event(cancel_name)``."""
    from distributed import Event, get_worker

    worker = get_worker()
    event = Event(cancel_name)
    checked = [0.0, False]

    def cancel() -> bool:  # one scheduler round trip per second at most
        now = time.monotonic()
        if now - checked[0] > 1.0:
            checked[0], checked[1] = now, event.is_set()
        return checked[1]

    def emit(event: dict) -> None:  # msgpack takes plain types only (no numpy scalars)
        worker.log_event(topic, json.loads(json.dumps(event, default=json_default)))

    return execute(runner, config, run_dir, emit, cancel)

