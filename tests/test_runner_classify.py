"""The classify runner end to end: k-fold bookkeeping, learning, saved models, resume, cancel, errors."""
import json

import numpy as np
import pytest
import torch

from jetviz.data.samples import load_sample
from jetviz.errors import Cancelled, ConfigError, SchemaError
from jetviz.models.resnet import ResNet18, image_inputs, resnet_scores
from jetviz.models.splits import stratified_folds
from jetviz.models.trees import xgboost_scores
from jetviz.runners.classify import (
    MODELS,
    ClassifyConfig,
    ClassifyData,
    ClassifyResult,
    ClassifyRunner,
    prepare,
)
from jetviz.runners.rundir import RunDir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


N = 160  # toy events: 2 folds × ~68 training events


@pytest.fixture(scope="module")
def toy_data():
    """Toy black holes vs sphalerons; class 1 gets an extra HCal blob so that images separate them."""
    events = load_sample("toy_bh_sph", N, seed=5, show_progress=False)
    data = prepare(events, seed=5)
    images = data.images.copy()
    rng = np.random.default_rng(0)
    for i in np.flatnonzero(data.labels == 1):
        e, p = rng.integers(5, 45), rng.integers(0, 50)
        images[i, 1, e - 2:e + 3, p - 1:p + 2] += 3000.0
    return ClassifyData(images, data.low, data.high, data.labels, data.index)


def small_config(**overrides):
    values = dict(sample="toy_bh_sph", n_events=N, n_folds=2, width=4, epochs=6, batch_size=16,
                  learning_rate=3e-3, xgb_n_estimators=40, xgb_early_stopping=10, threads=1)
    values.update(overrides)
    return ClassifyConfig(**values)


@pytest.mark.parametrize("n_folds", [2, 3, 5])
@pytest.mark.parametrize("n", [20, 101])
def test_stratified_folds_partition_and_balance(n_folds, n):
    labels = (np.arange(n) % 3 == 0).astype(int)
    folds = stratified_folds(labels, n_folds, seed=1)
    assert folds.shape == (n,) and set(np.unique(folds)) == set(range(n_folds))
    for cls in (0, 1):
        per_fold = np.bincount(folds[labels == cls], minlength=n_folds)
        assert per_fold.max() - per_fold.min() <= 1  # same class balance in every fold
    np.testing.assert_array_equal(folds, stratified_folds(labels, n_folds, seed=1))
    assert not np.array_equal(folds, stratified_folds(labels, n_folds, seed=2))


