"""The classify page (seed 003): ResNet18 on event images vs XGBoost on features, sphalerons vs black holes.

The store (:mod:`jetviz.ui.classify.store`) and its views and page (:mod:`jetviz.ui.classify.views`),
after Panel's "data store" tutorial.
"""
from jetviz.ui.classify.store import (
    MAX_LISTED,
    PAGE_DEFAULTS,
    URL_PARAMS,
    ClassifyEvent,
    ClassifyStore,
    class_names,
    default_config,
    list_runs,
)
from jetviz.ui.classify.views import ClassifyPage, ExamplesView, MisclassifiedView, ResultsView, TrainingView

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "MAX_LISTED", "default_config", "list_runs", "class_names", "ClassifyEvent",
           "ClassifyStore", "ExamplesView", "TrainingView", "ResultsView", "MisclassifiedView", "ClassifyPage"]
