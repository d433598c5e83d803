"""Tests of jetviz.data.pixelate: conservation, φ periodicity, layouts, jet-image preprocessing."""
from __future__ import annotations

import copy
import math

import awkward as ak
import numpy as np
import pytest

from jetviz.data.detector import simulate
from jetviz.data.kinematics import delta_phi, p4_from_pt_eta_phi, wrap_phi
from jetviz.data.pixelate import energy_map, event_images, jet_images, pixel_index, pixelate
from jetviz.data.schema import make_events
from jetviz.errors import ConfigError, SchemaError

TWO_PI = 2 * np.pi


# ----------------------------------------------------------------------------- helpers
def random_entries(rng, n_events, max_per_event=30, eta_max=3.5):
    counts = rng.integers(0, max_per_event + 1, n_events)
    m = int(counts.sum())
    eta = rng.uniform(-eta_max, eta_max, m)
    phi = rng.uniform(-4.0, 4.0, m)  # also beyond ±π: must wrap
    w = rng.exponential(5.0, m)
    idx = np.repeat(np.arange(n_events), counts)
    return counts, eta, phi, w, idx


def reference_pixelate(eta, phi, w, idx, n_events, n_eta, n_phi, eta_range, phi_range, periodic_phi):
    """Slow explicit double loop (events × entries) in pure Python: the definition of the grid."""
    image = np.zeros((n_events, n_eta, n_phi))
    d_eta = (eta_range[1] - eta_range[0]) / n_eta
    d_phi = (phi_range[1] - phi_range[0]) / n_phi
    for event in range(n_events):
        for k in range(len(eta)):
            if idx[k] != event:
                continue
            e, p = float(eta[k]), float(phi[k])
            if not eta_range[0] <= e < eta_range[1]:
                continue
            if periodic_phi:
                while p < phi_range[0]:
                    p += TWO_PI
                while p >= phi_range[0] + TWO_PI:
                    p -= TWO_PI
            if not phi_range[0] <= p < phi_range[1]:
                continue
            i = min(int(math.floor((e - eta_range[0]) / d_eta)), n_eta - 1)
            j = min(int(math.floor((p - phi_range[0]) / d_phi)), n_phi - 1)
            image[event, i, j] += float(w[k])
    return image


def padded(counts, *flat, fill=0.0):
    n, p = len(counts), max(int(counts.max()), 1)
    mask = np.arange(p)[None, :] < counts[:, None]
    out = []
    for a in flat:
        arr = np.full((n, p), fill)
        arr[mask] = a
        out.append(arr)
    return out


def make_jets(rng, n_jets, n_const=40, axis_eta=None, axis_phi=None, pad_to=None):
    """Elongated two-prong jets (N, P) around given axes, zero-padded to pad_to."""
    axis_eta = rng.uniform(-1.5, 1.5, n_jets) if axis_eta is None else np.broadcast_to(axis_eta, (n_jets,))
    axis_phi = rng.uniform(-np.pi, np.pi, n_jets) if axis_phi is None else np.broadcast_to(axis_phi, (n_jets,))
    beta = rng.uniform(0, np.pi, (n_jets, 1))
    u = rng.normal(0, 0.12, (n_jets, n_const))
    v = rng.normal(0, 0.04, (n_jets, n_const))
    u[:, :5] += 0.15  # a harder offset prong: breaks the symmetry so flips are well defined
    dx = np.cos(beta) * u - np.sin(beta) * v
    dy = np.sin(beta) * u + np.cos(beta) * v
    pt = rng.exponential(10.0, (n_jets, n_const))
    pt[:, :5] *= 4
    eta = axis_eta[:, None] + dx
    phi = wrap_phi(axis_phi[:, None] + dy)
    if pad_to is not None and pad_to > n_const:
        extra = pad_to - n_const
        pt = np.concatenate([pt, np.zeros((n_jets, extra))], axis=1)
        eta = np.concatenate([eta, rng.normal(0, 3, (n_jets, extra))], axis=1)  # garbage under padding
        phi = np.concatenate([phi, rng.normal(0, 3, (n_jets, extra))], axis=1)
    return pt, eta, phi


def centroid(pt, eta, phi):
    """pT-weighted centroid per jet of (N, P) arrays, φ via differences to the first constituent."""
    rel = delta_phi(phi, phi[:, :1])
    c_eta = np.average(eta, weights=pt, axis=1)
    c_phi = wrap_phi(phi[:, 0] + np.average(rel, weights=pt, axis=1))
    return c_eta, c_phi


