"""The compiled network simplex (jetviz.models.transport) against POT's and HiGHS on random problems."""
import numpy as np
import pytest
from scipy.optimize import linprog

from jetviz.errors import SchemaError
from jetviz.models.transport import MARGINAL_RTOL, MAX_ITER_REACHED, OPTIMAL, transport


def problem(rng, n, m, kind):
    """(a, b, cost, eta_a, eta_b): random points in the plane, costs θ^p; ``kind`` adds degeneracy."""
    xa, xb = rng.normal(size=(n, 2)), rng.normal(0.2, 1.0, size=(m, 2))
    cost = np.linalg.norm(xa[:, None] - xb[None], axis=-1) ** rng.choice([0.5, 1.0, 2.0])
    a, b = rng.exponential(1.0, n), rng.exponential(1.0, m)
    if kind == "integer":  # equal partial sums everywhere: many zero-flow basic arcs
        a, b = np.ones(n) * m, np.ones(m) * n
    elif kind == "ties":  # many equal costs: several optimal plans
        cost = np.round(cost, 1)
    b *= a.sum() / b.sum()
    return a, b, cost, xa[:, 0], xb[:, 0]


@pytest.mark.parametrize("n, m", [(1, 1), (1, 7), (6, 1), (2, 2), (5, 8), (40, 33), (120, 90), (230, 170)])
@pytest.mark.parametrize("kind", ["random", "integer", "ties"])
def test_agrees_with_pot(n, m, kind):
    import ot

    rng = np.random.default_rng(n * 1000 + m)
    for _ in range(3):
        a, b, cost, eta_a, eta_b = problem(rng, n, m, kind)
        flow, value, code, _ = transport(a, b, cost, eta_a=eta_a, eta_b=eta_b)
        assert code == OPTIMAL
        reference = ot.emd2(a, b, cost, numItermax=10**7)
        assert value == pytest.approx(reference, rel=1e-12, abs=1e-14)
        # a feasible plan whose cost is the value
        assert (flow >= 0).all()
        np.testing.assert_allclose(flow.sum(axis=1), a, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(flow.sum(axis=0), b, rtol=1e-12, atol=1e-14)
        assert (flow * cost).sum() == pytest.approx(value, rel=1e-12, abs=1e-14)
        # a basic solution: at most n + m - 1 arcs carry flow
        assert (flow > 0).sum() <= n + m - 1


@pytest.mark.parametrize("n, m", [(3, 4), (9, 7)])
def test_agrees_with_linprog(n, m):
    rng = np.random.default_rng(7)
    a, b, cost, eta_a, eta_b = problem(rng, n, m, "random")
    rows, cols = np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))
    res = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.r_[a, b], bounds=(0, None), method="highs")
    assert transport(a, b, cost)[1] == pytest.approx(res.fun, rel=1e-8)


def test_the_start_order_changes_the_path_not_the_answer():
    rng = np.random.default_rng(3)
    a, b, cost, eta_a, eta_b = problem(rng, 50, 60, "random")
    by_index, by_eta = transport(a, b, cost), transport(a, b, cost, eta_a=eta_a, eta_b=eta_b)
    assert by_eta[1] == pytest.approx(by_index[1], rel=1e-12)
    assert by_eta[3] != by_index[3]  # a different number of pivots


def test_pivot_limit_gives_the_code_not_a_wrong_answer():
    rng = np.random.default_rng(4)
    a, b, cost, _, _ = problem(rng, 30, 30, "random")
    assert transport(a, b, cost, max_iter=1)[2] == MAX_ITER_REACHED


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="cost"):
        transport(np.ones(2), np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="n, m ≥ 1"):
        transport(np.ones(0), np.ones(0), np.ones((0, 0)))


def test_unequal_marginals_are_refused():
    # the balanced problem has no plan whose rows sum to a and columns to b when the sums differ:
    # refuse (as POT's check_marginals and wasserstein's SupplyMismatch do) instead of a broken plan
    rng = np.random.default_rng(9)
    a, b, cost, _, _ = problem(rng, 6, 5, "random")
    for factor in (1.1, 0.5, 1 + 1e-6):
        with pytest.raises(SchemaError, match="the marginals differ: sum\\(a\\) = .* sum\\(b\\) = "):
            transport(a, b * factor, cost)
    # a difference at the level of rounding is accepted, and the plan meets both marginals
    flow, value, code, _ = transport(a, b * (1 + 0.1 * MARGINAL_RTOL), cost)
    assert code == OPTIMAL
    np.testing.assert_allclose(flow.sum(axis=1), a, rtol=1e-9)
    np.testing.assert_allclose(flow.sum(axis=0), b, rtol=1e-9)


@pytest.mark.parametrize(
    "a, b, cost, match",
    [
        (np.array([1.0, 0.0]), np.array([1.0]), np.ones((2, 1)), "a must hold finite weights > 0"),
        (np.array([1.0]), np.array([-1.0, 2.0]), np.ones((1, 2)), "b must hold finite weights > 0"),
        (np.array([1.0]), np.array([np.nan]), np.ones((1, 1)), "b must hold finite weights > 0"),
        (np.array([1.0]), np.array([1.0]), np.array([[np.inf]]), "cost holds NaN or infinite"),
    ],
)
def test_bad_weights_and_costs_raise(a, b, cost, match):
    with pytest.raises(SchemaError, match=match):
        transport(a, b, cost)
