"""The ``local`` backend: a job in a thread of this process."""
from __future__ import annotations

import threading

from jetviz.compute.job import Backend, JobFeed
from jetviz.compute.worker import execute

__all__ = ["ThreadBackend"]


class ThreadBackend(Backend):
    """A thread of this process (shares its memory and torch threads); spec ``"local"`` or ``"thread"``.

    ``runner_kwargs``: more arguments of the runner's constructor, e.g. ``{"data": data}`` that
    the caller already prepared (only a thread can share them).
    """

    name = "local"
    schemes = ("local", "thread")

    def __init__(self, runner_kwargs: dict | None = None):
        self.runner_kwargs = runner_kwargs or {}

    def start(self, feed: JobFeed) -> None:
        job = feed.job
        threading.Thread(target=lambda: feed.put(execute(job.runner, job.config, str(job.run_dir), feed.put,
                                                         feed.cancel_requested, self.runner_kwargs)),
                         daemon=True, name=f"jetviz-job-{job.id}").start()