def rotate_about_axis(eta, phi, c_eta, c_phi, angle):
    x = eta - c_eta[:, None]
    y = delta_phi(phi, c_phi[:, None])
    c, s = np.cos(angle), np.sin(angle)
    return c_eta[:, None] + c * x - s * y, wrap_phi(c_phi[:, None] + s * x + c * y)


# ----------------------------------------------------------------------------- pixel_index
@pytest.mark.parametrize("n_phi", [8, 50, 64])
def test_phi_wraps_around(n_phi):
    eps, delta = 1e-6, 0.01
    phi = np.array([-(np.pi - eps), np.pi - eps, np.pi + delta, np.pi, -np.pi, -np.pi - delta, 3 * np.pi + delta])
    eta = np.zeros_like(phi)
    i_eta, i_phi = pixel_index(eta, phi, n_eta=10, n_phi=n_phi)
    assert i_phi.tolist() == [0, n_phi - 1, 0, 0, 0, n_phi - 1, 0]
    image = pixelate(eta, phi, np.arange(1.0, 8.0), n_eta=10, n_phi=n_phi)
    assert image.shape == (1, 10, n_phi)
    assert image[0, 5, 0] == pytest.approx(1 + 3 + 4 + 5 + 7)
    assert image[0, 5, n_phi - 1] == pytest.approx(2 + 6)


def test_pixel_index_marks_off_grid_entries():
    eta = np.array([-2.6, 2.5, 0.0, np.nan, 0.0, 2.4999])
    phi = np.array([0.0, 0.0, np.nan, 0.0, 0.5, 0.0])
    i_eta, i_phi = pixel_index(eta, phi, 5, 4, (-2.5, 2.5))
    assert i_eta.tolist() == [-1, -1, -1, -1, 2, 4]
    assert i_phi.tolist() == [-1, -1, -1, -1, 2, 2]
    # non-periodic φ: outside phi_range is dropped, not wrapped
    i_eta, i_phi = pixel_index([0.0, 0.0, 0.0], [-0.5, 0.1, 0.45], 4, 4, (-1, 1), (-0.4, 0.4), periodic_phi=False)
    assert i_phi.tolist() == [-1, 2, -1]
    assert i_eta.tolist() == [-1, 2, -1]


def test_bad_grids_are_refused():
    with pytest.raises(ConfigError):
        pixelate(np.zeros(3), np.zeros(3), n_eta=0)
    with pytest.raises(ConfigError):
        pixelate(np.zeros(3), np.zeros(3), eta_range=(1.0, -1.0))
    with pytest.raises(ConfigError):
        pixelate(np.zeros(3), np.zeros(3), phi_range=(-4.0, 4.0))
    with pytest.raises(SchemaError):
        pixelate(np.zeros(3), np.zeros(4))
    with pytest.raises(SchemaError):
        pixelate(np.zeros(3), np.zeros(3), event_index=np.array([0, 1, 5]), n_events=3)


# ----------------------------------------------------------------------------- pixelate
@pytest.mark.parametrize("n_events", [1, 7, 40])
@pytest.mark.parametrize("grid", [(8, 8), (64, 64), (13, 50)])
@pytest.mark.parametrize("layout", ["flat", "jagged", "padded"])
def test_energy_is_conserved(n_events, grid, layout):
    rng = np.random.default_rng(n_events * 100 + grid[0])
    counts, eta, phi, w, idx = random_entries(rng, n_events)
    if layout == "flat":
        image = pixelate(eta, phi, w, event_index=idx, n_events=n_events, n_eta=grid[0], n_phi=grid[1])
    elif layout == "jagged":
        image = pixelate(ak.unflatten(eta, counts), ak.unflatten(phi, counts), ak.unflatten(w, counts), n_eta=grid[0], n_phi=grid[1])
    else:
        image = pixelate(*padded(counts, eta, phi, w), n_eta=grid[0], n_phi=grid[1])
    assert image.shape == (n_events, *grid) and image.dtype == np.float32
    inside = (eta >= -2.5) & (eta < 2.5)
    expected = np.bincount(idx[inside], weights=w[inside], minlength=n_events)
    np.testing.assert_allclose(image.sum(axis=(1, 2), dtype=np.float64), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "grid",
    [
        dict(n_eta=6, n_phi=9),
        dict(n_eta=17, n_phi=5, eta_range=(-1.0, 2.0), phi_range=(0.0, TWO_PI)),
        dict(n_eta=4, n_phi=7, phi_range=(-0.5, 1.5)),
        dict(n_eta=10, n_phi=10, eta_range=(-1.0, 1.0), phi_range=(-1.0, 1.0), periodic_phi=False),
    ],
)
def test_matches_slow_reference_loop(seed, grid):
    rng = np.random.default_rng(seed)
    n_events = 5
    counts, eta, phi, w, idx = random_entries(rng, n_events, max_per_event=25)
    full = dict(n_eta=64, n_phi=64, eta_range=(-2.5, 2.5), phi_range=(-np.pi, np.pi), periodic_phi=True) | grid
    expected = reference_pixelate(eta, phi, w, idx, n_events, **full)
    got = pixelate(eta, phi, w, event_index=idx, n_events=n_events, **grid)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_layouts_agree_and_weights_default_to_counts():
    rng = np.random.default_rng(5)
    counts, eta, phi, w, idx = random_entries(rng, 6)
    flat = pixelate(eta, phi, None, event_index=idx, n_events=6, n_eta=12, n_phi=12)
    jag = pixelate(ak.unflatten(eta, counts), ak.unflatten(phi, counts), n_eta=12, n_phi=12)
    np.testing.assert_array_equal(flat, jag)
    inside = np.abs(eta) < 2.5
    assert flat.sum() == inside.sum()
    # trailing empty events are kept when n_events says so
    assert pixelate(eta, phi, w, event_index=idx, n_events=9, n_eta=4, n_phi=4).shape == (9, 4, 4)


