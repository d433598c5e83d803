"""jetviz.plots.colorize: pure plot functions (numpy in, HoloViews / pandas out), rendered with bokeh."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from jetviz.data.resonances import ttbar_six_jet_masses
from jetviz.plots import colorize as pc
from jetviz.plots.events import ETA_LABEL, JET_PALETTE, NO_JET_COLOR, PHI_LABEL


def _render(obj):
    return hv.render(obj, backend="bokeh")


@pytest.fixture()
def event():
    """Six jets of 5 particles each (truth 0..5) plus two particles in no jet."""
    rng = np.random.default_rng(0)
    truth = np.r_[np.repeat(np.arange(6), 5), -1, -1]
    energy = rng.uniform(1, 20, len(truth))
    eta = rng.uniform(-2, 2, len(truth))
    phi = rng.uniform(-np.pi, np.pi, len(truth))
    return eta, phi, energy, truth


# ------------------------------------------------------------------------------ colour matching
def test_match_colours_undoes_a_permutation(event):
    _, _, energy, truth = event
    perm = np.array([3, 0, 5, 1, 4, 2])  # network colour perm[j] = truth jet j
    predicted = np.where(truth >= 0, perm[np.clip(truth, 0, None)], -1)
    mapping = pc.match_colours(predicted, truth, energy, 6)
    np.testing.assert_array_equal(pc.apply_colours(predicted, mapping), truth)  # −1 stays −1
    # soft version: probabilities peaked on the permuted colour give the same mapping
    probs = np.full((len(truth), 6), 0.02)
    probs[np.arange(len(truth)), np.clip(predicted, 0, None)] = 0.9
    np.testing.assert_array_equal(pc.match_colours(probs, truth, energy), mapping)
    assert sorted(mapping.tolist()) == list(range(6))


def test_match_colours_follows_energy_not_counts():
    # colour 0 holds many soft particles of jet 1 but the hard particle of jet 0
    truth = np.array([0, 1, 1, 1, 1])
    energy = np.array([100.0, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1])
    mapping = pc.match_colours(predicted, truth, energy, 2)
    np.testing.assert_array_equal(mapping, [0, 1])
    with pytest.raises(ValueError, match="energies"):
        pc.match_colours(predicted, truth, energy[:3], 2)


# ------------------------------------------------------------------------------ event displays
def test_energy_map_image_axes_and_values():
    image = np.zeros((8, 6))
    image[2, 5] = 40.0
    img = pc.energy_map_image(image, (-3.0, 3.0))
    assert isinstance(img, hv.Image)
    assert [d.pprint_label for d in img.kdims] == [ETA_LABEL, PHI_LABEL]
    assert img.vdims[0].pprint_label == "energy [GeV]"
    # pixel (i_eta=2, i_phi=5) sits at its (η, φ) centre
    eta_c, phi_c = -3.0 + 2.5 * 6.0 / 8, -np.pi + 5.5 * 2 * np.pi / 6
    assert img[eta_c, phi_c] == 40.0 and img[eta_c, phi_c - 1.0] == 0.0
    _render(img)


def test_colour_scatter_same_palette_for_predicted_and_truth(event):
    eta, phi, energy, truth = event
    predicted = truth.copy()
    predicted[:3] = 4
    prob = np.linspace(0.1, 1.0, len(truth))
    pred = pc.colour_scatter(eta, phi, energy, predicted, probability=prob, what="predicted jet", legend=False)
    true = pc.colour_scatter(eta, phi, energy, truth, what="truth jet")
    for points in (pred, true):
        assert isinstance(points, hv.Points) and len(points) == len(truth)
        assert [d.pprint_label for d in points.kdims] == [ETA_LABEL, PHI_LABEL]
        cmap = hv.Store.lookup_options("bokeh", points, "style").kwargs["cmap"]
        assert cmap["jet 4"] == JET_PALETTE[4] and cmap["no jet"] == NO_JET_COLOR
        _render(points)
    frame = pred.dframe()
    assert set(frame["colour_name"]) == {f"jet {k}" for k in range(6)} | {"no jet"}
    # opacity follows the colour's probability
    assert frame["alpha"].min() == pytest.approx(0.25 + 0.75 * 0.1) and frame["alpha"].max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="colour has"):
        pc.colour_scatter(eta, phi, energy, truth[:-1])


def test_probability_maps_follow_the_mapping():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(6), size=(10, 12)).transpose(2, 0, 1)  # (K, n_eta, n_phi)
    mapping = np.array([2, 0, 1, 5, 3, 4])
    layout = pc.probability_maps(probs, (-3, 3), mapping=mapping)
    assert isinstance(layout, hv.Layout) and len(layout) == 6
    panels = list(layout)
    assert [p.label for p in panels] == [f"jet {j}" for j in range(6)]
    # panel "jet 0" shows network colour 1 (mapping[1] == 0)
    shown = panels[0].dimension_values("probability", flat=False)
    np.testing.assert_allclose(np.sort(shown.ravel()), np.sort(probs[1].ravel()))
    assert all(p.kdims[0].pprint_label == ETA_LABEL for p in panels)
    _render(layout)
    with pytest.raises(ValueError, match="distinct"):
        pc.probability_maps(probs, mapping=np.zeros(6, int))


def test_loss_curves_live_and_final():
    empty = pc.loss_curves([])
    assert isinstance(empty, hv.Overlay) and len(empty) == 5  # the same layers at every stage
    _render(empty)
    history = [{"epoch": 1, "train_loss": 9.0, "test_loss_unet": 10.0},
               {"epoch": 2, "train_loss": 8.0, "test_loss_unet": 9.5}]
    overlay = pc.loss_curves(history, steps=[(0.5, 9.5), (1.0, 9.0), (1.5, 8.5)])
    assert len(overlay) == 5 and "U-Net)" in overlay.opts.get().kwargs["title"]
    curves = {el.label: el for el in overlay if isinstance(el, hv.Curve)}
    np.testing.assert_array_equal(curves["train"].dimension_values("loss"), [9.0, 8.0])
    np.testing.assert_array_equal(curves["test"].dimension_values("loss"), [10.0, 9.5])
    np.testing.assert_array_equal(curves[""].dimension_values("epoch"), [0.5, 1.0, 1.5])  # per step, no legend
    _render(overlay)
    crf = pc.loss_curves([{"epoch": 1, "train_loss": 9.0, "test_loss_crf": 9.9}])
    assert "CRF" in crf.opts.get().kwargs["title"]
    test = [el for el in crf if isinstance(el, hv.Curve) and el.label == "test"][0]
    np.testing.assert_array_equal(test.dimension_values("loss"), [9.9])


# ------------------------------------------------------------------------------ tables
METRICS = {
    "n_train": 200, "n_colours": 6, "train_loss_unet": 6.0, "test_loss_unet": 9.0, "test_accuracy_unet": 0.6,
    "train_loss_crf": 6.1, "test_loss_crf": 8.9, "test_accuracy_crf": 0.62,
    "test_m_w_median_truth": 80.0, "test_m_w_sigma68_truth": 8.0, "test_m_top_median_truth": 171.0,
    "test_m_top_sigma68_truth": 15.0, "test_m_w_median_unet": 70.0, "test_m_w_sigma68_unet": 20.0,
    "test_m_top_median_unet": 160.0, "test_m_top_sigma68_unet": 30.0,
}


def test_reproduction_table_has_published_and_our_rows():
    table = pc.reproduction_table(pc.run_rows(METRICS, crf=False))
    assert isinstance(table, pd.DataFrame)
    published = table[table["source"] == "published (ZHH)"]
    assert published[["training events", "CRF", "loss train", "loss test"]].values.tolist() == [
        [140, "no", 0.185, 1.78], [11500, "no", 0.502, 0.646], [900, "yes", 0.308, 1.25], [11500, "yes", 0.485, 0.642]]
    ours = table[table["source"] == "this run"]
    assert ours["CRF"].tolist() == ["no", "post"] and ours["training events"].tolist() == [200, 200]
    assert ours["loss test per jet"].tolist() == pytest.approx([9.0 / 6, 8.9 / 6])
    assert published["loss test per jet"].isna().all()
    trained_crf = pc.reproduction_table(pc.run_rows(METRICS, 900, crf=True, name="crf run"))
    last = trained_crf.iloc[-1]
    assert last[["source", "training events", "CRF", "loss test"]].tolist() == ["crf run", 900, "yes", 8.9]
    assert len(pc.reproduction_table()) == 4


def test_metrics_table_rows():
    table = pc.metrics_table(METRICS)
    assert table["assignment"].tolist() == ["Durham truth", "U-Net", "U-Net + CRF"]
    row = table.set_index("assignment").loc["U-Net"]
    assert row["accuracy"] == 0.6 and row["m_W median"] == 70.0 and row["m_top σ68"] == 30.0
    assert np.isnan(table.set_index("assignment").loc["U-Net + CRF", "m_W median"])
    assert pc.metrics_table({}).empty


# ------------------------------------------------------------------------------ masses
def test_six_jet_masses_and_histograms():
    rng = np.random.default_rng(2)
    n, per_jet = 5, 3
    p4 = rng.normal(0, 20, (n, 6 * per_jet, 4))
    p4[..., 3] = np.linalg.norm(p4[..., :3], axis=-1) + 1.0
    colours = np.tile(np.repeat(np.arange(6), per_jet), (n, 1))
    jets = p4.reshape(n, 6, per_jet, 4).sum(2)
    m_w, m_top = pc.six_jet_masses(p4, colours)
    expect_w, expect_top = ttbar_six_jet_masses(jets)
    np.testing.assert_allclose(m_w, expect_w.ravel())
    np.testing.assert_allclose(m_top, expect_top.ravel())
    layout = pc.mass_histograms({"Durham truth": (m_w, m_top), "U-Net": (m_w * 0.9, m_top * 0.9)},
                                w_range=(0, 1e4), top_range=(0, 1e4))
    assert isinstance(layout, hv.Layout) and len(layout) == 2
    w_hist = [el for el in list(layout)[0] if isinstance(el, hv.Curve)]
    assert [h.label for h in w_hist] == ["Durham truth", "U-Net"]
    assert w_hist[0].dimension_values("entries").sum() == 2 * n
    _render(layout)


def test_metrics_table_of_a_parton_truth_run_has_the_clustering_baselines_and_purity_columns():
    metrics = {**METRICS, "test_all_pure_unet": 0.25, "test_merged_rate_unet": 0.1, "test_split_rate_unet": 0.05,
               "test_accuracy_durham": 0.8, "test_all_pure_durham": 0.4, "test_m_w_sigma68_durham": 11.0,
               "test_accuracy_antikt": 0.7}
    table = pc.metrics_table(metrics, truth="parton").set_index("assignment")
    assert table.index.tolist() == ["history truth (partons)", "U-Net", "U-Net + CRF", "anti-kt (R = 0.7)",
                                    "Durham exclusive-6"]
    assert table.loc["U-Net", "all pure"] == 0.25 and table.loc["U-Net", "merged"] == 0.1
    assert table.loc["history truth (partons)", "all pure"] == 1.0
    assert table.loc["Durham exclusive-6", "accuracy"] == 0.8 and table.loc["Durham exclusive-6", "m_W σ68"] == 11.0
    assert np.isnan(table.loc["U-Net + CRF", "all pure"])  # an older run's metrics: missing, not invented
