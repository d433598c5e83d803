"""EMD / W_p engine: metric properties, exact values, two independent solvers, matrices, errors."""
import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.spatial.distance import cdist

from jetviz.errors import ConfigError, SchemaError
from jetviz.models.emd import (
    EMDSolverError,
    PointSet,
    as_point_set,
    cost_matrix,
    emd,
    emd_matrix,
    from_image,
    from_images,
    from_pt_eta_phi,
    ground_distance,
    pixel_centres,
)


def random_jet(rng, n, spread=0.3, eta=0.0, phi=0.0, zeros=0):
    """n particles with exponential pT (GeV) around (eta, phi); ``zeros`` extra zero-pT rows."""
    w = rng.exponential(50.0, n)
    coords = np.column_stack([rng.normal(eta, spread, n), rng.normal(phi, spread, n)])
    if zeros:
        w = np.r_[w, np.zeros(zeros)]
        coords = np.r_[coords, rng.normal(0.0, spread, (zeros, 2))]
    return PointSet(w, coords)


# ----------------------------------------------------------------------------- independent references
def reference_cost(ca, cb, R, p):
    """(θ/R)^p with periodic φ as the minimum over the images φ + 2πk (scipy cdist, no wrapping)."""
    ca, cb = np.asarray(ca, float), np.asarray(cb, float)
    theta = np.min([cdist(ca, cb + [0.0, 2 * np.pi * k]) for k in (-2, -1, 0, 1, 2)], axis=0)
    return (theta / R) ** p


def reference_pot(ja, jb, R, p, norm):
    """ot.emd2 on a cost built here; unnormalised as energyflow does it (extra particle at cost 1)."""
    import ot

    wa, wb = np.asarray(ja.weights, float), np.asarray(jb.weights, float)
    M = reference_cost(ja.coords, jb.coords, R, p)
    if norm:
        return ot.emd2(wa / wa.sum(), wb / wb.sum(), M, numItermax=10**7)
    diff = wb.sum() - wa.sum()
    if diff > 0:
        wa, M = np.r_[wa, diff], np.vstack([M, np.ones((1, M.shape[1]))])
    elif diff < 0:
        wb, M = np.r_[wb, -diff], np.hstack([M, np.ones((M.shape[0], 1))])
    return ot.emd2(wa, wb * wa.sum() / wb.sum(), M, numItermax=10**7)


def reference_linprog(ja, jb, R, p, norm):
    """The EMD linear program as written in 1902.02346 (inequality form), solved by HiGHS."""
    wa, wb = np.asarray(ja.weights, float), np.asarray(jb.weights, float)
    if norm:
        wa, wb = wa / wa.sum(), wb / wb.sum()
    P, Q = len(wa), len(wb)
    c = reference_cost(ja.coords, jb.coords, R, p).ravel()
    rows = np.kron(np.eye(P), np.ones(Q))  # Σ_j f_ij
    cols = np.kron(np.ones(P), np.eye(Q))  # Σ_i f_ij
    if norm:
        res = linprog(c, A_eq=np.vstack([rows, cols]), b_eq=np.r_[wa, wb], bounds=(0, None), method="highs")
        extra = 0.0
    else:
        res = linprog(
            c,
            A_ub=np.vstack([rows, cols]),
            b_ub=np.r_[wa, wb],
            A_eq=np.ones((1, P * Q)),
            b_eq=[min(wa.sum(), wb.sum())],
            bounds=(0, None),
            method="highs",
        )
        extra = abs(wa.sum() - wb.sum())
    assert res.status == 0, res.message
    return res.fun + extra


# ----------------------------------------------------------------------------- metric properties
@pytest.mark.parametrize("n", [1, 7, 50])
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("norm", [True, False])
def test_zero_on_identical_jets_and_symmetric(n, p, norm):
    rng = np.random.default_rng(n)
    a, b = random_jet(rng, n, zeros=2), random_jet(rng, n + 3)
    copy = PointSet(a.weights.copy(), a.coords.copy())
    assert emd(a, copy, p=p, norm=norm) == pytest.approx(0.0, abs=1e-12)
    assert emd(a, b, p=p, norm=norm) == pytest.approx(emd(b, a, p=p, norm=norm), rel=1e-12)
    assert emd(a, b, p=p, norm=norm) > 0


