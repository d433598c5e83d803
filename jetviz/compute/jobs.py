"""Jobs: a runner's training submitted to a backend, with a live progress stream, cancel and a result.

``submit(runner, config, backend=...) -> Job`` starts training runner ``runner`` (a key of
:data:`jetviz.compute.worker.RUNNERS`) with ``config`` (its config object or a dict of values)
in a run directory (new, or ``run_dir=`` to resume an interrupted run from its last
checkpoint) on one of these backends (:func:`backend` parses a string):

==========================  ===========================================================
``"local"`` / ``"thread"``   a thread of this process (the default)
``"process"``                a spawned local process (a crash or kill leaves this process alive)
``"kernel"`` / ``"kernel:NAME"``  a new Jupyter kernel of kernelspec NAME (default ``python3``),
                             started with ``jupyter_client``: the same runner code, on
                             whatever machine/GPU the kernelspec points to
``"http(s)://host:port"``    a kernel on a Jupyter Server / Kernel Gateway (how a user reaches a
                             GPU node): REST + websocket kernel protocol (:mod:`jetviz.compute.gateway`)
``"dask"`` / ``"tcp://…"``   a ``dask.distributed`` cluster: a shared ``LocalCluster`` or a scheduler address
==========================  ===========================================================

The job's stream holds every progress event of the runner (``step``, ``epoch`` with loss and
metrics, ``stage``, ``unit``, ``done``) plus a first ``hello`` (host, device, ``cuda``) from
the executing side; :class:`Job` adds ``eta_s`` (seconds left, from the fraction of steps done)
to step and epoch events. ``job.cancel()`` stops the run after its current step (its
checkpoint is kept); ``job.result()`` returns the runner's result object (reopened from the
run directory: results stay on shared storage), or raises :class:`JobFailed` with the remote
side's error (a dead kernel or worker included) or :class:`jetviz.runners.base.Cancelled`.

Every job is recorded in the run registry (:class:`jetviz.compute.registry.Registry`).
"""
from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from jetviz.compute.registry import Registry
from jetviz.compute.worker import CANCEL_FILE, EVENT_PREFIX, dask_main, execute, process_main, runner_classes
from jetviz.errors import ConfigError, JetvizError
from jetviz.runners.base import Cancelled, RunConfig, claim_run_dir, new_run_dir

__all__ = [
    "Job",
    "JobFailed",
    "Backend",
    "ThreadBackend",
    "ProcessBackend",
    "KernelBackend",
    "DaskBackend",
    "backend",
    "submit",
    "run_job",
    "dask_client",
    "close_dask_clients",
]

FINAL = ("done", "failed", "cancelled")


class JobFailed(JetvizError, RuntimeError):
    """The executing side of a job failed (an exception, a dead kernel or worker); the message says how
    (for a job in a local thread: the runner's error as ``"Type: message"``)."""


