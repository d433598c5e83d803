"""The dask backend: a job as a task on a ``dask.distributed`` cluster, and the shared client.

A scheduler address is the operator's choice only: a dask client unpickles what the scheduler
and its workers send back, so joining a scheduler means trusting it with this process.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from jetviz.compute.credentials import origin, redact
from jetviz.compute.job import Backend, JobFeed
from jetviz.compute.worker import dask_main
from jetviz.errors import ConfigError

__all__ = ["DaskBackend", "dask_client", "close_dask_clients"]

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
    """A task on a ``dask.distributed`` cluster (:func:`dask_client`); events via ``log_event``/``subscribe_topic``.

    Spec ``"dask"`` (a shared ``LocalCluster``) or a scheduler address ``tcp://host:port``
    (also ``tls://``, ``ucx://``, or prefixed ``dask:``); ``client``: an existing client.
    """

    schemes = ("dask", "tcp", "tls", "ucx")

    def __init__(self, address: str | None = None, client=None):
        if address is not None:
            try:
                scheme, host, port = origin(address)
            except ValueError:
                scheme = host = port = None
            if scheme not in self.schemes[1:] or not host or port is None or "@" in address or "?" in address:
                raise ConfigError(f"dask scheduler address must be tcp|tls|ucx://host:port, got {redact(address)!r}")
        self.address, self._client = address, client
        self.name = f"dask:{address}" if address else "dask"

    @classmethod
    def from_spec(cls, spec: str, environ=None) -> "DaskBackend":
        return cls(spec.removeprefix("dask:") if spec != "dask" else None)

    def start(self, feed: JobFeed) -> None:
        from distributed import Event

        job = feed.job
        client = self._client or dask_client(self.address)
        topic, cancel_name = f"jetviz-job-{job.id}", f"jetviz-cancel-{job.id}"
        client.subscribe_topic(topic, lambda message: feed.put(message[1]))
        feed.on_cancel(Event(cancel_name, client=client).set)
        future = client.submit(dask_main, job.runner, job.config, str(job.run_dir), topic, cancel_name, pure=False,
                               key=f"jetviz-{job.runner}-{job.id}-{uuid.uuid4().hex[:6]}")

        def wait() -> None:
            try:
                end = future.result()
                time.sleep(0.2)  # the last log_event travels separately from the result
                feed.put(end)
            except Exception as err:  # the worker died, the scheduler went away
                feed.fail(f"dask task on {self.address or 'the local cluster'}: {type(err).__name__}: {err}")
            finally:
                try:
                    client.unsubscribe_topic(topic)
                except Exception:
                    pass

        threading.Thread(target=wait, daemon=True, name=f"jetviz-dask-{job.id}").start()
