"""The colorize page: its data store without a browser, then the served page in headless Chromium.

Browser tests (marked ``ui``) serve the real dashboard (``panel serve app/``, fixture ``app_url``)
and train a tiny toy run from the page, with the sizes given in the URL query; screenshots go to
``test-artifacts/ui/colorize*.png``. The store tests train tiny runs in-process.
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import panel as pn
import pytest

from jetviz.errors import ConfigError
from jetviz.runners.colorize import ColorizeRunner
from jetviz.ui import colorize as ui

#: a run that trains in a few seconds on a busy 2-core CPU
TINY = dict(sample="toy_ee_6jet", n_train=32, n_test=16, base_channels=4, depth=2, epochs=2, batch_size=16,
            crf_iterations=3)
QUERY = "&".join(f"{k}={v}" for k, v in TINY.items())
TIMEOUT_MS = 60_000
TALL = {"width": 1440, "height": 2500}


pytestmark = pytest.mark.usefixtures("reset_panel_state")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store that trained one tiny run (blocking) under a rendered page, and its runs directory."""
    root = tmp_path_factory.mktemp("colorize-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JETVIZ_RUNS", str(root))
        page = ui.ColorizePage(**TINY)
        pn.panel(page).get_root()  # every view's watchers run during the training
        store = page.store
        store.train(blocking=True)
    pn.state.reset()
    return store, root


# ---------------------------------------------------------------------------------- the store
def test_default_config_from_env_and_overrides():
    config = ui.default_config({})
    assert (config.sample, config.n_train, config.n_test, config.base_channels, config.epochs) == \
        ("ee_6jet", 200, 50, 8, 10)
    env = {"JETVIZ_COLORIZE_SAMPLE": "toy_ee_6jet", "JETVIZ_COLORIZE_N_TRAIN": "40", "JETVIZ_COLORIZE_CRF": "true",
           "JETVIZ_COLORIZE_CHANNELS": "energy,charged", "JETVIZ_COLORIZE_LEARNING_RATE": "0.01"}
    config = ui.default_config(env, epochs=1)
    assert (config.sample, config.n_train, config.crf, config.channels, config.learning_rate, config.epochs) == \
        ("toy_ee_6jet", 40, True, ["energy", "charged"], 0.01, 1)
    with pytest.raises(ConfigError, match="JETVIZ_COLORIZE_N_TRAIN"):
        ui.default_config({"JETVIZ_COLORIZE_N_TRAIN": "many"})
    with pytest.raises(ConfigError):
        ui.default_config({"JETVIZ_COLORIZE_N_TRAIN": "0"})  # out of bounds


def test_train_fills_history_display_and_current(trained):
    store, root = trained
    assert store.error == "" and not store.running and store.progress == 100
    assert [row["epoch"] for row in store.history] == [1, 2] and len(store.steps) == 4  # 2 steps per epoch
    assert store.result.metrics["n_train"] == 32
    assert store.param.event_index.bounds == (0, 15) and store.param.crf_iteration.bounds == (0, 3)
    assert store.run == str(store.result.run_dir) and str(root) in store.run
    event = store.current
    assert event.index == store.event_index == 0
    assert event.iterations.shape[0] == 4 and event.pixel_probs.shape[0] == 6
    assert sorted(event.mapping.tolist()) == list(range(6))
    # the energy map holds the energy of the particles in the map
    assert event.image.sum() == pytest.approx(event.energy[event.in_map].sum(), rel=1e-5)
    colour, prob = event.colours(3)
    assert colour.shape == event.energy.shape and np.all((prob[event.in_map] > 0) & (prob[event.in_map] <= 1))
    # CRF iterations change the marginals (the slider has something to show)
    assert not np.allclose(event.colours(0)[1], event.colours(3)[1])
    assert 0 <= event.accuracy(0) <= 1
    assert set(store.display.masses) >= {"Durham truth", "U-Net"}


