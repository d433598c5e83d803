"""jetviz.plots.events: pure functions arrays → HoloViews elements / tables (no browser, no Panel)."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from jetviz.plots import events as plots


@pytest.fixture
def particles():
    rng = np.random.default_rng(1)
    n = 40
    return dict(
        eta=rng.uniform(-3, 3, n), phi=rng.uniform(-4.0, 4.0, n),  # some φ outside (−π, π]
        pt=rng.exponential(5.0, n), jet=rng.integers(-1, 4, n), E=rng.exponential(10.0, n),
        pid=rng.choice([211, -211, 22], n), charge=rng.choice([-1.0, 0.0, 1.0], n),
    )


def test_particles_scatter_points_colour_and_phi_range(particles):
    p = particles
    original = {k: v.copy() for k, v in p.items()}
    points = plots.particles_scatter(p["eta"], p["phi"], p["pt"], p["jet"], energy=p["E"], pid=p["pid"], title="x")
    assert isinstance(points, hv.Points)
    assert len(points) == len(p["eta"])
    assert [d.name for d in points.kdims] == ["eta", "phi"]
    assert points.kdims[0].label == "η" and points.kdims[1].label == "φ [rad]"
    phi = points.dimension_values("phi")
    assert np.all(phi > -np.pi) and np.all(phi <= np.pi)
    # the same particles (φ wrapped), whatever the drawing order
    assert np.allclose(np.sort(phi), np.sort(np.angle(np.exp(1j * p["phi"]))))
    assert np.isclose(points.dimension_values("pt").sum(), p["pt"].sum())
    # coloured by the categorical truth-jet name; −1 is "no jet" and grey
    opts = points.opts.get().kwargs
    assert opts["color"] == "jet_name"
    names = set(points.dimension_values("jet_name"))
    assert names == {f"jet {k}" if k >= 0 else plots.NO_JET for k in set(p["jet"].tolist())}
    assert opts["cmap"][plots.NO_JET] == plots.NO_JET_COLOR
    assert opts["ylim"] == (-np.pi, np.pi)
    # sizes grow with pT
    pt, size = points.dimension_values("pt"), points.dimension_values("size")
    assert size[np.argmax(pt)] == size.max()
    for k, v in original.items():  # inputs untouched
        np.testing.assert_array_equal(p[k], v)


def test_particles_scatter_legend_order_and_length_check():
    points = plots.particles_scatter([0, 1, 2, 3], [0, 0, 0, 0], [1, 2, 3, 4], [2, -1, 0, 0])
    order = list(dict.fromkeys(points.dimension_values("jet_name")))
    assert order == ["jet 0", "jet 2", "no jet"]
    with pytest.raises(ValueError, match="phi"):
        plots.particles_scatter([0, 1], [0], [1, 2])


def test_detector_image_axes_and_values():
    n_eta, n_phi = 10, 16
    image = np.zeros((n_eta, n_phi), dtype=np.float32)
    image[2, 3] = 5.0
    image[9, 15] = 1.0
    img = plots.detector_image(image, (-2.5, 2.5), "HCal")
    assert isinstance(img, hv.Image)
    assert [d.name for d in img.kdims] == ["eta", "phi"]
    assert img.vdims[0].label == plots.CHANNELS["HCal"]
    # η on x, φ on y: the stored array is image.T (rows = φ), values unchanged
    assert img.dimension_values(2, flat=False).shape == (n_phi, n_eta)
    assert np.isclose(img.dimension_values("value").sum(), 6.0)
    l, b, r, t = img.bounds.lbrt()
    assert np.allclose([l, r, b, t], [-2.5, 2.5, -np.pi, np.pi])
    # the pixel (i_eta=2, i_phi=3) sits at its centre in (η, φ)
    eta_c = -2.5 + 2.5 * 5.0 / n_eta
    phi_c = -np.pi + 3.5 * 2 * np.pi / n_phi
    assert np.isclose(img[eta_c, phi_c], 5.0)
    assert img.opts.get().kwargs["logz"] is True
    # an empty channel does not break the log colour scale
    empty = plots.detector_image(np.zeros((4, 4)), (-1, 1), "tracks")
    assert empty.opts.get().kwargs["logz"] is False
    with pytest.raises(ValueError):
        plots.detector_image(np.zeros((1, 4, 4)))


def test_tables(particles):
    p = particles
    df = plots.particle_table(p["pt"], p["eta"], p["phi"], p["E"], p["pid"], p["charge"], p["jet"])
    assert isinstance(df, pd.DataFrame) and len(df) == len(p["pt"])
    assert df["pT [GeV]"].is_monotonic_decreasing
    assert df["φ [rad]"].between(-np.pi, np.pi).all()
    jets = plots.jet_table([10.0, 0.0], [0.0, 20.0], [0.0, 5.0], [11.0, 25.0], n_particles=[3, 4])
    assert list(jets.columns) == ["jet", "E [GeV]", "pT [GeV]", "η", "φ [rad]", "m [GeV]", "particles"]
    assert np.allclose(jets["pT [GeV]"], [10.0, 20.0])
    assert np.allclose(jets["φ [rad]"], [0.0, np.pi / 2])
    assert np.isclose(jets["m [GeV]"][0], np.sqrt(11.0**2 - 10.0**2))
    assert plots.jet_table([], [], [], []).empty


def test_histograms():
    counts = np.array([3, 4, 4, 7])
    hist = plots.multiplicity_histogram(counts)
    assert isinstance(hist, hv.Histogram)
    assert hist.dimension_values("count").sum() == len(counts)
    marked = plots.multiplicity_histogram(counts, mark=4)
    assert isinstance(marked, hv.Overlay)
    assert isinstance(marked.get(1), hv.VLine) and marked.get(1).data == 4
    pt = plots.pt_histogram(np.array([0.5, 1.0, np.nan, 30.0]), bins=5)
    assert pt.dimension_values("count").sum() == 3  # NaN dropped