def test_pixelate_does_not_mutate_inputs():
    rng = np.random.default_rng(9)
    counts, eta, phi, w, idx = random_entries(rng, 4)
    arrays = (eta, phi, w, idx)
    before = [a.copy() for a in arrays]
    pixelate(eta, phi, w, event_index=idx, n_events=4)
    pixel_index(eta, phi)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    pad = padded(counts, eta, phi, w)
    pad_before = [a.copy() for a in pad]
    pixelate(*pad)
    for a, b in zip(pad, pad_before):
        np.testing.assert_array_equal(a, b)
    jag = [ak.unflatten(a, counts) for a in (eta, phi, w)]
    jag_before = [ak.to_list(a) for a in jag]
    pixelate(*jag)
    assert [ak.to_list(a) for a in jag] == jag_before


# ----------------------------------------------------------------------------- event maps
def _schema_events(rng, n_events, with_neutrinos=True):
    counts = rng.integers(1, 20, n_events)
    m = int(counts.sum())
    pt, eta, phi = rng.exponential(10, m) + 0.5, rng.uniform(-3.5, 3.5, m), rng.uniform(-np.pi, np.pi, m)
    px, py, pz, energy = p4_from_pt_eta_phi(pt, eta, phi, 0.14)
    pid = rng.choice([22, 211, -211, 130, 11, 13, 12, -14] if with_neutrinos else [22, 211], m)
    charge = np.select([np.isin(pid, [211, -11, -13]), np.isin(pid, [-211, 11, 13])], [1.0, -1.0], 0.0)
    return make_events(dict(px=px, py=py, pz=pz, E=energy, charge=charge, pid=pid), counts)


@pytest.mark.parametrize("n_pix", [16, 64])
def test_energy_map_sums_visible_energy(n_pix):
    events = _schema_events(np.random.default_rng(3), 8)
    before = ak.to_list(events)
    image = energy_map(events, n_eta=n_pix, n_phi=n_pix, eta_max=3.0)
    assert image.shape == (8, 1, n_pix, n_pix) and image.dtype == np.float32
    p = events.particles
    keep = (abs(p.eta) < 3.0) & ~((abs(p.pid) == 12) | (abs(p.pid) == 14) | (abs(p.pid) == 16))
    np.testing.assert_allclose(image.sum(axis=(1, 2, 3)), ak.to_numpy(ak.sum(p.E[keep], axis=1)), rtol=1e-5)
    with_nu = energy_map(events, n_eta=n_pix, n_phi=n_pix, visible_only=False)
    assert with_nu.sum() > image.sum()
    pt_map = energy_map(events, n_eta=n_pix, n_phi=n_pix, weight="pt")
    assert pt_map.sum() < image.sum()
    assert ak.to_list(events) == before
    with pytest.raises(SchemaError):
        energy_map(events, weight="mass")


