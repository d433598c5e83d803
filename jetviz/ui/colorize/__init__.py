"""The colorize page (seed 000): train a U-Net (+ CRF) jet colorizer, reopen runs, look at events.

The store (:mod:`jetviz.ui.colorize.store`) and its views and page (:mod:`jetviz.ui.colorize.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.colorize.store import (
    PAGE_DEFAULTS,
    URL_PARAMS,
    ColorizeEvent,
    ColorizeStore,
    Display,
    default_config,
    list_runs,
    predict_test_events,
)
from jetviz.ui.colorize.views import ColorizePage, EventView, ProbabilityView, ResultsView, TrainingView

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "default_config", "list_runs", "ColorizeEvent", "Display",
           "predict_test_events", "ColorizeStore", "EventView", "ProbabilityView", "TrainingView", "ResultsView",
           "ColorizePage"]
