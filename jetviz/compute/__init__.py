"""Training off the web server's thread: jobs on local threads/processes, Jupyter kernels, gateways or dask, and the run registry.

``submit(runner, config, backend) -> Job`` (:mod:`~jetviz.compute.dispatch`, with the operator's
allow-list); the job (:mod:`~jetviz.compute.job`); one module per backend; the executing side and
its wire protocol (:mod:`~jetviz.compute.worker`); credentials; the SQLite run registry.
"""
from jetviz.compute.credentials import redact
from jetviz.compute.dask import DaskBackend, close_dask_clients, dask_client
from jetviz.compute.dispatch import allowed_backends, backend, choose_backend, run_job, submit
from jetviz.compute.gateway import GatewayBackend
from jetviz.compute.job import Backend, Job, JobFailed, JobFeed
from jetviz.compute.kernel import KernelBackend
from jetviz.compute.process import ProcessBackend
from jetviz.compute.registry import Registry, RunRecord, default_registry_path
from jetviz.compute.thread import ThreadBackend

__all__ = ["Backend", "ThreadBackend", "ProcessBackend", "KernelBackend", "GatewayBackend", "DaskBackend", "Job",
           "JobFeed", "JobFailed", "backend", "allowed_backends", "choose_backend", "submit", "run_job", "dask_client",
           "close_dask_clients", "redact", "Registry", "RunRecord", "default_registry_path"]
