"""The jetclr page (seed 004): contrastive jet representations (JetCLR) on top vs QCD jets.

The store (:mod:`jetviz.ui.jetclr.store`) and its views and page (:mod:`jetviz.ui.jetclr.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.jetclr.store import (
    PAGE_DEFAULTS,
    URL_PARAMS,
    JetclrStore,
    collect_ablation,
    default_config,
    list_runs,
    untrained_encoder,
)
from jetviz.ui.jetclr.views import FIRST_SELECTED, AugmentationView, JetclrPage, LatentView, ResultsView, RotationView

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "default_config", "list_runs", "collect_ablation", "untrained_encoder",
           "JetclrStore", "FIRST_SELECTED", "AugmentationView", "RotationView", "ResultsView", "LatentView", "JetclrPage"]
