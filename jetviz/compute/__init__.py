"""Training off the web server's thread: jobs on local threads/processes, Jupyter kernels or dask, and the run registry.

``submit(runner, config, backend) -> Job`` (:mod:`jetviz.compute.jobs`), the SQLite run
registry (:mod:`jetviz.compute.registry`) and the executing side (:mod:`jetviz.compute.worker`).
"""
from jetviz.compute.jobs import (
    Backend,
    DaskBackend,
    Job,
    JobFailed,
    KernelBackend,
    ProcessBackend,
    ThreadBackend,
    backend,
    close_dask_clients,
    dask_client,
    run_job,
    submit,
)
from jetviz.compute.registry import Registry, RunRecord, default_registry_path
from jetviz.compute.worker import RUNNERS

__all__ = [
    "Backend",
    "DaskBackend",
    "Job",
    "JobFailed",
    "KernelBackend",
    "ProcessBackend",
    "ThreadBackend",
    "backend",
    "dask_client",
    "close_dask_clients",
    "run_job",
    "submit",
    "Registry",
    "RunRecord",
    "default_registry_path",
    "RUNNERS",
]
