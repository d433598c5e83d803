"""jetviz.ui.jetclr without a browser: the data store loads jets, augments and rotates one, trains a
tiny real run, reopens it, runs the ablation and reports errors."""
from __future__ import annotations

import json

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from jetviz.errors import ConfigError
from jetviz.plots.jetclr import ablation_table
from jetviz.runners.jetclr import TALK, JetclrRunner
from jetviz.ui import jetclr as ui

#: a run that trains in seconds on a busy 2-core CPU (one torch thread)
TINY = dict(sample="toy_top_qcd", n_jets=120, epochs=2, d_model=16, n_heads=2, n_layers=1, rep_dim=16, proj_dim=8,
            n_angles=7, n_invariance=16, batch_size=32, n_constituents=20, extra_slots=8, threads=1)

pytestmark = pytest.mark.usefixtures("reset_panel_state", "one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_rendered):
    """A page whose store trained one tiny run (blocking) while rendered, and its runs directory."""
    root = tmp_path_factory.mktemp("jetclr-runs")
    page, seen = train_rendered(lambda: ui.JetclrPage(**TINY), root)
    return page, root, seen


# ---------------------------------------------------------------------------------- config
def test_default_config_from_env_and_overrides():
    config = ui.default_config({})
    assert (config.sample, config.n_jets, config.epochs, config.d_model, config.n_heads, config.n_layers,
            config.n_angles, config.n_invariance) == ("top_qcd", 800, 3, 32, 4, 1, 13, 64)
    config = ui.default_config({"JETVIZ_JETCLR_SAMPLE": "toy_top_qcd", "JETVIZ_JETCLR_AUGMENTATIONS": "rotations,soft"},
                               epochs=1)
    assert (config.sample, config.augmentations, config.epochs) == ("toy_top_qcd", ["rotations", "soft"], 1)
    with pytest.raises(ConfigError, match="JETVIZ_JETCLR_N_JETS"):
        ui.default_config({"JETVIZ_JETCLR_N_JETS": "many"})
    with pytest.raises(ConfigError):
        ui.default_config({"JETVIZ_JETCLR_AUGMENTATIONS": "mirror"})


def test_url_query_overrides_and_rejects(runs):
    store = ui.JetclrStore(**TINY)
    rejected = store.read_url_query({"epochs": [b"4"], "augmentations": [b"rotations"], "n_jets": [b"abc"],
                                     "d_model": [b"0"]})
    assert store.config.epochs == 4 and store.config.augmentations == ["rotations"]
    assert store.config.n_jets == 120 and store.config.d_model == 16  # kept
    assert rejected == ["n_jets='abc'", "d_model='0'"] and "n_jets='abc'" in store.notice


# ---------------------------------------------------------------------------------- jets before training
def test_load_jets_augment_and_rotate_before_training(runs):
    store = ui.JetclrStore(**TINY)
    assert store.data is None and store.augmented is None
    store.load_jets(blocking=True)
    assert store.error == "" and not store.running and len(store.data) == 120
    assert store.param.jet.bounds == (0, 119)
    assert not list(runs.glob("*")) or not any(p.name.startswith("jetclr") for p in runs.iterdir())  # no run dir
    aug = store.augmented
    assert aug["x"].shape == (28, 3) and aug["mask"].sum() <= 20
    assert aug["which"] == ["collinear", "soft", "rotations", "translations"]
    # collinear splits keep the total pT; the copy has at least as many constituents
    assert aug["x_aug"][:, 0].sum() == pytest.approx(aug["x"][:, 0].sum(), rel=1e-5)
    assert aug["mask_aug"].sum() >= aug["mask"].sum()
    before = aug["x_aug"].copy()
    store.new_draw_button = True
    assert store.draw == 1 and not np.array_equal(store.augmented["x_aug"], before)
    store.shown_augmentations = []
    np.testing.assert_array_equal(store.augmented["x_aug"], store.augmented["x"])  # none: the jet itself
    store.shown_augmentations = ["rotations"]
    rotated = store.augmented
    radii = lambda x, m: np.sort(np.hypot(x[m, 1], x[m, 2]))  # noqa: E731
    np.testing.assert_allclose(radii(rotated["x_aug"], rotated["mask_aug"]), radii(rotated["x"], rotated["mask"]),
                               atol=1e-5)
    # the angle slider rotates the jet; no encoder yet
    store.angle = 90.0
    r = store.rotated
    np.testing.assert_allclose(r["x_rot"][r["mask"], 1], -r["x"][r["mask"], 2], atol=1e-5)
    assert r["trained"] is None and r["untrained"] is None
    assert "train or open a run" in ui.RotationView._summary(r)
    store.jet = 7
    assert store.augmented["jet"] == 7 == store.rotated["jet"]
    with pytest.raises(ValueError, match="0 … 119"):
        store.augment_jet(120)


def test_out_of_range_widget_value_is_reported(runs):
    store = ui.JetclrStore(**TINY)
    store.load_jets(blocking=True)
    view = ui.AugmentationView(store=store)
    jet_box = [w for w in pn.panel(view).select(pn.widgets.IntInput) if "jetviz-jet" in w.css_classes][0]
    jet_box.value = 500
    assert store.jet == 0 and "0" in store.notice and "119" in store.notice
    jet_box.value = 5
    assert store.jet == 5 and store.notice == ""
    with pytest.raises(ValueError):
        store.angle = 400.0


# ---------------------------------------------------------------------------------- training
def test_train_fills_history_results_and_similarity(trained):
    page, root, seen = trained
    store = page.store
    assert store.error == "" and not store.running and not store.training and store.progress == 100
    result = store.result
    assert store.run == str(result.run_dir) and str(root) in store.run
    # the live rows arrive batched per drain (blocking here: one drain), then maybe once more from the run directory
    assert seen and set(seen) <= {1, 2} and seen[-1] == 2 and [r["epoch"] for r in store.history] == [1, 2]
    assert 0 <= result.metrics["auc"] <= 1 and result.metrics["row"] == "all"
    assert set(store.ablation) == {"all"} and store.ablation["all"]["auc"] == result.metrics["auc"]
    store.angle = 0.0
    assert store.rotated["trained"] == pytest.approx(1.0, abs=1e-5)
    assert store.rotated["untrained"] == pytest.approx(1.0, abs=1e-5)
    store.angle = 120.0
    r = store.rotated
    assert -1 <= r["trained"] <= 1 and -1 <= r["untrained"] <= 1
    # the untrained encoder is the run's initial.pt, not the trained weights
    untrained = ui.untrained_encoder(result)
    trained_w = dict(result.model.named_parameters())
    assert any(not np.allclose(p.detach(), trained_w[k].detach()) for k, p in untrained.named_parameters())
    # s of jet 0 at 0° and the mean curve agree at 0 (both 1)
    assert result.arrays["invariance"][0] == pytest.approx(1.0, abs=1e-5)


def test_views_render_the_results(trained):
    page = trained[0]
    store = page.store
    assert isinstance(page.results._roc(store.result), hv.Overlay)
    assert "trained AUC" in page.results._numbers(store.result)
    curve = page.rotation._curve(store.result, store.rotated)
    assert any(isinstance(el, hv.VLine) for el in curve)
    assert len(page.rotation._jets(store.rotated)) == 2
    assert len(page.augmentations._plots(store.augmented)) == 2
    points = page.latent._points(store.result)
    assert isinstance(points, hv.Points)
    hv.streams.Selection1D.registry[points][0].event(index=[0, 2])  # as a box selection in the browser
    assert store.selected == [int(k) for k in store.result.arrays["test_index"][[0, 2]]]
    store.selected = [int(k) for k in store.result.arrays["test_index"][:6]]
    selection = page.latent._selection(store.selected, store.data)
    assert len(selection[1]) == ui.FIRST_SELECTED
    store.selected = []
    view = pn.panel(page)
    root = view.get_root()  # the whole page renders with a result
    assert root is not None
    view._cleanup(root)


def test_open_run_without_retraining(trained, monkeypatch):
    page, root, _ = trained
    store = page.store
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh = ui.JetclrStore(sample="toy_top_qcd", n_jets=300)
    assert list(fresh.param.run.objects.values()) == [store.run] and fresh.run == store.run
    assert set(fresh.ablation) == {"all"}  # a finished run fills its row
    monkeypatch.setattr(JetclrRunner, "fit", lambda *a, **k: pytest.fail("retrained"))
    fresh.open_run(fresh.run, blocking=True)
    assert fresh.error == "" and fresh.config.n_jets == 120  # the run's settings are shown
    assert fresh.result.metrics == store.result.metrics and len(fresh.history) == 2
    np.testing.assert_array_equal(fresh.data.x, store.data.x)  # the same jets again
    assert fresh.loaded.startswith(store.result.run_dir.name)
    fresh.angle = 120.0
    store.angle = 120.0
    assert fresh.rotated["trained"] == pytest.approx(store.rotated["trained"], abs=1e-6)


def test_list_runs_only_finished_jetclr_runs(trained, tmp_path):
    _, root, _ = trained
    finished = ui.list_runs(root)
    assert len(finished) == 1 and finished[0].name.startswith("jetclr-")
    (tmp_path / "jetclr-unfinished").mkdir()
    other = tmp_path / "jetclr-other"
    other.mkdir()
    for name in ("metrics.json", "arrays.npz", "model.pt", "initial.pt"):
        (other / name).write_text("{}")
    (other / "config.json").write_text(json.dumps({"n_train": 10}))  # not a jetclr config
    assert ui.list_runs(tmp_path) == []


# ---------------------------------------------------------------------------------- ablation
def test_ablation_fills_the_table(runs):
    store = ui.JetclrStore(**{**TINY, "epochs": 1})
    store.run_ablation(blocking=True, workers=1)
    assert store.error == "" and not store.running and store.progress == 100
    assert list(store.ablation) == ["none", "translations", "rotations", "soft+collinear", "all"]
    assert all(entry["source"].startswith("ablation jetclr-ablation-") for entry in store.ablation.values())
    table = ablation_table(store.ablation, TALK)
    assert "—" not in set(table["ours AUC"])
    later = ui.JetclrStore(**TINY)  # a new session shows the ablation's rows
    assert set(later.ablation) == set(store.ablation)
    later.ablation = {}
    later.refresh_button = True  # ↻ collects them again
    assert set(later.ablation) == set(store.ablation)


# ---------------------------------------------------------------------------------- messages
def test_run_errors_are_shown_in_the_page(runs):
    store = ui.JetclrStore(**{**TINY, "d_model": 15})  # not divisible by n_heads = 2
    alert = [p for p in pn.panel(store).select(pn.pane.Alert) if "jetviz-error" in p.css_classes][0]
    store.train(blocking=True)
    assert store.error and not store.running and not store.training and store.result is None
    assert alert.visible and alert.object == store.error
    store.open_run(runs / "jetclr-missing", blocking=True)
    assert store.error and store.result is None
    store.open_button = True  # nothing to open: a message, no error
    assert "No finished jetclr run" in store.notice


def test_background_training_and_cancel(runs, train_then_cancel):
    """With a running event loop the training goes to a thread; Cancel stops it after a step."""
    store = ui.JetclrStore(**{**TINY, "epochs": 500})
    seen = train_then_cancel(store)
    assert not store.running and store.error == ""
    assert store.notice.startswith("Cancelled:") and store.result is None
    assert 1 <= len(store.history) < 500 and any(0 < p < 100 for p in seen)
    assert store.data is not None and len(store.data) == 120


def test_training_from_the_page_on_a_dask_cluster_and_a_backend_not_allowed(tmp_path, monkeypatch):
    """The store's Train on choice: the operator allows a real dask LocalCluster (worker processes) in
    $JETVIZ_BACKENDS; the run goes there and comes back with its progress and result. A backend the
    operator did not allow is refused before anything starts, from the constructor or the param."""
    import distributed

    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path))
    monkeypatch.setenv("JETVIZ_REGISTRY", str(tmp_path / "registry.sqlite"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        monkeypatch.setenv("JETVIZ_BACKENDS", f"local,{cluster.scheduler_address}")
        store = ui.JetclrStore(**TINY, backend=cluster.scheduler_address)
        assert store.chosen_backend.name == f"dask:{cluster.scheduler_address}" and store.notice == ""
        store.train(blocking=True)
        assert store.error == "" and store.result is not None and len(store.history) == 2
        assert f"via `dask:{cluster.scheduler_address}`" in store.where and "pid" in store.where
        from jetviz.compute import Registry

        record = Registry().find(store.result.run_dir)
        assert record.status == "done" and record.backend == f"dask:{cluster.scheduler_address}"
        from jetviz.compute import close_dask_clients

        close_dask_clients()
    monkeypatch.delenv("JETVIZ_BACKENDS")  # the default allows local and process only
    refused = ui.JetclrStore(**TINY, backend="tcp://elsewhere:8786")
    assert "not allowed" in refused.notice and refused.backend == "local"
    assert list(refused.param.backend.objects) == ["local", "process"]
    with pytest.raises(ValueError):  # the select offers the allowed ones only
        refused.backend = "ftp://nowhere"
    assert not refused.running and refused.result is None


def test_run_deep_link_reopens_a_finished_run(runs):
    """``?page=jetclr&run=<run directory name>`` (the runs page's link) reopens that run without training."""
    first = ui.JetclrStore(**TINY)
    first.train(blocking=True)
    run_dir = first.result.run_dir
    store = ui.JetclrStore(**TINY)
    assert store.read_url_query({"run": [run_dir.name.encode()]}) == []
    assert store.result is not None and store.result.run_dir == run_dir and store.error == ""
    assert store.result.metrics == first.result.metrics
    rejected = ui.JetclrStore(**TINY).read_url_query({"run": [b"jetclr-nothing-here"]})
    assert rejected == ["run='jetclr-nothing-here'"]
