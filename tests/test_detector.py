"""Tests of jetviz.data.detector: which subdetector sees what, resolutions, reproducibility."""
from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from jetviz.data.detector import Detector, simulate
from jetviz.data.pdg import is_invisible
from jetviz.data.kinematics import p4_from_pt_eta_phi
from jetviz.data.pixelate import event_images
from jetviz.data.schema import make_events

MASSES = {22: 0.0, 11: 0.000511, 13: 0.1057, 211: 0.1396, 130: 0.4976, 2112: 0.9396, 12: 0.0, 14: 0.0, 16: 0.0}
CHARGES = {11: -1.0, -11: 1.0, 13: -1.0, -13: 1.0, 211: 1.0, -211: -1.0}


def events_of(pid, energy, eta, phi, counts=None, d0=None):
    """Schema events from per-particle pid, E (GeV), η, φ; one particle per event by default."""
    pid = np.asarray(pid, dtype=np.int64)
    energy, eta, phi = (np.broadcast_to(np.asarray(a, dtype=float), pid.shape) for a in (energy, eta, phi))
    mass = np.array([MASSES[abs(int(p))] for p in pid])
    p = np.sqrt(np.clip(energy**2 - mass**2, 1e-12, None))
    pt = p / np.cosh(eta)
    px, py, pz, e = p4_from_pt_eta_phi(pt, eta, phi, mass)
    charge = np.array([CHARGES.get(int(x), 0.0) for x in pid])
    particles = dict(px=px, py=py, pz=pz, E=e, charge=charge, pid=pid)
    if d0 is not None:
        particles.update(d0=np.asarray(d0, dtype=float), z0=np.full(pid.shape, 2.0))
    counts = np.ones(len(pid), dtype=np.int64) if counts is None else counts
    return make_events(particles, counts)


def n_hits(hits, name):
    return ak.to_numpy(ak.num(hits[name], axis=1))


def test_neutrinos_are_invisible():
    events = events_of([12, -14, 16, 12], 50.0, [0.0, 1.0, -2.0, 0.5], 0.3, counts=np.array([2, 2]))
    hits = simulate(events)
    assert len(hits) == 2
    for name in ("ecal", "hcal", "tracks"):
        assert n_hits(hits, name).tolist() == [0, 0]
    assert is_invisible(np.array([12, -16, 1000022, 22, 211])).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("energy", [5.0, 50.0, 500.0])
def test_photons_only_in_ecal(energy):
    events = events_of([22] * 20, energy, np.linspace(-2.3, 2.3, 20), np.linspace(-3.1, 3.1, 20))
    hits = simulate(events)
    assert n_hits(hits, "ecal").tolist() == [1] * 20
    assert n_hits(hits, "hcal").sum() == 0 and n_hits(hits, "tracks").sum() == 0


def test_electrons_in_ecal_and_tracker():
    hits = simulate(events_of([11, -11], 40.0, [0.2, -1.0], [1.0, -2.0]))
    assert n_hits(hits, "ecal").tolist() == [1, 1]
    assert n_hits(hits, "hcal").tolist() == [0, 0]
    assert n_hits(hits, "tracks").tolist() == [1, 1]
    assert ak.to_list(hits.tracks.charge) == [[-1.0], [1.0]]


def test_charged_pions_in_hcal_and_tracker_neutral_hadrons_in_hcal_only():
    hits = simulate(events_of([211, -211, 130, 2112], 30.0, [0.1, 1.5, -0.7, 2.0], [0.0, 3.0, -3.0, 1.0]))
    assert n_hits(hits, "ecal").tolist() == [0, 0, 0, 0]
    assert n_hits(hits, "hcal").tolist() == [1, 1, 1, 1]
    assert n_hits(hits, "tracks").tolist() == [1, 1, 0, 0]
    assert ak.to_list(hits.tracks.charge) == [[1.0], [-1.0], [], []]


def test_muons_leave_tracks_only():
    hits = simulate(events_of([13, -13], 80.0, [0.5, -1.2], [0.1, 2.0]))
    assert n_hits(hits, "tracks").tolist() == [1, 1]
    assert n_hits(hits, "ecal").sum() == 0 and n_hits(hits, "hcal").sum() == 0


def test_track_acceptance_and_impact_parameters():
    det = Detector()
    # pT: 0.3 GeV < threshold; |η| = 2.7 outside the tracker; the third one passes
    energy = np.array([0.3 * np.cosh(0.0), 10 * np.cosh(2.7), 10 * np.cosh(1.0)])
    hits = simulate(events_of([211, 211, -211], energy, [0.0, 2.7, 1.0], 0.5, d0=[0.1, 0.2, np.nan]), det)
    assert n_hits(hits, "tracks").tolist() == [0, 0, 1]
    assert ak.to_list(hits.tracks.d0) == [[], [], [0.0]]  # NaN → 0
    assert ak.to_list(hits.tracks.z0) == [[], [], [2.0]]
    no_ip = simulate(events_of([211], 10.0, 0.0, 0.0))
    assert ak.to_list(no_ip.tracks.d0) == [[0.0]]
    # outside the calorimeter (|η| ≥ eta_max) nothing is deposited
    far = simulate(events_of([22, 211], 100.0, [2.6, -3.0], 0.0))
    assert n_hits(far, "ecal").sum() == 0 and n_hits(far, "hcal").sum() == 0


