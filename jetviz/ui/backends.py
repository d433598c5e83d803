"""Where a page's work may run: a choice among the backends the operator allows, never a typed one.

The dashboard runs code on its host, and a backend is code and a connection (a process, a
Jupyter kernel, a gateway on another machine, a dask scheduler whose replies are unpickled). So a
visitor chooses only among the backends the operator listed in ``$JETVIZ_BACKENDS`` (default
``local,process``): :class:`BackendChoice` is a select over them, and a value from a URL query,
a reopened run or a stale session that is not on the list is refused with a message before
anything starts. The Python API (:func:`jetviz.compute.submit`) stays free for the person who
writes the code.
"""
from __future__ import annotations

import os
from typing import Mapping

import param

__all__ = ["backend_choices", "BackendChoice"]


def backend_choices(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{label: backend spec}`` of the backends the operator allows (``$JETVIZ_BACKENDS``,
    default ``local,process``); the labels never show credentials."""
    from urllib.parse import urlsplit

    environ = os.environ if environ is None else environ
    choices = {}
    for spec in [s.strip() for s in environ.get("JETVIZ_BACKENDS", "local,process").split(",") if s.strip()]:
        parts = urlsplit(spec)
        label = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}" \
            if parts.scheme in ("http", "https") else spec
        choices[label] = spec
    return choices or {"local": "local"}


class BackendChoice(param.Parameterized):
    """Mixin of a store: ``backend``, a select over the allowed backends (see the module docstring)."""

    backend = param.Selector(default="local", objects=["local"], label="Train on",
                             doc="where the work runs: one of the backends the operator allows ($JETVIZ_BACKENDS)")

    def _init_backends(self, requested: str | None) -> None:
        """Offer the allowed backends and choose ``requested`` (default ``$JETVIZ_BACKEND`` or the first)."""
        self._choices = backend_choices()
        self.param.backend.objects = list(self._choices)
        self.backend = next(iter(self._choices))
        self.choose_backend(requested or os.environ.get("JETVIZ_BACKEND", "local"))

    def choose_backend(self, spec: str) -> bool:
        """Choose the allowed backend ``spec`` (its spec or label); anything else is refused in ``notice``."""
        text = str(spec).strip()
        for label, allowed in self._choices.items():
            if text in (label, allowed):
                self.backend = label
                return True
        self.report(f"Backend {text!r} is not allowed here: the operator allows {', '.join(self._choices)} "
                    "($JETVIZ_BACKENDS). Nothing was started.")
        return False

    @property
    def backend_spec(self) -> str:
        """The spec of the chosen backend (what :mod:`jetviz.compute` runs on)."""
        return self._choices[self.backend]
