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
    real_tile, real_plan = emd_module.pairwise_tile, emd_module.pair_plan

    def tile_unfinished(*args):
        real_tile(*args)
        args[-1][:] = 3  # codes: "iteration limit reached"

    def plan_unfinished(*args):
        return (*real_plan(*args)[:1], 3, None)

    for norm in (True, False):
        fast, (v_fast, f_fast) = emd_matrix(jets, norm=norm), emd(jets[0], jets[1], norm=norm, return_flow=True)
        monkeypatch.setattr(emd_module, "pairwise_tile", tile_unfinished)
        monkeypatch.setattr(emd_module, "pair_plan", plan_unfinished)
        if pot_path == "public":
            monkeypatch.setattr(emd_module, "_solver", emd_module._solve_public)
        pot, (v_pot, f_pot) = emd_matrix(jets, norm=norm), emd(jets[0], jets[1], norm=norm, return_flow=True)
        # still one value per pair: the matrix entry is the single distance, bit for bit
        assert all(pot[i, j] == emd(jets[i], jets[j], norm=norm) for i in range(5) for j in range(5))
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
        (PointSet(np.array([1.0, -0.5]), np.zeros((2, 2))), "negative weights"),
        (PointSet(np.array([1.0, np.nan]), np.zeros((2, 2))), "NaN or infinite weights"),
        (PointSet(np.array([1.0, np.inf]), np.zeros((2, 2))), "NaN or infinite weights"),
        (PointSet(np.array([1.0, 1.0]), np.array([[0.0, np.nan], [0.0, 0.0]])), r"NaN or infinite \(eta, phi\)"),
        (PointSet(np.array([1.0, 1.0]), np.array([[np.inf, 0.0], [0.0, 0.0]])), r"NaN or infinite \(eta, phi\)"),
        ((np.ones(2), np.zeros((2, 0))), r"coords must be a \(P, d\)"),
        ((np.ones(2), np.zeros(2)), r"coords must be a \(P, d\)"),
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
    with pytest.raises(SchemaError, match=r"jets_b\[0\] is empty.*normalised EMD to an empty event is undefined"):
        emd_matrix([GOOD], [PointSet(np.zeros(0), np.zeros((0, 2)))], norm=True)
    with pytest.raises(SchemaError, match="holds no jets"):
        emd_matrix([])
    with pytest.raises(SchemaError, match=r"\(N, P, 3\)"):
        emd_matrix(np.zeros((2, 5)))
    with pytest.raises(SchemaError, match=r"shape \(5, 2\) is ambiguous"):
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


# ============================================================================= energyflow's options
# Every option against POT (ot.emd2 / ot.emd) and HiGHS (scipy linprog) on costs built here
# independently: periodic coordinates as the minimum over the images x + 2πk, the spherical angle
# from arccos of momentum directions computed from (pT, y, φ[, m]) or (E, p⃗) rows here.
def event(rng, n, gdim, extra_cols=0, spread=0.5, phi=None, ties=False):
    """An energyflow-style (n, 1 + gdim + extra_cols) event: pT, gdim coordinates, junk columns (a pid)."""
    x = np.empty((n, 1 + gdim + extra_cols))
    x[:, 0] = rng.exponential(40.0, n) if not ties else 10.0
    x[:, 1 : 1 + gdim] = rng.normal(0.0, spread, (n, gdim)) if not ties else rng.integers(-2, 3, (n, gdim)) * 0.2
    if phi is not None and gdim >= 2:
        x[:, 2] = np.mod(x[:, 2] + phi, 2 * np.pi)  # energyflow's convention: phi in [0, 2π)
    x[:, 1 + gdim :] = rng.choice([-211.0, 22.0, 211.0, 2112.0], (n, extra_cols))
    return x


def reference_cost_nd(xa, xb, R, p, periodic_col=None):
    """(θ/R)^p of (P, d) coordinates; the periodic column as the minimum over its images (no wrapping)."""
    xa, xb = np.asarray(xa, float), np.asarray(xb, float)
    if periodic_col is None:
        return (cdist(xa, xb) / R) ** p
    shift = np.zeros(xa.shape[1])
    images = []
    for k in (-2, -1, 0, 1, 2):
        shift[periodic_col] = 2 * np.pi * k
        images.append(cdist(xa, xb + shift))
    return (np.min(images, axis=0) / R) ** p


