"""The events page: load (generate) a sample, pass it through the detector, look at events.

Design notes: docs/architecture.md, section ``jetviz.ui.events``.
"""
from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import panel as pn
import param
from panel.viewable import Viewer

from jetviz.data.datasets import dataset, list_datasets, sample_description, sample_menu
from jetviz.data.detector import Detector, simulate
from jetviz.data.pixelate import event_images
from jetviz.data.recipes import RECIPES
from jetviz.data.samples import load_sample
from jetviz.plots.events import (
    CHANNELS,
    EventData,
    detector_image,
    jet_table,
    multiplicity_histogram,
    particle_table,
    particles_scatter,
    pt_histogram,
)
from jetviz.ui.background import QueuePolling, WorkStatus, served
from jetviz.ui.widgets import SIDEBAR_WIDTH, bounded_input, live_plot, one_redraw, settings_card, step_buttons

__all__ = ["SAMPLES", "EventData", "EventsStore", "EventSelector", "ParticleView", "DetectorView", "TablesView",
           "SampleView", "EventsPage"]

#: recipes offered in the menu: every recipe except ``lhe`` (it needs a file path).
SAMPLES: list[str] = [name for name in RECIPES if name != "lhe"]


#: class names of a file's labels (top-tagging ``is_signal_new``, a Parquet ``label``: 0 background, 1 signal)
FILE_CLASSES = ("background", "signal")


@dataclass
class _Request:
    sample: str
    n_events: int
    seed: int
    detector: dict[str, Any]
    events: ak.Array | None = None  # already loaded events (re-simulate only)


