"""The runs page: every run of the registry listed, two runs' curves compared, a finished run
reopened on its runner's page and an interrupted one resumed from its last checkpoint.

The store (:mod:`jetviz.ui.runs.store`) and its page (:mod:`jetviz.ui.runs.views`).
"""
from jetviz.ui.runs import store, views
from jetviz.ui.runs.store import *  # noqa: F401,F403
from jetviz.ui.runs.views import *  # noqa: F401,F403

__all__ = store.__all__ + views.__all__
