"""The ``kernel`` backend: a job in a new Jupyter kernel started with ``jupyter_client``, and the iopub relay
that the gateway backend shares."""
from __future__ import annotations

import json
import queue
import re
import threading
from typing import Callable

from jetviz.compute.job import Backend, JobFeed
from jetviz.compute.worker import CANCEL_FILE, EVENT_PREFIX, kernel_code
from jetviz.errors import ConfigError

__all__ = ["KernelBackend", "relay_iopub", "check_kernel_name"]

_KERNEL_NAME = re.compile(r"^[a-z0-9._-]+$", re.IGNORECASE)  # jupyter_client's rule for kernelspec names


def check_kernel_name(name: str) -> str:
    """``name`` if it is a valid kernelspec name (letters, digits, ``.``, ``_``, ``-``), else :class:`ConfigError`."""
    if not _KERNEL_NAME.match(name):
        raise ConfigError(f"kernel name {name[:60]!r} is not a kernelspec name (letters, digits, '.', '_', '-')")
    return name


class KernelBackend(Backend):
    """A new Jupyter kernel (spec ``"kernel[:NAME]"``, kernelspec ``kernel_name``), shut down after the job.

    Cancel writes ``<run_dir>/CANCEL`` (seen after the current step) and interrupts the kernel
    if it has not stopped ``interrupt_after`` s later. A dead kernel (killed, out of memory)
    fails the job with a message saying so; this process carries on.
    """

    schemes = ("kernel",)

    def __init__(self, kernel_name: str = "python3", startup_timeout: float = 120.0, interrupt_after: float = 10.0):
        self.kernel_name = check_kernel_name(kernel_name)
        self.startup_timeout, self.interrupt_after = startup_timeout, interrupt_after
        self.name = f"kernel:{kernel_name}"

    @classmethod
    def from_spec(cls, spec: str, environ=None) -> "KernelBackend":
        return cls(spec.partition(":")[2] or "python3")

    def start(self, feed: JobFeed) -> None:
        threading.Thread(target=self._main, args=(feed,), daemon=True, name=f"jetviz-kernel-{feed.job.id}").start()

    def _main(self, feed: JobFeed) -> None:
        from jupyter_client.manager import KernelManager

        job = feed.job
        manager = KernelManager(kernel_name=self.kernel_name)
        client = None
        try:
            manager.start_kernel()
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=self.startup_timeout)

            def cancel_hook() -> None:
                (job.run_dir / CANCEL_FILE).touch()
                timer = threading.Timer(self.interrupt_after, lambda: feed.ended or manager.interrupt_kernel())
                timer.daemon = True
                timer.start()

            feed.on_cancel(cancel_hook)
            msg_id = client.execute(kernel_code(job.runner, job.config, job.run_dir), store_history=False,
                                    allow_stdin=False)
            relay_iopub(feed, msg_id, lambda timeout: client.get_iopub_msg(timeout=timeout), manager.is_alive,
                        f"kernel {self.kernel_name!r}")
        except Exception as err:
            feed.fail(f"kernel {self.kernel_name!r}: {type(err).__name__}: {err}")
        finally:
            if client is not None:
                client.stop_channels()
            try:
                manager.shutdown_kernel(now=True)
            except Exception:  # already dead
                pass
            (job.run_dir / CANCEL_FILE).unlink(missing_ok=True)


def relay_iopub(feed: JobFeed, msg_id: str, get: Callable[[float], dict], alive: Callable[[], bool], where: str) -> None:
    """Feed the job from the iopub messages of the kernel execution ``msg_id`` until it ends.

    ``get(timeout)`` returns the next iopub message (raises ``queue.Empty``); ``alive()`` says
    whether the kernel may still send one; ``where`` names the kernel in error messages.
    """
    buffer = ""
    while not feed.ended:
        try:
            message = get(0.5)
        except queue.Empty:
            if not alive():
                feed.fail(f"{where} died while running the job (killed or out of memory); "
                          f"its last checkpoint is kept in {feed.job.run_dir}")
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            *lines, buffer = (buffer + content.get("text", "")).split("\n")
            for line in lines:
                if line.startswith(EVENT_PREFIX):
                    feed.put(json.loads(line[len(EVENT_PREFIX):]))
        elif kind == "error":
            feed.fail(f"{where}: {content.get('ename')}: {content.get('evalue')}")
        elif kind == "status" and content.get("execution_state") == "idle":
            feed.fail(f"{where} finished the job's cell without a result")
