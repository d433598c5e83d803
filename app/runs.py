"""runs page: every run of the run registry (SQLite) listed, two runs' curves compared, a
finished run reopened on its runner's page, an interrupted one resumed from its checkpoint.

The registry is ``$JETVIZ_REGISTRY`` (default ``<runs_dir()>/registry.sqlite``, beside the run
directories of ``$JETVIZ_RUNS``); a resumed run executes on the backend typed in the page
(default ``local``).
"""
from jetviz.ui.runs import RunsPage


def page() -> RunsPage:
    """A new runs page for this session."""
    return RunsPage()
