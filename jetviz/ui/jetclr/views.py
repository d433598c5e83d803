"""The jetclr page's views and the page (seed 004).

The views (:class:`AugmentationView`, :class:`RotationView`, :class:`ResultsView`, :class:`LatentView`) depend
only on the params of the :class:`~jetviz.ui.jetclr.store.JetclrStore`; :class:`JetclrPage` composes them
(``panel serve`` or JupyterLab).
"""
from __future__ import annotations

import numpy as np
import panel as pn
import param

from jetviz.plots.jetclr import (
    CLASS_NAMES,
    ablation_bars,
    ablation_table,
    augmentation_pair,
    constituent_grid,
    invariance_plot,
    loss_curve,
    rejection_curves,
    representation_points,
)
from jetviz.runners.jetclr import TALK
from jetviz.ui.jetclr.store import JetclrStore
from jetviz.ui.training import TrainingPage, TrainingView
from jetviz.ui.widgets import (action_button, bound_plot, bound_text, bounded_input, loaded_line, on_select, plot_row,
                               read_only_table)

__all__ = ["FIRST_SELECTED", "AugmentationView", "RotationView", "ResultsView", "LatentView", "JetclrPage"]

#: jets shown for a representation-space selection
FIRST_SELECTED = 4


def _jet_name(jet: int, label: int) -> str:
    return f"jet {jet} ({CLASS_NAMES[int(label)]})"


def _pair(shown: dict | None, x: str, mask: str, title: str):
    """The jet of an explorer's dict beside its ``x``/``mask`` copy (an augmentation, a rotation) titled ``title``."""
    if shown is None:
        return pn.pane.Markdown("")
    return plot_row(augmentation_pair(shown["x"], shown["mask"], shown[x], shown[mask],
                                      titles=(_jet_name(shown["jet"], shown["label"]), title)))


class _StoreView(TrainingView):
    store = param.ClassSelector(class_=JetclrStore, doc="the page's data store")


class AugmentationView(_StoreView):
    """Choose augmentations, a jet and a random draw: the jet's constituents next to its augmented copy."""

    @staticmethod
    def _plots(augmented: dict | None):
        return _pair(augmented, "x_aug", "mask_aug", augmented and f"augmented (draw {augmented['draw']})")

    @staticmethod
    def _summary(augmented: dict | None) -> str:
        if augmented is None:
            return "*No jets yet: press* Load jets *(or train / open a run).*"
        n, n_aug = int(augmented["mask"].sum()), int(augmented["mask_aug"].sum())
        which = ", ".join(augmented["which"]) or "none (the copy is the jet itself)"
        return (f"**{_jet_name(augmented['jet'], augmented['label']).capitalize()}**: pT {augmented['pt']:.0f} GeV, "
                f"mass {augmented['mass']:.0f} GeV, {n} constituents → {n_aug} after the augmentation "
                f"({which}; draw {augmented['draw']}). Total pT {augmented['x'][:, 0].sum():.1f} → "
                f"{augmented['x_aug'][:, 0].sum():.1f} GeV.")

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        which = pn.widgets.CheckButtonGroup.from_param(store.param.shown_augmentations, color="primary",
                                                       variant="outline", css_classes=["jetviz-augmentations"])
        jet = bounded_input(store, "jet", store.report, label="Jet", width=120, disabled=store.param.data.rx.is_(None),
                            css_classes=["jetviz-jet"])
        draw = pn.widgets.IntInput.from_param(store.param.draw, width=120, css_classes=["jetviz-draw"])
        new = action_button(store.param.new_draw_button, "jetviz-new-draw")
        summary = bound_text(self._summary, store.param.augmented, css="jetviz-aug-summary")
        plots = bound_plot(self._plots, store.param.augmented, css="jetviz-aug-plots")
        return pn.Column("### Augmentation explorer: a jet and a random augmentation of it",
                         pn.Row(pn.Column("Augmentations:", which), jet, draw, new), summary, plots,
                         sizing_mode="stretch_width")


