"""The vae_emd page's views and the page (seed 002).

The views (:class:`ResultsView`, :class:`DistanceView`, :class:`PairView`, :class:`LatentView`,
:class:`ScanView`) depend only on the params of the :class:`~jetviz.ui.vae_emd.store.VaeEmdStore`;
:class:`VaeEmdPage` composes them (``panel serve`` or JupyterLab).
"""
from __future__ import annotations

import numpy as np
import panel as pn
import param

from jetviz.plots.vae_emd import (
    CLASS_NAMES,
    anomaly_rocs,
    beta_scan_plot,
    correlation_table,
    distance_density,
    jet_images,
    latent_points,
    pair_points,
    pca_2d,
    training_curve,
    transport_plan,
)
from jetviz.ui.training import TrainingPage, TrainingView
from jetviz.ui.vae_emd.store import VaeEmdStore
from jetviz.ui.widgets import (action_button, bound_plot, bound_text, bounded_input, loaded_line, on_select, plot_row,
                               read_only_table)

__all__ = ["FIRST_SELECTED", "ResultsView", "DistanceView", "PairView", "LatentView", "ScanView", "VaeEmdPage"]

#: the jets' mean / first images shown for a latent-space selection
FIRST_SELECTED = 3


class _StoreView(TrainingView):
    store = param.ClassSelector(class_=VaeEmdStore, doc="the page's data store")


