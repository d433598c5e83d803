"""jetviz.ui.vae_emd without a browser: the data store trains a tiny real run, reopens it, picks
two jets (transport plan), runs a β scan and reports errors."""
from __future__ import annotations

import json

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from jetviz.errors import ConfigError
from jetviz.runners.vae_emd import VaeEmdRunner
from jetviz.ui import vae_emd as ui

#: a run that trains in seconds on a busy 2-core CPU (one torch thread, EMDs in this process)
TINY = dict(sample="toy_top_qcd", n_jets=200, n_pix=16, latent=8, channels=4, epochs=2, n_corr=12, n_pool=12,
            n_medoids=3, n_anomaly=30, emd_jobs=1, threads=1)


pytestmark = pytest.mark.usefixtures("reset_panel_state")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_rendered):
    """A page whose store trained one tiny run (blocking) while rendered, and its runs directory."""
    root = tmp_path_factory.mktemp("vae-emd-runs")
    page, seen = train_rendered(lambda: ui.VaeEmdPage(**TINY), root)
    return page, root, seen


# ---------------------------------------------------------------------------------- config
def test_default_config_from_env_and_overrides():
    config = ui.default_config({})
    assert (config.sample, config.n_jets, config.epochs, config.n_corr, config.n_pool, config.n_medoids,
            config.n_anomaly, config.channels) == ("top_qcd", 600, 5, 40, 40, 5, 100, 8)
    config = ui.default_config({"JETVIZ_VAE_EMD_SAMPLE": "toy_top_qcd", "JETVIZ_VAE_EMD_BETA": "1e-5"}, epochs=1)
    assert (config.sample, config.beta, config.epochs) == ("toy_top_qcd", 1e-5, 1)
    with pytest.raises(ConfigError, match="JETVIZ_VAE_EMD_N_JETS"):
        ui.default_config({"JETVIZ_VAE_EMD_N_JETS": "many"})
    assert ui.parse_betas("1e-6, 0,1e-6") == [0.0, 1e-6]
    with pytest.raises(ValueError):
        ui.parse_betas("-1")


# ---------------------------------------------------------------------------------- training
def test_train_fills_history_results_and_plan(trained):
    page, root, seen = trained
    store = page.store
    assert store.error == "" and not store.running and not store.training and store.progress == 100
    result = store.result
    assert set(result.metrics["correlations"]) == {"input", "block1", "block2", "block3", "latent"}
    assert set(result.metrics["auc"]) == {"vae_loss", "emd_mean_qcd", "emd_medoids"}
    assert store.run == str(result.run_dir) and str(root) in store.run
    # the live rows arrive batched per drain (blocking here: one drain), then maybe once more from the run directory
    assert seen and set(seen) <= {1, 2} and seen[-1] == 2 and [r["epoch"] for r in store.history] == [1, 2]
    assert store.data is not None and len(store.data) == 200
    # the first correlation pair is shown with its transport plan
    i, j = result.pairs()
    plan = store.plan
    assert (plan["jet_a"], plan["jet_b"]) == (int(i[0]), int(j[0])) == (store.jet_a, store.jet_b)
    assert plan["flow"].sum() == pytest.approx(1.0, abs=1e-9) and plan["flow"].min() >= 0
    assert plan["flow"].shape == (np.count_nonzero(plan["images"][0]), np.count_nonzero(plan["images"][1]))
    assert plan["reconstructions"].shape == (2, 16, 16) and plan["latent_distance"] >= 0
    # the pair's W_p is the runner's (same jets, same p)
    k = np.flatnonzero((i == store.jet_a) & (j == store.jet_b))[0]
    assert plan["distance"] == pytest.approx(result.arrays[f"w_p{store.p:g}"][k], rel=1e-6)


def test_picking_two_jets_and_p(trained):
    store = trained[0].store
    top = int(np.flatnonzero(store.data.labels == 1)[0])
    store.param.update(jet_a=3, jet_b=top)
    plan = store.plan
    assert (plan["jet_a"], plan["jet_b"], int(plan["labels"][1])) == (3, top, 1)
    assert plan["flow"].sum() == pytest.approx(1.0, abs=1e-9)
    store.p = 1.0
    assert store.plan["p"] == 1.0 and store.plan["flow"].sum() == pytest.approx(1.0, abs=1e-9)
    assert store.transport(5, 5)["distance"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="0 … 199"):
        store.transport(0, 200)
    store.p = 0.5


