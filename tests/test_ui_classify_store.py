"""jetviz.ui.classify without a browser: the data store trains a tiny real run, reopens it, reports errors."""
from __future__ import annotations

import json

import numpy as np
import panel as pn
import pytest

from jetviz.errors import ConfigError
from jetviz.runners.classify import ClassifyRunner
from jetviz.ui import classify as ui

#: a run that trains in seconds on a busy 2-core CPU (one torch thread)
TINY = dict(sample="toy_bh_sph", n_events=120, n_folds=2, width=2, epochs=1, xgb_n_estimators=20, threads=1)


pytestmark = pytest.mark.usefixtures("reset_panel_state")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_rendered):
    """A page whose store trained one tiny run (blocking) while rendered, and its runs directory."""
    root = tmp_path_factory.mktemp("classify-runs")
    page, seen = train_rendered(lambda: ui.ClassifyPage(**TINY), root)
    return page, root, seen


# ---------------------------------------------------------------------------------- config
def test_default_config_from_env_and_overrides():
    config = ui.default_config({})
    assert (config.sample, config.n_events, config.n_folds, config.width, config.epochs) == ("bh_sph", 400, 3, 4, 3)
    env = {"JETVIZ_CLASSIFY_SAMPLE": "toy_bh_sph", "JETVIZ_CLASSIFY_N_EVENTS": "120",
           "JETVIZ_CLASSIFY_MODELS": "resnet,xgb_high", "JETVIZ_CLASSIFY_LEARNING_RATE": "0.01"}
    config = ui.default_config(env, epochs=1)
    assert (config.sample, config.n_events, config.models, config.learning_rate, config.epochs) == \
        ("toy_bh_sph", 120, ["resnet", "xgb_high"], 0.01, 1)
    with pytest.raises(ConfigError, match="JETVIZ_CLASSIFY_N_FOLDS"):
        ui.default_config({"JETVIZ_CLASSIFY_N_FOLDS": "many"})
    with pytest.raises(ConfigError):
        ui.default_config({"JETVIZ_CLASSIFY_N_FOLDS": "1"})  # out of bounds (2 … 20)
    assert ui.class_names("toy_bh_sph") == ("sphaleron", "black hole")


# ---------------------------------------------------------------------------------- training
def test_train_fills_history_results_and_current(trained):
    page, root, seen = trained
    store = page.store
    assert store.error == "" and not store.running and not store.training and store.progress == 100
    result = store.result
    assert result.models == ("resnet", "xgb_low", "xgb_high") and result.metrics["n_events"] == 120
    assert store.run == str(result.run_dir) and str(root) in store.run
    assert store.series == (("resnet", "xgb_low", "xgb_high"), 2)
    # live history: the ResNet epochs as they came, then each finished unit's full history file
    assert seen and seen[0] == 1 and max(seen) == len(store.history)
    assert {(r["model"], r["fold"]) for r in store.history} == {(m, f) for m in result.models for f in (0, 1)}
    resnet_rows = [r for r in store.history if r["model"] == "resnet"]
    assert [r["epoch"] for r in resnet_rows] == [1, 1] and all("val_accuracy" in r for r in resnet_rows)
    # inputs for the views
    data = store.data
    assert data.images.shape == (120, 3, 50, 50) and data.low.shape == (120, 45) and data.high.shape == (120, 39)
    assert store.class_names == ("sphaleron", "black hole")
    assert store.param.model.objects == list(result.models) and store.model == "resnet"
    # the most confidently wrong event of the chosen model is shown
    wrong = store.misclassified()
    assert len(wrong) == int((result.predicted("resnet") != result.predictions["label"]).sum()) > 0
    current = store.current
    assert current.index == store.event_index == int(wrong[0])
    assert current.image.shape == (3, 50, 50) and current.low.shape == (45,) and current.high.shape == (39,)
    assert set(current.scores) == set(result.models) and 0 <= current.fold < 2
    assert current.label == int(data.labels[current.index])
    assert "(wrong)" in current.summary("resnet") and current.summary().startswith(f"event {current.index}: ")
    store.model = "xgb_high"
    assert store.current.index == int(store.misclassified("xgb_high")[0])
    store.event_index = 3
    assert store.current.index == 3 and store.current.label == int(data.labels[3])


