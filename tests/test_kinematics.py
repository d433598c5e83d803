import numpy as np
import pytest

from jetviz.data.kinematics import (
    boost,
    boost_z,
    delta_phi,
    invariant_mass,
    p4_from_pt_eta_phi,
    pt_eta_phi,
    rambo,
    rest_frame_with_masses,
    wrap_phi,
)


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_round_trip_pt_eta_phi(n):
    rng = np.random.default_rng(n)
    pt, eta, phi = rng.uniform(0.1, 500, n), rng.uniform(-4, 4, n), rng.uniform(-np.pi, np.pi, n)
    px, py, pz, energy = p4_from_pt_eta_phi(pt, eta, phi, mass=0.14)
    pt2, eta2, phi2 = pt_eta_phi(px, py, pz)
    np.testing.assert_allclose(pt2, pt, rtol=1e-12)
    np.testing.assert_allclose(eta2, eta, atol=1e-9)
    np.testing.assert_allclose(delta_phi(phi2, phi), 0, atol=1e-12)
    np.testing.assert_allclose(invariant_mass(px, py, pz, energy), 0.14, rtol=1e-6)


def test_wrap_phi_range_and_convention():
    phi = np.array([np.pi, -np.pi, 3 * np.pi, 2 * np.pi + 0.1, -0.1])
    wrapped = wrap_phi(phi)
    assert np.all(wrapped > -np.pi) and np.all(wrapped <= np.pi)
    np.testing.assert_allclose(wrapped, [np.pi, np.pi, np.pi, 0.1, -0.1], atol=1e-12)


def test_delta_phi_across_the_boundary():
    assert delta_phi(np.pi - 0.1, -np.pi + 0.1) == pytest.approx(-0.2)


def test_eta_finite_along_beam():
    _, eta, _ = pt_eta_phi(np.array([0.0]), np.array([0.0]), np.array([10.0]))
    assert np.isfinite(eta).all() and eta[0] > 20


def test_invariant_mass_of_back_to_back_pair():
    m = invariant_mass([50, -50], [0, 0], [0, 0], [50, 50], axis=0)
    assert m == pytest.approx(100.0)


def test_rambo_phase_space():
    rng = np.random.default_rng(1)
    masses = np.array([0.0, 0.0, 173.0, 80.385, 4.8, 0.0])
    p = rambo(rng, 9000.0, masses)
    np.testing.assert_allclose(p.sum(axis=0), [0, 0, 0, 9000.0], atol=1e-7)
    np.testing.assert_allclose(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(axis=1), masses**2, atol=1e-4)
    # massless RAMBO is isotropic: ⟨cos θ⟩ ≈ 0 over many events
    cos = np.concatenate([(lambda q: q[:, 2] / np.linalg.norm(q[:, :3], axis=1))(rambo(rng, 9000.0, np.zeros(10)))
                          for _ in range(300)])
    assert abs(cos.mean()) < 0.05 and abs((cos**2).mean() - 1 / 3) < 0.03


def test_boost_preserves_mass_and_inverts():
    rng = np.random.default_rng(3)
    p3 = rng.normal(0, 50, (20, 3))
    p4 = np.column_stack([p3, np.sqrt((p3**2).sum(1) + 0.14**2)])
    beta = np.array([0.3, -0.5, 0.6])
    moved = boost(p4, beta)
    np.testing.assert_allclose(moved[:, 3] ** 2 - (moved[:, :3] ** 2).sum(1), 0.14**2, atol=1e-8)
    np.testing.assert_allclose(boost(moved, -beta), p4, atol=1e-10)
    # a particle at rest boosted along z with rapidity y gets pz = m sinh y, E = m cosh y
    at_rest = np.array([[0.0, 0.0, 0.0, 2.0]])
    np.testing.assert_allclose(boost_z(at_rest, 0.7)[0], [0, 0, 2 * np.sinh(0.7), 2 * np.cosh(0.7)], atol=1e-12)
    assert not np.shares_memory(boost(p4, np.zeros(3)), p4)


def test_rest_frame_with_masses():
    rng = np.random.default_rng(4)
    p3 = rng.normal(0, 100, (7, 3))
    p4 = np.column_stack([p3, np.linalg.norm(p3, axis=1)])
    masses = np.array([0.0, 0.105, 0.0, 4.8, 1.5, 0.0, 0.0])
    rest = rest_frame_with_masses(p4, masses, 1000.0)
    np.testing.assert_allclose(rest.sum(axis=0), [0, 0, 0, 1000.0], atol=1e-8)
    np.testing.assert_allclose(rest[:, 3] ** 2 - (rest[:, :3] ** 2).sum(1), masses**2, atol=1e-6)
