import numpy as np
import pytest

from jetviz.data.kinematics import delta_phi, invariant_mass, p4_from_pt_eta_phi, pt_eta_phi, wrap_phi


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
