"""Exceptions raised by jetviz: every one names the problem (and the file, where there is one)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["JetvizError", "SchemaError", "DataFileError", "ConfigError", "Cancelled"]


class JetvizError(Exception):
    """Base class of every error jetviz raises on purpose."""


class SchemaError(JetvizError, ValueError):
    """Events or arrays do not follow the jetviz event schema (missing field, NaN, wrong shape...)."""


class ConfigError(JetvizError, ValueError):
    """A configuration value is out of range or inconsistent."""


class Cancelled(JetvizError):
    """A run or job was cancelled on request; what it finished (its last checkpoint) is kept."""


class DataFileError(JetvizError, OSError):
    """A file could not be read or written as the format it claims to be.

    Parameters
    ----------
    path : str | Path
        The file concerned.
    problem : str
        One sentence saying what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # picklable across processes / dask workers
        return (type(self), (self.path, self.problem))
