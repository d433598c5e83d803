"""The run registry: every run's config, status, metric history, artefacts and timing in SQLite.

Design notes: docs/architecture.md, section ``jetviz.compute.registry``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from jetviz.compute.credentials import redact
from jetviz.data.io import json_default
from jetviz.errors import DataFileError
from jetviz.runners.rundir import runs_dir

__all__ = ["Registry", "RunRecord", "default_registry_path", "STATUSES"]

#: a run's life: queued → running → done | failed | cancelled (a failed/cancelled run may be resumed: running again)
STATUSES = ("queued", "running", "done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    runner TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT,
    error TEXT,
    device TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_dir ON runs (run_dir);
CREATE TABLE IF NOT EXISTS history (
    run_id TEXT NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""

_COLUMNS = ("id", "runner", "run_dir", "backend", "status", "config", "metrics", "error", "device", "created", "started",
            "finished", "updated")


def default_registry_path() -> Path:
    """``$JETVIZ_REGISTRY`` or ``<runs_dir()>/registry.sqlite``."""
    env = os.environ.get("JETVIZ_REGISTRY")
    return Path(env) if env else runs_dir() / "registry.sqlite"


@dataclass
class RunRecord:
    """One run as the registry knows it (times are Unix seconds; None when not reached)."""

    id: str
    runner: str
    run_dir: str
    backend: str
    status: str
    config: dict
    metrics: dict | None = None
    error: str | None = None
    device: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    updated: float = 0.0
    history: list[dict] = field(default_factory=list)
    damaged: str = ""  # what is wrong with the stored row ("" when nothing): the fields concerned are left empty

    @property
    def seconds(self) -> float | None:
        """Wall time from start to finish (or to the last update of a run still going)."""
        if self.started is None:
            return None
        return (self.finished or self.updated) - self.started


class Registry:
    """The SQLite run registry at ``path`` (default :func:`default_registry_path`)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_registry_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(wal=False) as db:  # looked at before anything is written to the file
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "runs" not in tables:
                raise DataFileError(self.path, f"is an SQLite database of something else (tables {sorted(tables)}), "
                                               f"not a jetviz run registry")
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            missing = [name for name in _COLUMNS if name not in columns]
            if tables and missing:
                raise DataFileError(self.path, f"has a runs table without the column(s) {missing}: "
                                               f"not a jetviz run registry")
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self, wal: bool = True) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL" if wal else "PRAGMA schema_version")
        except sqlite3.DatabaseError as err:
            raise DataFileError(self.path, f"is not a jetviz run registry (SQLite: {err})") from None
        try:
            with db:  # one transaction
                yield db
        except sqlite3.DatabaseError as err:
            raise DataFileError(self.path, f"registry access failed (SQLite: {err})") from None
        finally:
            db.close()

    # ----------------------------------------------------------------------------- writes
    def create(self, run_id: str, runner: str, run_dir: str | Path, backend: str, config: dict) -> None:
        """Record a new job (status "queued"); a known ``run_id`` (a resumed run) is set back to "queued"."""
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs (id, runner, run_dir, backend, status, config, created, updated) "
                "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET status='queued', backend=excluded.backend, error=NULL, "
                "finished=NULL, updated=excluded.updated",
                (run_id, runner, str(run_dir), redact(backend), json.dumps(config, default=json_default), now, now))

    def set_status(self, run_id: str, status: str, *, error: str | None = None, metrics: dict | None = None,
                   device: str | None = None) -> None:
        """Move a run to ``status`` (one of :data:`STATUSES`), with its error, metrics or device."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {STATUSES}")
        now = time.time()
        changes = {"status": status, "updated": now, "finished": now if status in STATUSES[2:] else None,
                   "error": None if error is None else redact(error), "device": device,
                   "metrics": None if metrics is None else json.dumps(metrics, default=json_default)}
        sets = [f"{name} = ?" for name, value in changes.items() if value is not None]
        values = [value for value in changes.values() if value is not None]
        if status == "running":
            sets, values = [*sets, "started = COALESCE(started, ?)"], [*values, now]
        with self._connect() as db:
            db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", (*values, run_id))

    def add_epoch(self, run_id: str, row: dict) -> None:
        """Record one epoch row (a resumed run overwrites the epochs it repeats)."""
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO history (run_id, epoch, row) VALUES (?, ?, ?)",
                       (run_id, int(row.get("epoch", 0)), json.dumps(row, default=json_default)))
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))

    # ----------------------------------------------------------------------------- reads
    def get(self, run_id: str, history: bool = True) -> RunRecord:
        """The run ``run_id`` (KeyError if unknown), with its epoch rows (a damaged one is left out and named in ``damaged``)."""
        with self._connect() as db:
            cursor = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cursor.fetchone()
            if row is None:
                raise KeyError(f"no run {run_id!r} in the registry {self.path}")
            record = _record(row, cursor.description)
            if history:
                problems = [record.damaged] if record.damaged else []
                for epoch, text in db.execute("SELECT epoch, row FROM history WHERE run_id = ? ORDER BY epoch", (run_id,)):
                    value = _parsed(text, f"history row of epoch {epoch}", problems)
                    if value is not None:
                        record.history.append(value)
                record.damaged = "; ".join(problems)
        return record

    def runs(self, runner: str | None = None, status: str | None = None) -> list[RunRecord]:
        """All runs (of ``runner``, with ``status``), newest first, without their history."""
        wanted = {name: value for name, value in (("runner", runner), ("status", status)) if value is not None}
        where = " AND ".join(f"{name} = ?" for name in wanted)
        with self._connect() as db:
            cursor = db.execute(f"SELECT * FROM runs {'WHERE ' + where if where else ''} ORDER BY created DESC",
                                list(wanted.values()))
            return [_record(row, cursor.description) for row in cursor.fetchall()]

    def epoch_counts(self) -> dict[str, int]:
        """``{run id: epoch rows recorded}`` of every run that has any."""
        with self._connect() as db:
            return {run_id: int(n) for run_id, n in db.execute("SELECT run_id, COUNT(*) FROM history GROUP BY run_id")}

    def find(self, run_dir: str | Path) -> RunRecord | None:
        """The newest run recorded for ``run_dir`` (None if there is none)."""
        with self._connect() as db:
            cursor = db.execute("SELECT * FROM runs WHERE run_dir = ? ORDER BY created DESC LIMIT 1", (str(run_dir),))
            row = cursor.fetchone()
            return None if row is None else _record(row, cursor.description)


def _parsed(text: Any, what: str, problems: list[str]) -> dict | None:
    """The JSON object in ``text``, or None with what is wrong appended to ``problems``."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as err:
        problems.append(f"{what} is not valid JSON ({err})")
        return None
    if not isinstance(value, dict):
        problems.append(f"{what} holds a JSON {type(value).__name__}, not an object")
        return None
    return value


def _record(row: tuple, description) -> RunRecord:
    """The :class:`RunRecord` of one ``runs`` row; what cannot be read is left empty and named in ``damaged``."""
    values = {name: value for (name, *_), value in zip(description, row) if name in _COLUMNS}
    problems: list[str] = []
    values["config"] = _parsed(values["config"], "config", problems) or {}
    values["metrics"] = None if values["metrics"] is None else _parsed(values["metrics"], "metrics", problems)
    if values["status"] not in STATUSES:
        problems.append(f"unknown status {values['status']!r}")
    for name in ("created", "started", "finished", "updated"):
        if values[name] is not None and not isinstance(values[name], (int, float)):
            problems.append(f"{name} time {str(values[name])[:40]!r} is not a number")
            values[name] = None if name in ("started", "finished") else 0.0
    values["backend"] = redact(str(values["backend"]))
    return RunRecord(**values, damaged="; ".join(problems))