class EventsStore(WorkStatus, QueuePolling, Viewer):
    """Settings and loaded data of the events page (the page's data store).

    Set ``sample``, ``n_events``, ``seed`` and press *Load* (or call :meth:`load`); changing a
    detector setting re-simulates the loaded events. Results arrive in ``events``, ``hits``
    and ``current`` (the event at ``event_index``); errors in ``error``, rejected inputs in
    ``notice`` (the status params come from :class:`~jetviz.ui.background.WorkStatus`).
    """

    sample = param.Selector(default="ee_6jet", objects=SAMPLES,
                            doc="sample: a recipe (see jetviz.data.recipes) or a dataset file under the data root "
                                "($JETVIZ_DATA), e.g. top-tagging/train.h5 (see jetviz.data.datasets)")
    n_events = param.Integer(default=200, bounds=(10, 100_000), doc="number of events to load or generate")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), doc="sample seed (also seeds the detector smearing)")
    detector = param.ClassSelector(class_=Detector, instantiate=True, doc="detector settings")
    load_button = param.Event(label="Load sample", doc="load (or generate) the sample")
    buttons = {"load_button": "load"}
    refresh_button = param.Event(label="↻", doc="list the dataset files under the data root again")
    event_index = param.Integer(default=0, bounds=(0, 1), doc="event shown by the views")

    events = param.Parameter(default=None, precedence=-1, doc="loaded schema events (ak.Array) or None")
    hits = param.Parameter(default=None, precedence=-1, doc="detector.simulate output for events, or None")
    grid = param.Dict(default={}, precedence=-1, doc="n_eta, n_phi, eta_max of the hits' calorimeter grid")
    current = param.ClassSelector(class_=EventData, default=None, precedence=-1, doc="the event at event_index")
    loading = param.Boolean(default=False, precedence=-1, doc="a load is running")
    datasets = param.List(default=[], precedence=-1, doc="the data root's listing (jetviz.data.datasets.list_datasets)")

    def __init__(self, **params):
        if params.get("detector") is None:
            params["detector"] = Detector()
        sample = params.pop("sample", None)
        super().__init__(**params)
        self.refresh_datasets()
        if sample is not None:
            self.sample = sample
        self._pending = False
        self._loaded_key: tuple | None = None
        self.detector.param.watch(self._on_detector, [p for p in self.detector.param if p != "name"])

    # ----------------------------------------------------------------------------- loading
    @param.depends("refresh_button", watch=True)
    def refresh_datasets(self) -> None:
        """List the recipes and the dataset files under the data root again (the menu's options).

        Only listed names can be chosen (from the menu or a ``?sample=`` link), so a page never
        reads a file outside the data root; damaged files are left out of the menu and named in
        ``notice``.
        """
        try:
            entries = list_datasets()
        except Exception as err:  # the data root cannot be read: recipes only
            entries = []
            self.notice = f"The data root cannot be listed: {err}"
        damaged = [f"{e['name']} ({e['damaged']})" for e in entries if e["damaged"] is not None]
        if damaged:
            self.notice = "Damaged files under the data root, not offered: " + "; ".join(damaged)
        keep = self.sample
        self.param.sample.objects = sample_menu(SAMPLES, entries)
        self.datasets = entries
        if keep in self.param.sample.objects.values():
            self.sample = keep

    def _on_detector(self, *events) -> None:
        if self.events is None:
            return
        if self.loading:
            self._pending = True
        else:
            self.load()

    def load(self, blocking: bool | None = None) -> None:
        """Load (generate on first use) the configured sample and simulate the detector (``blocking`` as in
        :meth:`~jetviz.ui.background.QueuePolling._start_work`).
        """
        if self.loading:
            self._pending = True
            return
        key = (self.sample, int(self.n_events), int(self.seed))
        request = _Request(
            *key, detector={k: v for k, v in self.detector.param.values().items() if k != "name"},
            events=self.events if key == self._loaded_key else None,
        )
        self._pending = False
        verb = "simulating the detector" if request.events is not None else f"loading {self.sample}"
        self.param.update(loading=True, progress=0, error="", status=f"{verb} …")
        self._start_work(self._work, (request,), blocking, "jetviz-events-load")

    @staticmethod
    def _work(token: int, messages: queue.SimpleQueue, request: _Request) -> None:
        """Background part: touch no param and no Panel object, only put messages on the queue."""
        events = request.events
        if events is None:
            def progress(done: int, total: int) -> None:
                messages.put(("progress", token, int(100 * done / max(total, 1)),
                              f"{request.sample}: {done} of {total} events ready"))

            if request.sample in RECIPES:
                events = load_sample(request.sample, request.n_events, request.seed, progress=progress,
                                     show_progress=False)
            else:
                events = dataset(request.sample).head(request.n_events, progress)  # confined to the data root
        messages.put(("progress", token, 100, "simulating the detector …"))
        detector = Detector(**request.detector)
        hits = simulate(events, detector, seed=request.seed)
        grid = {"n_eta": detector.n_eta, "n_phi": detector.n_phi, "eta_max": detector.eta_max}
        messages.put(("done", token, request, events, hits, grid))

    def _drain(self) -> None:
        """Apply the loader's messages (runs on the session's event loop)."""
        for kind, payload in self._messages():
            if kind == "progress":
                self.param.update(progress=payload[0], status=payload[1])
            elif kind == "error":
                self._finish()
                self.param.update(loading=False, status="", error=payload[0])
            elif kind == "done":
                self._finish()
                self._apply(*payload)

    def _apply(self, request: _Request, events: ak.Array, hits: ak.Array, grid: dict) -> None:
        n = len(events)
        index = min(self.event_index, n - 1)
        self.param.event_index.bounds = (0, max(n - 1, 1))
        self._loaded_key = (request.sample, request.n_events, request.seed)
        self.param.update(
            events=events, hits=hits, grid=grid, event_index=index, loading=False, progress=100, status="",
            loaded=f"{request.sample} · {n} events · seed {request.seed} — "
                   f"{sample_description(request.sample, self.datasets)}",
        )
        if self._pending:
            self.load()

    # ----------------------------------------------------------------------------- derived data
    @param.depends("events", "hits", "event_index", watch=True)
    def _update_current(self) -> None:
        current = None if self.events is None else self.event(self.event_index)
        with one_redraw():  # the scatter, image, histograms and tables follow together
            self.current = current

    def event(self, index: int) -> EventData:
        """The event at ``index`` of the loaded sample, with its detector image (IndexError: nothing loaded, or
        ``index`` outside ``[0, len(events))``).
        """
        if self.events is None:
            raise IndexError("no events loaded")
        if not 0 <= index < len(self.events):
            raise IndexError(f"event index {index} outside [0, {len(self.events)})")
        record = self.events[index]
        fields = ak.fields(record.particles)
        particles = {f: ak.to_numpy(record.particles[f]) for f in fields}
        jets = None
        if "jets" in ak.fields(self.events):
            jets = {f: ak.to_numpy(record.jets[f]) for f in ("px", "py", "pz", "E")}
        grid = self.grid or {"n_eta": 50, "n_phi": 50, "eta_max": 2.5}
        image = event_images(self.hits[index:index + 1], grid["n_eta"], grid["n_phi"], grid["eta_max"])[0]
        loaded = self._loaded_key[0] if self._loaded_key else None
        classes = RECIPES[loaded].classes if loaded in RECIPES else FILE_CLASSES
        label = int(record.label)
        skip = {"particles", "label", "jets"}
        extra = {f: float(record[f]) for f in ak.fields(self.events) if f not in skip and not f.startswith("truth_")
                 and np.ndim(ak.to_numpy(self.events[f][index:index + 1])) == 1}
        return EventData(
            index=int(index), particles=particles, jets=jets, image=image,
            eta_range=(-grid["eta_max"], grid["eta_max"]), label=label,
            class_name=classes[label] if 0 <= label < len(classes) else str(label), fields=extra,
        )

    # ----------------------------------------------------------------------------- view
    def __panel__(self) -> pn.viewable.Viewable:
        sample = pn.Row(pn.widgets.Select.from_param(self.param.sample, label="Sample", css_classes=["jetviz-sample"],
                                                     sizing_mode="stretch_width"),
                        pn.widgets.Button.from_param(self.param.refresh_button, width=40, align="end",
                                                     css_classes=["jetviz-refresh"]),
                        sizing_mode="stretch_width")
        description = pn.pane.Markdown(pn.bind(sample_description, self.param.sample, self.param.datasets),
                                       styles={"font-size": "0.85em", "color": "#555"}, margin=(0, 10),
                                       css_classes=["jetviz-sample-description"])
        n_events = bounded_input(self, "n_events", self.report, label="Events", step=100)
        seed = bounded_input(self, "seed", self.report, label="Seed")
        button = pn.widgets.Button.from_param(self.param.load_button, color="primary",
                                              disabled=self.param.loading)
        det, wide = self.detector, {"sizing_mode": "stretch_width"}

        def slider(name: str, label: str) -> pn.widgets.FloatSlider:
            return pn.widgets.FloatSlider.from_param(det.param[name], label=label, throttled=True, **wide)

        def number(name: str, label: str, widget=pn.widgets.FloatInput, **kw) -> pn.widgets.Widget:
            return bounded_input(det, name, self.report, widget=widget, label=label, **wide, **kw)

        detector = pn.Column(
            slider("eta_max", "calorimeter |η| <"),
            number("n_eta", "η cells", pn.widgets.IntInput),
            number("n_phi", "φ cells", pn.widgets.IntInput),
            slider("ecal_stochastic", "ECal stochastic term [√GeV]"),
            slider("hcal_stochastic", "HCal stochastic term [√GeV]"),
            number("track_pt_min", "track pT min [GeV]", step=0.1),
            number("cell_threshold", "cell threshold [GeV]", step=0.1),
            sizing_mode="stretch_width",
        )
        progress, status = self.progress_panes(self.param.loading)
        alert, notice = self.alert_panes()
        return pn.Column(
            sample, description, n_events, seed, notice, button, progress, status, alert,
            settings_card(detector, title="Detector"),
            width=SIDEBAR_WIDTH,
        )