@pytest.mark.parametrize(
    "p, root, norm",
    [(1.0, False, True), (0.5, False, True), (2.0, True, True), (1.0, False, False), (0.5, False, False)],
)
def test_triangle_inequality(p, root, norm):
    # p ≤ 1 without root: (θ/R)^p is a metric, so W is. p = 2 needs the root. Unnormalised:
    # a metric for R ≥ θ_max/2 (all jets here lie within θ < 1 of each other, R = 1).
    rng = np.random.default_rng(int(10 * p) + 100 * norm)
    for _ in range(15):
        jets = [random_jet(rng, int(rng.integers(1, 12)), spread=0.15) for _ in range(3)]
        d = emd_matrix(jets, p=p, root=root, norm=norm)
        for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
            assert d[i, k] <= d[i, j] + d[j, k] + 1e-12


def test_no_root_p2_is_not_a_metric_but_root_is():
    # three single particles on a line: W_2^2 gives 4 > 1 + 1, W_2 gives 2 = 1 + 1
    jets = [PointSet([1.0], [[x, 0.0]]) for x in (0.0, 0.5, 1.0)]
    d = emd_matrix(jets, p=2.0, norm=True)
    assert d[0, 2] == pytest.approx(1.0) and d[0, 1] == pytest.approx(0.25)
    assert d[0, 2] > d[0, 1] + d[1, 2]
    r = emd_matrix(jets, p=2.0, norm=True, root=True)
    assert r[0, 2] == pytest.approx(r[0, 1] + r[1, 2], rel=1e-12)


# ----------------------------------------------------------------------------- exact values
@pytest.mark.parametrize("shift", [0.01, 0.3, -0.7])
@pytest.mark.parametrize("R", [0.4, 1.0])
def test_translation(shift, R):
    rng = np.random.default_rng(7)
    jet = random_jet(rng, 30, spread=0.2)
    moved = PointSet(jet.weights, jet.coords + [shift, 0.0])
    s = abs(shift) / R
    # p = 1: the identity plan costs |s| and the centroid (Jensen) bound is |s|: W_1 = |s|/R exactly
    assert emd(jet, moved, norm=True, R=R) == pytest.approx(s, rel=1e-9)
    # p = 2: W_2² of a translate is the squared shift
    assert emd(jet, moved, norm=True, R=R, p=2.0) == pytest.approx(s**2, rel=1e-9)
    # p = 0.5: only bounded by the identity plan
    assert emd(jet, moved, norm=True, R=R, p=0.5) <= s**0.5 * (1 + 1e-12)
    # one particle: (|s|/R)^p for every p
    one, one_moved = PointSet([3.0], [[0.1, 0.2]]), PointSet([3.0], [[0.1 + shift, 0.2]])
    for p in (0.5, 1.0, 2.0):
        assert emd(one, one_moved, norm=True, R=R, p=p) == pytest.approx(s**p, rel=1e-12)


def test_centroid_lower_bound():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = random_jet(rng, 20, spread=0.3), random_jet(rng, 15, spread=0.3, eta=0.2)
        ca = np.average(a.coords, axis=0, weights=a.weights)
        cb = np.average(b.coords, axis=0, weights=b.weights)
        assert emd(a, b, norm=True) >= np.linalg.norm(ca - cb) - 1e-12
        assert emd(a, b, norm=True, p=2.0, root=True) >= emd(a, b, norm=True) - 1e-12  # W_2 ≥ W_1