def test_cells_sit_on_the_grid_and_phi_is_periodic():
    det = Detector(n_eta=20, n_phi=16, eta_max=2.0)
    phi = np.array([np.pi, -np.pi + 1e-3, np.pi - 1e-3])  # the first two share cell 0
    hits = simulate(events_of([22, 22, 22], 20.0, 0.05, phi, counts=np.array([3])), det)
    cells = hits.ecal[0]
    d_phi = 2 * np.pi / 16
    assert sorted(ak.to_list(cells.phi)) == pytest.approx(sorted([-np.pi + d_phi / 2, np.pi - d_phi / 2]))
    assert ak.to_list(cells.eta) == pytest.approx([0.1, 0.1])  # centre of [0, 0.2)
    np.testing.assert_allclose(ak.to_numpy(cells.pt), ak.to_numpy(cells.E) / np.cosh(0.1))
    images = event_images(hits, n_eta=20, n_phi=16, eta_max=2.0)
    assert images[0, 0, 10, 0] > 0 and images[0, 0, 10, 15] > 0 and (images[0, 0] > 0).sum() == 2


@pytest.mark.parametrize(
    "pid, energy, calo",
    [(22, 10.0, "ecal"), (22, 100.0, "ecal"), (211, 50.0, "hcal"), (130, 200.0, "hcal")],
)
def test_calorimeter_resolution(pid, energy, calo):
    det = Detector(cell_threshold=0.0)
    n = 4000
    hits = simulate(events_of([pid] * n, energy, 0.33, 0.21), det, seed=3)
    deposited = ak.to_numpy(ak.flatten(hits[calo].E))
    assert len(deposited) == n
    expected = float(getattr(det, f"{calo}_sigma")(energy))
    stochastic, constant = getattr(det, f"{calo}_stochastic"), getattr(det, f"{calo}_constant")
    noise = getattr(det, f"{calo}_noise")
    assert expected == pytest.approx(np.sqrt(stochastic**2 * energy + noise**2 + (constant * energy) ** 2))
    assert deposited.std() == pytest.approx(expected, rel=0.10)
    assert abs(deposited.mean() - energy) < 4 * expected / np.sqrt(n)


def test_track_resolution():
    det = Detector()
    n, pt = 4000, 100.0
    hits = simulate(events_of([211] * n, pt * np.cosh(0.5), 0.5, 0.0), det, seed=4)
    measured = ak.to_numpy(ak.flatten(hits.tracks.pt))
    true_pt = ak.to_numpy(ak.flatten(events_of([211], pt * np.cosh(0.5), 0.5, 0.0).particles.pt))[0]
    rel = measured / true_pt - 1
    assert rel.std() == pytest.approx(float(det.track_sigma(true_pt)), rel=0.10)
    assert float(det.track_sigma(true_pt)) == pytest.approx(np.hypot(0.01, 1.5e-4 * true_pt), rel=1e-3)


def test_total_calorimeter_energy_matches_visible_energy():
    rng = np.random.default_rng(0)
    counts = rng.integers(5, 40, 300)
    m = int(counts.sum())
    pid = rng.choice([22, 211, -211, 130, 2112, 11, 12, 13], m)
    energy = rng.uniform(5.0, 60.0, m)
    eta, phi = rng.uniform(-2.4, 2.4, m), rng.uniform(-np.pi, np.pi, m)
    events = events_of(pid, energy, eta, phi, counts=counts)
    hits = simulate(events, seed=5)
    calo = ak.sum(hits.ecal.E, axis=1) + ak.sum(hits.hcal.E, axis=1)
    p = events.particles
    in_calo = ~((abs(p.pid) == 12) | (abs(p.pid) == 13))
    visible = ak.sum(p.E[in_calo], axis=1)
    assert float(ak.sum(calo) / ak.sum(visible)) == pytest.approx(1.0, abs=0.01)
    assert float(ak.mean(calo / visible)) == pytest.approx(1.0, abs=0.02)
    # ECal alone holds the photons and electrons
    em = (abs(p.pid) == 22) | (abs(p.pid) == 11)
    assert float(ak.sum(hits.ecal.E) / ak.sum(p.E[em])) == pytest.approx(1.0, abs=0.01)


def test_reproducible_per_seed_and_inputs_untouched():
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 30, 50)
    m = int(counts.sum())
    events = events_of(rng.choice([22, 211, -211, 130, 11, 13], m), rng.uniform(0.5, 40, m), rng.uniform(-3, 3, m), rng.uniform(-np.pi, np.pi, m), counts=counts)
    before = ak.to_list(events)
    a, b, c = simulate(events, seed=7), simulate(events, seed=7), simulate(events, seed=8)
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a.ecal.E) != ak.to_list(c.ecal.E)
    assert ak.to_list(events) == before
    assert len(a) == 50


def test_threshold_drops_soft_cells():
    events = events_of([22, 22], [0.05, 5.0], [0.0, 1.0], 0.0)
    hits = simulate(events, Detector(ecal_noise=0.0), seed=0)
    assert n_hits(hits, "ecal").tolist() == [0, 1]


def test_detector_parameters_are_bounded_and_serialisable():
    with pytest.raises(ValueError):
        Detector(eta_max=-1.0)
    with pytest.raises(ValueError):
        Detector(n_eta=1)
    det = Detector(n_eta=32, hcal_stochastic=0.8)
    data = json.loads(det.param.serialize_parameters())
    again = Detector(**Detector.param.deserialize_parameters(json.dumps(data)))
    assert again.n_eta == 32 and again.hcal_stochastic == 0.8
    assert len(det.eta_edges()) == 33 and det.phi_edges()[0] == -np.pi and det.phi_edges()[-1] == np.pi
