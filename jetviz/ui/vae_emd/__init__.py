"""The vae_emd page (seed 002): a β-VAE on QCD jet images vs the Energy Mover's Distance, top jets as the anomaly.

The store (:mod:`jetviz.ui.vae_emd.store`) and its views and page (:mod:`jetviz.ui.vae_emd.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.vae_emd import store, views
from jetviz.ui.vae_emd.store import *  # noqa: F401,F403
from jetviz.ui.vae_emd.views import *  # noqa: F401,F403

__all__ = store.__all__ + views.__all__
