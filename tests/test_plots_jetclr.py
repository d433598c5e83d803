"""jetviz.plots.jetclr: pure functions from arrays to HoloViews elements / tables (no Panel, no torch)."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from jetviz.plots import jetclr as plots

#: the seed's table as jetviz.runners.jetclr.TALK holds it (the plots take it as an argument)
TALK = {"none": (15, 0.905), "translations": (19, 0.916), "rotations": (21, 0.930), "soft+collinear": (89, 0.970),
        "all": (181, 0.980)}
RNG = np.random.default_rng(0)


def _jet(n_real=5, n_pad=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n_real + n_pad, 3))
    x[:n_real, 0] = np.sort(rng.exponential(50, n_real))[::-1]
    x[:n_real, 1:] = rng.normal(0, 0.2, (n_real, 2))
    return x, np.arange(n_real + n_pad) < n_real


def test_constituents_draws_real_constituents_with_area_proportional_to_pt():
    x, mask = _jet()
    el = plots.constituents(x, mask, title="jet 3")
    assert isinstance(el, hv.Points) and len(el) == 5
    assert [d.label for d in el.kdims] == ["Δη [rad]", "Δφ [rad]"] and el.vdims[0].label == "pT [GeV]"
    size, pt = el.dimension_values("size"), el.dimension_values("pt")
    big = size > 2  # area ∝ pT above the 2 px floor
    np.testing.assert_allclose((size[big] / size[0]) ** 2, pt[big] / pt[0], rtol=1e-9)
    reach = plots.jet_reach((x, mask))
    assert reach >= np.abs(x[mask, 1:]).max()
    with pytest.raises(ValueError, match=r"\(P, 3\)"):
        plots.constituents(x[:, :2], mask)
    with pytest.raises(ValueError, match="mask"):
        plots.constituents(x, mask[:-1])
    with pytest.raises(ValueError, match="no real constituent"):
        plots.constituents(x, np.zeros_like(mask))
    bad = x.copy()
    bad[0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        plots.constituents(bad, mask)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        plots.constituents(bad, mask)


def test_augmentation_pair_shares_the_axis_ranges():
    x, mask = _jet()
    x_aug, mask_aug = _jet(7, 1, seed=1)
    x_aug[:, 1:] *= 3
    layout = plots.augmentation_pair(x, mask, x_aug, mask_aug, titles=("a", "b"))
    left, right = layout
    assert len(left) == 5 and len(right) == 7
    assert left.kdims[0].range == right.kdims[0].range == left.kdims[1].range
    assert left.kdims[0].range[1] >= np.abs(x_aug[mask_aug, 1:]).max()
    with pytest.raises(ValueError, match="two titles"):
        plots.augmentation_pair(x, mask, x_aug, mask_aug, titles=("a",))
    grid = plots.constituent_grid([x, x_aug], [mask, mask_aug], ["a", "b"])
    assert len(grid) == 2
    with pytest.raises(ValueError):
        plots.constituent_grid([x], [mask], ["a", "b"])


def test_invariance_plot_in_degrees_with_marker():
    angles = np.linspace(0, 2 * np.pi, 5)
    overlay = plots.invariance_plot(angles, np.ones(5), 0.9 * np.ones(5), angle=np.pi / 2,
                                    values={"trained": 0.99, "untrained": 0.8})
    curve = overlay.get(0)
    assert list(curve.dimension_values(0)) == [0, 90, 180, 270, 360]
    assert "deg" in curve.kdims[0].label and "s(" in curve.vdims[0].label
    assert any(isinstance(el, hv.VLine) and el.data == 90 for el in overlay)
    markers = [el for el in overlay if isinstance(el, hv.Scatter) and el.label.startswith("this jet")]
    assert [float(m.dimension_values(1)[0]) for m in markers] == [0.99, 0.8]
    assert len(plots.invariance_plot(angles, np.ones(5))) == 2  # trained only, no marker
    with pytest.raises(ValueError, match="angles"):
        plots.invariance_plot(angles, np.ones(4))
    with pytest.raises(ValueError, match="≥ 2"):
        plots.invariance_plot([0.0], [1.0])


def test_ablation_table_rows_and_columns():
    empty = plots.ablation_table(None, TALK)
    assert list(empty.columns) == ["augmentations", "talk 1/ε_b", "talk AUC", "ours 1/ε_b", "ours AUC"]
    assert list(empty["augmentations"]) == ["none", "translations", "rotations", "soft+collinear", "all"]
    assert list(empty["talk 1/ε_b"]) == ["15", "19", "21", "89", "181"]
    assert list(empty["talk AUC"]) == ["0.905", "0.916", "0.930", "0.970", "0.980"]
    assert set(empty["ours AUC"]) == {"—"}
    table = plots.ablation_table({"all": {"rejection": 23.4, "auc": 0.9123}, "none": {"rejection": float("inf"),
                                                                                     "auc": 0.8},
                                  "custom": {"rejection": 5, "auc": 0.7}}, TALK)
    assert len(table) == 6 and table.iloc[-1]["augmentations"] == "custom"
    assert table.iloc[4]["ours 1/ε_b"] == "23" and table.iloc[4]["ours AUC"] == "0.912"
    assert table.iloc[0]["ours 1/ε_b"] == "∞"
    with pytest.raises(ValueError, match="rejection"):
        plots.ablation_table({"all": {"auc": 0.9}}, TALK)
    bars = plots.ablation_bars({"all": {"rejection": 23.4, "auc": 0.9}}, TALK)
    assert isinstance(bars, hv.Bars) and len(bars) == 6  # five talk bars, one of ours
    assert set(bars.dimension_values("source")) == {"talk", "ours"}


def test_rejection_curves_log_y_and_bad_rates():
    fpr = np.linspace(0, 1, 11)
    tpr = np.sqrt(fpr)
    overlay = plots.rejection_curves({"trained encoder": (fpr, tpr, 0.8), "untrained encoder": (fpr, fpr, 0.5)})
    labels = [el.label for el in overlay if isinstance(el, hv.Curve)]
    assert labels == ["random", "trained encoder (AUC 0.800)", "untrained encoder (AUC 0.500)"]
    curve = overlay.get(1)
    assert len(curve) == 10  # the ε_b = 0 point is left out
    np.testing.assert_allclose(curve.dimension_values("rejection"), 1 / fpr[1:])
    assert "ε_s" in curve.kdims[0].label and "1/ε_b" in curve.vdims[0].label
    assert overlay.opts.get().kwargs["logy"] is True
    with pytest.raises(ValueError):
        plots.rejection_curves({"x": (fpr, tpr[:-1], 0.5)})
    with pytest.raises(ValueError):
        plots.rejection_curves({"x": (fpr * 2, tpr, 0.5)})


def test_representation_points_and_loss_curve():
    rep = RNG.normal(size=(30, 6)) * np.array([5, 2, 1, 0.1, 0.1, 0.1])
    labels = np.r_[np.zeros(15, int), np.ones(15, int)]
    el = plots.representation_points(rep, labels, np.arange(100, 130))
    assert isinstance(el, hv.Points) and el.kdims[0].label.startswith("representation PC 1")
    assert set(el.dimension_values("class")) == {"QCD", "top"}
    assert list(el.dimension_values("jet")[:2]) == [100, 101]
    assert {"box_select", "lasso_select"} <= set(el.opts.get().kwargs["tools"])
    with pytest.raises(ValueError):
        plots.representation_points(rep, labels[:-1], np.arange(30))
    with pytest.raises(ValueError):
        plots.representation_points(rep[:1], labels[:1], np.arange(1))
    loss = plots.loss_curve([{"epoch": 1, "train_loss": 4.0}, {"epoch": 2, "train_loss": 3.5}])
    assert len(loss) == 2 and loss.get(0).vdims[0].label.startswith("NT-Xent")
    assert len(plots.loss_curve([])) == 1


def test_plots_render_with_bokeh():
    hv.extension("bokeh")
    x, mask = _jet()
    for el in (plots.augmentation_pair(x, mask, x, mask), plots.invariance_plot([0, 1], [1, 1], angle=0.5),
               plots.ablation_bars(None, TALK), plots.rejection_curves({"a": ([0, 0.5, 1], [0, 0.8, 1], 0.7)})):
        assert hv.render(el) is not None