@pytest.mark.parametrize("turn", [2 * np.pi, -2 * np.pi, 4 * np.pi])
def test_phi_periodicity(turn):
    rng = np.random.default_rng(11)
    jet = random_jet(rng, 25, spread=0.2, phi=np.pi - 0.05)  # straddles φ = ±π
    assert (jet.coords[:, 1] > np.pi).any() and (jet.coords[:, 1] < np.pi).any()
    turned = PointSet(jet.weights, jet.coords + [0.0, turn])
    assert emd(jet, turned, norm=True) == pytest.approx(0.0, abs=1e-12)
    # unnormalised: in GeV, rounding of the wrapped φ (~1e-16 rad) times the jet pT
    assert emd(jet, turned, norm=False) == pytest.approx(0.0, abs=1e-12 * jet.weights.sum())
    # either side of φ = ±π is close, not 2π − 0.1 apart
    left, right = PointSet([1.0], [[0.0, np.pi - 0.05]]), PointSet([1.0], [[0.0, -np.pi + 0.05]])
    assert emd(left, right) == pytest.approx(0.1, rel=1e-9)
    assert emd(left, right, periodic_phi=False) == pytest.approx(2 * np.pi - 0.1, rel=1e-12)
    np.testing.assert_allclose(ground_distance([[0.0, np.pi - 0.05]], [[0.0, -np.pi + 0.05]]), [[0.1]], rtol=1e-9)


def test_unnormalised_energy_difference_term():
    rng = np.random.default_rng(5)
    jet = random_jet(rng, 40)
    double = PointSet(2 * jet.weights, jet.coords)
    total = jet.weights.sum()
    assert emd(jet, double, norm=False) == pytest.approx(total, rel=1e-13)
    assert emd(double, jet, norm=False) == pytest.approx(total, rel=1e-13)
    assert emd(jet, double, norm=True) == pytest.approx(0.0, abs=1e-12)
    # two particles θ = 0.5 apart, E = 10 and 25 GeV, R = 0.8: 10·(0.5/0.8)^p + 15
    a, b = PointSet([10.0], [[0.0, 0.0]]), PointSet([25.0], [[0.3, 0.4]])
    for p in (0.5, 1.0, 2.0):
        assert emd(a, b, R=0.8, p=p) == pytest.approx(10 * (0.5 / 0.8) ** p + 15, rel=1e-12)


# ----------------------------------------------------------------------------- independent solvers
@pytest.mark.parametrize("sizes", [(1, 1), (1, 6), (5, 8), (12, 9)])
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("norm", [True, False])
def test_agrees_with_pot_and_linprog(sizes, p, norm):
    rng = np.random.default_rng(sizes[0] * 31 + sizes[1])
    for R in (0.4, 1.0):
        a = random_jet(rng, sizes[0], spread=0.4)
        b = random_jet(rng, sizes[1], spread=0.4, phi=0.3)
        value = emd(a, b, R=R, p=p, norm=norm)
        assert value == pytest.approx(reference_pot(a, b, R, p, norm), rel=1e-6)
        assert value == pytest.approx(reference_linprog(a, b, R, p, norm), rel=1e-6)


@pytest.mark.parametrize("n", [30, 80])
@pytest.mark.parametrize("norm", [True, False])
def test_agrees_with_pot_on_larger_jets_near_the_phi_edge(n, norm):
    rng = np.random.default_rng(n)
    a = random_jet(rng, n, spread=0.4, phi=np.pi - 0.1)
    b = random_jet(rng, n + 5, spread=0.4, phi=-np.pi + 0.1)
    for p in (0.5, 1.0):
        assert emd(a, b, p=p, norm=norm) == pytest.approx(reference_pot(a, b, 1.0, p, norm), rel=1e-6)


@pytest.mark.parametrize("pot_path", ["direct", "public"])
def test_pot_fallback_gives_the_same_values(monkeypatch, pot_path):
    # pairs the compiled solver does not finish go to POT's solver (its compiled core, or the
    # public ot.emd if POT's private signature changed): force that for every pair
    import jetviz.models.emd as emd_module

    rng = np.random.default_rng(8)
    jets = [random_jet(rng, int(rng.integers(1, 30)), zeros=1) for _ in range(5)]
    real_tile, real_transport = emd_module.pairwise_tile, emd_module.transport

    def tile_unfinished(*args):
        real_tile(*args)
        args[-1][:] = 3  # codes: "iteration limit reached"

    def transport_unfinished(*args):
        return (*real_transport(*args)[:2], 3, 0)

    for norm in (True, False):
        fast, (v_fast, f_fast) = emd_matrix(jets, norm=norm), emd(jets[0], jets[1], norm=norm, return_flow=True)
        monkeypatch.setattr(emd_module, "pairwise_tile", tile_unfinished)
        monkeypatch.setattr(emd_module, "transport", transport_unfinished)
        if pot_path == "public":
            monkeypatch.setattr(emd_module, "_solver", emd_module._solve_public)
        pot, (v_pot, f_pot) = emd_matrix(jets, norm=norm), emd(jets[0], jets[1], norm=norm, return_flow=True)
        monkeypatch.undo()
        np.testing.assert_allclose(pot, fast, rtol=1e-12)
        assert v_pot == pytest.approx(v_fast, rel=1e-12)
        assert (f_pot * f_fast).sum() > 0 and f_pot.sum() == pytest.approx(f_fast.sum(), rel=1e-12)


