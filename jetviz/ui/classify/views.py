"""The classify page's views and the page (seed 003).

The views (:class:`ExamplesView`, :class:`TrainingView`, :class:`ResultsView`, :class:`MisclassifiedView`)
depend only on the params of the :class:`~jetviz.ui.classify.store.ClassifyStore`; :class:`ClassifyPage`
composes them (``panel serve`` or JupyterLab).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param

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
from jetviz.runners.classify import ClassifyData
from jetviz.ui.classify.store import MAX_LISTED, ClassifyEvent, ClassifyStore, is_xgboost
from jetviz.ui.training import TrainingPage
from jetviz.ui.training import TrainingView as _TrainingViewBase
from jetviz.ui.widgets import bound_plot, bound_text, bounded_input, read_only_table

__all__ = ["ExamplesView", "TrainingView", "ResultsView", "MisclassifiedView", "ClassifyPage"]


class _StoreView(_TrainingViewBase):
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
        plot = bound_plot(self._plot, self.store.param.data, self.store.param.class_names, self.param.show,
                          self.param.example, self.param.logz, css="jetviz-examples")
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
        resnets = [m for m in models if not is_xgboost(m)]
        xgbs = [m for m in models if is_xgboost(m)]
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

        table = read_only_table(pn.bind(lambda r: accuracy_table(rows(r)), self.store.param.result),
                                "jetviz-accuracy", sizing_mode="stretch_width")
        bars = bound_plot(lambda r: accuracy_bars(rows(r)), self.store.param.result, css="jetviz-accuracy-bars")
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
                 for m in result.models if is_xgboost(m)]
        if not plots:
            return pn.pane.Markdown("*No XGBoost model in this run.*")
        import holoviews as hv

        return hv.Layout(plots).opts(shared_axes=False).cols(2)

    def curves(self) -> pn.viewable.Viewable:
        """ROC curves of every model (pooled out-of-fold scores) and their confusion matrices."""
        store = self.store
        roc = bound_plot(self._roc, store.param.result, store.param.class_names, css="jetviz-roc")
        confusion = bound_plot(self._confusion, store.param.result, store.param.class_names, css="jetviz-confusion")
        return pn.Column("### ROC curves and confusion matrices (rows: true class, columns: predicted)",
                         pn.FlexBox(roc, confusion, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def importances(self) -> pn.viewable.Viewable:
        """Feature importances (gain share, averaged over folds) of the XGBoost models."""
        top_n = pn.widgets.IntSlider.from_param(self.param.top_n, width=220)
        plot = bound_plot(self._importances, self.store.param.result, self.param.top_n, css="jetviz-importance")
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
        count = bound_text(self._count, store.param.result, store.param.model, css="jetviz-misclassified-count")
        table = read_only_table(pn.bind(self._table, store.param.result, store.param.model, store.param.class_names),
                                "jetviz-misclassified", selectable=1, pagination="local", page_size=10, width=380,
                                formatters={c: number for c in p_columns})

        def select(event) -> None:
            if event.new:
                store.event_index = int(table.value.iloc[event.new[0]]["event"])

        table.param.watch(select, "selection")
        summary = bound_text(self._summary, store.param.current, store.param.model, store.param.loaded,
                             css="jetviz-event-summary")
        images = bound_plot(self._images, store.param.current, css="jetviz-event-images")
        floats = {c: number for c in ("E [GeV]", "pT [GeV]", "η", "φ [rad]", "m [GeV]", "value")}
        scores = read_only_table(pn.bind(self._scores, store.param.current), "jetviz-scores",
                                 formatters={c: number for c in p_columns})
        low, high = (read_only_table(pn.bind(self._features, store.param.current, which), f"jetviz-{which}-features",
                                     formatters=floats, height=480) for which in ("low", "high"))
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


class ClassifyPage(TrainingPage):
    """The classify page (a :class:`~jetviz.ui.training.TrainingPage`), e.g. ``ClassifyPage(n_events=120)``."""

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
