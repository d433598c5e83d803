"""The vae_emd page (seed 002): a β-VAE on QCD jet images vs the Energy Mover's Distance, top jets as the anomaly.

The store (:mod:`jetviz.ui.vae_emd.store`) and its views and page (:mod:`jetviz.ui.vae_emd.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.vae_emd.store import (
    PAGE_DEFAULTS,
    SCAN_BETAS,
    URL_PARAMS,
    VaeEmdStore,
    default_config,
    latest_scan,
    list_runs,
    parse_betas,
)
from jetviz.ui.vae_emd.views import (
    FIRST_SELECTED,
    DistanceView,
    LatentView,
    PairView,
    ResultsView,
    ScanView,
    VaeEmdPage,
)

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "SCAN_BETAS", "default_config", "list_runs", "latest_scan", "parse_betas",
           "VaeEmdStore", "FIRST_SELECTED", "ResultsView", "DistanceView", "PairView", "LatentView", "ScanView",
           "VaeEmdPage"]
