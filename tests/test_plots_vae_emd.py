"""jetviz.plots.vae_emd: pure functions from arrays to HoloViews elements / tables (no Panel, no torch)."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from jetviz.plots import vae_emd as plots

RNG = np.random.default_rng(0)


def _image(n=8, seed=0):
    img = np.random.default_rng(seed).random((n, n)) * (np.random.default_rng(seed + 1).random((n, n)) > 0.7)
    return img / img.sum()


def test_correlation_table_with_and_without_a_run():
    empty = plots.correlation_table()
    assert list(empty.columns) == ["distance", "talk r (p=0.5)", "this run r (p=0.5)", "talk r (p=1)", "this run r (p=1)"]
    assert list(empty["talk r (p=0.5)"]) == ["0.55", "0.68", "0.76", "0.79"]
    assert list(empty["talk r (p=1)"]) == ["0.44", "—", "—", "0.70"]
    assert set(empty["this run r (p=0.5)"]) == {"—"}
    ours = {"input": {"p0.5": 0.5, "p1": 0.4}, "block1": {"p0.5": 0.6, "p1": float("nan")},
            "latent": {"p0.5": 0.81234, "p1": 0.7}}
    table = plots.correlation_table(ours)
    assert len(table) == 5 and table.iloc[-1]["distance"] == "latent means μ"
    assert table.iloc[0]["this run r (p=0.5)"] == "0.50" and table.iloc[1]["this run r (p=1)"] == "—"
    assert table.iloc[-1]["this run r (p=0.5)"] == "0.81"
    with pytest.raises(ValueError, match="p0.5"):
        plots.correlation_table({"input": {"p1": 0.3}})


def test_distance_density_counts_pairs_and_titles_r():
    w = RNG.random(200)
    d = 2 * w + 0.1 * RNG.random(200)
    img = plots.distance_density(w, d, p=1, bins=10, ylabel="latent distance |μ − μ′|")
    assert isinstance(img, hv.Image)
    assert np.nansum(img.dimension_values(2)) == 200
    assert img.kdims[0].label.startswith("W_1") and img.kdims[1].label == "latent distance |μ − μ′|"
    r = np.corrcoef(w, d)[0, 1]
    assert f"r = {r:.2f}" in img.opts.get().kwargs["title"]
    assert "r = 0.12" in plots.distance_density(w, d, r=0.123).opts.get().kwargs["title"]
    with pytest.raises(ValueError):
        plots.distance_density(w, d[:-1])
    with pytest.raises(ValueError):
        plots.distance_density([1.0, np.nan], [1.0, 2.0])


def test_anomaly_rocs_legend_and_bad_rates():
    fpr, tpr = np.linspace(0, 1, 5), np.linspace(0, 1, 5) ** 0.5
    overlay = plots.anomaly_rocs({"vae_loss": (fpr, tpr, 0.7), "emd_medoids": (fpr, tpr, 0.8)})
    labels = [el.label for el in overlay]
    assert labels == ["random (AUC 0.5)", "VAE loss (AUC 0.700)", "min W₁ to the k-medoids (AUC 0.800)"]
    assert "QCD" in overlay.get(1).kdims[0].label and "top" in overlay.get(1).vdims[0].label
    with pytest.raises(ValueError):
        plots.anomaly_rocs({"vae_loss": (fpr, tpr[:-1], 0.5)})
    with pytest.raises(ValueError):
        plots.anomaly_rocs({"vae_loss": (fpr * 2, tpr, 0.5)})


def test_jet_image_axes_and_orientation():
    img = np.zeros((4, 4))
    img[3, 0] = 1.0  # largest Δη, smallest Δφ
    el = plots.jet_image(img, 2.0, title="jet")
    assert [d.label for d in el.kdims] == ["Δη [rad]", "Δφ [rad]"]
    assert el[0.75, -0.75] == 1.0 and el[-0.75, 0.75] == 0.0
    layout = plots.jet_images([img, img[None]], ["a", "b"], 2.0)
    assert len(layout) == 2
    with pytest.raises(ValueError):
        plots.jet_image(np.zeros((3, 4)), 2.0)
    with pytest.raises(ValueError):
        plots.jet_image(img, 0.0)
    with pytest.raises(ValueError):
        plots.jet_images([img], ["a", "b"], 2.0)


def test_transport_plan_arrows_follow_the_flow():
    from jetviz.models.emd import emd, from_image, pixel_centres

    a, b = _image(8, 1), _image(8, 5)
    c = pixel_centres(8, -1.0, 1.0)
    distance, flow = emd(from_image(a, c, c), from_image(b, c, c), R=1.0, p=1.0, norm=True, periodic_phi=False,
                         return_flow=True)
    overlay = plots.transport_plan(a, b, flow, 2.0, max_arrows=5)
    points_a, points_b, segments = overlay.get(0), overlay.get(1), overlay.get(2)
    assert isinstance(segments, hv.Segments) and len(segments) <= 5
    assert len(points_a) == np.count_nonzero(a) and len(points_b) == np.count_nonzero(b)
    assert segments.dimension_values("flow").max() == pytest.approx(flow[flow > 0].max(), rel=1e-12) or \
        len(segments) == 5
    assert [d.label for d in points_a.kdims] == ["Δη [rad]", "Δφ [rad]"]
    with pytest.raises(ValueError, match="flow of shape"):
        plots.transport_plan(a, b, flow[:-1], 2.0)
    with pytest.raises(ValueError):
        plots.transport_plan(a, b[:4, :4], flow, 2.0)


def test_pair_points_and_latent_view():
    pts = plots.pair_points([0.1, 0.2], [1.0, 2.0], [3, 4], [5, 6], p=0.5)
    assert list(pts.dimension_values("jet_b")) == [5, 6] and pts.kdims[0].label.startswith("W_0.5")
    with pytest.raises(ValueError):
        plots.pair_points([0.1], [1.0, 2.0], [3], [5])
    latent = RNG.normal(size=(30, 5)) * np.array([5, 2, 1, 0.1, 0.1])
    coords, share = plots.pca_2d(latent)
    assert coords.shape == (30, 2) and share[0] >= share[1] > 0 and share.sum() <= 1
    assert abs(np.corrcoef(coords[:, 0], latent[:, 0])[0, 1]) > 0.9
    one, share1 = plots.pca_2d(latent[:, :1])
    assert np.all(one[:, 1] == 0) and share1[1] == 0
    labels = np.r_[np.zeros(15, int), np.ones(15, int)]
    el = plots.latent_points(coords, labels, np.arange(100, 130), share=share)
    assert set(el.dimension_values("class")) == {"QCD", "top"} and el.kdims[0].label.startswith("latent PC 1")
    with pytest.raises(ValueError):
        plots.pca_2d(np.zeros((1, 3)))
    with pytest.raises(ValueError):
        plots.latent_points(coords, labels[:-1], np.arange(30))


def test_beta_scan_plot_puts_beta_zero_left():
    rows = [{"beta": 1e-6, "auc_vae_loss": 0.6, "auc_emd_mean_qcd": 0.7, "auc_emd_medoids": 0.8, "r_latent_p0.5": 0.5,
             "r_latent_p1": 0.4},
            {"beta": 0.0, "auc_vae_loss": 0.55, "r_latent_p0.5": 0.45},
            {"beta": 1e-4, "auc_vae_loss": 0.65, "r_latent_p0.5": 0.6}]
    layout = plots.beta_scan_plot(rows)
    auc, corr = layout
    curve = auc.get(0)
    assert list(curve.dimension_values(0)) == [1e-7, 1e-6, 1e-4]  # β = 0 a decade left of 1e-6
    assert "β = 0 drawn at 1e-07" in curve.kdims[0].label
    assert auc.opts.get().kwargs["logx"] is True
    assert any(el.label == "latent r, W_0.5" for el in corr)
    with pytest.raises(ValueError):
        plots.beta_scan_plot([])
    with pytest.raises(ValueError):
        plots.beta_scan_plot([{"beta": -1.0}])


def test_training_curve():
    overlay = plots.training_curve([{"epoch": 1, "train_loss": 0.3, "val_loss": 0.4}, {"epoch": 2, "train_loss": 0.2}])
    assert len(overlay) == 4
    assert len(plots.training_curve([])) == 1