@pytest.fixture(scope="module")
def finished(toy_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("classify-run")
    events = []
    with torch.random.fork_rng():
        torch.set_num_threads(1)
        result = ClassifyRunner(small_config(models=list(MODELS)), run_dir, data=toy_data).fit(progress=events.append)
    return result, events


def test_every_event_gets_one_out_of_fold_score_per_model(finished, toy_data):
    result, events = finished
    assert result.models == MODELS
    np.testing.assert_array_equal(result.predictions["label"], toy_data.labels)
    for model in MODELS:
        scores = result.predictions[f"score_{model}"]
        assert scores.shape == (N,) and np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
        entry = result.metrics["models"][model]
        assert len(entry["accuracy"]) == len(entry["auc"]) == 2
        assert np.sum(entry["confusion"]) == N
        assert entry["accuracy_mean"] == pytest.approx(np.mean(entry["accuracy"]))
    units = [e for e in events if e["kind"] == "unit"]
    assert [u["done"] for u in units] == list(range(1, 11)) and units[-1]["total"] == 10
    assert events[-1]["kind"] == "done"


def test_models_learn_the_separable_toy(finished):
    result, _ = finished
    table = {row["model"]: row for row in result.accuracy_table()}
    assert table["resnet"]["auc_mean"] > 0.75  # the HCal blob is visible in the images
    assert table["resnet_no_augment"]["auc_mean"] > 0.75
    assert table["xgb_low"]["auc_mean"] > 0.7  # the toy's classes differ in hit energies


def test_confusion_roc_and_misclassified_agree(finished):
    result, _ = finished
    for model in result.models:
        matrix = result.confusion(model)
        predicted = result.predicted(model)
        labels = result.predictions["label"]
        assert matrix[0, 1] + matrix[1, 0] == len(result.misclassified(model)) == int((predicted != labels).sum())
        np.testing.assert_allclose(result.confusion(model, normalise=True).sum(axis=1), 1.0)
        fpr, tpr, auc_value = result.roc(model)
        assert auc_value == pytest.approx(result.metrics["models"][model]["auc_pooled"])
        wrong = result.misclassified(model)
        confidence = np.abs(result.predictions[f"score_{model}"][wrong] - 0.5)
        assert np.all(np.diff(confidence) <= 1e-12)  # most confidently wrong first


def test_importances_are_gain_shares_of_named_columns(finished):
    from jetviz.models.features import HIGH_LEVEL_COLUMNS, LOW_LEVEL_COLUMNS

    result, _ = finished
    for model, columns in (("xgb_low", LOW_LEVEL_COLUMNS), ("xgb_high", HIGH_LEVEL_COLUMNS)):
        importance = result.importances(model)
        assert list(importance) == list(columns)
        assert sum(importance.values()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="only the XGBoost"):
        result.importances("resnet")


def test_saved_models_reproduce_the_out_of_fold_scores(finished, toy_data):
    import xgboost

    from jetviz.models.features import LOW_LEVEL_COLUMNS

    result, _ = finished
    folds = result.predictions["fold"]
    test = folds == 1
    model = ResNet18(3, 2, circular_phi=True, width=4)
    model.load_state_dict(RunDir(result.run_dir).load_state("resnet-fold1"))
    scores = resnet_scores(model, image_inputs(toy_data.images[test]))
    np.testing.assert_allclose(scores, result.predictions["score_resnet"][test], atol=1e-6)
    booster = xgboost.Booster()
    booster.load_model(bytearray((result.run_dir / "xgb_low-fold1.json").read_bytes()))
    metrics = result.metrics["models"]["xgb_low"]
    booster.best_iteration = metrics["best_epoch"][1] - 1
    scores = xgboost_scores(booster, toy_data.low[test], LOW_LEVEL_COLUMNS)
    np.testing.assert_allclose(scores, result.predictions["score_xgb_low"][test], atol=1e-6)


def test_reopened_run_equals_the_finished_one(finished):
    result, _ = finished
    again = ClassifyResult.load(result.run_dir)
    assert again.config.to_dict() == result.config.to_dict()
    assert again.accuracy_table() == result.accuracy_table()
    for key, values in result.predictions.items():
        np.testing.assert_array_equal(again.predictions[key], values)
    assert len(again.history) == len(result.history)


def test_resume_retrains_only_missing_units(finished, toy_data, tmp_path):
    result, _ = finished
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            target = run_dir / path.relative_to(result.run_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (run_dir / "units" / "xgb_high-fold1.npz").unlink()
    (run_dir / "predictions.npz").unlink()
    events = []
    again = ClassifyRunner(result.config, run_dir, data=toy_data).fit(progress=events.append)
    trained = [(e["model"], e["fold"]) for e in events if e["kind"] == "stage" and e.get("stage") == "train"]
    assert trained == [("xgb_high", 1)]
    np.testing.assert_allclose(again.predictions["score_xgb_high"], result.predictions["score_xgb_high"], atol=1e-7)
    assert again.accuracy_table() == result.accuracy_table()


def test_folds_on_a_real_dask_cluster_equal_the_sequential_run(finished, toy_data, tmp_path):
    """The k-fold units as parallel tasks on a LocalCluster (worker processes): same scores as one by one.

    One model of each kind (a unit's seed depends on its fold only, so a subset of the models
    scores as in the full run)."""
    distributed = pytest.importorskip("distributed")
    result, _ = finished
    config = type(result.config).from_dict({**result.config.to_dict(), "models": ["resnet", "xgb_high"]})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        events = []
        again = ClassifyRunner(config, tmp_path / "run", data=toy_data, client=client).fit(progress=events.append)
    on_dask = [e for e in events if e["kind"] == "stage" and e.get("total")]
    assert len(on_dask) == len(config.models) * config.n_folds and on_dask[-1]["done"] == len(on_dask)
    for model in config.models:
        np.testing.assert_allclose(again.predictions[f"score_{model}"], result.predictions[f"score_{model}"], atol=1e-5)


def test_cancelled_resnet_resumes_to_the_uninterrupted_result(toy_data, tmp_path):
    config = small_config(models=["resnet"], epochs=3)
    reference = ClassifyRunner(config, tmp_path / "reference", data=toy_data).fit()
    steps = []

    def cancel_in_second_epoch():
        return any(s["kind"] == "step" and s["epoch"] == 2 for s in steps)

    runner = ClassifyRunner(config, tmp_path / "cancelled", data=toy_data)
    with pytest.raises(Cancelled, match="epoch 2"):
        runner.fit(progress=steps.append, cancel=cancel_in_second_epoch)
    assert (tmp_path / "cancelled" / "units" / "resnet-fold0.checkpoint.pt").exists()
    assert not (tmp_path / "cancelled" / "metrics.json").exists()
    resumed = ClassifyRunner(config, tmp_path / "cancelled", data=toy_data).fit()
    np.testing.assert_allclose(resumed.predictions["score_resnet"], reference.predictions["score_resnet"], atol=1e-5)
    assert not (tmp_path / "cancelled" / "units" / "resnet-fold0.checkpoint.pt").exists()


def test_a_run_directory_is_never_reused_for_other_settings(finished, toy_data):
    result, _ = finished
    before = (result.run_dir / "metrics.json").read_text()
    with pytest.raises(ConfigError, match="other settings.*epochs"):
        ClassifyRunner(small_config(models=list(MODELS), epochs=9), result.run_dir, data=toy_data).fit()
    assert (result.run_dir / "metrics.json").read_text() == before
    assert json.loads((result.run_dir / "config.json").read_text())["epochs"] == 6


def test_one_class_only_is_refused(toy_data):
    one = toy_data.subset(np.flatnonzero(toy_data.labels == 0))
    with pytest.raises(ConfigError, match="both classes.*label 0"):
        one.validate()


def test_nan_features_and_wrong_images_are_refused(toy_data):
    low = toy_data.low.copy()
    low[7, 3] = np.nan
    with pytest.raises(SchemaError, match="low-level features.*ecal_E_3.*event\\(s\\) \\[7\\]"):
        ClassifyData(toy_data.images, low, toy_data.high, toy_data.labels, toy_data.index).validate()
    with pytest.raises(SchemaError, match=rf"images must have shape \(N={N}, 3"):
        ClassifyData(toy_data.images[:, :2], toy_data.low, toy_data.high, toy_data.labels, toy_data.index).validate()
    images = toy_data.images.copy()
    images[4, 0, 1, 1] = np.inf
    with pytest.raises(SchemaError, match=r"NaN/infinite pixels in event\(s\) \[4\]"):
        ClassifyData(images, toy_data.low, toy_data.high, toy_data.labels, toy_data.index).validate()


def test_events_without_labels_or_too_few_are_refused(tmp_path):
    events = load_sample("toy_bh_sph", 30, seed=1, show_progress=False)
    with pytest.raises(SchemaError, match="per-event 'label'"):
        prepare(events[["particles"]])
    with pytest.raises(ConfigError, match=f"30 events given, n_events = {N}"):
        ClassifyRunner(small_config(), tmp_path, events=events).fit()
    with pytest.raises(ConfigError, match="at least one model"):
        ClassifyRunner(small_config(models=[]), tmp_path / "b", events=events).fit()


@pytest.mark.slow
def test_xgboost_separates_real_black_holes_from_sphalerons(tmp_path):
    """Pythia bh_sph: black holes (many soft quanta) vs sphalerons are separable from features."""
    config = ClassifyConfig(sample="bh_sph", n_events=300, n_folds=3, models=["xgb_low", "xgb_high"],
                            xgb_n_estimators=200, threads=1)
    result = ClassifyRunner(config, tmp_path).fit()
    table = {row["model"]: row for row in result.accuracy_table()}
    assert table["xgb_high"]["auc_mean"] > 0.85 and table["xgb_low"]["auc_mean"] > 0.8
    assert result.metrics["class_counts"] == [150, 150]
