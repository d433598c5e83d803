"""The colorize page's views and the page (seed 000).

The views (:class:`EventView`, :class:`ProbabilityView`, :class:`TrainingView`, :class:`ResultsView`) depend
only on the params of the :class:`~jetviz.ui.colorize.store.ColorizeStore`; :class:`ColorizePage` composes
them (``panel serve`` or JupyterLab).
"""
from __future__ import annotations

import numpy as np
import panel as pn
import param

from jetviz.plots.colorize import (
    LOSS_NOTE,
    colour_scatter,
    energy_map_image,
    loss_curves,
    mass_histograms,
    metrics_table,
    probability_maps,
    reproduction_table,
    run_rows,
)
from jetviz.ui.colorize.store import ColorizeEvent, ColorizeStore, Display
from jetviz.ui.training import TrainingPage
from jetviz.ui.training import TrainingView as _TrainingViewBase
from jetviz.ui.widgets import bound_plot, bound_text, bounded_input, live_plot, read_only_table, step_buttons

__all__ = ["EventView", "ProbabilityView", "TrainingView", "ResultsView", "ColorizePage"]


class _StoreView(_TrainingViewBase):
    store = param.ClassSelector(class_=ColorizeStore, doc="the page's data store")


class EventView(_StoreView):
    """Test-event picker and CRF-iteration slider; grey energy map → predicted colours → truth colours."""

    plot_size = param.Integer(default=200, bounds=(150, 600), doc="plot area width and height, pixels")

    def _summary(self, current: ColorizeEvent | None, iteration: int, loaded: str) -> str:
        if current is None:
            return "*No run shown yet: press* Train *or open a finished run.*"
        t = min(iteration, current.n_iterations)
        step = "U-Net output" if t == 0 else f"after {t} CRF iteration{'s' if t > 1 else ''}"
        return (f"**{current.summary()}** — energy-weighted accuracy {current.accuracy(t):.2f} ({step})"
                f"  \n<small>{loaded}</small>")

    def _grey(self, current: ColorizeEvent):
        size = self.plot_size
        return energy_map_image(current.image, current.eta_range, frame_width=size, frame_height=size,
                                title="input: energy map")

    def _predicted(self, current: ColorizeEvent, iteration: int):
        t = min(iteration, current.n_iterations)
        colour, prob = current.colours(t)
        step = "U-Net" if t == 0 else f"CRF step {t}"
        return colour_scatter(current.eta, current.phi, current.energy, colour, probability=prob,
                              what="predicted jet", title=f"predicted ({step})",
                              eta_lim=float(current.eta_range[1]), frame_width=self.plot_size,
                              frame_height=self.plot_size, legend=False)

    def _truth(self, current: ColorizeEvent):
        return colour_scatter(current.eta, current.phi, current.energy, current.truth, what="truth jet",
                              title=f"truth ({'Durham' if self.store.config.truth == 'durham' else 'history'} {current.mapping.size} jets)",
                              eta_lim=float(current.eta_range[1]), frame_width=self.plot_size,
                              frame_height=self.plot_size)

    def controls(self) -> pn.viewable.Viewable:
        """Event slider with ◀ ▶ and a number box, the CRF-iteration slider, and the summary line."""
        store = self.store
        disabled = store.param.display.rx.is_(None)
        slider = pn.widgets.IntSlider.from_param(store.param.event_index, label="Test event", disabled=disabled,
                                                 throttled=True, sizing_mode="stretch_width", min_width=180,
                                                 css_classes=["jetviz-event-slider"])
        prev, nxt = step_buttons(store, "event_index", disabled)
        number = bounded_input(store, "event_index", store.report, label="Test event index", width=120,
                               disabled=disabled, css_classes=["jetviz-event-input"])
        crf = pn.widgets.IntSlider.from_param(store.param.crf_iteration, label="CRF iteration (0 = U-Net)",
                                              disabled=disabled, sizing_mode="stretch_width", min_width=180,
                                              css_classes=["jetviz-crf-slider"])
        summary = bound_text(self._summary, store.param.current, store.param.crf_iteration, store.param.loaded,
                             css="jetviz-event-summary")
        return pn.Column(pn.Row(slider, prev, nxt, number, crf, sizing_mode="stretch_width"), summary,
                         sizing_mode="stretch_width")

    def plots(self) -> pn.viewable.Viewable:
        """Energy map, predicted colours (at the CRF iteration chosen), truth colours, side by side."""
        store, blank = self.store, lambda: pn.pane.Markdown("")
        # drawn in place: an event or CRF step patches the plots' data (jetviz.ui.widgets.live_plot)
        return pn.FlexBox(
            live_plot(self._grey, store.param.current, css="jetviz-energy-map", empty=self._empty),
            live_plot(self._predicted, store.param.current, store.param.crf_iteration, css="jetviz-predicted",
                      empty=blank),
            live_plot(self._truth, store.param.current, css="jetviz-truth", empty=blank),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.controls(), self.plots(), sizing_mode="stretch_width")


