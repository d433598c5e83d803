"""Where a page's work may run: a choice among the backends the operator allows, never a typed one.

Design notes: docs/architecture.md, section ``jetviz.ui.backends``.
"""
from __future__ import annotations

import os
from typing import Mapping

import param

__all__ = ["backend_choices", "BackendChoice"]


def backend_choices(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """``{label: backend}`` of the backends the operator allows (:func:`jetviz.compute.allowed_backends`;
    the labels never show credentials)."""
    from jetviz.compute import allowed_backends

    return {chosen.name: chosen for chosen in allowed_backends(environ)}


class BackendChoice(param.Parameterized):
    """Mixin of a store: ``backend``, a select over the allowed backends (see the module docstring)."""

    backend = param.Selector(default="local", objects=["local"], label="Train on",
                             doc="where the work runs: one of the backends the operator allows ($JETVIZ_BACKENDS)")

    def _init_backends(self, requested: str | None) -> None:
        """Offer the allowed backends and choose ``requested`` (default ``$JETVIZ_BACKEND`` or the first).

        A malformed ``$JETVIZ_BACKENDS`` offers nothing: the error is shown and nothing can start.
        """
        from jetviz.errors import ConfigError

        try:
            self._choices = backend_choices()
        except ConfigError as err:
            self._choices = {}
            self.param.backend.objects = [None]
            self.backend = None
            self.error = f"No backend to run on: {err}"
            return
        self.param.backend.objects = list(self._choices)
        self.backend = next(iter(self._choices))
        self.choose_backend(requested or os.environ.get("JETVIZ_BACKEND", "local"))

    def choose_backend(self, spec: str) -> bool:
        """Choose the allowed backend ``spec`` (its label, or a spec naming it); anything else is refused in ``notice``."""
        from jetviz.compute import backend
        from jetviz.compute.credentials import redact
        from jetviz.errors import ConfigError

        text = str(spec).strip()
        try:
            label = text if text in self._choices else backend(text).name  # parses only: nothing is contacted
        except ConfigError:
            label = None
        if label in self._choices:
            self.backend = label
            return True
        self.report(f"Backend {redact(text)[:100]!r} is not allowed here: the operator allows "
                    f"{', '.join(self._choices) or 'none'} ($JETVIZ_BACKENDS). Nothing was started.")
        return False

    @property
    def chosen_backend(self):
        """The chosen :class:`jetviz.compute.Backend` (ConfigError: none allowed, a malformed ``$JETVIZ_BACKENDS``)."""
        from jetviz.errors import ConfigError

        if self.backend not in self._choices:
            raise ConfigError("no backend is allowed here: fix $JETVIZ_BACKENDS")
        return self._choices[self.backend]

    def backend_or_report(self):
        """:attr:`chosen_backend`, or None after reporting why there is none (nothing may start)."""
        from jetviz.errors import ConfigError

        try:
            return self.chosen_backend
        except ConfigError as err:
            self.report(str(err))
            return None
