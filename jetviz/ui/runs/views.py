"""The runs page's view: the store's controls (sidebar) and the table, comparison, Reopen and Resume."""
from __future__ import annotations

from typing import Sequence

import panel as pn
import param
from panel.viewable import Viewer

from jetviz.compute.registry import RunRecord
from jetviz.ui.runs.store import ACTIVE, RESUMABLE, RunsStore, metrics_rows, reopen_href

__all__ = ["RunsPage"]


class RunsPage(Viewer):
    """The runs page: the store's controls (sidebar) and the table, comparison, Reopen and Resume
    (``store``: default a new :class:`RunsStore` of the remaining keyword arguments, e.g. ``path``).
    """

    store = param.ClassSelector(class_=RunsStore, doc="the page's data store")

    def __init__(self, **params):
        store_params = {k: params.pop(k) for k in list(params) if k not in type(self).param and k != "name"}
        if params.get("store") is None:
            params["store"] = RunsStore(**store_params)
        super().__init__(**params)
        self._syncing = False
        self._table = pn.widgets.Tabulator(
            self.store.frame, selectable="checkbox", disabled=True, show_index=False, pagination="local", page_size=15,
            sizing_mode="stretch_width", css_classes=["jetviz-runs-table"], header_align="center",
            titles={"seconds": "wall s", "epochs": "epochs recorded", "metric": "main metric"},
        )
        self._table.param.watch(self._table_selected, "selection")
        self.store.param.watch(self._show, ["frame", "selected"])

    # ----------------------------------------------------------------------------- table <-> store
    def _table_selected(self, event) -> None:
        if self._syncing:
            return
        frame = self._table.value
        ids = [frame["id"].iloc[i] for i in event.new if 0 <= i < len(frame)]
        previous = [i for i in self.store.selected if i in ids]
        added = [i for i in ids if i not in previous]
        self.store.select(previous + added)

    def _show(self, *events) -> None:
        """The store's frame and selection in the table (not echoed back to the store)."""
        self._syncing = True
        try:
            if self._table.value is not self.store.frame:
                self._table.value = self.store.frame
            rows = self._rows(self.store.selected)
            if sorted(rows) != sorted(self._table.selection):
                self._table.selection = rows
        finally:
            self._syncing = False

    def _rows(self, ids: Sequence[str]) -> list[int]:
        frame = self._table.value
        if frame is None or frame.empty:
            return []
        index = {run_id: i for i, run_id in enumerate(frame["id"])}
        return [index[i] for i in ids if i in index]

    # ----------------------------------------------------------------------------- parts
    def _compare(self, histories: dict, metric: str | None):
        if len(histories) < 2:
            return pn.pane.Markdown("*Select two runs in the table to compare their curves.*"
                                    if self.store.records else "", css_classes=["jetviz-compare-hint"])
        if metric is None:
            return pn.pane.Alert("These runs have no metric in common to compare.", alert_type="warning")
        try:
            return pn.pane.HoloViews(self.store.comparison(), linked_axes=False)
        except ValueError as err:
            return pn.pane.Alert(str(err), alert_type="warning")

    def _focus(self, focus: RunRecord | None, resuming: bool, backend: str):
        if focus is None:
            return pn.pane.Markdown("*Select a run to reopen or resume it.*" if self.store.records else "")
        title = pn.pane.Markdown(f"#### Run `{focus.id}` · {focus.runner} · **{focus.status}**\n"
                                 f"`{focus.run_dir}`", sizing_mode="stretch_width")
        parts: list = [title]
        if focus.damaged:
            parts.append(pn.pane.Alert(f"This registry row is damaged: {focus.damaged}. The other runs are unaffected.",
                                       alert_type="warning", css_classes=["jetviz-damaged"], sizing_mode="stretch_width"))
        if focus.status == "done":
            href = reopen_href(focus)
            parts.append(pn.pane.HTML(f'<a href="{href}" target="_top" class="jetviz-reopen-link">'
                                      f'Reopen on the {focus.runner} page →</a>', css_classes=["jetviz-reopen"]))
            parts.append(pn.widgets.Tabulator(metrics_rows(focus.metrics), disabled=True, show_index=False,
                                              width=420, height=min(360, 40 + 30 * max(1, len(focus.metrics or {}))),
                                              css_classes=["jetviz-run-metrics"]))
        elif focus.status in RESUMABLE:
            parts.append(pn.pane.Markdown(
                f"Interrupted ({focus.error or focus.status}). *Resume* continues it from its last checkpoint "
                f"on the backend `{backend}`.", sizing_mode="stretch_width"))
        elif focus.status in ACTIVE:
            parts.append(pn.pane.Markdown("*Under way: the table refreshes itself.*"))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def _resume_controls(self) -> pn.viewable.Viewable:
        store = self.store
        can = pn.bind(lambda focus, resuming: bool(focus is not None and focus.status in RESUMABLE and not resuming),
                      store.param.focus, store.param.resuming)
        resume = pn.widgets.Button.from_param(store.param.resume_button, color="primary", css_classes=["jetviz-resume"],
                                              disabled=pn.bind(lambda c: not c, can))
        cancel = pn.widgets.Button.from_param(store.param.cancel_button, color="danger", variant="outline",
                                              disabled=store.param.resuming.rx.not_(), css_classes=["jetviz-cancel"])
        shown = pn.bind(lambda resuming, final: bool(resuming or final), store.param.resuming, store.param.final_status)
        progress = pn.indicators.Progress(value=store.param.progress, max=100, bar_color="info", visible=shown,
                                          sizing_mode="stretch_width", css_classes=["jetviz-resume-progress"])
        status = pn.pane.Markdown(store.param.status, visible=store.param.resuming, css_classes=["jetviz-status"])
        final = pn.pane.Markdown(pn.bind(lambda s, i: f"Resumed run `{i}`: **{s}**" if s else "",
                                         store.param.final_status, store.param.resumed_id),
                                 visible=store.param.final_status.rx.bool(), css_classes=["jetviz-final-status"])
        return pn.Column(pn.Row(resume, cancel), progress, status, final, sizing_mode="stretch_width")

    def controls(self) -> pn.viewable.Viewable:
        """Registry, runner filter, Refresh, the Resume backend, errors (the store's view)."""
        return self.store

    def body(self) -> pn.viewable.Viewable:
        """The table of runs, the comparison plot, Reopen / Resume of the run selected last."""
        store = self.store
        empty = pn.pane.Alert("### No runs yet — train one on a runner page\n"
                              "Runs trained on the colorize, classify, vae_emd and jetclr pages (or with "
                              "`jetviz.compute.submit`) are recorded here.", alert_type="info",
                              visible=pn.bind(lambda r, e: not r and not e, store.param.records, store.param.error),
                              css_classes=["jetviz-empty"], sizing_mode="stretch_width")
        has_runs = store.param.records.rx.bool()
        metric = pn.widgets.Select.from_param(store.param.metric, width=220, css_classes=["jetviz-metric"])
        compare = pn.panel(pn.bind(self._compare, store.param.histories, store.param.metric),
                           css_classes=["jetviz-compare"], sizing_mode="stretch_width")
        focus = pn.panel(pn.bind(self._focus, store.param.focus, store.param.resuming, store.param.backend),
                         css_classes=["jetviz-focus"], sizing_mode="stretch_width")
        loaded = pn.pane.Markdown(store.param.loaded, css_classes=["jetviz-loaded"], margin=(0, 10))
        return pn.Column(
            "## Runs", empty,
            pn.Column(loaded, self._table, visible=has_runs, sizing_mode="stretch_width"),
            pn.Row(
                pn.Column("### Compare", metric, compare, sizing_mode="stretch_width"),
                pn.Column("### Reopen / resume", focus, self._resume_controls(), width=460),
                visible=has_runs, sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.controls(), self.body(), sizing_mode="stretch_width")
