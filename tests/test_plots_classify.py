"""jetviz.plots.classify: pure plot functions (numpy in, HoloViews / pandas out), rendered with bokeh."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from jetviz.models.features import HIGH_LEVEL_COLUMNS, LOW_LEVEL_COLUMNS
from jetviz.plots import classify as pc
from jetviz.plots.events import ETA_LABEL, PHI_LABEL

NAMES = ("sphaleron", "black hole")


def _render(obj):
    return hv.render(obj, backend="bokeh")


@pytest.fixture()
def images():
    """Six (3, 10, 12) events, labels 0 0 0 1 1 1; event i has value i + 1 in pixel (2, 3) of channel i % 3."""
    images = np.zeros((6, 3, 10, 12), dtype=np.float32)
    for i in range(6):
        images[i, i % 3, 2, 3] = i + 1.0
    return images, np.array([0, 0, 0, 1, 1, 1])


# ------------------------------------------------------------------------------ images
def test_example_images_one_row_per_class(images):
    imgs, labels = images
    layout = pc.example_images(imgs, labels, NAMES, indices=[1, 4], eta_range=(-2.5, 2.5))
    assert isinstance(layout, hv.Layout) and len(layout) == 6
    panels = list(layout)
    titles = [p.opts.get().kwargs["title"] for p in panels]
    assert titles[:3] == [f"sphaleron · {c} (event 1)" for c in ("ECal", "HCal", "tracks")]
    assert titles[3] == "black hole · ECal (event 4)"
    assert all([d.pprint_label for d in p.kdims] == [ETA_LABEL, PHI_LABEL] for p in panels)
    assert panels[0].vdims[0].pprint_label == "ECal E [GeV]" and panels[2].vdims[0].pprint_label == "track pT [GeV]"
    # event 1 has 2 GeV in HCal pixel (2, 3) (η centre −2.5 + 2.5·0.5, φ centre −π + 3.5·2π/12)
    eta_c, phi_c = -2.5 + 2.5 * 5.0 / 10, -np.pi + 3.5 * 2 * np.pi / 12
    assert panels[1][eta_c, phi_c] == 2.0 and panels[0].dimension_values("value").max() == 0.0
    _render(layout)


def test_example_images_class_means_and_defaults(images):
    imgs, labels = images
    mean = pc.example_images(imgs, labels, NAMES, mean=True)
    panels = list(mean)
    assert "mean of 3" in panels[0].opts.get().kwargs["title"]
    np.testing.assert_allclose(panels[3].dimension_values("value", flat=False).T, imgs[labels == 1, 0].mean(0))
    first = pc.example_images(imgs, labels, NAMES)  # the first event of each class
    assert "(event 3)" in list(first)[3].opts.get().kwargs["title"]
    only_one = pc.example_images(imgs[:3], labels[:3], NAMES)  # a class without events is left out
    assert len(only_one) == 3
    _render(mean)


def test_example_images_bad_input(images):
    imgs, labels = images
    with pytest.raises(ValueError, match="shape"):
        pc.example_images(imgs[:, :2], labels, NAMES)
    with pytest.raises(ValueError, match="labels"):
        pc.example_images(imgs, labels[:4], NAMES)
    with pytest.raises(ValueError, match="not an event of class 1"):
        pc.example_images(imgs, labels, NAMES, indices=[0, 1])
    with pytest.raises(ValueError, match="no event"):
        pc.example_images(imgs, labels + 5, NAMES)


def test_event_images_mark_the_low_level_hits(images):
    imgs, _ = images
    low = np.zeros(len(LOW_LEVEL_COLUMNS))
    values = dict.fromkeys(LOW_LEVEL_COLUMNS, 0.0)
    values.update({"ecal_E_0": 50.0, "ecal_eta_0": 0.3, "ecal_phi_0": 1.0, "ecal_E_1": 20.0, "ecal_eta_1": -1.0,
                   "tracks_pt_0": 5.0, "tracks_phi_0": -2.0})
    low[:] = [values[c] for c in LOW_LEVEL_COLUMNS]
    layout = pc.event_images(imgs[0], low=low, title="event 0")
    ecal, hcal, tracks = list(layout)
    points = ecal.get(1)
    assert isinstance(points, hv.Points) and points.dimension_values("value").tolist() == [50.0, 20.0]
    assert points.dimension_values("rank").tolist() == [0, 1]
    assert len(hcal.get(1)) == 0  # no HCal hit: nothing ringed
    assert tracks.get(1).dimension_values(1).tolist() == [-2.0]
    assert ecal.opts.get().kwargs["title"] == "event 0 · ECal"
    _render(layout)
    plain = pc.event_images(imgs[0])
    assert all(isinstance(p, hv.Image) for p in plain)
    with pytest.raises(ValueError, match="columns"):
        pc.event_images(imgs[0], low=low[:10])
    with pytest.raises(ValueError, match="shape"):
        pc.event_images(imgs[0, 0])


# ------------------------------------------------------------------------------ training
HISTORY = [
    {"model": "resnet", "fold": 0, "epoch": 1, "train_loss": 0.7, "val_loss": 0.69, "val_accuracy": 0.5},
    {"model": "resnet", "fold": 0, "epoch": 2, "train_loss": 0.6, "val_loss": 0.6, "val_accuracy": 0.7},
    {"model": "resnet", "fold": 1, "epoch": 1, "train_loss": 0.7, "val_loss": 0.68, "val_accuracy": 0.55},
    {"model": "xgb_low", "fold": 0, "epoch": 1, "train_loss": 0.6, "val_loss": 0.65},
    {"model": "xgb_low", "fold": 0, "epoch": 2, "train_loss": 0.5, "val_loss": 0.62},
]


def test_training_curves_one_line_per_model_and_fold():
    overlay = pc.training_curves(HISTORY, "val_accuracy")
    curves = [el for el in overlay if isinstance(el, hv.Curve)]
    assert [c.label for c in curves] == ["ResNet18 · fold 1", "ResNet18 · fold 2"]  # XGBoost has no accuracy
    np.testing.assert_array_equal(curves[0].dimension_values("val_accuracy"), [0.5, 0.7])
    assert curves[0].vdims[0].pprint_label == "validation accuracy"
    dashes = [hv.Store.lookup_options("bokeh", c, "style").kwargs["line_dash"] for c in curves]
    assert dashes == ["solid", "dashed"]  # folds told apart by the dash
    _render(overlay)
    xgb = pc.training_curves(HISTORY, "val_loss", models=["xgb_low"], n_folds=3, xlabel="boosting round")
    assert len(xgb) == 6  # line + markers per fold, empty for the folds not trained yet
    assert xgb.get(0).kdims[0].pprint_label == "boosting round"
    assert [len(el) for el in xgb] == [2, 2, 0, 0, 0, 0]
    _render(xgb)


def test_training_curves_empty_and_bad_input():
    empty = pc.training_curves([], "val_accuracy")
    assert isinstance(empty, hv.Overlay)
    _render(empty)
    fixed = pc.training_curves([], "val_accuracy", models=["resnet", "resnet_no_augment"], n_folds=2)
    assert len(fixed) == 8 and all(len(el) == 0 for el in fixed)
    with pytest.raises(ValueError, match="n_folds"):
        pc.training_curves(HISTORY, n_folds=0)


# ------------------------------------------------------------------------------ accuracy
ROWS = [
    {"model": "resnet", "input": "low level: image", "accuracy_mean": 0.6, "accuracy_std": 0.05, "auc_mean": 0.65,
     "auc_std": 0.04, "n_folds": 3, "n_events": 400},
    {"model": "resnet_no_augment", "input": "low level: image, no augmentation (ablation)", "accuracy_mean": 0.58,
     "accuracy_std": 0.02, "auc_mean": 0.6, "auc_std": 0.01, "n_folds": 3, "n_events": 400},
    {"model": "xgb_high", "input": "high level: 39 features", "accuracy_mean": 0.93, "accuracy_std": 0.0312,
     "auc_mean": 0.97, "auc_std": 0.01, "n_folds": 3, "n_events": 400},
]


def test_accuracy_table_ours_next_to_the_talk():
    table = pc.accuracy_table(ROWS)
    assert isinstance(table, pd.DataFrame)
    assert table["model"].tolist() == ["ResNet18", "ResNet18, no augmentation", "XGBoost high level",
                                       "XGBoost low level"]
    row = table.set_index("model").loc["XGBoost high level"]
    assert row["accuracy (this run)"] == "0.930 ± 0.031" and row["accuracy (talk)"] == "0.914 ± 0.002"
    assert row["AUC (this run)"] == "0.970 ± 0.010" and row["folds"] == "3"
    assert table.set_index("model").loc["ResNet18, no augmentation", "accuracy (talk)"] == "–"
    missing = table.set_index("model").loc["XGBoost low level"]  # the talk's row, not trained here
    assert missing["accuracy (this run)"] == "–" and missing["accuracy (talk)"] == "0.861 ± 0.001"
    before = pc.accuracy_table()
    assert before["accuracy (talk)"].tolist() == ["0.907 ± 0.007", "0.861 ± 0.001", "0.914 ± 0.002"]
    with pytest.raises(ValueError, match="accuracy_std"):
        pc.accuracy_table([{"model": "resnet", "input": "", "accuracy_mean": 0.5}])


def test_accuracy_bars_with_error_bars():
    overlay = pc.accuracy_bars(ROWS)
    rects = [el for el in overlay if isinstance(el, hv.Rectangles)]
    errors = [el for el in overlay if isinstance(el, hv.ErrorBars)]
    assert [r.label for r in rects] == ["this run", "talk"] and len(errors) == 2
    assert rects[0].dimension_values("y1").tolist() == [0.6, 0.58, 0.93]
    assert rects[1].dimension_values("y1").tolist() == [0.907, 0.914, 0.861]  # models with a talk number
    assert errors[0].dimension_values("std").tolist() == [0.05, 0.02, 0.0312]
    ticks = overlay.opts.get().kwargs["xticks"]
    assert [t[1] for t in ticks] == ["ResNet18", "ResNet18, no augmentation", "XGBoost high level",
                                     "XGBoost low level"]
    fig = _render(overlay)
    assert fig.yaxis[0].axis_label == "accuracy"
    _render(pc.accuracy_bars())  # before any run: the talk alone


# ------------------------------------------------------------------------------ ROC, confusion
def test_roc_curves_overlaid_with_auc_in_the_legend():
    fpr = np.array([0.0, 0.2, 1.0])
    tpr = np.array([0.0, 0.7, 1.0])
    overlay = pc.roc_curves({"resnet": (fpr, tpr, 0.75), "xgb_high": (fpr, tpr ** 0.5, 0.9)}, NAMES)
    curves = list(overlay)
    assert [c.label for c in curves] == ["random (AUC 0.5)", "ResNet18 (AUC 0.750)", "XGBoost high level (AUC 0.900)"]
    assert curves[1].kdims[0].pprint_label == "false-positive rate (sphaleron called black hole)"
    assert curves[1].vdims[0].pprint_label == "true-positive rate (black hole called black hole)"
    np.testing.assert_array_equal(curves[1].dimension_values("tpr"), tpr)
    fig = _render(overlay)
    assert "false-positive rate" in fig.xaxis[0].axis_label
    with pytest.raises(ValueError, match="true-positive"):
        pc.roc_curves({"resnet": (fpr, tpr[:2], 0.5)})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pc.roc_curves({"resnet": (fpr * 2, tpr, 0.5)})


def test_confusion_matrices_label_counts_and_fractions():
    matrices = {"resnet": np.array([[30, 10], [5, 55]]), "xgb_low": np.array([[40, 0], [0, 60]])}
    layout = pc.confusion_matrices(matrices, NAMES)
    assert isinstance(layout, hv.Layout) and len(layout) == 2
    heat, labels = list(layout)[0]
    assert isinstance(heat, hv.HeatMap) and isinstance(labels, hv.Labels)
    frame = heat.dframe().set_index(["true", "predicted"])
    assert frame.loc[("sphaleron", "black hole"), "fraction"] == pytest.approx(0.25)
    assert frame.loc[("black hole", "black hole"), "count"] == 55
    assert "10\n(0.25)" in labels.dimension_values("text").tolist()
    assert list(layout)[1].opts.get().kwargs["title"] == "XGBoost low level"
    _render(layout)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        pc.confusion_matrices({"resnet": np.ones((3, 3))}, NAMES)
    with pytest.raises(ValueError, match="≥ 0"):
        pc.confusion_matrices({"resnet": -np.ones((2, 2))}, NAMES)
    with pytest.raises(ValueError, match="no model"):
        pc.confusion_matrices({}, NAMES)


# ------------------------------------------------------------------------------ features
def test_feature_importances_top_n_largest_on_top():
    importance = {f"f{i}": float(i) for i in range(30)}
    bars = pc.feature_importances(importance, top_n=5)
    assert isinstance(bars, hv.Bars)
    assert bars.dimension_values("feature").tolist() == ["f25", "f26", "f27", "f28", "f29"]
    fig = _render(bars)
    assert list(fig.y_range.factors)[-1] == "f29"  # the largest drawn on top
    assert len(pc.feature_importances({"a": 0.7, "b": 0.3}, top_n=10)) == 2
    with pytest.raises(ValueError, match="top_n"):
        pc.feature_importances(importance, top_n=0)
    with pytest.raises(ValueError, match="≥ 0"):
        pc.feature_importances({"a": -1.0})
    with pytest.raises(ValueError, match="no features"):
        pc.feature_importances({})


def test_event_features_tables_for_both_feature_sets():
    low = np.arange(len(LOW_LEVEL_COLUMNS), dtype=float)
    table = pc.event_features(low, LOW_LEVEL_COLUMNS)
    assert table.columns.tolist() == ["object", "E [GeV]", "pT [GeV]", "η", "φ [rad]"]
    assert len(table) == 15 and table["object"].tolist()[:2] == ["ECal hit 0", "ECal hit 1"]
    first = table.set_index("object").loc["ECal hit 0"]
    assert (first["E [GeV]"], first["η"], first["φ [rad]"]) == (0.0, 5.0, 10.0)  # ecal_E_0, ecal_eta_0, ecal_phi_0
    assert table.set_index("object").loc["track 4", "pT [GeV]"] == LOW_LEVEL_COLUMNS.index("tracks_pt_4")
    assert table[["E [GeV]", "pT [GeV]"]].notna().sum().tolist() == [10, 5]

    high = np.arange(len(HIGH_LEVEL_COLUMNS), dtype=float)
    table = pc.event_features(high, HIGH_LEVEL_COLUMNS)
    assert table["object"].tolist() == [f"jet {k}" for k in range(8)] + ["lepton 0", "lepton 1", "MET"]
    assert table.set_index("object").loc["MET", "pT [GeV]"] == 38.0
    assert table.set_index("object").loc["jet 7", "m [GeV]"] == HIGH_LEVEL_COLUMNS.index("jet_m_7")
    assert np.isnan(table.set_index("object").loc["lepton 0", "m [GeV]"])
    # every value lands somewhere exactly once
    assert np.nansum(table.drop(columns="object").to_numpy()) == high.sum()
    other = pc.event_features(np.array([1.5]), ["ht"])
    assert other.columns.tolist() == ["object", "value"] and other.iloc[0].tolist() == ["ht", 1.5]
    with pytest.raises(ValueError, match="columns"):
        pc.event_features(high[:5], HIGH_LEVEL_COLUMNS)
    with pytest.raises(ValueError, match="one event"):
        pc.event_features(np.zeros((2, 39)), HIGH_LEVEL_COLUMNS)


def test_event_scores():
    table = pc.event_scores({"resnet": 0.8, "xgb_low": 0.3}, 0, NAMES)
    assert table.columns.tolist() == ["model", "P(black hole)", "predicted", "correct"]
    assert table.values.tolist() == [["ResNet18", 0.8, "black hole", "no"],
                                     ["XGBoost low level", 0.3, "sphaleron", "yes"]]
    with pytest.raises(ValueError, match="probability"):
        pc.event_scores({"resnet": 1.5}, 0, NAMES)
    with pytest.raises(ValueError, match="label"):
        pc.event_scores({"resnet": 0.5}, 2, NAMES)