class Job:
    """One submitted training: its progress stream, status, cancel and result.

    Attributes:
        id: registry id (a resumed run keeps its id).
        runner, run_dir, backend_name: what runs where.
        status: "queued", "running", "done", "failed" or "cancelled".
        error: the failure's message ("" if none).
        info: the executing side's ``hello`` event (host, pid, device, cuda, torch).
    """

    def __init__(self, runner: str, config: dict, run_dir: Path, backend_name: str, registry: Registry | None,
                 run_id: str | None = None):
        self.id = run_id or uuid.uuid4().hex[:12]
        self.runner, self.config, self.run_dir, self.backend_name = runner, config, Path(run_dir), backend_name
        self.registry = registry
        self.status = "queued"
        self.error = ""
        self.info: dict = {}
        self._events: list[dict] = []
        self._condition = threading.Condition()
        self._listeners: list[Callable[[dict], None]] = []
        self._cancel = threading.Event()
        self._cancel_hook: Callable[[], None] | None = None
        self._out: dict | None = None
        self.process = self.kernel = self.future = None  # the backend's handle (a Process, KernelManager, Future)
        self._first_step: float | None = None  # when, and at which fraction of the run, the first step came
        self._first_fraction = 0.0
        if registry is not None:
            registry.create(self.id, runner, run_dir, backend_name, config)

    # ----------------------------------------------------------------------------- fed by the backend
    def _emit(self, event: dict) -> None:
        event = dict(event)
        kind = event.get("kind")
        if kind == "hello":
            self.info = event
            if self.registry is not None:
                self.registry.set_status(self.id, "running", device=str(event.get("device", "")))
        elif kind in ("step", "epoch"):
            eta = self._eta(event)
            if eta is not None:
                event["eta_s"] = eta
            if kind == "epoch" and self.registry is not None:
                self.registry.add_epoch(self.id, {k: v for k, v in event.items() if k not in ("kind", "eta_s")})
        with self._condition:
            if self.status == "queued":
                self.status = "running"
            self._events.append(event)
            self._condition.notify_all()
        for listener in list(self._listeners):
            listener(event)

    def _eta(self, event: dict) -> float | None:
        epochs = event.get("epochs") or self.config.get("epochs")
        epoch = event.get("epoch")
        if not epochs or not epoch:
            return None
        if event["kind"] == "step" and event.get("n_steps"):
            fraction = (epoch - 1 + event.get("step", 0) / event["n_steps"]) / epochs
        else:
            fraction = epoch / epochs
        now = time.monotonic()
        if self._first_step is None:
            self._first_step = now
            self._first_fraction = fraction
            return None
        done = fraction - self._first_fraction
        return None if done <= 0 else max(0.0, (now - self._first_step) * (1.0 - fraction) / done)

    def _finish(self, status: str, out: dict | None = None, error: str = "") -> None:
        with self._condition:
            if self.status in FINAL:
                return
            if self.registry is not None:  # recorded before anyone waiting sees the end
                self.registry.set_status(self.id, status, error=error or None, metrics=(out or {}).get("metrics"))
            self.status, self._out, self.error = status, out, error
            self._condition.notify_all()
        event = {"kind": "end", "status": status, "message": error or status}
        for listener in list(self._listeners):
            listener(event)

    # ----------------------------------------------------------------------------- the user's side
    @property
    def done(self) -> bool:
        """True once the job ended (done, failed or cancelled)."""
        return self.status in FINAL

    def subscribe(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(event)`` (from the backend's thread) for every future event, and once
        with ``{"kind": "end", "status", "message"}`` when the job ends."""
        self._listeners.append(listener)

    def events(self, start: int = 0, timeout: float | None = None) -> list[dict]:
        """Events from index ``start`` on; waits up to ``timeout`` s for a first new one (None: no wait)."""
        with self._condition:
            if timeout is not None and len(self._events) <= start and not self.done:
                self._condition.wait(timeout)
            return list(self._events[start:])

    def stream(self, poll: float = 0.5) -> Iterator[dict]:
        """Iterate over all events, live, until the job ends."""
        index = 0
        while True:
            new = self.events(index, timeout=poll)
            index += len(new)
            yield from new
            if self.done and not self.events(index):
                return

    def cancel(self) -> None:
        """Stop after the current step (the run's checkpoint is kept); no effect on an ended job."""
        if self.done:
            return
        self._cancel.set()
        if self._cancel_hook is not None:
            self._cancel_hook()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job ends; True if it did within ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while not self.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._condition.wait(left)
        return True

    def result(self, timeout: float | None = None):
        """The runner's result (reopened from the run directory).

        Raises:
            TimeoutError: not ended within ``timeout`` s.
            JobFailed: the executing side failed; the message says how.
            Cancelled: the job was cancelled (its checkpoint is kept: submit the same run_dir to resume).
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
        _, _, result_class = runner_classes(self.runner)
        return result_class.load((self._out or {}).get("run_dir", self.run_dir))

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.runner} on {self.backend_name}: {self.status}>"


# ----------------------------------------------------------------------------- backends
class Backend:
    """Where jobs execute. ``start(job)`` returns at once; a thread of the backend feeds the job."""

    name = "backend"

    def start(self, job: Job) -> None:
        raise NotImplementedError


class ThreadBackend(Backend):
    """A thread of this process (shares its memory and torch threads).

    ``runner_kwargs``: more arguments of the runner's constructor, e.g. ``{"data": data}`` that
    the caller already prepared (only a thread can share them).
    """

    name = "local"

    def __init__(self, runner_kwargs: dict | None = None):
        self.runner_kwargs = runner_kwargs or {}

    def start(self, job: Job) -> None:
        def main() -> None:
            try:
                out = execute(job.runner, job.config, str(job.run_dir), job._emit, job._cancel.is_set,
                              self.runner_kwargs)
                job._finish("done", out)
            except Cancelled as err:
                job._finish("cancelled", error=str(err))
            except Exception as err:
                job._finish("failed", error=f"{type(err).__name__}: {err}")

        threading.Thread(target=main, daemon=True, name=f"jetviz-job-{job.id}").start()


class ProcessBackend(Backend):
    """A spawned local process; its death (crash, kill, out of memory) fails the job, not this process."""

    name = "process"

    def start(self, job: Job) -> None:
        context = multiprocessing.get_context("spawn")
        messages, cancel = context.Queue(), context.Event()
        process = context.Process(target=process_main, args=(job.runner, job.config, str(job.run_dir), messages, cancel),
                                  daemon=True, name=f"jetviz-job-{job.id}")
        job._cancel_hook = cancel.set
        job.process = process
        process.start()

        def relay() -> None:
            while True:
                try:
                    kind, payload = messages.get(timeout=0.5)
                except queue.Empty:
                    if not process.is_alive():
                        try:  # a last message may still be in the pipe
                            kind, payload = messages.get(timeout=1.0)
                        except queue.Empty:
                            code = process.exitcode
                            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                            job._finish("failed", error=f"the worker process (pid {process.pid}) died ({how}) "
                                                        f"without finishing; its last checkpoint is kept in {job.run_dir}")
                            return
                    else:
                        continue
                if kind == "event":
                    job._emit(payload)
                    continue
                job._finish({"done": "done", "cancelled": "cancelled", "error": "failed"}[kind],
                            payload if kind == "done" else None, "" if kind == "done" else payload)
                process.join(timeout=10)
                return

        threading.Thread(target=relay, daemon=True, name=f"jetviz-relay-{job.id}").start()


class KernelBackend(Backend):
    """A new Jupyter kernel (kernelspec ``kernel_name``) started with ``jupyter_client``, shut down after the job.

    The kernel runs :func:`jetviz.compute.worker.kernel_main`; events arrive as stdout lines.
    Cancel writes ``<run_dir>/CANCEL`` (seen after the current step) and interrupts the kernel
    if it has not stopped ``interrupt_after`` s later. If the kernel dies (killed, out of
    memory), the job fails with a message saying so; this process carries on.
    """

    def __init__(self, kernel_name: str = "python3", startup_timeout: float = 120.0, interrupt_after: float = 10.0):
        self.kernel_name, self.startup_timeout, self.interrupt_after = kernel_name, startup_timeout, interrupt_after
        self.name = f"kernel:{kernel_name}"

    def start(self, job: Job) -> None:
        threading.Thread(target=self._main, args=(job,), daemon=True, name=f"jetviz-kernel-{job.id}").start()

    def _main(self, job: Job) -> None:
        from jupyter_client.manager import KernelManager

        manager = KernelManager(kernel_name=self.kernel_name)
        client = None
        try:
            manager.start_kernel()
            job.kernel = manager
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=self.startup_timeout)
            code = ("from jetviz.compute.worker import kernel_main\n"
                    f"kernel_main({job.runner!r}, {json.dumps(job.config)!r}, {str(job.run_dir)!r})")

            def cancel_hook() -> None:
                (job.run_dir / CANCEL_FILE).touch()
                timer = threading.Timer(self.interrupt_after, lambda: job.done or manager.interrupt_kernel())
                timer.daemon = True
                timer.start()

            job._cancel_hook = cancel_hook
            if job._cancel.is_set():
                cancel_hook()
            msg_id = client.execute(code, store_history=False, allow_stdin=False)
            _relay_kernel_messages(job, msg_id, lambda timeout: client.get_iopub_msg(timeout=timeout),
                                   manager.is_alive, f"kernel {self.kernel_name!r}")
        except Exception as err:
            job._finish("failed", error=f"kernel {self.kernel_name!r}: {type(err).__name__}: {err}")
        finally:
            if client is not None:
                client.stop_channels()
            try:
                manager.shutdown_kernel(now=True)
            except Exception:  # already dead
                pass
            (job.run_dir / CANCEL_FILE).unlink(missing_ok=True)


def _relay_kernel_messages(job: Job, msg_id: str, get: Callable[[float], dict], alive: Callable[[], bool],
                           where: str) -> None:
    """Feed ``job`` from the iopub messages of execution ``msg_id`` (``get(timeout)`` raises queue.Empty)."""
    buffer = ""
    while not job.done:
        try:
            message = get(0.5)
        except queue.Empty:
            if not alive():
                job._finish("failed", error=f"{where} died while running the job (killed or out of memory); "
                                            f"its last checkpoint is kept in {job.run_dir}")
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            buffer += content.get("text", "")
            *lines, buffer = buffer.split("\n")
            for line in lines:
                if not line.startswith(EVENT_PREFIX):
                    continue
                event = json.loads(line[len(EVENT_PREFIX):])
                if event.get("kind") == "end":
                    status = {"done": "done", "cancelled": "cancelled"}.get(event["status"], "failed")
                    job._finish(status, event if status == "done" else None,
                                "" if status == "done" else event.get("message", ""))
                else:
                    job._emit(event)
        elif kind == "error":
            job._finish("failed", error=f"{where}: {content.get('ename')}: {content.get('evalue')}")
        elif kind == "status" and content.get("execution_state") == "idle" and not job.done:
            job._finish("failed", error=f"{where} finished the job's cell without a result")


_DASK_LOCK = threading.Lock()
_DASK_CLIENTS: dict[str | None, Any] = {}


def dask_client(address: str | None = None):
    """A ``dask.distributed`` client shared by this process: ``address`` of a scheduler, or
    (None) a ``LocalCluster`` of one single-threaded worker process per 2 cores, started once."""
    from distributed import Client, LocalCluster

    with _DASK_LOCK:
        client = _DASK_CLIENTS.get(address)
        if client is None or client.status in ("closed", "closing"):
            if address is None:
                import os

                cluster = LocalCluster(n_workers=max(1, (os.cpu_count() or 1) // 2), threads_per_worker=1,
                                       processes=True, dashboard_address=None)
                client = Client(cluster)
            else:
                client = Client(address, timeout=30)
            _DASK_CLIENTS[address] = client
        return client


def close_dask_clients() -> None:
    """Close the clients (and the local cluster) that :func:`dask_client` started."""
    with _DASK_LOCK:
        for client in _DASK_CLIENTS.values():
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        _DASK_CLIENTS.clear()


class DaskBackend(Backend):
    """A task on a ``dask.distributed`` cluster (:func:`dask_client`); events via ``log_event``/``subscribe_topic``."""

    def __init__(self, address: str | None = None, client=None):
        self.address, self._client = address, client
        self.name = f"dask:{address}" if address else "dask"

    def start(self, job: Job) -> None:
        from distributed import Event

        client = self._client or dask_client(self.address)
        topic, cancel_name = f"jetviz-job-{job.id}", f"jetviz-cancel-{job.id}"
        client.subscribe_topic(topic, lambda message: job._emit(message[1]))
        cancel_event = Event(cancel_name, client=client)
        job._cancel_hook = cancel_event.set
        future = client.submit(dask_main, job.runner, job.config, str(job.run_dir), topic, cancel_name, pure=False,
                               key=f"jetviz-{job.runner}-{job.id}-{uuid.uuid4().hex[:6]}")
        job.future = future

        def wait() -> None:
            try:
                out = future.result()
                time.sleep(0.2)  # the last log_event travels separately from the result
                job._finish("done", out)
            except Cancelled as err:
                job._finish("cancelled", error=str(err))
            except Exception as err:
                job._finish("failed", error=f"dask task on {self.address or 'the local cluster'}: "
                                            f"{type(err).__name__}: {err}")
            finally:
                try:
                    client.unsubscribe_topic(topic)
                except Exception:
                    pass

        threading.Thread(target=wait, daemon=True, name=f"jetviz-dask-{job.id}").start()


def backend(spec: str | Backend | None = None) -> Backend:
    """A backend from a string (see the module docstring) or a :class:`Backend` (returned as is)."""
    if isinstance(spec, Backend):
        return spec
    text = (spec or "local").strip()
    if text in ("local", "thread"):
        return ThreadBackend()
    if text == "process":
        return ProcessBackend()
    if text == "kernel" or text.startswith("kernel:"):
        return KernelBackend(text.partition(":")[2] or "python3")
    if text.startswith(("http://", "https://")):
        from jetviz.compute.gateway import GatewayBackend

        return GatewayBackend(text)
    if text == "dask":
        return DaskBackend()
    if text.startswith(("tcp://", "tls://", "ucx://", "dask:")):
        return DaskBackend(text.removeprefix("dask:"))
    raise ConfigError(f"unknown backend {spec!r}: use 'local', 'process', 'kernel[:NAME]', a Jupyter gateway URL "
                      f"(http[s]://…), 'dask' or a dask scheduler address (tcp://host:port)")


def submit(runner: str, config: RunConfig | dict, backend_spec: str | Backend | None = "local", *,
           run_dir: str | Path | None = None, registry: Registry | None | bool = True) -> Job:
    """Start training ``runner`` with ``config`` on a backend; returns the :class:`Job` at once.

    Arguments:
        runner: a key of :data:`jetviz.compute.worker.RUNNERS` ("colorize", "classify", "vae_emd", "jetclr").
        config: the runner's config object, or a dict of its values (validated here).
        backend_spec: see :func:`backend` (default "local": a thread).
        run_dir: resume the interrupted run there (same settings, else :class:`ConfigError`)
            from its last checkpoint; default: a new run directory.
        registry: a :class:`Registry`, True for the default one, False/None for none.
    """
    config_class, _, _ = runner_classes(runner)
    values = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    values = config_class.from_dict(values).to_dict()  # validated (raises ConfigError) before anything starts
    chosen = backend(backend_spec)
    reg = Registry() if registry is True else (registry or None)
    if run_dir is None:
        run_dir = new_run_dir(runner)
        run_id = None
    else:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        claim_run_dir(run_dir, config_class.from_dict(values))  # other settings there: ConfigError, nothing started
        (run_dir / CANCEL_FILE).unlink(missing_ok=True)  # a past cancel request does not stop the resumed run
        known = reg.find(run_dir) if reg is not None else None
        run_id = known.id if known is not None else None
    job = Job(runner, values, Path(run_dir), chosen.name, reg, run_id)
    chosen.start(job)
    return job


def run_job(runner: str, config: RunConfig | dict, backend_spec: str | Backend | None = "local", *,
            run_dir: str | Path | None = None, progress: Callable[[dict], None] | None = None,
            cancel: Callable[[], bool] | None = None, registry: Registry | None | bool = True, poll: float = 0.2):
    """:func:`submit`, then relay its events to ``progress`` and poll ``cancel`` until it ends; returns the result.

    For callers that already run in a worker thread (the dashboard's stores): a blocking call
    with the same contract as ``Runner.fit(progress, cancel)``.
    """
    job = submit(runner, config, backend_spec, run_dir=run_dir, registry=registry)
    index = 0
    while True:
        new = job.events(index, timeout=poll)
        index += len(new)
        for event in new:
            if progress is not None:
                progress(event)
        if cancel is not None and cancel() and not job._cancel.is_set():
            job.cancel()
        if job.done and len(job.events(index)) == 0:
            return job.result()