class ProbabilityView(_StoreView):
    """Per-jet probability heat maps of the current event (U-Net softmax, one panel per colour)."""

    def _plot(self, current: ColorizeEvent | None):
        if current is None:
            return self._empty()
        return probability_maps(current.pixel_probs, current.eta_range, mapping=current.mapping,
                                title=f"P(jet) per pixel, test event {current.index} (U-Net)")

    def __panel__(self) -> pn.viewable.Viewable:
        return bound_plot(self._plot, self.store.param.current, css="jetviz-heatmaps")


class TrainingView(_StoreView):
    """Loss curves: train and test per epoch, the per-step training loss while it trains.

    The plot is an ``hv.DynamicMap`` fed by a ``Pipe`` stream: live updates patch the plot's data
    in place instead of rebuilding the figure, which keeps the training thread's share of the GIL.
    """

    def __panel__(self) -> pn.viewable.Viewable:
        import holoviews as hv

        store = self.store
        pipe = hv.streams.Pipe(data=(list(store.history), list(store.steps)))
        plot = hv.DynamicMap(lambda data: loss_curves(*data, width=500), streams=[pipe])
        # a closure, not a bound method: a stream subscriber bound to the view would keep the session alive
        store.param.watch(lambda *events: pipe.send((list(store.history), list(store.steps))), ["history", "steps"])
        return pn.pane.HoloViews(plot, linked_axes=False, css_classes=["jetviz-loss"])


class ResultsView(_StoreView):
    """The talk's loss table with this run next to it; accuracy and W / top mass per assignment."""

    def _tables(self, result) -> tuple:
        if result is None:
            return reproduction_table(), metrics_table({})
        return (reproduction_table(run_rows(result.metrics, result.config.n_train, bool(result.config.crf),
                                            name=f"this run ({result.config.sample})")),
                metrics_table(result.metrics, truth=result.config.truth))

    def _masses(self, display: Display | None):
        if display is None or not display.masses:
            return pn.pane.Markdown("")
        return mass_histograms(display.masses)

    def masses(self) -> pn.viewable.Viewable:
        """m_W and m_top histograms over the shown test events (truth, U-Net, U-Net + CRF, anti-kt)."""
        return bound_plot(self._masses, self.store.param.display, css="jetviz-masses")

    def reproduction(self) -> pn.viewable.Viewable:
        """The talk's loss table with this run's rows, and the note on the loss scale."""
        from bokeh.models.widgets.tables import NumberFormatter

        three = NumberFormatter(format="0.000")
        repro = read_only_table(pn.bind(lambda r: self._tables(r)[0], self.store.param.result), "jetviz-repro",
                                formatters={c: three for c in ("loss train", "loss test", "loss train per jet",
                                                               "loss test per jet", "accuracy test")},
                                sizing_mode="stretch_width")
        return pn.Column(
            "#### Loss vs training-set size: seed 000's table, this run below it", repro,
            pn.pane.Markdown(f"<small>{LOSS_NOTE}</small>", sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def metrics(self) -> pn.viewable.Viewable:
        """Energy-weighted accuracy and W / top mass (median, σ68) per jet assignment, test set."""
        def fmt(spec: str):
            return lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

        formatters = {"accuracy": fmt(".3f"), **{c: fmt(".1f") for c in ("m_W median", "m_W σ68", "m_top median",
                                                                         "m_top σ68")}}
        table = pn.pane.DataFrame(pn.bind(lambda r: self._tables(r)[1], self.store.param.result), index=False,
                                  formatters=formatters, na_rep="–", css_classes=["jetviz-metrics"], margin=(0, 10))
        return pn.Column("#### Test set: energy-weighted accuracy, W / top mass [GeV]", table)

    def tables(self) -> pn.viewable.Viewable:
        """The reproduction table, the note on the loss scale, and the metrics table."""
        return pn.Column(self.reproduction(), self.metrics(), sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.tables(), self.masses(), sizing_mode="stretch_width")


class ColorizePage(TrainingPage):
    """The colorize page (a :class:`~jetviz.ui.training.TrainingPage`), e.g. ``ColorizePage(n_train=32)``."""

    views = {"events": EventView, "probabilities": ProbabilityView, "training": TrainingView, "results": ResultsView}

    store = param.ClassSelector(class_=ColorizeStore, doc="the page's data store")

    def body(self) -> pn.viewable.Viewable:
        """Loss curves and tables, event display with the CRF slider, per-jet heat maps."""
        return pn.Column(
            pn.FlexBox(self.training, self.results.metrics(), sizing_mode="stretch_width"),
            pn.layout.Divider(),
            self.events,
            pn.FlexBox(self.probabilities, self.results.masses(), sizing_mode="stretch_width"),
            pn.layout.Divider(),
            self.results.reproduction(),
            sizing_mode="stretch_width",
        )
