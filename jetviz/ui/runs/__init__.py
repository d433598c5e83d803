"""The runs page: every run of the registry listed, two runs' curves compared, a finished run
reopened on its runner's page and an interrupted one resumed from its last checkpoint.

The store (:mod:`jetviz.ui.runs.store`) and its page (:mod:`jetviz.ui.runs.views`).
"""
from jetviz.ui.runs.store import (
    ACTIVE,
    MAIN_METRICS,
    RESUMABLE,
    TABLE_COLUMNS,
    RunsStore,
    main_metric,
    metrics_rows,
    reopen_href,
    runs_frame,
)
from jetviz.ui.runs.views import RunsPage

__all__ = ["RunsStore", "RunsPage", "TABLE_COLUMNS", "MAIN_METRICS", "ACTIVE", "RESUMABLE", "main_metric", "runs_frame",
           "reopen_href", "metrics_rows"]
