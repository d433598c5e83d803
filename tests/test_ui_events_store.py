"""jetviz.ui.events without a browser: the data store, its background loading, bounded inputs."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from jetviz.ui import events as ui
from jetviz.ui.widgets import bounded_input


pytestmark = pytest.mark.usefixtures("reset_panel_state")


def test_blocking_load_and_current_event():
    store = ui.EventsStore(sample="toy_ee_6jet", n_events=30)
    store.load(blocking=True)
    assert not store.loading and store.error == "" and store.progress == 100
    assert len(store.events) == 30 and len(store.hits) == 30
    assert store.param.event_index.bounds == (0, 29)
    store.event_index = 29
    current = store.current
    assert current.index == 29
    assert current.image.shape == (3, 50, 50) and current.image.dtype == np.float32
    assert current.jets is not None and len(current.jets["E"]) == 6
    assert current.summary().startswith("event 29: ")
    with pytest.raises(ValueError):
        store.event_index = 30  # bounded param: impossible
    assert "toy_ee_6jet · 30 events · seed 0" in store.loaded


def test_detector_change_resimulates_and_smaller_sample_clamps_index():
    store = ui.EventsStore(sample="toy_ee_6jet", n_events=40)
    store.load(blocking=True)
    store.event_index = 35
    before = store.hits
    store.detector.param.update(n_eta=20, n_phi=24)  # no event loop: re-simulates right away
    assert store.hits is not before and store.current.image.shape == (3, 20, 24)
    store.n_events = 10
    store.load(blocking=True)
    assert store.event_index == 9 and store.param.event_index.bounds == (0, 9)


def test_load_error_is_shown(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ui, "load_sample", broken)
    store = ui.EventsStore(sample="toy_ee_6jet", n_events=10)
    store.load(blocking=True)
    assert store.error == "OSError: disk full" and not store.loading and store.events is None


def test_background_load_runs_off_the_event_loop():
    """With a running event loop the work goes to a thread; a periodic callback applies it."""
    store = ui.EventsStore(sample="toy_top_qcd", n_events=20)
    seen = []
    store.param.watch(lambda e: seen.append(e.new), "progress")

    async def main():
        store.load(blocking=False)
        assert store.loading  # returned at once
        for _ in range(200):
            if not store.loading:
                return
            await asyncio.sleep(0.05)

    # in a thread of its own: pytest-playwright keeps an event loop running in the main thread
    runner = threading.Thread(target=asyncio.run, args=(main(),))
    runner.start()
    runner.join(timeout=30)
    assert not store.loading and store.error == ""
    assert len(store.events) == 20 and store.current.class_name in ("QCD", "top")
    assert seen[-1] == 100


def test_bounded_input_rejects_out_of_range_visibly():
    store = ui.EventsStore(sample="toy_ee_6jet", n_events=12)
    messages = []
    box = bounded_input(store, "n_events", messages.append, label="Events")
    box.value = 5
    assert store.n_events == 12 and box.value == 12
    assert "out of range" in messages[-1] and "10" in messages[-1]
    box.value = 50
    assert store.n_events == 50 and messages[-1] == ""
    store.n_events = 70
    assert box.value == 70


def test_page_builds_in_a_notebook_context():
    page = ui.EventsPage(sample="toy_bh_sph", n_events=10)  # not served: loads right away
    assert page.store.current is not None
    assert page.__panel__() is not None
    assert "toy_bh_sph" in ui.SAMPLES and "lhe" not in ui.SAMPLES


def test_files_under_the_data_root_are_offered_loaded_and_damaged_ones_named(tmp_path, monkeypatch):
    """The sample menu lists the data root's files next to the recipes (↻ lists them again);
    a file loads like a recipe (first n events, chunk-wise); a damaged file is named, not offered;
    a name that is not listed (outside the root) cannot be chosen."""
    from jetviz.data import formats
    from jetviz.data.samples import load_sample
    from datafiles import cut_file

    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("JETVIZ_DATA", str(root))
    store = ui.EventsStore(sample="toy_ee_6jet", n_events=20)
    assert "mine.parquet" not in store.param.sample.objects.values()
    events = load_sample("toy_bh_sph", 50, seed=2, show_progress=False)
    formats.write(events, root / "mine.parquet")
    formats.write(events, root / "broken.parquet")
    cut_file(root / "broken.parquet")
    store.param.trigger("refresh_button")
    menu = store.param.sample.objects
    label = next(k for k, v in menu.items() if v == "mine.parquet")
    assert label.startswith("mine.parquet (") and "50 events" in label
    assert "broken.parquet" not in menu.values() and "broken.parquet" in store.notice
    store.param.update(sample="mine.parquet", n_events=30)
    store.load(blocking=True)
    assert store.error == "" and len(store.events) == 30
    np.testing.assert_array_equal(store.events.label.to_numpy(), events.label.to_numpy()[:30])
    assert store.loaded.startswith("mine.parquet · 30 events") and "labels from" in store.loaded
    assert store.current.summary().startswith("event 0 (")
    with pytest.raises(ValueError):
        store.sample = "../outside.parquet"
    # a store made with a file name (the ?sample= deep link's value) keeps it
    assert ui.EventsStore(sample="mine.parquet").sample == "mine.parquet"


def test_event_plots_follow_the_event_in_place_and_are_rebuilt_only_for_a_new_scale():
    """The scatter, image and histograms are DynamicMaps on ``current``: a new event patches the data
    of the Bokeh models already shown (same figure, same glyph renderer, new data); a channel
    switch builds a new figure; with nothing loaded the placeholder is shown."""
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource, GlyphRenderer
    import panel as pn

    page = ui.EventsPage(sample="toy_ee_6jet", n_events=30, autoload=False)
    scatter, image = pn.panel(page.particles), page.detector.__panel__()[1]
    doc = Document()
    for box in (scatter, image):
        doc.add_root(box.get_root(doc))
    assert "No events loaded" in scatter.objects[0].object  # placeholder before any load

    page.store.load(blocking=True)
    pane = scatter.objects[0]
    assert isinstance(pane, pn.pane.HoloViews)
    figure = pane._models[next(iter(pane._models))][0]
    source = figure.select_one({"type": GlyphRenderer}).data_source
    assert isinstance(source, ColumnDataSource)
    n0 = len(source.data["eta"])
    eta0 = np.sort(source.data["eta"])
    page.store.event_index = 7
    assert scatter.objects[0] is pane and pane._models[next(iter(pane._models))][0] is figure  # in place
    after = figure.select_one({"type": GlyphRenderer}).data_source
    expected = page.store.current.particles["eta"]
    assert after is source and len(after.data["eta"]) == len(expected)
    assert np.allclose(np.sort(after.data["eta"]), np.sort(expected))
    assert len(expected) != n0 or not np.allclose(np.sort(expected), eta0)  # another event's particles

    before = image.objects[0]
    page.store.event_index = 8
    assert image.objects[0] is before  # an event: in place
    page.detector.channel = "tracks"
    assert image.objects[0] is not before  # a new colour mapper: a new plot
