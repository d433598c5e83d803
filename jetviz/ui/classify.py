"""The classify page (seed 003): ResNet18 on event images vs XGBoost on features, sphalerons vs
black holes; train with k-fold evaluation, reopen runs, look at the events the models get wrong.

Structured like the colorize page (:mod:`jetviz.ui.colorize`), after Panel's "data store" tutorial:

- :class:`ClassifyStore` (a ``Viewer``) holds a :class:`~jetviz.runners.classify.ClassifyConfig`
  (its bounded params become the controls), runs :meth:`ClassifyRunner.fit
  <jetviz.runners.classify.ClassifyRunner.fit>` in a background thread (*Train*, *Cancel*),
  reopens finished runs from :func:`~jetviz.runners.base.runs_dir` (*Open run*) and exposes the
  live ``history``, the run's inputs (``data``: images, features, labels), the ``result``, the
  model whose mistakes are listed (``model``) and the ``current`` event as params. Its own view
  is the settings panel with progress and errors.
- Views depend only on the store's params: :class:`ExamplesView` (event images per class and
  channel, or class averages), :class:`TrainingView` (live validation curves per model and
  fold), :class:`ResultsView` (the talk's accuracy table next to ours, accuracy bars, overlaid
  ROC curves, confusion matrices, XGBoost feature importances), :class:`MisclassifiedView`
  (the events a model gets wrong, most confidently wrong first; the selected one's three
  channels with its low-level hits marked, its 45 + 39 feature values and every model's score).
- :class:`ClassifyPage` composes them; it renders in ``panel serve`` and inline in JupyterLab.

What every page that trains runs shares (buttons, run list, status params, the worker thread
and its queue, env-var and URL-query defaults) is in :mod:`jetviz.ui.runs`; this module holds
what is the classify runner's own.

Training never blocks the Bokeh event loop: the thread only puts the runner's progress dicts
(and, after each finished (model, fold), the run's ``history.csv``) on a queue; a periodic
callback on the session's loop drains it into params. Outside an event loop (a script, a test)
pass ``blocking=True`` to :meth:`ClassifyStore.train` / :meth:`ClassifyStore.open_run`.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from jetviz.data.recipes import get_recipe
from jetviz.models.features import HIGH_LEVEL_COLUMNS, LOW_LEVEL_COLUMNS
from jetviz.plots.classify import (
    accuracy_bars,
    accuracy_table,
    confusion_matrices,
    event_features,
    event_images,
    event_scores,
    example_images,
    feature_importances,
    model_name,
    roc_curves,
    training_curves,
)
from jetviz.runners.base import read_history, read_json
from jetviz.runners.classify import MODEL_INPUTS, ClassifyConfig, ClassifyData, ClassifyResult, ClassifyRunner
from jetviz.ui.events import bounded_input
from jetviz.ui.runs import RunPage, RunStore, RunView, fit_on_backend

__all__ = [
    "PAGE_DEFAULTS",
    "URL_PARAMS",
    "default_config",
    "list_runs",
    "class_names",
    "ClassifyEvent",
    "ClassifyStore",
    "ExamplesView",
    "TrainingView",
    "ResultsView",
    "MisclassifiedView",
    "ClassifyPage",
]

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


def _is_xgboost(model: str) -> bool:
    return MODEL_INPUTS.get(model, ("resnet",))[0] == "xgboost"


def _series(config: ClassifyConfig) -> tuple[tuple[str, ...], int]:
    """(models in the runner's order, folds) of a config: the layers of the training curves."""
    return tuple(m for m in MODEL_INPUTS if m in config.models), int(config.n_folds)


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise ==
class ClassifyEvent:
    """One event of a run with its inputs and every model's out-of-fold score.

    Attributes
    ----------
    index : int
        Event number in the sample.
    label : int
        True class (0/1); ``class_names`` the names of class 0 and 1.
    fold : int
        The fold (0-based) in which it was a test event.
    image : (3, n_eta, n_phi) float array
        ECal E, HCal E, track pT (GeV).
    low : (45,) float array
        Low-level features. high : (39,) float array: high-level features.
    scores : dict
        ``{model: P(class 1)}``.
    """

    index: int
    label: int
    class_names: tuple[str, str]
    fold: int
    image: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scores: dict

    def summary(self, model: str | None = None) -> str:
        """One line: event, true class, fold and (if ``model``) that model's score and verdict."""
        text = f"event {self.index}: true class {self.class_names[self.label]}"
        if self.fold >= 0:
            text += f", test event of fold {self.fold + 1}"
        if model in self.scores:
            p = self.scores[model]
            verdict = "right" if int(p >= 0.5) == self.label else "wrong"
            text += f"; {model_name(model)}: P({self.class_names[1]}) = {p:.3f} ({verdict})"
        return text


class ClassifyStore(RunStore):
    """Settings, training and results of the classify page (the page's data store).

    Set the ``config``'s params and press *Train* (or call :meth:`train`); *Cancel* stops the
    run after the current step (finished (model, fold) units are kept). *Open run* reopens a
    finished run from :func:`~jetviz.runners.base.runs_dir` without retraining
    (:meth:`open_run`). Results arrive in ``history`` (live), ``data`` (as soon as the events
    are simulated), ``result`` and ``current`` (the event at ``event_index``); errors in
    ``error``, rejected inputs and cancellations in ``notice``. Buttons, run list, status params
    and the worker plumbing come from :class:`~jetviz.ui.runs.RunStore`.

    The config's defaults are :data:`PAGE_DEFAULTS`, then ``JETVIZ_CLASSIFY_<PARAM>`` env vars
    (``JETVIZ_CLASSIFY_SAMPLE=toy_bh_sph``, ``JETVIZ_CLASSIFY_N_EVENTS=120``,
    ``JETVIZ_CLASSIFY_MODELS=resnet,xgb_low``), then the keyword arguments (see
    :func:`default_config`). Finished runs are ``classify-*`` directories with ``metrics.json``,
    ``predictions.npz`` and a valid ``config.json`` (see :func:`list_runs`).
    """

    runner_name = "classify"
    page_defaults = PAGE_DEFAULTS
    url_params = URL_PARAMS
    run_files = ("metrics.json", "predictions.npz")
    sample_progress = 8
    stage_progress = {"detector": 9, "evaluate": 92}

    config = param.ClassSelector(class_=ClassifyConfig, doc="the run's settings")
    model = param.Selector(default=None, objects=[], allow_None=True, label="Model",
                           doc="model whose misclassified events are listed")
    event_index = param.Integer(default=0, bounds=(0, 1), label="Event", doc="event shown in detail (sample index)")

    series = param.Tuple(default=((), 1), length=2, precedence=-1,
                         doc="(models, n_folds) of the curves shown: fixes the curves' layers")
    data = param.ClassSelector(class_=ClassifyData, default=None, precedence=-1, doc="the run's inputs")
    class_names = param.Tuple(default=("class 0", "class 1"), length=2, precedence=-1, doc="names of class 0 and 1")
    current = param.ClassSelector(class_=ClassifyEvent, default=None, precedence=-1, doc="event at event_index")

    _units = (0, 1)  # (finished, total) (model, fold) units of the running training
    step_progress = (10, 80)  # over all units: see _on_step

    @classmethod
    def _valid_run(cls, path: Path) -> bool:
        try:
            ClassifyConfig.from_dict(read_json(path / "config.json"))
        except Exception:  # another runner's or a damaged config: not offered
            return False
        return True

    def _show_config(self) -> None:
        config = self.config
        self.param.update(series=_series(config), class_names=class_names(config.sample))

    # ----------------------------------------------------------------------------- actions
    def _train_updates(self, config: ClassifyConfig) -> dict:
        self._units = (0, max(len(config.models) * config.n_folds, 1))
        self._run_config = config
        return {"series": _series(config), "class_names": class_names(config.sample)}

    def _train_status(self, config: ClassifyConfig) -> str:
        return f"training on {config.n_events} {config.sample} events …"

    # ----------------------------------------------------------------------------- workers
    @staticmethod
    def _train_work(token: int, messages: queue.SimpleQueue, config: ClassifyConfig, cancel: threading.Event,
                    backend: str = "local") -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        put = lambda event: messages.put(("event", token, event))  # noqa: E731
        runner = ClassifyRunner(config)
        put({"kind": "stage", "stage": "run", "message": f"run directory {runner.run_dir.name}"})
        data = runner.load_data(put)
        messages.put(("data", token, data))
        history_path = runner.run_dir / "history.csv"

        def progress(event: dict) -> None:
            put(event)
            if event.get("kind") == "unit" and history_path.exists():  # every round of the finished units
                messages.put(("history", token, read_history(history_path)))

        result = fit_on_backend(runner, backend, progress, cancel, {"data": data})
        messages.put(("done", token, result, data))

    @staticmethod
    def _open_work(token: int, messages: queue.SimpleQueue, run_dir: Path) -> None:
        result = ClassifyResult.load(run_dir)
        config = result.config
        message = f"simulating the {config.n_events} {config.sample} events again …"
        messages.put(("event", token, {"kind": "stage", "stage": "open", "message": message}))
        data = result.load_data(lambda event: messages.put(("event", token, event)))
        messages.put(("done", token, result, data))

    # ----------------------------------------------------------------------------- messages
    def _on_message(self, kind: str, payload: list) -> None:
        if kind == "history":
            self.history = list(payload[0])
        elif kind == "data":
            self._set_data(payload[0])

    def _on_progress(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "epoch":
            row = self._history_row(event)
            if not _is_xgboost(str(row.get("model"))):  # XGBoost's rounds arrive with the history file
                self.history = [*self.history, row]
        elif kind == "unit":
            self._units = (int(event["done"]), max(int(event["total"]), 1))
            self.param.update(progress=int(10 + 80 * self._units[0] / self._units[1]),
                              status=event.get("message", ""))
        elif kind == "done":
            self.param.update(progress=95, status="evaluated")

    def _on_step(self, event: dict) -> None:
        config = self._run_config or self.config
        epochs, n_steps = max(int(config.epochs), 1), max(int(event["n_steps"]), 1)
        within = ((event["epoch"] - 1) * n_steps + event["step"]) / (epochs * n_steps)
        done, total = self._units
        self.param.update(
            progress=int(10 + 80 * min(done + within, total) / total),
            status=(f"{model_name(event['model'])}, fold {event['fold'] + 1}/{config.n_folds}: epoch "
                    f"{event['epoch']}/{epochs}, step {event['step']}/{n_steps}, loss {event['loss']:.3f}"),
        )

    def _set_data(self, data: ClassifyData) -> None:
        """The new run's events arrived (before its training): show them; the previous result goes."""
        n = len(data)
        self.param.event_index.bounds = (0, max(n - 1, 1))
        self.param.update(data=data, result=None, loaded="", event_index=min(self.event_index, n - 1))

    def _apply(self, result: ClassifyResult, data: ClassifyData) -> None:
        config = result.config
        self.config.param.update(**{k: v for k, v in config.to_dict().items() if k in self.config.param})
        models = list(result.models)
        names = tuple(result.metrics.get("class_names") or class_names(config.sample))
        model = self.model if self.model in models else (models[0] if models else None)
        wrong = result.misclassified(model) if model is not None else []
        n = len(data)
        self.param.model.objects = models
        self.param.event_index.bounds = (0, max(n - 1, 1))
        # one batch: the current event (the chosen model's most confidently wrong one) is built once
        self.param.update(
            result=result, data=data, history=list(result.history), series=(tuple(models), int(config.n_folds)),
            class_names=names if len(names) == 2 else ("class 0", "class 1"), model=model,
            event_index=int(wrong[0]) if len(wrong) else min(self.event_index, n - 1),
            running=False, training=False, progress=100, status="",
            loaded=(f"{result.run_dir.name} · {config.sample} · {int(result.metrics['n_events'])} events · "
                    f"{config.n_folds}-fold · ResNet18 width {config.width}, {config.epochs} epochs · "
                    f"device {result.metrics.get('device', '?')}"),
        )
        self._show_run(result.run_dir)

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
    def _settings(self) -> list:
        c, wide, number = self.config, {"sizing_mode": "stretch_width"}, self._number
        sample = pn.widgets.Select.from_param(c.param.sample, label="Sample", **wide)
        sizes = pn.Row(number("n_events", "Events", step=100), number("n_folds", "Folds (k)"), **wide)
        models = pn.widgets.CheckBoxGroup.from_param(c.param.models, inline=False, css_classes=["jetviz-models"])
        resnet = pn.Row(number("width", "ResNet width"), number("epochs", "Epochs"), **wide)
        xgb = pn.Row(number("xgb_n_estimators", "XGBoost rounds", step=100), number("xgb_max_depth", "Tree depth"),
                     **wide)
        advanced = pn.Card(
            number("validation_fraction", "Validation share", widget=pn.widgets.FloatInput, step=0.05),
            pn.widgets.Select.from_param(c.param.image_transform, label="ResNet input: log1p(E) or E/100 GeV", **wide),
            pn.Row(number("batch_size", "Batch size"),
                   number("learning_rate", "Learning rate", widget=pn.widgets.FloatInput, step=1e-4), **wide),
            number("weight_decay", "Weight decay", widget=pn.widgets.FloatInput, step=1e-4),
            pn.Row(number("xgb_learning_rate", "XGBoost η", widget=pn.widgets.FloatInput, step=0.05),
                   number("xgb_early_stopping", "Early stopping"), **wide),
            pn.Row(number("threads", "Threads (0 = all)"), number("seed", "Seed"), **wide),
            pn.widgets.Select.from_param(c.param.device, label="Device", **wide),
            title="More settings", collapsed=True, **wide,
        )
        return [sample, sizes, "Models", models, resnet, xgb, advanced]


#: ``default_config(environ=None, **overrides)``: the page's default :class:`ClassifyConfig`
#: (:data:`PAGE_DEFAULTS`, then ``JETVIZ_CLASSIFY_<PARAM>`` env vars, then ``overrides``)
default_config = ClassifyStore.default_config
#: ``list_runs(root=None)``: finished classify run directories, newest first
list_runs = ClassifyStore.list_runs


class _StoreView(RunView):
    store = param.ClassSelector(class_=ClassifyStore, doc="the page's data store")


class ExamplesView(_StoreView):
    """Event images of each class, channel by channel (ECal, HCal, tracks), or class averages."""

    show = param.Selector(default="one event per class", objects=["one event per class", "class average"])
    example = param.Integer(default=0, bounds=(0, 10_000), label="Example",
                            doc="k-th event of each class (wraps around the class size)")
    logz = param.Boolean(default=True, label="log colour scale")

    def _plot(self, data: ClassifyData | None, names: tuple, show: str, example: int, logz: bool):
        if data is None:
            return self._empty()
        mean = show == "class average"
        indices = []
        for k in range(len(names)):
            members = np.flatnonzero(data.labels == k)
            indices.append(int(members[example % len(members)]) if len(members) else 0)
        return example_images(data.images, data.labels, names, indices=None if mean else indices, mean=mean,
                              logz=logz)

    def __panel__(self) -> pn.viewable.Viewable:
        show = pn.widgets.RadioButtonGroup.from_param(self.param.show, color="primary", variant="outline",
                                                      css_classes=["jetviz-examples-show"])
        example = bounded_input(self, "example", self.store.report, label="Example", width=110,
                                disabled=self.param.show.rx() == "class average")
        logz = pn.widgets.Checkbox.from_param(self.param.logz, margin=(28, 10))
        plot = pn.panel(pn.bind(self._plot, self.store.param.data, self.store.param.class_names, self.param.show,
                                self.param.example, self.param.logz), linked_axes=False,
                        css_classes=["jetviz-examples"])
        return pn.Column("### Event images per class and channel", pn.Row(show, example, logz), plot,
                         sizing_mode="stretch_width")


class TrainingView(_StoreView):
    """Validation curves of the run: ResNet accuracy and log-loss per epoch, XGBoost log-loss per
    boosting round; one line per (model, fold), live while it trains.

    The plots are ``hv.DynamicMap``\\ s fed by a ``Pipe`` stream with a fixed set of layers (the run's
    models × folds): live updates patch the plots' data in place instead of rebuilding figures.
    They are rebuilt only when a run with other models or folds starts or is opened.
    """

    def _plots(self, series: tuple, pipes: dict):
        import holoviews as hv

        models, n_folds = list(series[0]), int(series[1])
        resnets = [m for m in models if not _is_xgboost(m)]
        xgbs = [m for m in models if _is_xgboost(m)]
        pipe = hv.streams.Pipe(data=list(self.store.history))
        pipes["current"] = pipe
        panels = []
        for chosen, metric, xlabel, title in (
            (resnets, "val_accuracy", "epoch", "ResNet: validation accuracy per epoch"),
            (resnets, "val_loss", "epoch", "ResNet: validation log-loss per epoch"),
            (xgbs, "val_loss", "boosting round", "XGBoost: validation log-loss per round"),
        ):
            if not chosen:
                continue

            def frame(data, chosen=chosen, metric=metric, xlabel=xlabel, title=title):
                return training_curves(data, metric, models=chosen, n_folds=n_folds, xlabel=xlabel, title=title,
                                       width=470, height=260)

            panels.append(pn.pane.HoloViews(hv.DynamicMap(frame, streams=[pipe]), linked_axes=False))
        if not panels:
            return self._empty()
        return pn.FlexBox(*panels, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        pipes: dict = {}  # the pipe of the plots shown (replaced when the series changes)

        def send(*events) -> None:  # a closure, not a bound method (see jetviz.ui.colorize.TrainingView)
            if "current" in pipes:
                pipes["current"].send(list(store.history))

        store.param.watch(send, "history")
        return pn.Column("### Training (validation set of each fold)",
                         pn.panel(pn.bind(self._plots, store.param.series, pipes), css_classes=["jetviz-curves"]),
                         sizing_mode="stretch_width")


class ResultsView(_StoreView):
    """Accuracy table vs the talk and as bars, overlaid ROC curves, confusion matrices, XGBoost importances."""

    top_n = param.Integer(default=15, bounds=(1, 45), label="Features shown", doc="bars per importance plot")

    def accuracy(self) -> pn.viewable.Viewable:
        """The talk's table with this run's accuracy (± std over folds) and AUC, and the same as bars."""
        def rows(result):
            return result.accuracy_table() if result is not None else []

        table = pn.widgets.Tabulator(pn.bind(lambda r: accuracy_table(rows(r)), self.store.param.result),
                                     css_classes=["jetviz-accuracy"], disabled=True, show_index=False,
                                     layout="fit_data_table", sizing_mode="stretch_width")
        bars = pn.panel(pn.bind(lambda r: accuracy_bars(rows(r)), self.store.param.result), linked_axes=False,
                        css_classes=["jetviz-accuracy-bars"])
        note = pn.pane.Markdown(
            "<small>Accuracy at P(class 1) ≥ 0.5 on each fold's test events, mean ± standard deviation over "
            "the folds; the talk's numbers are from its full-size sample and networks.</small>",
            sizing_mode="stretch_width")
        return pn.Column("### Accuracy: seed 003's table, this run next to it", table, note, bars,
                         sizing_mode="stretch_width")

    def _roc(self, result, names):
        if result is None:
            return self._empty(" (ROC curves)")
        return roc_curves({m: result.roc(m) for m in result.models}, names)

    def _confusion(self, result, names):
        if result is None:
            return pn.pane.Markdown("")
        return confusion_matrices({m: result.confusion(m) for m in result.models}, names)

    def _importances(self, result, top_n: int):
        if result is None:
            return pn.pane.Markdown("")
        plots = [feature_importances(result.importances(m), top_n, title=f"{model_name(m)}: top {top_n} features")
                 for m in result.models if _is_xgboost(m)]
        if not plots:
            return pn.pane.Markdown("*No XGBoost model in this run.*")
        import holoviews as hv

        return hv.Layout(plots).opts(shared_axes=False).cols(2)

    def curves(self) -> pn.viewable.Viewable:
        """ROC curves of every model (pooled out-of-fold scores) and their confusion matrices."""
        store = self.store
        roc = pn.panel(pn.bind(self._roc, store.param.result, store.param.class_names), linked_axes=False,
                       css_classes=["jetviz-roc"])
        confusion = pn.panel(pn.bind(self._confusion, store.param.result, store.param.class_names),
                             linked_axes=False, css_classes=["jetviz-confusion"])
        return pn.Column("### ROC curves and confusion matrices (rows: true class, columns: predicted)",
                         pn.FlexBox(roc, confusion, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def importances(self) -> pn.viewable.Viewable:
        """Feature importances (gain share, averaged over folds) of the XGBoost models."""
        top_n = pn.widgets.IntSlider.from_param(self.param.top_n, width=220)
        plot = pn.panel(pn.bind(self._importances, self.store.param.result, self.param.top_n), linked_axes=False,
                        css_classes=["jetviz-importance"])
        return pn.Column("### XGBoost feature importance", top_n, plot, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.accuracy(), self.curves(), self.importances(), sizing_mode="stretch_width")


class MisclassifiedView(_StoreView):
    """The events a model gets wrong, most confidently wrong first; the selected one in detail:
    its three channels (low-level hits ringed), every model's score, its 45 + 39 feature values."""

    def _table(self, result, model: str | None, names: tuple) -> pd.DataFrame:
        columns = ["event", "true class", f"P({names[1]})", "fold"]
        if result is None or model not in result.models:
            return pd.DataFrame(columns=columns)
        wrong = result.misclassified(model)[:MAX_LISTED]
        predictions = result.predictions
        order = np.argsort(predictions["index"], kind="stable")
        rows = order[np.searchsorted(predictions["index"], wrong, sorter=order)]
        return pd.DataFrame({
            "event": wrong.astype(np.int64),
            "true class": [names[int(k)] for k in predictions["label"][rows]],
            f"P({names[1]})": predictions[f"score_{model}"][rows],
            "fold": predictions["fold"][rows].astype(np.int64) + 1,
        }, columns=columns)

    def _count(self, result, model: str | None) -> str:
        if result is None or model not in result.models:
            return "*No run shown yet: press* Train *or open a finished run.*"
        n_wrong, n = len(result.misclassified(model)), len(result.predictions["label"])
        shown = f" (the {MAX_LISTED} most confidently wrong listed)" if n_wrong > MAX_LISTED else ""
        return (f"**{model_name(model)}** gets **{n_wrong} of {n}** events wrong{shown}. "
                "Click a row to see the event.")

    def _summary(self, current: ClassifyEvent | None, model: str | None, loaded: str) -> str:
        if current is None:
            return "*No event to show yet.*"
        return f"**{current.summary(model)}**  \n<small>{loaded}</small>"

    def _images(self, current: ClassifyEvent | None):
        if current is None:
            return pn.pane.Markdown("")
        return event_images(current.image, low=current.low, columns=LOW_LEVEL_COLUMNS,
                            title=f"event {current.index}", frame_width=180, frame_height=170)

    @staticmethod
    def _scores(current: ClassifyEvent | None) -> pd.DataFrame:
        if current is None or not current.scores:
            return pd.DataFrame(columns=["model", "P(class 1)", "predicted", "correct"])
        return event_scores(current.scores, current.label, current.class_names)

    @staticmethod
    def _features(current: ClassifyEvent | None, which: str) -> pd.DataFrame:
        columns = LOW_LEVEL_COLUMNS if which == "low" else HIGH_LEVEL_COLUMNS
        values = np.zeros(len(columns)) if current is None else getattr(current, which)
        return event_features(values, columns)

    def __panel__(self) -> pn.viewable.Viewable:
        from bokeh.models.widgets.tables import NumberFormatter

        store = self.store
        number = NumberFormatter(format="0.000")
        p_columns = {"P(class 1)", f"P({store.class_names[1]})", "P(black hole)"}
        model = pn.widgets.Select.from_param(store.param.model, label="Model", width=240,
                                             css_classes=["jetviz-model"])
        index = bounded_input(store, "event_index", store.report, label="Any event", width=120,
                              disabled=store.param.data.rx.is_(None), css_classes=["jetviz-event-input"])
        count = pn.pane.Markdown(pn.bind(self._count, store.param.result, store.param.model),
                                 sizing_mode="stretch_width", css_classes=["jetviz-misclassified-count"])
        table = pn.widgets.Tabulator(
            pn.bind(self._table, store.param.result, store.param.model, store.param.class_names),
            selectable=1, disabled=True, show_index=False, pagination="local", page_size=10, width=380,
            layout="fit_data_table", css_classes=["jetviz-misclassified"],
            formatters={c: number for c in p_columns},
        )

        def select(event) -> None:
            if event.new:
                store.event_index = int(table.value.iloc[event.new[0]]["event"])

        table.param.watch(select, "selection")
        summary = pn.pane.Markdown(pn.bind(self._summary, store.param.current, store.param.model,
                                           store.param.loaded),
                                   sizing_mode="stretch_width", css_classes=["jetviz-event-summary"])
        images = pn.panel(pn.bind(self._images, store.param.current), linked_axes=False,
                          css_classes=["jetviz-event-images"])
        common = dict(disabled=True, show_index=False, layout="fit_data_table")
        floats = {c: number for c in ("E [GeV]", "pT [GeV]", "η", "φ [rad]", "m [GeV]", "value")}
        scores = pn.widgets.Tabulator(pn.bind(self._scores, store.param.current), css_classes=["jetviz-scores"],
                                      formatters={c: number for c in p_columns}, **common)
        low = pn.widgets.Tabulator(pn.bind(self._features, store.param.current, "low"), formatters=floats,
                                   css_classes=["jetviz-low-features"], height=480, **common)
        high = pn.widgets.Tabulator(pn.bind(self._features, store.param.current, "high"), formatters=floats,
                                    css_classes=["jetviz-high-features"], height=480, **common)
        return pn.Column(
            "### Misclassified events",
            pn.Row(model, index), count,
            pn.FlexBox(
                pn.Column(table, width=400),
                pn.Column(summary, images, "#### Scores of every model (out of fold)", scores,
                          sizing_mode="stretch_width", min_width=600),
                sizing_mode="stretch_width",
            ),
            pn.FlexBox(
                pn.Column("#### Low-level features (45): five most energetic hits per channel", low),
                pn.Column("#### High-level features (39): 8 jets, 2 leptons, MET", high),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )


class ClassifyPage(RunPage):
    """The classify page: run settings, training and runs on the left; accuracy vs the talk,
    training curves, ROC curves, confusion matrices, feature importances, misclassified events
    and example images on the right.

    Parameters
    ----------
    **params
        ``store`` and ``url_query`` as in :class:`~jetviz.ui.runs.RunPage`, or
        :class:`ClassifyConfig` params for a new :class:`ClassifyStore`:
        ``ClassifyPage(sample="toy_bh_sph", n_events=120)``; deep link:
        ``?page=classify&n_events=1000&models=resnet,xgb_high``.
    """

    views = {"examples": ExamplesView, "training": TrainingView, "results": ResultsView,
             "misclassified": MisclassifiedView}

    store = param.ClassSelector(class_=ClassifyStore, doc="the page's data store")

    def body(self) -> pn.viewable.Viewable:
        """Accuracy and training curves, ROC and confusion, importances, misclassified events, examples."""
        results = self.results
        return pn.Column(
            pn.FlexBox(pn.Column(results.accuracy(), width=920), self.training, sizing_mode="stretch_width"),
            pn.layout.Divider(),
            results.curves(),
            results.importances(),
            pn.layout.Divider(),
            self.misclassified,
            pn.layout.Divider(),
            self.examples,
            sizing_mode="stretch_width",
        )