def test_event_images_channels_match_hits():
    events = _schema_events(np.random.default_rng(4), 6)
    hits = simulate(events, seed=1)
    before = ak.to_list(hits)
    images = event_images(hits)
    assert images.shape == (6, 3, 50, 50) and images.dtype == np.float32
    np.testing.assert_allclose(images[:, 0].sum(axis=(1, 2)), ak.to_numpy(ak.sum(hits.ecal.E, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(images[:, 1].sum(axis=(1, 2)), ak.to_numpy(ak.sum(hits.hcal.E, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(images[:, 2].sum(axis=(1, 2)), ak.to_numpy(ak.sum(hits.tracks.pt, axis=1)), rtol=1e-5)
    # the detector's own grid: one cell per pixel, so no pixel holds two cells
    occupied = (images[:, 0] > 0).sum()
    assert occupied == ak.sum(ak.num(hits.ecal, axis=1))
    assert ak.to_list(hits) == before
    with pytest.raises(SchemaError):
        event_images(events)


# ----------------------------------------------------------------------------- jet images
def test_jet_images_shape_normalisation_and_padding():
    rng = np.random.default_rng(0)
    pt, eta, phi = make_jets(rng, 5, pad_to=60)
    pt[2] = 0.0  # an empty jet: stays zero, no NaN
    images = jet_images(pt, eta, phi, n_pix=40, width=1.6)
    assert images.shape == (5, 1, 40, 40) and images.dtype == np.float32
    sums = images.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(sums[[0, 1, 3, 4]], 1.0, rtol=1e-5)
    assert sums[2] == 0 and np.isfinite(images).all()
    raw = jet_images(pt, eta, phi, n_pix=40, width=1.6, normalize=False)
    np.testing.assert_allclose(raw.sum(axis=(1, 2, 3)), pt.sum(axis=1), rtol=1e-4)  # wide image holds all


def test_jet_images_jagged_equals_padded():
    rng = np.random.default_rng(1)
    pt, eta, phi = make_jets(rng, 6, n_const=30)
    counts = rng.integers(5, 31, 6)
    mask = np.arange(30)[None, :] < counts[:, None]
    pt = np.where(mask, pt, 0.0)
    jag = [ak.unflatten(a[mask], counts) for a in (pt, eta, phi)]
    for opts in (dict(), dict(rotate=True, flip=True)):
        np.testing.assert_allclose(jet_images(*jag, **opts), jet_images(pt, eta, phi, **opts), atol=1e-7)


@pytest.mark.parametrize("axis_phi", [np.pi, np.pi - 0.02, -np.pi + 0.03, 0.7])
@pytest.mark.parametrize("n_pix", [25, 40])
def test_jet_at_phi_pi_is_centred_and_not_split(axis_phi, n_pix):
    rng = np.random.default_rng(7)
    pt, eta, phi = make_jets(rng, 4, axis_eta=0.3, axis_phi=axis_phi)
    assert (phi > 3.0).any() and (phi < -3.0).any() or axis_phi == 0.7
    width = 1.6
    images = jet_images(pt, eta, phi, n_pix=n_pix, width=width, normalize=False)
    # nothing lost, and the image is compact around the centre
    np.testing.assert_allclose(images.sum(axis=(1, 2, 3)), pt.sum(axis=1), rtol=1e-4)
    centres = (np.arange(n_pix) + 0.5) * width / n_pix - width / 2
    img = images[:, 0].astype(np.float64)
    tot = img.sum(axis=(1, 2))
    mean_eta = (img.sum(axis=2) * centres).sum(axis=1) / tot
    mean_phi = (img.sum(axis=1) * centres).sum(axis=1) / tot
    pixel = width / n_pix
    assert np.all(np.abs(mean_eta) < pixel) and np.all(np.abs(mean_phi) < pixel)
    spread_phi = np.sqrt((img.sum(axis=1) * centres**2).sum(axis=1) / tot)
    assert np.all(spread_phi < 0.3)  # one blob, not two halves at ±π
    # the same jet moved to φ = 0 gives the same image (translation invariance across the seam)
    moved = jet_images(pt, eta, wrap_phi(phi - axis_phi), n_pix=n_pix, width=width, normalize=False)
    assert np.abs(moved - images).sum() <= 1e-4 * pt.sum()


def test_given_axis_equals_centroid():
    rng = np.random.default_rng(2)
    pt, eta, phi = make_jets(rng, 5, axis_phi=np.pi - 0.05)
    c_eta, c_phi = centroid(pt, eta, phi)
    np.testing.assert_allclose(
        jet_images(pt, eta, phi, jet_eta=c_eta, jet_phi=c_phi), jet_images(pt, eta, phi), atol=1e-6
    )
    # center=False: the inputs are taken as coordinates relative to the axis already
    rel = jet_images(pt, eta - c_eta[:, None], delta_phi(phi, c_phi[:, None]), center=False)
    np.testing.assert_allclose(rel, jet_images(pt, eta, phi), atol=1e-6)


@pytest.mark.parametrize("angle", [0.4, 1.3, np.pi / 2 + 0.1, 2.6, -2.0])
@pytest.mark.parametrize("n_pix", [25, 40])
def test_rotate_then_flip_is_rotation_invariant(angle, n_pix):
    rng = np.random.default_rng(11)
    pt, eta, phi = make_jets(rng, 6, pad_to=50)
    real = pt > 0
    c_eta, c_phi = centroid(np.where(real, pt, 0), np.where(real, eta, 0), np.where(real, phi, 0))
    r_eta, r_phi = rotate_about_axis(eta, phi, c_eta, c_phi, angle)
    r_eta, r_phi = np.where(real, r_eta, eta), np.where(real, r_phi, phi)
    opts = dict(n_pix=n_pix, width=1.2, rotate=True, flip=True)
    original = jet_images(pt, eta, phi, **opts)
    rotated = jet_images(pt, r_eta, r_phi, **opts)
    # equal to within pixelisation: the same pT per pixel (summed |difference| per unit-sum image)
    assert np.abs(original - rotated).sum(axis=(1, 2, 3)).max() < 1e-3
    # ... whereas without preprocessing the rotation is visible
    plain = np.abs(jet_images(pt, eta, phi, n_pix=n_pix, width=1.2) - jet_images(pt, r_eta, r_phi, n_pix=n_pix, width=1.2))
    assert plain.sum(axis=(1, 2, 3)).min() > 0.1


def test_rotate_aligns_principal_axis_with_eta_and_flip_fixes_sides():
    rng = np.random.default_rng(12)
    pt, eta, phi = make_jets(rng, 8)
    n_pix = 40
    centres = (np.arange(n_pix) + 0.5) / n_pix * 1.6 - 0.8
    img = jet_images(pt, eta, phi, n_pix=n_pix, rotate=True, flip=True)[:, 0].astype(np.float64)
    prof_eta, prof_phi = img.sum(axis=2), img.sum(axis=1)
    var_eta = (prof_eta * centres**2).sum(axis=1)
    var_phi = (prof_phi * centres**2).sum(axis=1)
    assert np.all(var_eta > 2 * var_phi)  # the long axis (σ 0.12 vs 0.04) is along η
    half = n_pix // 2
    assert np.all(prof_eta[:, half:].sum(axis=1) > prof_eta[:, :half].sum(axis=1))
    assert np.all(prof_phi[:, half:].sum(axis=1) >= prof_phi[:, :half].sum(axis=1))


@pytest.mark.parametrize("reflect", ["eta", "phi", "both"])
def test_flip_undoes_reflections(reflect):
    rng = np.random.default_rng(13)
    pt, eta, phi = make_jets(rng, 5)
    c_eta, c_phi = centroid(pt, eta, phi)
    r_eta, r_phi = eta, phi
    if reflect in ("eta", "both"):
        r_eta = 2 * c_eta[:, None] - eta
    if reflect in ("phi", "both"):
        r_phi = wrap_phi(c_phi[:, None] - delta_phi(phi, c_phi[:, None]))
    a = jet_images(pt, eta, phi, flip=True)
    b = jet_images(pt, r_eta, r_phi, flip=True)
    assert np.abs(a - b).sum(axis=(1, 2, 3)).max() < 1e-3


def test_jet_images_do_not_mutate_inputs():
    rng = np.random.default_rng(14)
    pt, eta, phi = make_jets(rng, 4, axis_phi=np.pi - 0.01, pad_to=45)
    axis = (eta[:, 0].copy(), phi[:, 0].copy())
    arrays = (pt, eta, phi, *axis)
    before = copy.deepcopy(arrays)
    for opts in (dict(), dict(rotate=True, flip=True), dict(center=False, flip=True), dict(jet_eta=axis[0], jet_phi=axis[1], flip=True)):
        jet_images(pt, eta, phi, **opts)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    jag = [ak.Array(a.tolist()) for a in (pt, eta, phi)]
    jag_before = [ak.to_list(a) for a in jag]
    jet_images(*jag, rotate=True, flip=True)
    assert [ak.to_list(a) for a in jag] == jag_before
    single = [pt[0].copy(), eta[0].copy(), phi[0].copy()]  # one jet as 1-d arrays
    single_before = copy.deepcopy(single)
    assert jet_images(*single, rotate=True, flip=True).shape == (1, 1, 40, 40)
    for a, b in zip(single, single_before):
        np.testing.assert_array_equal(a, b)


def test_jet_images_refuse_bad_arguments():
    pt, eta, phi = make_jets(np.random.default_rng(0), 2)
    with pytest.raises(ConfigError):
        jet_images(pt, eta, phi, width=0)
    with pytest.raises(SchemaError):
        jet_images(pt, eta, phi, jet_eta=np.zeros(3))
