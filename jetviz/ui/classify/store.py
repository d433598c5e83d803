"""The classify page's data store (seed 003): ResNet18 vs XGBoost runs, their inputs, the events they get wrong.

Design notes: docs/architecture.md, section ``jetviz.ui.classify.store``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
import param

from jetviz.data.recipes import get_recipe
from jetviz.plots.classify import ClassifyEvent
from jetviz.runners.classify import MODEL_INPUTS, ClassifyConfig, ClassifyData, ClassifyResult
from jetviz.ui.training import TrainingStore
from jetviz.ui.widgets import settings_card

__all__ = ["PAGE_DEFAULTS", "URL_PARAMS", "MAX_LISTED", "default_config", "list_runs", "class_names", "is_xgboost",
           "ClassifyEvent", "ClassifyStore"]

#: the page's default run: real bh_sph physics, small and fast on a CPU (~20 s on one core:
#: XGBoost ≈ 0.9 accuracy, the 3-epoch width-4 ResNet18 still near chance)
PAGE_DEFAULTS: dict[str, Any] = {"sample": "bh_sph", "n_events": 400, "n_folds": 3, "width": 4, "epochs": 3}
#: config params that a deep link (``?page=classify&n_events=1000&models=resnet,xgb_high``) may set
URL_PARAMS = ("sample", "n_events", "n_folds", "validation_fraction", "models", "image_transform", "width", "epochs",
              "batch_size", "learning_rate", "weight_decay", "xgb_n_estimators", "xgb_max_depth", "xgb_learning_rate",
              "xgb_early_stopping", "threads", "seed", "device")
#: most misclassified events listed (the most confidently wrong ones)
MAX_LISTED = 200


def class_names(sample: str) -> tuple[str, str]:
    """Names of class 0 and class 1 of ``sample`` (``("sphaleron", "black hole")`` for ``bh_sph``)."""
    try:
        classes = tuple(get_recipe(sample).classes)
    except Exception:
        classes = ()
    return classes if len(classes) == 2 else ("class 0", "class 1")


def is_xgboost(model: str) -> bool:
    return MODEL_INPUTS.get(model, ("resnet",))[0] == "xgboost"


def _series(config: ClassifyConfig) -> tuple[tuple[str, ...], int]:
    """(models in the runner's order, folds) of a config: the layers of the training curves."""
    return tuple(m for m in MODEL_INPUTS if m in config.models), int(config.n_folds)


class ClassifyStore(TrainingStore):
    """The classify page's data store: a :class:`~jetviz.ui.training.TrainingStore` of the classify runner.

    Beyond the training store's params: ``data`` as soon as the events are simulated, ``current``
    (the event at ``event_index``, with every model's score) and the ``model`` whose mistakes are listed.
    """

    runner_name = "classify"
    sample_kind = "events"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS

    config = param.ClassSelector(class_=ClassifyConfig, doc="the run's settings")
    model = param.Selector(default=None, objects=[], allow_None=True, label="Model",
                           doc="model whose misclassified events are listed")
    event_index = param.Integer(default=0, bounds=(0, 1), label="Event", doc="event shown in detail (sample index)")

    series = param.Tuple(default=((), 1), length=2, precedence=-1,
                         doc="(models, n_folds) of the curves shown: fixes the curves' layers")
    data = param.ClassSelector(class_=ClassifyData, default=None, precedence=-1, doc="the run's inputs")
    class_names = param.Tuple(default=("class 0", "class 1"), length=2, precedence=-1, doc="names of class 0 and 1")
    current = param.ClassSelector(class_=ClassifyEvent, default=None, precedence=-1, doc="event at event_index")

    def show_config(self) -> None:
        config = self.config
        self.param.update(series=_series(config), class_names=class_names(config.sample))

    # ----------------------------------------------------------------------------- a run shown
    def train(self, blocking: bool | None = None) -> None:
        """Train a new run (see :meth:`TrainingStore.train`); its curves get the new run's layers."""
        if not self.running:
            self.param.update(series=_series(self.config), class_names=class_names(self.config.sample))
        super().train(blocking)

    def show_data(self, data: ClassifyData) -> None:
        """The new run's events arrived (before its training): show them; the previous result goes."""
        n = len(data)
        self.param.event_index.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, loaded="", event_index=min(self.event_index, n - 1))

    def show(self, result: ClassifyResult, data: ClassifyData) -> None:
        config = result.config
        models = list(result.models)
        names = tuple(result.metrics.get("class_names") or class_names(config.sample))
        model = self.model if self.model in models else (models[0] if models else None)
        wrong = result.misclassified(model) if model is not None else []
        self.param.model.objects = models
        self.param.event_index.bounds = (0, max(len(data) - 1, 1))
        # one batch: the current event (the chosen model's most confidently wrong one) is built once
        self.param.update(series=(tuple(models), int(config.n_folds)),
                          class_names=names if len(names) == 2 else ("class 0", "class 1"), model=model,
                          event_index=int(wrong[0]) if len(wrong) else min(self.event_index, len(data) - 1))

    def describe(self, result: ClassifyResult, data: ClassifyData, derived: tuple = ()) -> str:
        config = result.config
        return (f"{result.run_dir.name} · {config.sample} · {int(result.metrics['n_events'])} events · "
                f"{config.n_folds}-fold · ResNet18 width {config.width}, {config.epochs} epochs · "
                f"device {result.metrics.get('device', '?')}")

    # ----------------------------------------------------------------------------- derived data
    def misclassified(self, model: str | None = None) -> np.ndarray:
        """Event indices that ``model`` (default: :attr:`model`) gets wrong, most confidently wrong first."""
        model = self.model if model is None else model
        if self.result is None or model not in self.result.models:
            return np.zeros(0, dtype=np.int64)
        return self.result.misclassified(model)

    @param.depends("model", watch=True)
    def _show_worst(self) -> None:
        """Show the chosen model's most confidently wrong event."""
        wrong = self.misclassified()
        if len(wrong):
            self.event_index = int(wrong[0])

    @param.depends("event_index", "data", "result", watch=True)
    def _update_current(self) -> None:
        self.current = self.event(self.event_index)

    def event(self, index: int) -> ClassifyEvent | None:
        """Event ``index`` (sample order) with its inputs and scores; None before data and result."""
        data, result = self.data, self.result
        if data is None:
            return None
        rows = np.flatnonzero(data.index == index)
        if not len(rows):
            return None
        row = int(rows[0])
        scores, fold = {}, -1
        if result is not None:
            predictions = result.predictions
            at = np.flatnonzero(predictions["index"] == index)
            if len(at):
                scores = {m: float(predictions[f"score_{m}"][at[0]]) for m in result.models}
                fold = int(predictions["fold"][at[0]])
        return ClassifyEvent(index=int(index), label=int(data.labels[row]), class_names=tuple(self.class_names),
                             fold=fold, image=data.images[row], low=data.low[row], high=data.high[row], scores=scores)

    # ----------------------------------------------------------------------------- view
    def controls_list(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self.number
        sample = self.sample_select()
        sizes = pn.Row(number("n_events", "Events", step=100), number("n_folds", "Folds (k)"), **wide)
        models = pn.widgets.CheckBoxGroup.from_param(c.param.models, inline=False, css_classes=["jetviz-models"])
        resnet = pn.Row(number("width", "ResNet width"), number("epochs", "Epochs"), **wide)
        xgb = pn.Row(number("xgb_n_estimators", "XGBoost rounds", step=100), number("xgb_max_depth", "Tree depth"),
                     **wide)
        advanced = settings_card(
            number("validation_fraction", "Validation share", widget=pn.widgets.FloatInput, step=0.05),
            pn.widgets.Select.from_param(c.param.image_transform, label="ResNet input: log1p(E) or E/100 GeV", **wide),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            number("weight_decay", "Weight decay", widget=pn.widgets.FloatInput, step=1e-4),
            pn.Row(number("xgb_learning_rate", "XGBoost η", widget=pn.widgets.FloatInput, step=0.05),
                   number("xgb_early_stopping", "Early stopping"), **wide),
            pn.Row(number("threads", "Threads (0 = all)"), number("seed", "Seed"), **wide),
            pn.widgets.Select.from_param(c.param.device, label="Device", **wide),
        )
        return [sample, sizes, "Models", models, resnet, xgb, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`ClassifyConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_CLASSIFY_<PARAM>`` env vars, then ``overrides``)
default_config = ClassifyStore.default_config
#: ``list_runs(root=None)``: finished classify run directories, newest first
list_runs = ClassifyStore.list_runs