def reference_emd(wa, wb, M, norm, extra_cost=1.0):
    """(POT value, HiGHS value) of the EMD on the cost M; unnormalised as energyflow does it (extra particle at cost 1)."""
    import ot

    wa, wb, M = np.array(wa, float), np.array(wb, float), np.ascontiguousarray(M, dtype=float)
    if norm:
        wa, wb = wa / wa.sum(), wb / wb.sum()
    pot_a, pot_b, pot_M = wa, wb, M
    diff = wb.sum() - wa.sum()
    if not norm and diff > 0:
        pot_a, pot_M = np.r_[wa, diff], np.vstack([M, np.full((1, M.shape[1]), extra_cost)])
    elif not norm and diff < 0:
        pot_b, pot_M = np.r_[wb, -diff], np.hstack([M, np.full((M.shape[0], 1), extra_cost)])
    value_pot = ot.emd2(pot_a, pot_b * pot_a.sum() / pot_b.sum(), pot_M, numItermax=10**7)
    P, Q = M.shape
    rows, cols = np.kron(np.eye(P), np.ones(Q)), np.kron(np.ones(P), np.eye(Q))
    if norm:
        res = linprog(M.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.r_[wa, wb], bounds=(0, None), method="highs")
    else:
        res = linprog(M.ravel(), A_ub=np.vstack([rows, cols]), b_ub=np.r_[wa, wb], A_eq=np.ones((1, P * Q)),
                      b_eq=[min(wa.sum(), wb.sum())], bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return value_pot, res.fun + (0.0 if norm else abs(diff) * extra_cost)


@pytest.mark.parametrize("gdim", [1, 2, 3])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_ground_spaces_against_pot_and_linprog(gdim, periodic, norm, p):
    rng = np.random.default_rng(100 * gdim + 10 * periodic + 2 * norm + int(4 * p))
    phi_col = (2 if gdim >= 2 else 1) if periodic else 2
    for R, sizes in ((0.4, (6, 9)), (1.0, (1, 5)), (1.0, (11, 8))):
        a = event(rng, sizes[0], gdim, extra_cols=1, phi=3.0 if periodic else None)
        b = event(rng, sizes[1], gdim, extra_cols=1, phi=-3.0 if periodic else None)
        if periodic and gdim == 1:  # a circle: the coordinate is an angle
            a[:, 1], b[:, 1] = np.mod(a[:, 1] * 4, 2 * np.pi), np.mod(b[:, 1] * 4, 2 * np.pi)
        M = reference_cost_nd(a[:, 1 : 1 + gdim], b[:, 1 : 1 + gdim], R, p, phi_col - 1 if periodic else None)
        value_pot, value_lp = reference_emd(a[:, 0], b[:, 0], M, norm)
        kw = dict(R=R, beta=p, norm=norm, gdim=gdim, periodic_phi=periodic, phi_col=phi_col)
        value = emd(a, b, **kw)  # the pid column beyond gdim is ignored
        assert value == pytest.approx(value_pot, rel=1e-9, abs=1e-12)
        assert value == pytest.approx(value_lp, rel=1e-7, abs=1e-9)
        matrix = emd_matrix([a, b, a.copy(), a[::-1]], **kw)
        assert matrix[0, 1] == value and matrix[1, 0] == value and matrix[0, 2] == 0.0
        assert matrix[0, 3] == pytest.approx(0.0, abs=1e-12 * a[:, 0].sum())


@pytest.mark.parametrize("coords", ["hadronic", "cartesian"])
@pytest.mark.parametrize("norm", [False, True])
def test_spherical_measure_against_pot(coords, norm):
    rng = np.random.default_rng(5 + norm)
    for sizes in ((1, 4), (7, 9)):
        ha, hb = (np.c_[event(rng, n, 2, spread=1.5), rng.uniform(0, 2, n)] for n in sizes)  # (pT, y, φ, m)

        def cartesian(x):  # (E, px, py, pz) of (pT, y, φ, m) rows
            mt = np.hypot(x[:, 0], x[:, 3])
            return np.c_[mt * np.cosh(x[:, 1]), x[:, 0] * np.cos(x[:, 2]), x[:, 0] * np.sin(x[:, 2]), mt * np.sinh(x[:, 1])]

        ca, cb = cartesian(ha), cartesian(hb)
        na, nb = (c[:, 1:] / np.linalg.norm(c[:, 1:], axis=1, keepdims=True) for c in (ca, cb))
        M = (np.arccos(np.clip(na @ nb.T, -1, 1)) / 0.8) ** 1.5
        value_pot, value_lp = reference_emd(ca[:, 0], cb[:, 0], M, norm)
        if coords == "hadronic":
            value = emd(ha, hb, measure="spherical", gdim=3, R=0.8, p=1.5, norm=norm)  # gdim 3: (y, φ, m)
        else:
            value = emd(ca, cb, measure="spherical", coords="cartesian", R=0.8, p=1.5, norm=norm)
        assert value == pytest.approx(value_pot, rel=1e-8)
        assert value == pytest.approx(value_lp, rel=1e-7)
    # massless (pT, y, φ) rows: gdim 2 is read without being asked
    massless = event(rng, 5, 2), event(rng, 6, 2)
    assert emd(*massless, measure="spherical") == emd(*(np.c_[x, np.zeros(len(x))] for x in massless),
                                                      measure="spherical", gdim=3)


def test_extra_columns_one_particle_and_float32_inputs():
    rng = np.random.default_rng(21)
    a, b = event(rng, 12, 2, extra_cols=2), event(rng, 9, 2, extra_cols=2)
    three = emd(a[:, :3], b[:, :3])
    assert emd(a, b, gdim=2) == three  # (pT, y, φ, pid, charge): the columns after gdim are ignored
    assert emd_matrix([a, b], gdim=2)[0, 1] == three
    # one particle as a 1-d array is a (1, 1 + gdim) event
    assert emd(a[0, :3], b[:, :3]) == emd(a[:1, :3], b[:, :3])
    assert emd(a[0], b, gdim=2) == emd(a[:1, :3], b[:, :3])
    # float32 inputs are read exactly (then computed in float64)
    a32, b32 = a[:, :3].astype(np.float32), b[:, :3].astype(np.float32)
    assert emd(a32, b32) == emd(a32.astype(np.float64), b32.astype(np.float64))
    # float32 results: the float64 values rounded once
    for norm in (False, True):
        d64, d32 = emd_matrix([a32, b32, a[:4, :3]], norm=norm), emd_matrix([a32, b32, a[:4, :3]], norm=norm,
                                                                          dtype="float32")
        assert d32.dtype == np.float32 and np.array_equal(d32, d64.astype(np.float32))
        value, flow = emd(a32, b32, norm=norm, dtype="float32", return_flow=True)
        assert isinstance(value, np.float32) and flow.dtype == np.float32 and value == np.float32(d64[0, 1])


@pytest.mark.parametrize(
    "jet, kw, match",
    [
        (np.zeros((3, 4)), {}, r"shape \(3, 4\) is ambiguous.*gdim=2 to read \(pt, y, phi\)"),
        (np.zeros((3, 2)), {}, r"shape \(3, 2\) is ambiguous.*gdim=1 for \(weight, x\)"),
        (np.zeros((3, 5)), {"measure": "spherical", "coords": "cartesian"}, r"shape \(3, 5\) is ambiguous"),
        (np.zeros((3, 3)), {"gdim": 3}, r"shape \(3, 3\) has 2 coordinate column\(s\).*fewer than gdim=3"),
        (np.zeros(4), {}, r"shape \(1, 4\) is ambiguous"),
        ((np.ones(2), np.zeros((2, 2))), {"gdim": 3}, r"fewer than gdim=3"),
    ],
)
def test_ambiguous_shapes_are_errors_naming_the_shape(jet, kw, match):
    with pytest.raises(SchemaError, match=match):
        emd(jet, np.ones((2, 3)), **kw)


def test_mixed_dimensions_and_bad_options_raise():
    with pytest.raises(SchemaError, match=r"jets_a\[1\] has 3 coordinate column\(s\) but jets_a\[0\] has 2"):
        emd_matrix([(np.ones(2), np.zeros((2, 2))), (np.ones(2), np.zeros((2, 3)))])
    for kw, match in [
        ({"gdim": 1}, "periodic_phi=True wraps event column phi_col=2, but the ground space has gdim=1"),
        ({"gdim": 0}, "gdim must be an integer ≥ 1"),
        ({"phi_col": 0}, "phi_col must be"),
        ({"p": 2.0, "beta": 1.0}, "p=2.0 and beta=1.0 name the same exponent"),
        ({"num_iter_max": 5, "n_iter_max": 6}, "name the same limit"),
        ({"measure": "taxicab"}, "measure must be"),
        ({"coords": "cartesian"}, "needs measure='spherical'"),
        ({"measure": "spherical", "mask": True}, "mask"),
        ({"empty_policy": "zero"}, "empty_policy must be"),
        ({"dtype": "float16"}, "dtype must be"),
    ]:
        with pytest.raises(ConfigError, match=match):
            emd(np.ones((2, 2)), np.ones((2, 2)), **kw)
    assert emd(np.ones((1, 2)), np.array([[1.0, 0.25]]), gdim=1, periodic_phi=False) == 0.75
    assert emd(np.ones((1, 2)), np.array([[1.0, 0.25]]), gdim=1, periodic_phi=False, beta=2.0, n_iter_max=10) == 0.5625


# ----------------------------------------------------------------------------- empty events
def test_empty_events_unnormalised_are_defined():
    rng = np.random.default_rng(31)
    a, b = event(rng, 10, 2), event(rng, 7, 2)
    empty, zeros = np.zeros((0, 3)), np.c_[np.zeros(4), rng.normal(size=(4, 2))]
    total = a[:, 0].sum()
    # all of a's pT goes to the extra particle at θ = R (cost 1 per GeV), for every p and R
    for other in (empty, zeros, np.zeros(0)):
        assert emd(a, other) == pytest.approx(total, rel=1e-15)
        assert emd(other, a, R=0.3, p=2.0) == pytest.approx(total, rel=1e-15)
        assert reference_emd(a[:, 0], [1e-300], np.ones((10, 1)), False)[0] == pytest.approx(total)
    assert emd(empty, zeros) == 0.0
    # one empty jet in a padded (N, P, 3) batch
    padded = np.zeros((4, 10, 3))
    padded[0], padded[2, :7] = a, b
    d = emd_matrix(padded)
    assert d[0, 1] == d[1, 0] == emd(a, empty) and d[1, 3] == 0.0 and d[1, 2] == pytest.approx(b[:, 0].sum())
    assert d[0, 2] == emd(a, b)
    # the plan: the extra particle's row carries everything
    value, flow = emd(empty, a, return_flow=True, flow_with_extra=True)
    assert flow.shape == (1, 10) and np.array_equal(flow[0], a[:, 0])
    assert emd(empty, a, return_flow=True)[1].shape == (0, 10)


def test_empty_policy():
    rng = np.random.default_rng(32)
    a, b = event(rng, 6, 2), event(rng, 5, 2)
    jets = [a, np.zeros((0, 3)), b]
    with pytest.raises(SchemaError, match=r"jets_a\[1\] is empty.*undefined.*empty_policy"):
        emd_matrix(jets, norm=True)
    with pytest.raises(SchemaError, match=r"jets_a\[1\] is empty: it has no particles \(empty_policy='error'\)"):
        emd_matrix(jets, empty_policy="error")
    with pytest.raises(SchemaError, match="jet_b has zero total weight"):
        emd(a, np.zeros((3, 3)), norm=True)
    for norm in (True, False):
        d = emd_matrix(jets, norm=norm, empty_policy=-1.0)
        assert d[0, 1] == d[1, 2] == d[2, 1] == -1.0 and d[1, 1] == 0.0 and d[0, 2] == emd(a, b, norm=norm)
        assert emd(a, jets[1], norm=norm, empty_policy=-1.0) == -1.0
        nan = emd_matrix(jets, norm=norm, empty_policy=float("nan"))
        assert np.isnan(nan[0, 1]) and nan[0, 2] == d[0, 2]
    # energyflow's mask: particles farther than R from the origin are dropped (an event can become empty)
    far = a.copy()
    far[:, 1] += 5.0
    inside = np.hypot(b[:, 1], b[:, 2]) <= 1.0
    assert 0 < inside.sum() < len(b)
    assert emd(far, b, mask=True, R=1.0) == pytest.approx(b[inside, 0].sum(), rel=1e-15)
    near = a[np.hypot(a[:, 1], a[:, 2]) <= 0.7]
    assert emd(a, b, mask=True, R=0.7) == emd(near, b[np.hypot(b[:, 1], b[:, 2]) <= 0.7], R=0.7)


# ----------------------------------------------------------------------------- external distances, plans
@pytest.mark.parametrize("norm", [False, True])
def test_external_dists(norm):
    rng = np.random.default_rng(41 + norm)
    a, b = event(rng, 8, 2), event(rng, 6, 2)
    b[2, 0] = 0.0  # zero-weight particles keep their row/column of dists
    D = rng.random((8, 6)) * 2
    for R, p in ((1.0, 1.0), (0.5, 2.0)):
        M = (D / R) ** p
        value_pot, value_lp = reference_emd(a[:, 0], b[:, 0], M, norm)
        assert emd(a, b, dists=D, R=R, p=p, norm=norm) == pytest.approx(value_pot, rel=1e-10)
        assert emd(a[:, 0], b[:, 0], dists=D, R=R, p=p, norm=norm) == pytest.approx(value_lp, rel=1e-7)
    # the coordinates are not read: dists of the Euclidean distances give the coordinates' EMD
    D2 = cdist(a[:, 1:], b[:, 1:])
    assert emd(a, b, dists=D2, norm=norm) == pytest.approx(emd(a, b, norm=norm, periodic_phi=False), rel=1e-12)
    with pytest.raises(SchemaError, match=r"dists must be \(P_a, P_b\) = \(8, 6\)"):
        emd(a, b, dists=D.T)
    with pytest.raises(SchemaError, match="finite distances"):
        emd(a, b, dists=-D)


@pytest.mark.parametrize("p", [0.5, 1.0])
def test_flow_with_the_extra_particle(p):
    rng = np.random.default_rng(51)
    a, b = event(rng, 9, 2), event(rng, 12, 2)
    a[3, 0] = 0.0
    for x, y in ((a, b), (b, a)):
        value, flow = emd(x, y, p=p, R=0.6, return_flow=True, flow_with_extra=True)
        ex, ey = x[:, 0].sum(), y[:, 0].sum()
        M = np.r_[reference_cost_nd(x[:, 1:], y[:, 1:], 0.6, p)] if ex < ey else reference_cost_nd(x[:, 1:], y[:, 1:], 0.6, p)
        if ex < ey:  # energyflow's layout: the lighter event's extra particle last, at cost 1
            assert flow.shape == (len(x) + 1, len(y))
            M = np.vstack([M, np.ones((1, len(y)))])
            np.testing.assert_allclose(flow.sum(axis=0), y[:, 0], rtol=1e-12, atol=1e-12)
            assert flow[-1].sum() == pytest.approx(ey - ex, rel=1e-12)
        else:
            assert flow.shape == (len(x), len(y) + 1)
            M = np.hstack([M, np.ones((len(x), 1))])
            np.testing.assert_allclose(flow.sum(axis=1), x[:, 0], rtol=1e-12, atol=1e-12)
        assert (flow * M).sum() == pytest.approx(value, rel=1e-12)
        import ot

        assert value == pytest.approx(ot.emd2(*(flow.sum(axis=1), flow.sum(axis=0)), M), rel=1e-10)
    # equal totals or normalised: no extra particle
    assert emd(a, a[::-1] * [1, 1.01, 1], return_flow=True, flow_with_extra=True)[1].shape == (9, 9)
    assert emd(a, b, norm=True, return_flow=True, flow_with_extra=True)[1].shape == (9, 12)


def test_ties_against_pot_and_linprog():
    # coordinates on a grid and equal weights: many equal costs, many optimal plans, degenerate pivots
    rng = np.random.default_rng(61)
    for norm in (False, True):
        for sizes in ((5, 5), (12, 8)):
            a, b = event(rng, sizes[0], 2, ties=True), event(rng, sizes[1], 2, ties=True)
            M = reference_cost_nd(a[:, 1:], b[:, 1:], 1.0, 1.0)
            value_pot, value_lp = reference_emd(a[:, 0], b[:, 0], M, norm)
            assert emd(a, b, norm=norm) == pytest.approx(value_pot, rel=1e-12, abs=1e-12)
            assert emd(a, b, norm=norm) == pytest.approx(value_lp, rel=1e-8, abs=1e-9)


# ----------------------------------------------------------------------------- one value per pair
@pytest.mark.parametrize("kw", [dict(), dict(norm=True, p=0.5), dict(R=0.4, p=2.0, root=True),
                                dict(gdim=3, periodic_phi=False, norm=True)])
def test_matrix_entries_are_the_single_distances_bit_for_bit(kw):
    rng = np.random.default_rng(71)
    gdim = kw.get("gdim", 2)
    jets = [event(rng, int(rng.integers(1, 40)), gdim, spread=0.4) for _ in range(9)]
    jets.append(jets[2].copy())  # a duplicate: exactly 0 from its twin
    jets[4][:, 0] = jets[5][:, 0].sum() / len(jets[4])  # equal totals: no extra particle
    d = emd_matrix(jets, **kw)
    single = np.array([[emd(x, y, **kw) for y in jets] for x in jets])
    np.fill_diagonal(single, 0.0)
    assert np.array_equal(d, single)  # emd(X[i], X[j]) for i > j too: emd is symmetric bit for bit
    assert d[2, 9] == 0.0 and emd(jets[2], jets[9], **kw) == 0.0
    assert np.array_equal(emd_matrix(jets, n_jobs=2, block_size=3, **kw), d)
    assert np.array_equal(emd_matrix(jets[:4], jets[4:], **kw), d[:4, 4:])
    assert np.array_equal(emd_matrix(jets[4:], jets[:4], n_jobs=2, **kw), d[4:, :4])