def test_live_loss_plot_patches_in_place():
    """The loss plot is a DynamicMap: new history rows update its data and axes, not a new figure."""
    from bokeh.models import GlyphRenderer, Plot

    store = ui.ColorizeStore(**TINY)
    root = pn.panel(ui.TrainingView(store=store)).get_root()
    plot = list(root.select({"type": Plot}))[0]
    store.steps = [(0.5, 12.0), (1.0, 11.0)]
    store.history = [{"epoch": 1, "train_loss": 11.5, "test_loss_unet": 12.5},
                     {"epoch": 2, "train_loss": 10.0, "test_loss_unet": 12.0}]
    assert list(root.select({"type": Plot}))[0] is plot
    sizes = sorted(len(r.data_source.data["epoch"]) for r in root.select({"type": GlyphRenderer}))
    assert sizes == [2, 2, 2, 2, 2]  # per-step curve, train line + markers, test line + markers
    assert plot.x_range.end == pytest.approx(2.1) and plot.y_range.start < 10.0 < 12.5 < plot.y_range.end


def test_open_run_without_retraining(trained, monkeypatch):
    store, root = trained
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh = ui.ColorizeStore(sample="toy_ee_6jet", n_train=100)
    assert fresh.param.run.objects == [store.run] and fresh.run == store.run
    monkeypatch.setattr(ColorizeRunner, "fit", lambda *a, **k: pytest.fail("retrained"))
    fresh.open_run(fresh.run, blocking=True)
    assert fresh.error == "" and fresh.config.n_train == 32  # the run's settings are shown
    assert fresh.history == store.history
    np.testing.assert_allclose(fresh.current.iterations, store.current.iterations, atol=1e-6)
    assert fresh.loaded.startswith(store.result.run_dir.name)