class _StoreView(Viewer):
    store = param.ClassSelector(class_=EventsStore, doc="the page's data store")

    def _empty(self) -> pn.pane.Markdown:
        return pn.pane.Markdown("*No events loaded yet: press* Load sample *or wait for the load to finish.*")


class EventSelector(_StoreView):
    """Event index (slider, number input, previous/next) and a one-line summary of the event."""

    message = param.String(default="", doc="a rejected event index, shown under the selector")

    def _summary(self, current: EventData | None, loaded: str) -> str:
        if current is None:
            return "*No events loaded yet.*"
        extra = ", ".join(f"{k} = {v:.4g}" for k, v in current.fields.items())
        return f"**{current.summary()}**" + (f" — {extra}" if extra else "") + f"  \n<small>{loaded}</small>"

    def __panel__(self) -> pn.viewable.Viewable:
        disabled = self.store.param.events.rx.is_(None)
        slider = pn.widgets.IntSlider.from_param(self.store.param.event_index, label="Event", disabled=disabled,
                                                 sizing_mode="stretch_width", min_width=200, throttled=True,
                                                 css_classes=["jetviz-event-slider"])
        number = bounded_input(self.store, "event_index", lambda text: setattr(self, "message", text),
                               label="Event index", width=120, disabled=disabled, css_classes=["jetviz-event-input"])
        notice = pn.pane.Alert(self.param.message, alert_type="warning", visible=self.param.message.rx.bool(),
                               sizing_mode="stretch_width", css_classes=["jetviz-index-notice"])
        prev, nxt = step_buttons(self.store, "event_index", disabled)
        summary = pn.pane.Markdown(pn.bind(self._summary, self.store.param.current, self.store.param.loaded),
                                   css_classes=["jetviz-event-summary"], sizing_mode="stretch_width")
        return pn.Column(pn.Row(slider, prev, nxt, number, sizing_mode="stretch_width"), notice, summary,
                         sizing_mode="stretch_width")


