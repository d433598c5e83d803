"""The classify page (seed 003): ResNet18 on event images vs XGBoost on features, sphalerons vs black holes.

The store (:mod:`jetviz.ui.classify.store`) and its views and page (:mod:`jetviz.ui.classify.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.classify import store, views
from jetviz.ui.classify.store import *  # noqa: F401,F403
from jetviz.ui.classify.views import *  # noqa: F401,F403

__all__ = store.__all__ + views.__all__