def test_views_render_the_results(trained):
    page, _, _ = trained
    store = page.store
    view = page.misclassified
    table = view._table(store.result, "resnet", store.class_names)
    assert table.columns.tolist() == ["event", "true class", "P(black hole)", "fold"]
    assert table["event"].tolist() == store.misclassified("resnet")[: ui.MAX_LISTED].tolist()
    p = table["P(black hole)"].to_numpy()
    labels = np.where(table["true class"] == "black hole", 1, 0)
    assert np.all((p >= 0.5) != labels)  # all wrong
    assert np.all(np.diff(np.abs(p - 0.5)) <= 1e-12)  # most confidently wrong first
    assert "events wrong" in view._count(store.result, "resnet")
    assert view._features(store.current, "low").shape == (15, 5)
    assert view._features(store.current, "high").shape == (11, 5)
    assert len(view._scores(store.current)) == 3
    view = pn.panel(page)
    root = view.get_root()  # the whole page renders with a result
    assert root is not None
    view._cleanup(root)
    # the ROC / confusion / importance plots are built from the result
    import holoviews as hv

    assert isinstance(page.results._roc(store.result, store.class_names), hv.Overlay)
    assert len(page.results._confusion(store.result, store.class_names)) == 3
    assert len(page.results._importances(store.result, 10)) == 2  # xgb_low and xgb_high


def test_open_run_without_retraining(trained, monkeypatch):
    page, root, _ = trained
    store = page.store
    monkeypatch.setenv("JETVIZ_RUNS", str(root))
    fresh = ui.ClassifyStore(sample="toy_bh_sph", n_events=300)
    assert list(fresh.param.run.objects) == [store.run] and fresh.run == store.run
    monkeypatch.setattr(ClassifyRunner, "fit", lambda *a, **k: pytest.fail("retrained"))
    fresh.open_run(fresh.run, blocking=True)
    assert fresh.error == "" and fresh.config.n_events == 120  # the run's settings are shown
    assert fresh.history == store.history and fresh.result.metrics == store.result.metrics
    np.testing.assert_array_equal(fresh.data.images, store.data.images)  # the same events again
    assert fresh.loaded.startswith(store.result.run_dir.name)
    assert fresh.current.index == int(fresh.misclassified()[0])


def test_list_runs_only_finished_classify_runs(trained, tmp_path):
    _, root, _ = trained
    finished = ui.list_runs(root)
    assert len(finished) == 1 and finished[0].name.startswith("classify-")
    (tmp_path / "classify-unfinished").mkdir()  # no metrics.json
    (tmp_path / "colorize-x").mkdir()
    other = tmp_path / "classify-other"
    other.mkdir()
    for name in ("metrics.json", "predictions.npz"):
        (other / name).write_text("{}")
    (other / "config.json").write_text(json.dumps({"n_train": 10}))  # not a classify config
    assert ui.list_runs(tmp_path) == []


# ---------------------------------------------------------------------------------- messages
def test_out_of_range_widget_value_is_reported(runs):
    store = ui.ClassifyStore(**TINY)
    events = [w for w in pn.panel(store).select(pn.widgets.IntInput) if w.name == "Events"]
    assert len(events) == 1
    events[0].value = 5  # below the bound of 20
    assert "Events 5 is out of range: allowed 20 … 5000000; kept 120." in store.notice
    assert store.config.n_events == 120
    events[0].value = 200
    assert store.notice == "" and store.config.n_events == 200
    page = ui.ClassifyPage(store=store)
    example = [w for w in pn.panel(page.examples).select(pn.widgets.IntInput) if w.name == "Example"][0]
    example.value = -1
    assert "Example -1 is out of range" in store.notice


def test_run_errors_are_shown_in_the_page(runs):
    # a real runner error: 20 events cannot be split into 20 folds with both classes in each
    store = ui.ClassifyStore(**{**TINY, "n_events": 20, "n_folds": 20})
    alert = [p for p in pn.panel(store).select(pn.pane.Alert) if "jetviz-error" in p.css_classes][0]
    store.train(blocking=True)
    assert store.error.startswith("ConfigError: 20 folds need at least 20 events of each class")
    assert not store.running and not store.training and store.result is None
    assert alert.visible and alert.object == store.error
    store.config.param.update(n_events=120, n_folds=2, models=[])
    store.train(blocking=True)
    assert store.error == "ConfigError: choose at least one model to train"
    store.open_run(runs / "classify-missing", blocking=True)
    assert "missing" in store.error and store.result is None
    store.open_button = True  # nothing to open: a message, no error
    assert "No finished classify run" in store.notice


def test_background_training_and_cancel(runs, train_then_cancel):
    """With a running event loop the training goes to a thread; Cancel stops it, finished units stay."""
    store = ui.ClassifyStore(**{**TINY, "epochs": 200, "models": ["resnet"]})
    seen = train_then_cancel(store)
    assert not store.running and store.error == ""
    assert store.notice.startswith("Cancelled:") and store.result is None
    assert 1 <= len(store.history) < 200 and any(0 < p < 100 for p in seen)
    assert store.data is not None and len(store.data) == 120  # the events arrived before the training
    assert list(runs.glob("classify-*/units/resnet-fold0.checkpoint.pt"))