def test_views_render_the_results(trained):
    page = trained[0]
    store = page.store
    arrays = store.pair_arrays()
    n_pairs = 12 * 11 // 2
    assert all(len(arrays[k]) == n_pairs for k in ("i", "j", "w_p0.5", "w_p1", "latent", "input"))
    # the runner's r is the r of these distances
    r = np.corrcoef(arrays["latent"], arrays["w_p0.5"])[0, 1]
    assert r == pytest.approx(store.result.metrics["correlations"]["latent"]["p0.5"], abs=1e-6)
    densities = page.distances._densities(store.result, store.data, 0.5)
    assert len(densities) == 2 and f"r = {r:.2f}" in densities[0].opts.get().kwargs["title"]
    assert isinstance(page.distances._pairs(store.result, store.data, 1.0), hv.Points)
    assert isinstance(page.results._roc(store.result), hv.Overlay)
    assert len(page.pair._images(store.plan)) == 4  # A, B and their reconstructions
    assert isinstance(page.pair._plan(store.plan).get(2), hv.Segments)
    assert "total flow 1.000" in page.pair._summary(store.plan)
    points = page.latent._points(store.result)
    assert isinstance(points, hv.Points)
    hv.streams.Selection1D.registry[points][0].event(index=[1, 3])  # as a box selection in the browser
    assert store.selected == [int(k) for k in store.result.arrays["test_index"][[1, 3]]]
    store.selected = [int(k) for k in store.result.arrays["test_index"][:5]]
    assert len(page.latent._selection(store.selected, store.data)) == 4  # mean + first 3
    store.selected = []
    view = pn.panel(page)
    root = view.get_root()  # the whole page renders with a result
    assert root is not None
    view._cleanup(root)


def test_open_run_without_retraining(trained, monkeypatch):
    page, root, _ = trained
    store = page.store
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh = ui.VaeEmdStore(sample="toy_top_qcd", n_jets=300)
    assert list(fresh.param.run.objects.values()) == [store.run] and fresh.run == store.run
    monkeypatch.setattr(VaeEmdRunner, "fit", lambda *a, **k: pytest.fail("retrained"))
    fresh.open_run(fresh.run, blocking=True)
    assert fresh.error == "" and fresh.config.n_jets == 200  # the run's settings are shown
    assert fresh.result.metrics == store.result.metrics and len(fresh.history) == 2
    np.testing.assert_array_equal(fresh.data.images, store.data.images)  # the same jets again
    assert fresh.loaded.startswith(store.result.run_dir.name)
    assert fresh.plan["flow"].sum() == pytest.approx(1.0, abs=1e-9)


def test_list_runs_only_finished_vae_emd_runs(trained, tmp_path):
    _, root, _ = trained
    finished = ui.list_runs(root)
    assert len(finished) == 1 and finished[0].name.startswith("vae_emd-")
    (tmp_path / "vae_emd-unfinished").mkdir()
    other = tmp_path / "vae_emd-other"
    other.mkdir()
    for name in ("metrics.json", "arrays.npz", "model.pt"):
        (other / name).write_text("{}")
    (other / "config.json").write_text(json.dumps({"n_train": 10}))  # not a vae_emd config
    assert ui.list_runs(tmp_path) == []


# ---------------------------------------------------------------------------------- β scan
def test_beta_scan_rows_and_earlier_scan(runs):
    store = ui.VaeEmdStore(**{**TINY, "epochs": 1}, scan_betas="0, 1e-4")
    assert store.scan_rows == []
    store.run_scan(blocking=True)
    assert store.error == "" and not store.running
    assert [row["beta"] for row in store.scan_rows] == [0.0, 1e-4]
    assert all(0 <= row["auc_vae_loss"] <= 1 for row in store.scan_rows)
    assert len(ui.ScanView(store=store)._plot(store.scan_rows, store.scan_source)) == 2
    later = ui.VaeEmdStore(**TINY)  # a new session shows the newest earlier scan
    assert later.scan_rows == store.scan_rows and later.scan_source.startswith("earlier scan vae_emd-scan-")
    later.scan_betas = "a, b"
    later.run_scan(blocking=True)
    assert "β scan" in later.notice and not later.running


# ---------------------------------------------------------------------------------- messages
def test_run_errors_are_shown_in_the_page(runs):
    store = ui.VaeEmdStore(**{**TINY, "n_pix": 18})  # not divisible by 2**3
    alert = [p for p in pn.panel(store).select(pn.pane.Alert) if "jetviz-error" in p.css_classes][0]
    store.train(blocking=True)
    assert store.error and not store.running and not store.training and store.result is None
    assert alert.visible and alert.object == store.error
    store.open_run(runs / "vae_emd-missing", blocking=True)
    assert store.error and store.result is None
    store.open_button = True  # nothing to open: a message, no error
    assert "No finished vae_emd run" in store.notice


def test_background_training_and_cancel(runs, train_then_cancel):
    """With a running event loop the training goes to a thread; Cancel stops it after a step."""
    store = ui.VaeEmdStore(**{**TINY, "epochs": 500})
    seen = train_then_cancel(store)
    assert not store.running and store.error == ""
    assert store.notice.startswith("Cancelled:") and store.result is None
    assert 1 <= len(store.history) < 500 and any(0 < p < 100 for p in seen)
    assert store.data is not None and len(store.data) == 200