# ----------------------------------------------------------------------------- transport plan
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("norm", [True, False])
def test_transport_plan(p, norm):
    rng = np.random.default_rng(2)
    a, b = random_jet(rng, 15, zeros=3), random_jet(rng, 11, zeros=1)
    value, flow = emd(a, b, p=p, norm=norm, return_flow=True, R=0.7)
    assert flow.shape == (18, 12) and (flow >= 0).all()
    assert (flow[15:] == 0).all() and (flow[:, 11:] == 0).all()  # zero-pT particles carry nothing
    cost = cost_matrix(a.coords, b.coords, R=0.7, p=p)
    if norm:
        np.testing.assert_allclose(flow.sum(axis=1), a.weights / a.weights.sum(), atol=1e-12)
        np.testing.assert_allclose(flow.sum(axis=0), b.weights / b.weights.sum(), atol=1e-12)
        assert (flow * cost).sum() == pytest.approx(value, rel=1e-12)
    else:
        ea, eb = a.weights.sum(), b.weights.sum()
        assert (flow.sum(axis=1) <= a.weights * (1 + 1e-12) + 1e-12).all()
        assert (flow.sum(axis=0) <= b.weights * (1 + 1e-12) + 1e-12).all()
        assert flow.sum() == pytest.approx(min(ea, eb), rel=1e-12)
        assert (flow * cost).sum() + abs(ea - eb) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(cost, reference_cost(a.coords, b.coords, 0.7, p), rtol=1e-12, atol=1e-15)
    with_root = emd(a, b, p=p, norm=norm, R=0.7, root=True)
    assert with_root == pytest.approx(value ** (1 / p), rel=1e-12)


# ----------------------------------------------------------------------------- matrices
def _jets(seed, n, lo=1, hi=25):
    rng = np.random.default_rng(seed)
    return [random_jet(rng, int(rng.integers(lo, hi)), zeros=int(rng.integers(0, 2))) for _ in range(n)]


def _loop(jets_a, jets_b, **kw):
    return np.array([[emd(x, y, **kw) for y in jets_b] for x in jets_a])


