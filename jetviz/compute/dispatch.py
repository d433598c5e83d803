"""From a backend string to a running job: the dispatch by scheme, the operator's allow-list, ``submit``.

Design notes: docs/architecture.md, section ``jetviz.compute.dispatch``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from jetviz.compute.credentials import DEFAULT_BACKENDS, env_list, redact
from jetviz.compute.dask import DaskBackend
from jetviz.compute.gateway import GatewayBackend
from jetviz.compute.job import Backend, Job, JobFeed
from jetviz.compute.kernel import KernelBackend
from jetviz.compute.process import ProcessBackend
from jetviz.compute.registry import Registry
from jetviz.compute.thread import ThreadBackend
from jetviz.compute.worker import CANCEL_FILE
from jetviz.errors import ConfigError
from jetviz.runners.base import RunConfig
from jetviz.runners.catalog import runner_spec
from jetviz.runners.rundir import RunDir

__all__ = ["backend", "allowed_backends", "choose_backend", "submit", "run_job"]

_BY_SCHEME: dict[str, type[Backend]] = {scheme: cls for cls in (ThreadBackend, ProcessBackend, KernelBackend,
                                                                GatewayBackend, DaskBackend) for scheme in cls.schemes}


def backend(spec: str | Backend | None = None, environ: Mapping[str, str] | None = None) -> Backend:
    """The backend ``spec`` names (see the module docstring; a :class:`Backend` is returned as is).

    ``environ``: where a gateway looks up its token (default ``os.environ``). Nothing is started
    or contacted; an unknown or malformed spec is a :class:`~jetviz.errors.ConfigError`.
    """
    if isinstance(spec, Backend):
        return spec
    text = (spec or "local").strip()
    cls = _BY_SCHEME.get(text.partition(":")[0].lower())
    if cls is None:
        raise ConfigError(f"unknown backend {redact(text)[:100]!r}: use 'local', 'process', 'kernel[:NAME]', a Jupyter "
                          f"gateway URL (http[s]://…), 'dask' or a dask scheduler address (tcp://host:port)")
    return cls.from_spec(text, environ)


def allowed_backends(environ: Mapping[str, str] | None = None) -> list[Backend]:
    """The backends a page may offer, one per comma-separated entry of ``JETVIZ_BACKENDS`` (default ``local,process``).

    Their ``name`` is the label to show (no credentials). A malformed, unknown or repeated entry,
    or none, is a :class:`~jetviz.errors.ConfigError` naming ``JETVIZ_BACKENDS``.
    """
    entries = env_list("JETVIZ_BACKENDS", environ, DEFAULT_BACKENDS)
    if not entries:
        raise ConfigError("JETVIZ_BACKENDS names no backend: list at least one, e.g. 'local,process'")
    allowed: list[Backend] = []
    for entry in entries:
        try:
            chosen = backend(entry, environ)
        except ConfigError as err:
            raise ConfigError(f"JETVIZ_BACKENDS entry {redact(entry)[:100]!r}: {err}") from None
        if any(known.name == chosen.name for known in allowed):
            raise ConfigError(f"JETVIZ_BACKENDS names the backend {chosen.name!r} twice")
        allowed.append(chosen)
    return allowed


def choose_backend(label: str, allowed: Sequence[Backend] | None = None) -> Backend:
    """The backend of ``allowed`` (default :func:`allowed_backends`) whose ``name`` is ``label``, the visitor's pick
    (from a select, a URL query, a reopened run); any other value is a :class:`~jetviz.errors.ConfigError`."""
    options = allowed_backends() if allowed is None else list(allowed)
    text = label.strip() if isinstance(label, str) else repr(label)
    for known in options:
        if known.name == text:
            return known
    raise ConfigError(f"backend {redact(text)[:100]!r} is not one this server offers; choose one of "
                      f"{[known.name for known in options]} (the operator lists them in JETVIZ_BACKENDS)")


def submit(runner: str, config: RunConfig | dict, backend_spec: str | Backend | None = "local", *,
           run_dir: str | Path | None = None, registry: Registry | None | bool = True) -> Job:
    """Start training ``runner`` with ``config`` on a backend; returns the :class:`~jetviz.compute.job.Job` at once.

    Parameters
    ----------
    runner : str
        One of :data:`jetviz.runners.catalog.RUNNER_NAMES`.
    config : RunConfig | dict
        The runner's config object, or a dict of its values (validated here).
    backend_spec : str | Backend | None, optional
        See :func:`backend` (default "local"); a page passes :func:`choose_backend`'s answer.
    run_dir : str | Path | None, optional
        Resume the interrupted run there from its last checkpoint (same settings, else
        :class:`ConfigError`); default: a new run directory.
    registry : Registry | None | bool, optional
        A :class:`Registry`, True for the default one, False/None for none.

    A bad runner, config, backend or run directory raises before anything starts or is recorded.
    """
    spec = runner_spec(runner)
    values = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    settings = spec.config.from_dict(values)
    chosen = backend(backend_spec)
    reg = Registry() if registry is True else (registry or None)
    run_id = None
    if run_dir is None:
        directory = RunDir.new(runner)
    else:
        directory = RunDir(run_dir)
        directory.claim(settings)  # other settings there: ConfigError, nothing started
        directory.file(CANCEL_FILE).unlink(missing_ok=True)  # a past cancel request does not stop the resumed run
        known = reg.find(directory.path) if reg is not None else None
        run_id = known.id if known is not None else None
    job = Job(runner, settings.to_dict(), directory.path, chosen.name, reg, run_id)
    chosen.start(JobFeed(job))
    return job


def run_job(runner: str, config: RunConfig | dict, backend_spec: str | Backend | None = "local", *,
            run_dir: str | Path | None = None, progress: Callable[[dict], None] | None = None,
            cancel: Callable[[], bool] | None = None, registry: Registry | None | bool = True, poll: float = 0.2):
    """:func:`submit`, then relay its events to ``progress`` and poll ``cancel`` until it ends; returns the result.

    For callers that already run in a worker thread (the dashboard's stores): a blocking call
    with the same contract as ``Runner.fit(progress, cancel)``.
    """
    job = submit(runner, config, backend_spec, run_dir=run_dir, registry=registry)
    for new in job.batches(poll):
        for event in new if progress is not None else ():
            progress(event)
        if cancel is not None and cancel():
            job.cancel()
    return job.result()