def test_errors_are_shown(runs, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("jetviz.data.samples.load_sample", broken)  # where every runner loads its sample
    store = ui.ColorizeStore(**TINY)
    store.train(blocking=True)
    assert store.error == "OSError: disk full" and not store.running and store.result is None
    store.open_run(runs / "colorize-missing", blocking=True)
    assert "missing" in store.error and store.display is None
    store.open_button = True  # nothing to open: a message, no error
    assert "No finished colorize run" in store.notice


def test_a_failure_while_showing_a_run_is_an_error_not_a_stuck_page(trained, monkeypatch):
    """A view or the store failing on the finished run's message ends the work with an error shown."""
    store, root = trained
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh = ui.ColorizeStore(sample="toy_ee_6jet")

    def broken(*args, **kwargs):
        raise ValueError("no such colour")

    monkeypatch.setattr(ui.ColorizeStore, "show", broken)
    fresh.open_run(fresh.run, blocking=True)
    assert fresh.error == "Showing the run failed: ValueError: no such colour"
    assert not fresh.running and fresh._queue is None and fresh.status == ""
    monkeypatch.undo()
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh.open_run(fresh.run, blocking=True)  # the page is usable again
    assert fresh.error == "" and fresh.current is not None


def test_background_training_and_cancel(runs, train_then_cancel):
    """With a running event loop the training goes to a thread; Cancel stops it, the checkpoint stays."""
    store = ui.ColorizeStore(**{**TINY, "epochs": 200})
    seen = train_then_cancel(store, polls=600, timeout=60)
    assert not store.running and store.error == ""
    assert store.notice.startswith("Cancelled:") and store.result is None
    assert 1 <= len(store.history) < 200 and any(0 < p < 100 for p in seen)
    assert list(runs.glob("colorize-*/checkpoint.pt"))


# ---------------------------------------------------------------------------------- the browser
def _summary(page) -> str:
    return page.locator(".jetviz-event-summary p").first.inner_text()


@pytest.mark.ui
def test_train_from_the_page_and_scrub_crf_iterations(page, app_url, artifacts, wait_changed):
    page.set_viewport_size(TALL)  # the template scrolls inside its main area: show the whole page
    page.goto(f"{app_url}?page=colorize&{QUERY}")
    train = page.locator(".jetviz-train button")
    train.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("published (ZHH)").first.wait_for(timeout=TIMEOUT_MS)  # the talk's table, before any run
    loss = page.locator(".jetviz-loss").first
    loss.locator("canvas").first.wait_for(timeout=TIMEOUT_MS)
    empty_loss = loss.screenshot()
    train.click()
    # live: the loss curve draws (the empty axes change) and the metrics table fills in
    wait_changed(loss, empty_loss, timeout_ms=TIMEOUT_MS)
    page.get_by_text("this run (toy_ee_6jet)").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Durham truth").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(re.compile(r"^test event 0: \d+ visible particles")).first.wait_for(timeout=TIMEOUT_MS)
    for css in (".jetviz-energy-map", ".jetviz-predicted", ".jetviz-truth", ".jetviz-heatmaps"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert "U-Net output" in _summary(page)
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "colorize.png", full_page=True)

    predicted = page.locator(".jetviz-predicted").first
    before = predicted.screenshot()
    handle = page.locator(".jetviz-crf-slider .noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    page.get_by_text(re.compile(r"after 3 CRF iterations")).first.wait_for(timeout=15_000)
    wait_changed(predicted, before)
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "colorize-crf.png", full_page=True)

    # the next test event: all panels follow
    truth = page.locator(".jetviz-truth").first
    before = truth.screenshot()
    page.locator(".jetviz-next button").click()
    page.get_by_text(re.compile(r"^test event 1: ")).first.wait_for(timeout=15_000)
    wait_changed(truth, before)


@pytest.mark.ui
def test_reopen_a_run_and_cancel_a_training(page, app_url, app_runs, trained, artifacts):
    # a run trained earlier (here: by the store, then put in the server's runs directory) is listed
    _, root = trained
    for run in root.glob("colorize-*"):
        shutil.copytree(run, app_runs / run.name, dirs_exist_ok=True)
    page.goto(f"{app_url}?page=colorize&{QUERY}&epochs=500&n_train=abc")
    page.get_by_text("Rejected value(s) in the URL: n_train='abc'").first.wait_for(timeout=TIMEOUT_MS)
    runs = page.locator(".jetviz-runs select")
    runs.wait_for(timeout=TIMEOUT_MS)
    assert runs.locator("option:not([value=''])").count() >= 1  # an empty select holds one blank option
    # open it without training
    page.locator(".jetviz-open button").click()
    shown = page.get_by_text(re.compile(r"^test event 0: ")).first
    shown.or_(page.locator(".jetviz-error").filter(visible=True).first).wait_for(timeout=2 * TIMEOUT_MS)
    assert shown.is_visible(), page.locator(".jetviz-error").first.inner_text()
    page.locator(".jetviz-predicted canvas").first.wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text("this run (toy_ee_6jet)").count() >= 1

    # a long training (500 epochs, as in the URL ... but the opened run reset the settings): set epochs again
    epochs = page.get_by_role("spinbutton", name="Epochs").or_(page.get_by_role("textbox", name="Epochs")).first
    epochs.fill("500")
    epochs.press("Enter")
    page.locator(".jetviz-train button").click()
    page.locator(".jetviz-progress").first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text(re.compile(r"epoch [2-9]/500")).first.wait_for(timeout=TIMEOUT_MS)
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "colorize-training.png")  # live progress and loss curve
    page.locator(".jetviz-cancel button").click()
    page.get_by_text("Cancelled:").first.wait_for(timeout=TIMEOUT_MS)
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "colorize-cancelled.png", full_page=True)


@pytest.mark.ui
@pytest.mark.slow
def test_default_ee_6jet_run(page, app_url, artifacts):
    """The page's default sample and model on real Pythia e+e- → tt̄ → 6 jets, 3 of its 10 epochs."""
    page.set_viewport_size(TALL)
    page.goto(f"{app_url}?page=colorize&epochs=3")
    page.locator(".jetviz-train button").click(timeout=TIMEOUT_MS)
    summary = page.get_by_text(re.compile(r"^test event 0: \d+ visible particles .* 6 truth jets")).first
    summary.wait_for(timeout=300_000)
    assert page.get_by_text("this run (ee_6jet)").count() >= 1
    for css in (".jetviz-predicted", ".jetviz-truth", ".jetviz-heatmaps", ".jetviz-masses"):
        page.locator(f"{css} canvas").first.wait_for(timeout=TIMEOUT_MS)
    page.mouse.move(0, 0)
    page.wait_for_timeout(1000)
    page.screenshot(path=artifacts / "colorize-ee_6jet.png", full_page=True)