@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize("p", [0.5, 1.0])
def test_pairwise_matrix_equals_loop(norm, p):
    jets = _jets(1, 13)
    calls = []
    d = emd_matrix(jets, p=p, norm=norm, block_size=4, progress=lambda done, total: calls.append((done, total)))
    expected = _loop(jets, jets, p=p, norm=norm)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(d, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(d, d.T)
    assert calls[0] == (0, 78) and calls[-1] == (78, 78) and all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    root = emd_matrix(jets, p=p, norm=norm, root=True)
    np.testing.assert_allclose(root, d ** (1 / p), rtol=1e-12)


def test_rectangular_matrix_and_input_forms():
    jets_a, jets_b = _jets(2, 6), _jets(3, 4)
    expected = _loop(jets_a, jets_b, norm=True, R=0.4)
    np.testing.assert_allclose(emd_matrix(jets_a, jets_b, norm=True, R=0.4), expected, rtol=1e-12)
    # (N, P, 3) zero-padded arrays of (pt, eta, phi) and (weights, coords) tuples give the same
    padded = np.zeros((6, 30, 3))
    for k, jet in enumerate(jets_a):
        padded[k, : len(jet.weights), 0] = jet.weights
        padded[k, : len(jet.weights), 1:] = jet.coords
    tuples = [(list(j.weights), j.coords.tolist()) for j in jets_b]
    np.testing.assert_allclose(emd_matrix(padded, tuples, norm=True, R=0.4), expected, rtol=1e-12)
    # one-to-many
    np.testing.assert_allclose(emd_matrix(jets_a, jets_b[:1], norm=True, R=0.4)[:, 0], expected[:, 0], rtol=1e-12)


def test_matrix_in_threads_equals_in_one_thread():
    jets = _jets(4, 12)
    serial = emd_matrix(jets, p=0.5)
    calls = []
    parallel = emd_matrix(jets, p=0.5, n_jobs=2, block_size=3, progress=lambda *a: calls.append(a))
    np.testing.assert_array_equal(parallel, serial)
    assert calls[-1] == (66, 66) and len(calls) == 1 + 10  # 4 diagonal + 6 off-diagonal tiles


def test_rectangular_matrix_in_threads():
    jets, other = _jets(4, 9), _jets(5, 5)
    np.testing.assert_array_equal(emd_matrix(jets, other, n_jobs=2, block_size=2), emd_matrix(jets, other))


def test_matrix_on_dask_client():
    distributed = pytest.importorskip("distributed")
    jets = _jets(6, 10)
    calls = []
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        d = emd_matrix(jets, norm=True, client=client, block_size=3, progress=lambda *a: calls.append(a))
        rect = emd_matrix(jets[:4], jets[4:], client=client, block_size=2)
    np.testing.assert_array_equal(d, emd_matrix(jets, norm=True))
    np.testing.assert_array_equal(rect, emd_matrix(jets[:4], jets[4:]))
    assert calls[-1] == (45, 45)


# ----------------------------------------------------------------------------- helpers and images
def test_point_set_helpers():
    particles = np.array([[10.0, 0.1, 0.2], [5.0, -0.3, 3.1], [0.0, 0.0, 0.0]])
    ps = from_pt_eta_phi(particles)
    np.testing.assert_array_equal(ps.weights, [10.0, 5.0, 0.0])
    np.testing.assert_array_equal(ps.coords, particles[:, 1:])
    again = as_point_set(particles)
    np.testing.assert_array_equal(again.weights, ps.weights)
    np.testing.assert_array_equal(again.coords, ps.coords)
    assert as_point_set(ps).weights is ps.weights  # float64 arrays are used as they are (read only)
    assert emd(particles, (ps.weights, ps.coords)) == 0.0
    np.testing.assert_allclose(pixel_centres(4, -1.0, 1.0), [-0.75, -0.25, 0.25, 0.75])


def test_images_as_point_sets():
    eta_c, phi_c = pixel_centres(10, -1.0, 1.0), pixel_centres(8, -0.8, 0.8)
    rng = np.random.default_rng(9)
    image = np.zeros((10, 8), np.float32)
    image[2:7, 1:6] = rng.random((5, 5))
    image[4, 3] = 0.0
    ps = from_image(image, eta_c, phi_c)
    assert len(ps.weights) == 24 and ps.weights.dtype == np.float64
    np.testing.assert_allclose(ps.coords[0], [eta_c[2], phi_c[1]])
    # rolling the image one pixel along η is a translation by one pixel width (0.2)
    rolled = np.roll(image, 1, axis=0)
    assert emd(ps, from_image(rolled, eta_c, phi_c), norm=True) == pytest.approx(0.2, rel=1e-6)
    jets = from_images(np.stack([image, rolled])[:, None], eta_c, phi_c)
    assert emd_matrix(jets, norm=True)[0, 1] == pytest.approx(0.2, rel=1e-6)


def test_inputs_are_never_mutated():
    rng = np.random.default_rng(12)
    a, b = random_jet(rng, 9, phi=3.0, zeros=1), random_jet(rng, 7, phi=-3.0)
    arrays = [a.weights, a.coords, b.weights, b.coords]
    saved = [x.copy() for x in arrays]
    for x in arrays:
        x.flags.writeable = False  # any in-place write would raise
    emd(a, b, norm=False, return_flow=True)
    emd(a, b, norm=True, p=0.5)
    emd_matrix([a, b], [b, a], norm=True)
    emd_matrix([a, b])
    cost_matrix(a.coords, b.coords, R=0.5, p=2.0)
    for x, y in zip(arrays, saved):
        np.testing.assert_array_equal(x, y)
    image = rng.random((4, 4))
    image.flags.writeable = False
    from_image(image, pixel_centres(4, 0, 1), pixel_centres(4, 0, 1))


# ----------------------------------------------------------------------------- bad inputs
GOOD = PointSet(np.array([1.0, 2.0]), np.array([[0.0, 0.0], [0.1, 0.1]]))


@pytest.mark.parametrize(
    "bad, match",
    [
        (PointSet(np.zeros(0), np.zeros((0, 2))), "jet_b is empty"),
        (PointSet(np.zeros(3), np.zeros((3, 2))), "zero total weight"),
        (PointSet(np.array([1.0, -0.5]), np.zeros((2, 2))), "negative weights"),
        (PointSet(np.array([1.0, np.nan]), np.zeros((2, 2))), "NaN or infinite weights"),
        (PointSet(np.array([1.0, np.inf]), np.zeros((2, 2))), "NaN or infinite weights"),
        (PointSet(np.array([1.0, 1.0]), np.array([[0.0, np.nan], [0.0, 0.0]])), r"NaN or infinite \(eta, phi\)"),
        (PointSet(np.array([1.0, 1.0]), np.array([[np.inf, 0.0], [0.0, 0.0]])), r"NaN or infinite \(eta, phi\)"),
        ((np.ones(2), np.zeros((2, 3))), r"coords must be a \(P, 2\)"),
        ((np.ones(3), np.zeros((2, 2))), "weights have 3 entries but coords 2"),
        ((np.ones((2, 1)), np.zeros((2, 2))), "weights must be a 1-d"),
        (np.zeros((4, 2)), r"\(P, 3\) array of \(pt, eta, phi\)"),
        ((np.ones(2), np.zeros((2, 2)), 1), "must be \\(weights, coords\\)"),
    ],
)
def test_bad_jets_raise(bad, match):
    with pytest.raises(SchemaError, match=match):
        emd(GOOD, bad)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"p": 0.0}, "p must be"),
        ({"p": -1.0}, "p must be"),
        ({"p": float("nan")}, "p must be"),
        ({"R": 0.0}, "R must be"),
        ({"R": -0.4}, "R must be"),
        ({"num_iter_max": 0}, "num_iter_max"),
    ],
)
def test_bad_parameters_raise(kw, match):
    with pytest.raises(ConfigError, match=match):
        emd(GOOD, GOOD, **kw)
    with pytest.raises(ConfigError, match=match):
        emd_matrix([GOOD, GOOD], **kw)


