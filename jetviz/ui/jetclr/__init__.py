"""The jetclr page (seed 004): contrastive jet representations (JetCLR) on top vs QCD jets.

The store (:mod:`jetviz.ui.jetclr.store`) and its views and page (:mod:`jetviz.ui.jetclr.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.jetclr import store, views
from jetviz.ui.jetclr.store import *  # noqa: F401,F403
from jetviz.ui.jetclr.views import *  # noqa: F401,F403

__all__ = store.__all__ + views.__all__
