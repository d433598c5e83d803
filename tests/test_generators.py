"""Physics sanity of the real Pythia8 + FastJet recipes (small samples, seconds each)."""
import awkward as ak
import numpy as np
import pytest

from jetviz.data.kinematics import delta_r, invariant_mass
from jetviz.data.recipes import RECIPES, ee_jets, get_recipe, top_qcd
from jetviz.data.schema import flat_particles, validate_events
from jetviz.errors import ConfigError


@pytest.fixture(scope="module")
def ee6():
    return ee_jets(150, seed=11, process="ttbar", sqrt_s=500.0, n_jets=6)


@pytest.fixture(scope="module")
def topqcd():
    return top_qcd(60, seed=5)


def test_ee_momentum_balance(ee6):
    p = ee6.particles
    for comp, expected in (("px", 0.0), ("py", 0.0), ("pz", 0.0), ("E", 500.0)):
        np.testing.assert_allclose(ak.sum(p[comp], axis=1).to_numpy(), expected, atol=1e-6)
    assert ak.all(ak.sum(p.charge, axis=1) == 0)


def test_ee_six_durham_jets_label_every_visible_particle(ee6):
    assert ak.all(ak.num(ee6.jets) == 6)
    flat = flat_particles(ee6, ("jet", "pid", "E", "px", "py", "pz"))
    neutrino = np.isin(np.abs(flat["pid"]), (12, 14, 16))
    assert np.all(flat["jet"][neutrino] == -1)
    assert np.all((flat["jet"][~neutrino] >= 0) & (flat["jet"][~neutrino] < 6))
    # the truth jets are the sums of the particles carrying their label, ordered by energy
    for k in range(6):
        in_jet = ee6.particles.jet == k
        for comp in ("E", "px", "pz"):
            np.testing.assert_allclose(ak.sum(ee6.particles[comp][in_jet], axis=1), ee6.jets[comp][:, k], atol=1e-9)
    jet_e = ee6.jets.E.to_numpy()
    assert np.all(np.diff(jet_e, axis=1) <= 1e-9)


def test_ee_6jet_top_mass_peak_from_truth_jets(ee6):
    """Best split of the 6 Durham jets into two triplets gives masses near m_top."""
    from itertools import combinations

    jets = np.stack([ee6.jets[c].to_numpy() for c in ("px", "py", "pz", "E")], -1)  # (N, 6, 4)
    best = []
    for triplet in combinations(range(6), 3):
        if 0 not in triplet:
            continue
        rest = [i for i in range(6) if i not in triplet]
        m1 = invariant_mass(*jets[:, list(triplet)].transpose(2, 0, 1), axis=1)
        m2 = invariant_mass(*jets[:, rest].transpose(2, 0, 1), axis=1)
        best.append(np.abs(m1 - 173) + np.abs(m2 - 173))
        best[-1] = (best[-1], m1, m2)
    scores = np.stack([b[0] for b in best])
    choice = scores.argmin(axis=0)
    masses = np.stack([b[1] for b in best])[choice, np.arange(len(ee6))]
    assert 160 < np.median(masses) < 185


def test_ee_reproducible_and_seed_dependent():
    a = ee_jets(5, seed=3)
    b = ee_jets(5, seed=3)
    c = ee_jets(5, seed=4)
    assert ak.to_list(a.particles.px) == ak.to_list(b.particles.px)
    assert ak.to_list(a.particles.px) != ak.to_list(c.particles.px)


def test_ee_zh_four_jets():
    events = ee_jets(40, seed=2, process="zh", sqrt_s=250.0, n_jets=4)
    assert ak.all(ak.num(events.jets) == 4)
    np.testing.assert_allclose(ak.sum(events.particles.E, axis=1).to_numpy(), 250.0, atol=1e-6)


def test_top_qcd_selection_window(topqcd):
    validate_events(topqcd)
    pt, eta = topqcd.jet_pt.to_numpy(), topqcd.jet_eta.to_numpy()
    assert np.all((pt > 550) & (pt < 650)) and np.all(np.abs(eta) < 2)
    n = ak.num(topqcd.particles).to_numpy()
    assert np.all((n >= 1) & (n <= 200))
    assert np.sum(topqcd.label.to_numpy() == 1) == 30
    # constituents: pT ordered, within R of the jet axis, summing to the jet
    pts = topqcd.particles.pt
    assert ak.all(pts[:, :-1] >= pts[:, 1:])
    # anti-kt measures distances in rapidity y (not η): soft massive hadrons differ a lot
    def rapidity(E, pz):
        return 0.5 * np.log((E + pz) / (E - pz))

    flat = flat_particles(topqcd, ("E", "pz", "phi"))
    jet_pz = ak.sum(topqcd.particles.pz, axis=1).to_numpy()
    jet_e = ak.sum(topqcd.particles.E, axis=1).to_numpy()
    dr = delta_r(rapidity(flat["E"], flat["pz"]), flat["phi"],
                 np.repeat(rapidity(jet_e, jet_pz), n), np.repeat(topqcd.jet_phi.to_numpy(), n))
    assert dr.max() < 0.8 * 1.3
    sum_pt = np.hypot(ak.sum(topqcd.particles.px, axis=1), ak.sum(topqcd.particles.py, axis=1))
    np.testing.assert_allclose(sum_pt, pt, rtol=1e-9)


def test_top_jet_mass_peak(topqcd):
    mass, label = topqcd.jet_mass.to_numpy(), topqcd.label.to_numpy()
    assert 160 < np.median(mass[label == 1]) < 195
    assert np.median(mass[label == 0]) < 130
    # signal jets contain the parton-level top
    truth_m = invariant_mass(*(topqcd[f"truth_{c}"].to_numpy() for c in ("px", "py", "pz", "E")))
    assert 165 < np.median(truth_m[label == 1]) < 180
    assert np.all(truth_m[label == 0] == 0)


@pytest.mark.parametrize("params", [{"R": 1.0, "pt_min": 450.0, "pt_max": 10000.0}, {"max_constituents": 20}])
def test_top_qcd_parameters(params):
    events = top_qcd(10, seed=1, **params)
    if "max_constituents" in params:
        assert ak.max(ak.num(events.particles)) <= 20
    else:
        assert np.all(events.jet_pt.to_numpy() > 450)


def test_recipe_rejects_unknown_parameter_and_sample():
    with pytest.raises(ConfigError, match="no parameter"):
        get_recipe("top_qcd").params(radius=1.0)
    with pytest.raises(ConfigError, match="known samples"):
        get_recipe("zhh")


@pytest.mark.parametrize("name", [n for n in RECIPES if RECIPES[n].toy])
@pytest.mark.parametrize("n", [1, 17])
def test_toys_follow_the_schema(name, n):
    events = RECIPES[name].make(n, 0)
    assert len(events) == n
    validate_events(events)


@pytest.mark.parametrize("name", ["toy_ee_6jet", "toy_ee_zh_4jet"])
def test_toy_ee_balance(name):
    events = RECIPES[name].make(20, 1)
    sqrt_s = RECIPES[name].defaults["sqrt_s"]
    np.testing.assert_allclose(ak.sum(events.particles.px, axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(ak.sum(events.particles.E, axis=1), sqrt_s, rtol=1e-9)