def test_bad_matrix_inputs_raise():
    with pytest.raises(SchemaError, match=r"jets_a\[1\] has 1 negative weights"):
        emd_matrix([GOOD, PointSet(np.array([1.0, -1.0]), np.zeros((2, 2)))])
    with pytest.raises(SchemaError, match=r"jets_b\[0\] is empty"):
        emd_matrix([GOOD], [PointSet(np.zeros(0), np.zeros((0, 2)))])
    with pytest.raises(SchemaError, match="holds no jets"):
        emd_matrix([])
    with pytest.raises(SchemaError, match=r"\(N, P, 3\)"):
        emd_matrix(np.zeros((2, 5, 2)))
    with pytest.raises(ConfigError, match="n_jobs"):
        emd_matrix([GOOD, GOOD], n_jobs=0)
    with pytest.raises(ConfigError, match="block_size"):
        emd_matrix([GOOD, GOOD], block_size=0)
    with pytest.raises(SchemaError, match="image must be"):
        from_image(np.zeros(5), np.zeros(5), np.zeros(1))
    with pytest.raises(SchemaError, match="eta_centres"):
        from_image(np.ones((3, 4)), np.zeros(4), np.zeros(3))


def test_solver_iteration_limit_raises():
    rng = np.random.default_rng(0)
    a, b = random_jet(rng, 40), random_jet(rng, 40)
    with pytest.raises(EMDSolverError, match="num_iter_max"):
        emd(a, b, norm=True, num_iter_max=2)
    with pytest.raises(EMDSolverError, match=r"pair \(0, 1\)"):
        emd_matrix([a, b], norm=True, num_iter_max=2)
