"""The runners jetviz has: one table from a runner's name to its config, runner and result classes.

Everything that handles runs by name (the compute jobs, the page stores, the runs page, deep
links, the reference runs) looks the classes up here; the runner modules are imported only
when a runner is first asked for (they import torch).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from jetviz.errors import ConfigError

__all__ = ["RUNNER_NAMES", "RunnerSpec", "runner_spec"]

#: runner name → module holding ``CONFIG``, ``RUNNER`` and ``RESULT`` class names (see :class:`RunnerSpec`)
_MODULES: dict[str, tuple[str, str, str, str]] = {
    "colorize": ("jetviz.runners.colorize", "ColorizeConfig", "ColorizeRunner", "ColorizeResult"),
    "classify": ("jetviz.runners.classify", "ClassifyConfig", "ClassifyRunner", "ClassifyResult"),
    "vae_emd": ("jetviz.runners.vae_emd", "VaeEmdConfig", "VaeEmdRunner", "VaeEmdResult"),
    "jetclr": ("jetviz.runners.jetclr", "JetclrConfig", "JetclrRunner", "JetclrResult"),
}
#: the runner names, in the order of the dashboard's pages
RUNNER_NAMES: tuple[str, ...] = tuple(_MODULES)


@dataclass(frozen=True)
class RunnerSpec:
    """The three classes of one runner.

    Attributes
    ----------
    name : str
        The runner's name (prefix of its run directories).
    config : type
        Its :class:`~jetviz.runners.base.RunConfig` subclass.
    runner : type
        Built as ``runner(config, run_dir, **kwargs)``; ``.fit(progress, cancel)`` returns a result.
    result : type
        ``result.load(run_dir)`` reopens a finished run.
    """

    name: str
    config: type
    runner: type
    result: type


def runner_spec(name: str) -> RunnerSpec:
    """The :class:`RunnerSpec` of runner ``name`` (ConfigError: not one of :data:`RUNNER_NAMES`)."""
    if name not in _MODULES:
        raise ConfigError(f"unknown runner {name!r}; one of {list(RUNNER_NAMES)}")
    module, *classes = _MODULES[name]
    loaded = importlib.import_module(module)
    return RunnerSpec(name, *(getattr(loaded, cls) for cls in classes))
