"""The colorize page (seed 000): train a U-Net (+ CRF) jet colorizer, reopen runs, look at events.

The store (:mod:`jetviz.ui.colorize.store`) and its views and page (:mod:`jetviz.ui.colorize.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.colorize import store, views
from jetviz.ui.colorize.store import *  # noqa: F401,F403
from jetviz.ui.colorize.views import *  # noqa: F401,F403

__all__ = store.__all__ + views.__all__