class RotationView(_StoreView):
    """An angle slider (degrees) rotates the jet about its axis: the rotated constituents, s of the
    trained and untrained encoder, and the run's invariance curve with a marker at the angle."""

    @staticmethod
    def _jets(rotated: dict | None):
        return _pair(rotated, "x_rot", "mask", rotated and f"rotated by θ = {rotated['angle']:.0f}°")

    @staticmethod
    def _summary(rotated: dict | None) -> str:
        if rotated is None:
            return "*No jets yet: press* Load jets *(or train / open a run).*"
        head = f"s(r(x), r(R(θ)x)) of {_jet_name(rotated['jet'], rotated['label'])} at θ = {rotated['angle']:.0f}°: "
        if rotated["trained"] is None:
            return head + "*train or open a run to see the encoders' similarity.*"
        return head + f"**trained {rotated['trained']:.6f}**, untrained {rotated['untrained']:.6f}" \
            if rotated["untrained"] is not None else head + f"**trained {rotated['trained']:.6f}**"

    @staticmethod
    def _curve(result, rotated: dict | None):
        if result is None:
            return TrainingView._empty(" (invariance curve)")
        a = result.arrays
        values = None if rotated is None else {"trained": rotated["trained"], "untrained": rotated["untrained"]}
        angle = None if rotated is None else np.radians(rotated["angle"])
        return invariance_plot(a["angles"], a["invariance"], a["invariance_untrained"], angle=angle, values=values)

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        slider = pn.widgets.FloatSlider.from_param(store.param.angle, step=5.0, width=360,
                                                   css_classes=["jetviz-angle"])
        summary = bound_text(self._summary, store.param.rotated, css="jetviz-similarity")
        jets = bound_plot(self._jets, store.param.rotated, css="jetviz-rotated")
        curve = bound_plot(self._curve, store.param.result, store.param.rotated, css="jetviz-invariance")
        return pn.Column("### Rotation invariance: rotate the jet, compare the representations", slider, summary,
                         pn.FlexBox(jets, curve, sizing_mode="stretch_width"), sizing_mode="stretch_width")


class ResultsView(_StoreView):
    """The ablation table and AUC bars vs the talk, the rejection curves of the trained and the
    untrained encoder, the run's numbers, the contrastive loss per epoch, *Run ablation*."""

    @staticmethod
    def _numbers(result) -> str:
        if result is None:
            return ""
        m = result.metrics

        def rej(v):
            return "∞" if v is None or not np.isfinite(v) else f"{v:.1f}"

        return (f"**Linear classifier test** ({m['n_lct']} training, {m['n_test']} test jets; "
                f"{m['n_train']} jets for the contrastive training): "
                f"trained AUC **{m['auc']:.3f}**, 1/ε_b(ε_s = 0.5) **{rej(m['rejection'])}**; "
                f"untrained AUC {m['auc_untrained']:.3f}, 1/ε_b {rej(m['rejection_untrained'])}. "
                f"Alignment {m['alignment']:.4f} (0 = invariant), uniformity {m['uniformity']:.3f} (lower = more "
                f"uniform); smallest ⟨s⟩ over the angles: trained {m['invariance_min']:.4f}, untrained "
                f"{m['invariance_min_untrained']:.4f}.")

    @staticmethod
    def _roc(result):
        if result is None:
            return TrainingView._empty(" (rejection curves)")
        return rejection_curves({"trained encoder": result.roc(), "untrained encoder": result.roc(trained=False)})

    @staticmethod
    def _sources(rows: dict) -> str:
        if not rows:
            return "<small>No run yet fills a row: train one, or press Run ablation (one run per row).</small>"
        return "<small>" + "; ".join(f"{row}: {entry['source']}" for row, entry in rows.items()) + \
            ". 1/ε_b at ε_s = 0.5, from the linear classifier test on the test jets; the talk trained far larger " \
            "encoders on far more jets.</small>"

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        table = read_only_table(pn.bind(lambda rows: ablation_table(rows, TALK), store.param.ablation),
                                "jetviz-ablation", sizing_mode="stretch_width")
        sources = pn.pane.Markdown(pn.bind(self._sources, store.param.ablation), sizing_mode="stretch_width")
        bars = bound_plot(lambda rows: ablation_bars(rows, TALK), store.param.ablation, css="jetviz-ablation-bars")
        button = action_button(store.param.ablation_button, "jetviz-run-ablation", disabled=store.param.running)
        workers = bounded_input(store, "ablation_workers", store.report, label="Processes", width=120)
        numbers = bound_text(self._numbers, store.param.result, css="jetviz-numbers")
        roc = bound_plot(self._roc, store.param.result, css="jetviz-roc")
        loss = bound_plot(lambda h: loss_curve(h) if h else pn.pane.Markdown(""), store.param.history,
                          css="jetviz-loss")
        return pn.Column("### Ablation: the talk's table, ours next to it", table, sources,
                         pn.Row(workers, button), bars, numbers, pn.Row(roc, loss),
                         sizing_mode="stretch_width")


