"""The ``process`` backend: a job in a spawned local process (its crash or kill fails the job, not this process)."""
from __future__ import annotations

import multiprocessing
import queue
import threading

from jetviz.compute.job import Backend, JobFeed
from jetviz.compute.worker import process_main

__all__ = ["ProcessBackend"]


class ProcessBackend(Backend):
    """A spawned local process; its death (crash, kill, out of memory) fails the job, not this process."""

    name = "process"
    schemes = ("process",)

    def start(self, feed: JobFeed) -> None:
        job = feed.job
        context = multiprocessing.get_context("spawn")
        messages, cancel = context.Queue(), context.Event()
        process = context.Process(target=process_main, args=(job.runner, job.config, str(job.run_dir), messages, cancel),
                                  daemon=True, name=f"jetviz-job-{job.id}")
        feed.on_cancel(cancel.set)
        process.start()

        def relay() -> None:
            while True:
                alive = process.is_alive()
                try:
                    event = messages.get(timeout=0.5 if alive else 1.0)  # a dead process's last event may be in the pipe
                except queue.Empty:
                    if alive:
                        continue
                    code = process.exitcode
                    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    feed.fail(f"the worker process (pid {process.pid}) died ({how}) without finishing; "
                              f"its last checkpoint is kept in {job.run_dir}")
                    return
                feed.put(event)
                if event.get("kind") == "end":
                    process.join(timeout=10)
                    return

        threading.Thread(target=relay, daemon=True, name=f"jetviz-relay-{job.id}").start()