class ParticleView(_StoreView):
    """η–φ scatter of the current event's particles, coloured by truth jet, sized by pT."""

    eta_lim = param.Number(default=5.0, bounds=(0.5, 10.0), doc="shown |η| range")

    def _plot(self, current: EventData, eta_lim: float):
        p = current.particles
        return particles_scatter(
            p["eta"], p["phi"], p["pt"], p["jet"], energy=p["E"], pid=p["pid"], eta_lim=eta_lim,
            title=f"particles of event {current.index} (colour: truth jet)",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return live_plot(self._plot, self.store.param.current, redraw=(self.param.eta_lim,), css="jetviz-scatter",
                         empty=self._empty)


class DetectorView(_StoreView):
    """Detector image of the current event, one channel at a time."""

    channel = param.Selector(default="ECal", objects=list(CHANNELS), doc="calorimeter / tracker channel")
    logz = param.Boolean(default=True, label="log colour scale")

    def _plot(self, current: EventData, channel: str, logz: bool):
        c = list(CHANNELS).index(channel)
        return detector_image(current.image[c], current.eta_range, channel, logz=logz,
                              title=f"{channel} image of event {current.index}")

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = pn.widgets.RadioButtonGroup.from_param(self.param.channel, color="primary",
                                                         variant="outline", label="",
                                                         css_classes=["jetviz-channel"])
        logz = pn.widgets.Checkbox.from_param(self.param.logz, margin=(12, 10))
        # a channel or scale switch changes the colour mapper: the image is built anew; an event patches it
        plot = live_plot(self._plot, self.store.param.current, redraw=(self.param.channel, self.param.logz),
                         css="jetviz-detector-image", empty=self._empty)
        return pn.Column(pn.Row(buttons, logz), plot)


class TablesView(_StoreView):
    """Particle and truth-jet tables of the current event (Tabulator, read-only)."""

    def _particles(self, current: EventData | None):
        if current is None:
            return particle_table(*(np.zeros(0),) * 7).reset_index()
        p = current.particles
        return particle_table(p["pt"], p["eta"], p["phi"], p["E"], p["pid"], p["charge"], p["jet"]).reset_index()

    def _jets(self, current: EventData | None):
        if current is None or current.jets is None:
            return jet_table(*(np.zeros(0),) * 4)
        j = current.jets
        jet = current.particles["jet"]
        counts = np.bincount(jet[jet >= 0], minlength=len(j["E"]))[: len(j["E"])]
        return jet_table(j["px"], j["py"], j["pz"], j["E"], counts)

    def tabs(self) -> list[tuple[str, pn.widgets.Tabulator]]:
        """``[("Particles", table), ("Truth jets", table)]`` for a ``pn.Tabs``."""
        from bokeh.models.widgets.tables import NumberFormatter

        number = NumberFormatter(format="0.000")
        floats = ["pT [GeV]", "η", "φ [rad]", "E [GeV]", "m [GeV]"]
        common = dict(disabled=True, show_index=False, layout="fit_data_table", sizing_mode="stretch_width",
                      formatters={c: number for c in floats})
        particles = pn.widgets.Tabulator(pn.bind(self._particles, self.store.param.current), pagination="local",
                                         page_size=12, **common)
        jets = pn.widgets.Tabulator(pn.bind(self._jets, self.store.param.current), **common)
        return [("Particles", particles), ("Truth jets", jets)]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Tabs(*self.tabs(), sizing_mode="stretch_width")


class SampleView(_StoreView):
    """Histograms over the loaded sample (multiplicity, particle pT) with the shown event marked."""

    _cache: tuple = (None, None, None)

    def _arrays(self, events: ak.Array) -> tuple[np.ndarray, np.ndarray]:
        """(N,) multiplicities and (M,) particle pT of the sample, computed once per sample."""
        if self._cache[0] is not events:
            self._cache = (events, ak.to_numpy(ak.num(events.particles, axis=1)),
                           ak.to_numpy(ak.flatten(events.particles.pt)))
        return self._cache[1], self._cache[2]

    def _multiplicity(self, current: EventData, events: ak.Array):
        counts, _ = self._arrays(events)
        return multiplicity_histogram(counts, mark=current.n_particles, title="particles per event (line: this event)")

    def _pt(self, current: EventData, events: ak.Array):
        _, pt = self._arrays(events)
        lead = float(current.particles["pt"].max()) if current.n_particles else 0.0
        return pt_histogram(pt, mark=lead, title="particle pT (line: this event's leading)")

    def __panel__(self) -> pn.viewable.Viewable:
        events, current = self.store.param.events, self.store.param.current  # a new sample: new histograms
        return pn.Row(live_plot(self._multiplicity, current, redraw=(events,), css="jetviz-multiplicity",
                                empty=self._empty),
                      live_plot(self._pt, current, redraw=(events,), css="jetviz-pt-histogram",
                                empty=lambda: pn.Spacer()))


class EventsPage(Viewer):
    """The events page: settings + progress on the left; event selector, η–φ display, detector
    image, tables and sample histograms on the right.

    ``store``: default a new :class:`EventsStore` of the remaining keyword arguments
    (``EventsPage(sample="toy_ee_6jet", n_events=100)``); ``autoload``: load the sample when the page
    is shown (served: after the page is up, in the background); ``sync_url``: when served, mirror
    ``sample``, ``n_events`` and ``seed`` in the URL query (``?page=events&sample=ee_6jet``; a bad
    value there is reported in the page).
    """

    store = param.ClassSelector(class_=EventsStore, doc="the page's data store")
    autoload = param.Boolean(default=True, doc="load the sample when the page is shown")
    sync_url = param.Boolean(default=False, doc="mirror the store settings in the URL query")

    def __init__(self, **params):
        store_params = {k: params.pop(k) for k in list(params) if k in EventsStore.param and k != "name"}
        if params.get("store") is None:
            params["store"] = EventsStore(**store_params)
        elif store_params:
            params["store"].param.update(**store_params)
        super().__init__(**params)
        store = self.store
        self.selector = EventSelector(store=store)
        self.particles = ParticleView(store=store)
        self.detector = DetectorView(store=store)
        self.tables = TablesView(store=store)
        self.sample_view = SampleView(store=store)
        is_served = served()
        if self.sync_url and is_served and pn.state.location is not None:
            pn.state.location.sync(
                store, {"sample": "sample", "n_events": "n_events", "seed": "seed"},
                on_error=self._url_error,
            )
        if self.autoload:
            if is_served:
                pn.state.onload(store.load)
            else:
                store.load(blocking=True)

    def _url_error(self, values: dict[str, Any]) -> None:
        self.store.report_url_rejected([f"{k}={v!r}" for k, v in values.items()])

    def controls(self) -> pn.viewable.Viewable:
        """Sample and detector settings, progress and errors (the store's view)."""
        return self.store

    def body(self) -> pn.viewable.Viewable:
        """Event selector, η–φ display and detector image, tables and sample histograms."""
        tabs = pn.Tabs(*self.tables.tabs(), ("Sample", self.sample_view), sizing_mode="stretch_width",
                       css_classes=["jetviz-event-tabs"])
        body = pn.Column(
            self.selector,
            pn.FlexBox(self.particles, self.detector, sizing_mode="stretch_width"),
            tabs,
            sizing_mode="stretch_width",
        )
        return body

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(self.controls(), self.body(), sizing_mode="stretch_width")