class ResultsView(_StoreView):
    """The talk's correlation table with this run's r, the anomaly ROC curves, the VAE loss per epoch."""

    def table(self) -> pn.viewable.Viewable:
        """The correlation table (talk vs this run), there before any run."""
        def rows(result):
            return correlation_table(result.metrics.get("correlations") if result is not None else None)

        table = read_only_table(pn.bind(rows, self.store.param.result), "jetviz-correlations",
                                sizing_mode="stretch_width")
        note = pn.pane.Markdown(
            "<small>Pearson r over all pairs of QCD test jets between W_p (p = 0.5, 1; θ/R ground distance, no 1/p "
            "root) and the Euclidean distance of each representation (the input row: Σ(x − x′)² of the images). "
            "The talk's rows are separate VAEs with 1, 2, 3 downsampling blocks (latent distances); ours are the "
            "outputs of the blocks of one VAE, plus its latent means. For p = 1 the talk quoted only the ends of "
            "its scan (0.44 → 0.70).</small>", sizing_mode="stretch_width")
        return pn.Column("### Correlation with W_p: the talk's table, this run next to it", table, note,
                         sizing_mode="stretch_width")

    @staticmethod
    def _roc(result):
        if result is None:
            return TrainingView._empty(" (ROC curves)")
        return anomaly_rocs({name: result.roc(name) for name in ("vae_loss", "emd_mean_qcd", "emd_medoids")})

    def __panel__(self) -> pn.viewable.Viewable:
        roc = bound_plot(self._roc, self.store.param.result, css="jetviz-roc")
        loss = bound_plot(lambda h: training_curve(h), self.store.param.history, css="jetviz-loss")
        return pn.Column(self.table(), "### Anomaly scores: top (anomaly) vs QCD test jets",
                         pn.FlexBox(roc, loss, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class DistanceView(_StoreView):
    """Latent distance and input distance vs W_p over the QCD pairs (2-d histograms, r in the
    title), and the pairs as points: click one to show its two jets and their transport plan."""

    def _densities(self, result, data, p: float):
        arrays = self.store.pair_arrays()
        if arrays is None:
            return self._empty(" (distance vs W_p)")
        key = f"p{p:g}"
        w = arrays[f"w_{key}"]
        corr = result.metrics.get("correlations", {})
        panels = [distance_density(w, arrays["latent"], p=p, r=corr.get("latent", {}).get(key),
                                   ylabel="latent distance |μ − μ′|", title="latent")]
        if "input" in arrays:
            panels.append(distance_density(w, arrays["input"], p=p, r=corr.get("input", {}).get(key),
                                           ylabel="input distance Σ(x − x′)²", title="input (MSE)"))
        import holoviews as hv

        return hv.Layout(panels).cols(2).opts(shared_axes=False)

    def _pairs(self, result, data, p: float):
        arrays = self.store.pair_arrays()
        if arrays is None:
            return pn.pane.Markdown("")
        store = self.store

        def picked(rows: list) -> None:
            if rows:
                store.param.update(jet_a=int(arrays["i"][rows[0]]), jet_b=int(arrays["j"][rows[0]]))

        return on_select(pair_points(arrays[f"w_p{p:g}"], arrays["latent"], arrays["i"], arrays["j"], p=p), picked)

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        p = pn.widgets.RadioButtonGroup.from_param(store.param.p, color="primary", variant="outline",
                                                   css_classes=["jetviz-p"])
        densities = bound_plot(self._densities, store.param.result, store.param.data, store.param.p,
                               css="jetviz-densities")
        pairs = bound_plot(self._pairs, store.param.result, store.param.data, store.param.p, css="jetviz-pairs")
        return pn.Column("### Distances vs W_p over the QCD test pairs", pn.Row("W_p power p:", p),
                         pn.FlexBox(densities, pairs, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class PairView(_StoreView):
    """Two jets (any sample indices, or a clicked pair), their VAE reconstructions and the
    optimal transport plan between them, drawn as arrows weighted by the flow."""

    @staticmethod
    def _summary(plan: dict | None) -> str:
        if plan is None:
            return "*No pair to show yet: train or open a run, then pick two jets.*"
        names = [CLASS_NAMES[int(k)] for k in plan["labels"]]
        text = (f"**Jet {plan['jet_a']} ({names[0]}) → jet {plan['jet_b']} ({names[1]})**: "
                f"W_{plan['p']:g} = {plan['distance']:.4f}, total flow {plan['flow'].sum():.3f}")
        if plan["latent_distance"] is not None:
            text += f", latent distance |μ_A − μ_B| = {plan['latent_distance']:.4g}"
        return text

    @staticmethod
    def _images(plan: dict | None):
        if plan is None:
            return pn.pane.Markdown("")
        images, titles = list(plan["images"]), [f"jet A ({plan['jet_a']})", f"jet B ({plan['jet_b']})"]
        if plan["reconstructions"] is not None:
            images += list(np.clip(plan["reconstructions"], 0, None))
            titles += ["A, VAE output", "B, VAE output"]
        return plot_row(jet_images(images, titles, plan["width"], cols=4, frame_width=90, frame_height=90))

    @staticmethod
    def _plan(plan: dict | None):
        if plan is None:
            return pn.pane.Markdown("")
        return transport_plan(plan["images"][0], plan["images"][1], plan["flow"], plan["width"],
                              title=f"Transport plan A → B (W_{plan['p']:g} = {plan['distance']:.4f})")

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        disabled = store.param.data.rx.is_(None)
        a = bounded_input(store, "jet_a", store.report, label="Jet A", width=120, disabled=disabled,
                          css_classes=["jetviz-jet-a"])
        b = bounded_input(store, "jet_b", store.report, label="Jet B", width=120, disabled=disabled,
                          css_classes=["jetviz-jet-b"])
        summary = bound_text(self._summary, store.param.plan, css="jetviz-pair-summary")
        images = bound_plot(self._images, store.param.plan, css="jetviz-pair-images")
        arrows = bound_plot(self._plan, store.param.plan, css="jetviz-transport")
        return pn.Column("### Pick two jets: images, VAE reconstructions, transport plan",
                         pn.Row(a, b), summary, images, arrows, sizing_mode="stretch_width")


class LatentView(_StoreView):
    """The test jets' latent means in the plane of their first two principal components, QCD and
    top coloured; a box or lasso selection shows the selected jets' mean image and first images."""

    def _points(self, result):
        if result is None:
            return self._empty(" (latent space)")
        a, store = result.arrays, self.store
        coords, share = pca_2d(a["latent"])
        test_index = a["test_index"]
        return on_select(latent_points(coords, a["labels"][test_index], test_index, share=share),
                         lambda rows: setattr(store, "selected", [int(test_index[k]) for k in rows]))

    def _selection(self, selected: list, data):
        if not selected or data is None:
            return pn.pane.Markdown("*Select jets with the box or lasso tool to see their mean image.*")
        config = self.store.result.config if self.store.result is not None else self.store.config
        rows = np.asarray(selected, dtype=np.int64)
        rows = rows[rows < len(data)]
        if not len(rows):
            return pn.pane.Markdown("")
        n_top = int(data.labels[rows].sum())
        images = [data.images[rows, 0].mean(axis=0)] + [data.images[k, 0] for k in rows[:FIRST_SELECTED]]
        titles = [f"mean of {len(rows)} ({len(rows) - n_top} QCD, {n_top} top)"] + \
                 [f"jet {k} ({CLASS_NAMES[int(data.labels[k])]})" for k in rows[:FIRST_SELECTED]]
        return plot_row(jet_images(images, titles, config.image_width, cols=4, frame_width=90, frame_height=90))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        points = bound_plot(self._points, store.param.result, css="jetviz-latent")
        selection = bound_plot(self._selection, store.param.selected, store.param.data, css="jetviz-latent-selection")
        return pn.Column("### Latent space (test jets)", pn.FlexBox(points, selection, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


class ScanView(_StoreView):
    """AUC of the anomaly scores and latent r vs β: a new scan (background) or the newest earlier one."""

    @staticmethod
    def _plot(rows: list, source: str):
        if not rows:
            return pn.pane.Markdown("*No β scan yet: press* Run β scan *(one VAE per β on the page's settings).*")
        return pn.Column(pn.pane.Markdown(f"<small>{source}: {len(rows)} β values. β = 0 cannot sit on the log axis "
                                          "and is drawn a decade left of the smallest β > 0.</small>"),
                         beta_scan_plot(rows))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        betas = pn.widgets.TextInput.from_param(store.param.scan_betas, width=260)
        button = action_button(store.param.scan_button, "jetviz-scan", disabled=store.param.running)
        plot = bound_plot(self._plot, store.param.scan_rows, store.param.scan_source, css="jetviz-scan-plot")
        return pn.Column("### β scan: anomaly AUC and latent r vs β", pn.Row(betas, button), plot,
                         sizing_mode="stretch_width")


class VaeEmdPage(TrainingPage):
    """The vae_emd page (a :class:`~jetviz.ui.training.TrainingPage`), e.g. ``VaeEmdPage(n_jets=200)``."""

    views = {"results": ResultsView, "distances": DistanceView, "pair": PairView, "latent": LatentView,
             "scan": ScanView}

    store = param.ClassSelector(class_=VaeEmdStore, doc="the page's data store")

    def body(self) -> pn.viewable.Viewable:
        """Table and ROC, distances, pair, latent space, β scan."""
        return pn.Column(
            loaded_line(self.store), self.results, pn.layout.Divider(), self.distances, pn.layout.Divider(), self.pair,
            pn.layout.Divider(), self.latent, pn.layout.Divider(), self.scan, sizing_mode="stretch_width",
        )