class LatentView(_StoreView):
    """The test jets' representations in the plane of their first two principal components, top/QCD
    coloured; a box or lasso selection shows the first selected jets' constituents."""

    def _points(self, result):
        if result is None:
            return self._empty(" (representation space)")
        a, store = result.arrays, self.store
        jets = a["test_index"]
        return on_select(representation_points(a["rep"], a["labels"][jets], jets),
                         lambda rows: setattr(store, "selected", [int(jets[k]) for k in rows]))

    @staticmethod
    def _selection(selected: list, data):
        if not selected or data is None:
            return pn.pane.Markdown("*Select jets with the box or lasso tool to see their constituents.*")
        rows = np.asarray(selected, dtype=np.int64)
        rows = rows[rows < len(data)]
        if not len(rows):
            return pn.pane.Markdown("")
        n_top = int(data.labels[rows].sum())
        head = pn.pane.Markdown(f"**{len(rows)} jets selected** ({len(rows) - n_top} QCD, {n_top} top); the first "
                                f"{min(len(rows), FIRST_SELECTED)}:", css_classes=["jetviz-selection-summary"])
        first = rows[:FIRST_SELECTED]
        grid = constituent_grid([data.x[k] for k in first], [data.mask[k] for k in first],
                                [_jet_name(int(k), data.labels[k]) for k in first])
        return pn.Column(head, plot_row(grid))

    def __panel__(self) -> pn.viewable.Viewable:
        store = self.store
        points = bound_plot(self._points, store.param.result, css="jetviz-latent")
        selection = bound_plot(self._selection, store.param.selected, store.param.data, css="jetviz-latent-selection")
        return pn.Column("### Representation space (test jets)", pn.FlexBox(points, selection,
                                                                            sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


class JetclrPage(TrainingPage):
    """The jetclr page (a :class:`~jetviz.ui.training.TrainingPage`), e.g. ``JetclrPage(n_jets=200)``.

    ``autoload``: load the jets of the settings when the page opens (served: after the page is up),
    so the augmentation explorer works before any training.
    """

    views = {"augmentations": AugmentationView, "rotation": RotationView, "results": ResultsView,
             "latent": LatentView}

    store = param.ClassSelector(class_=JetclrStore, doc="the page's data store")
    autoload = param.Boolean(default=True, doc="load the jets when the page opens")

    def __init__(self, **params):
        super().__init__(**params)
        if self.autoload and self.store.data is None:
            self._autoload()  # served or in a kernel: in the background, drained once the page is up

    def _autoload(self) -> None:
        if self.store.data is None and not self.store.running:
            self.store.load_jets()

    def body(self) -> pn.viewable.Viewable:
        """Augmentation explorer, rotation invariance, results, representation space."""
        return pn.Column(
            loaded_line(self.store), self.augmentations, pn.layout.Divider(), self.rotation, pn.layout.Divider(),
            self.results, pn.layout.Divider(), self.latent, sizing_mode="stretch_width",
        )
