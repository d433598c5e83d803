"""Black holes vs sphalerons: parton-level physics checks and the Pythia-showered recipe."""
from __future__ import annotations

import math
from collections import Counter

import awkward as ak
import numpy as np
import pytest

from jetviz.data import bsm, pdg
from jetviz.data.kinematics import boost_z
from jetviz.data.observables import label_summary
from jetviz.data.schema import validate_events

QUARKS = set(range(1, 7))
LEPTONS = set(range(11, 17))


def _charge3(pid: int) -> int:
    return int(pdg.charge3(np.array([pid]))[0])


def _p4(event: dict, pick) -> np.ndarray:
    return np.stack([event["px"][pick], event["py"][pick], event["pz"][pick], event["E"][pick]], axis=1)


def _mass(p: np.ndarray) -> float:
    return math.sqrt(max(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2, 0.0))


def _check_colour_flow(event: dict) -> list[tuple[int, list[int]]]:
    """Check every colour tag; return the junctions as (vertex, unmatched legs) pairs.

    A vertex is the set of particles sharing mothers (the hard vertex: mothers (1, 2); a decay:
    the intermediate). Incoming particles enter with crossed colours. At each vertex a tag must
    appear once as colour and once as anticolour, or as an unmatched leg of a junction: exactly
    three unmatched legs, all colours or all anticolours.
    """
    status, col, acol = event["status"], event["col"], event["acol"]
    n = len(status)
    vertices: dict[int, list[int]] = {}
    for i in range(n):
        if status[i] == -1:
            vertices.setdefault(0, []).append(i)  # incoming: hard vertex, crossed
        else:
            mother = event["mother1"][i]
            vertices.setdefault(0 if event["mother2"][i] else mother, []).append(i)
    junctions = []
    for vertex, members in vertices.items():
        ends: Counter = Counter()
        if vertex:  # the intermediate itself enters its decay vertex with crossed colours
            members = [vertex - 1, *members]
        for k, i in enumerate(members):
            incoming = status[i] == -1 or (vertex and k == 0)
            c, a = (acol[i], col[i]) if incoming else (col[i], acol[i])
            if c:
                ends[c] += 1
            if a:
                ends[-a] += 1
        unmatched = [t for t in {abs(t) for t in ends} if ends[t] != ends[-t]]
        for t in {abs(t) for t in ends}:
            assert ends[t] <= 1 and ends[-t] <= 1, f"tag {t} used twice the same way at vertex {vertex}"
        if unmatched:
            signs = {np.sign(t) for t in ends if abs(t) in unmatched}
            assert len(unmatched) == 3 and len(signs) == 1, f"vertex {vertex}: unmatched tags {unmatched}"
            junctions.append((vertex, unmatched))
    # coloured particles carry tags, colourless ones none
    for i in range(n):
        pid = abs(int(event["pid"][i]))
        if pid in QUARKS:
            assert (col[i] > 0) != (acol[i] > 0)
            assert (col[i] > 0) == (event["pid"][i] > 0)
        elif pid == 21:
            assert col[i] > 0 and acol[i] > 0
        else:
            assert col[i] == 0 and acol[i] == 0
    return junctions


def _conserves_four_momentum(event: dict) -> np.ndarray:
    incoming = _p4(event, event["status"] == -1).sum(axis=0)
    outgoing = _p4(event, event["status"] == 1).sum(axis=0)
    np.testing.assert_allclose(outgoing, incoming, atol=1e-6)
    return incoming


# ------------------------------------------------------------------------------------------ BH
def test_hawking_temperature_numeric():
    # M = 10 TeV, M_D = 4 TeV, n = 4: Γ(7/2) = 15√π/8
    bracket = 2.5 * 8 * (15 * math.sqrt(math.pi) / 8) / 6
    r_h = bracket ** 0.2 / (math.sqrt(math.pi) * 4000.0)
    assert bsm.schwarzschild_radius(10000.0, 4000.0, 4) == pytest.approx(r_h, rel=1e-12)
    assert r_h == pytest.approx(2.28169e-4, rel=1e-5)
    assert bsm.hawking_temperature(10000.0, 4000.0, 4) == pytest.approx(1743.83, rel=1e-5)
    # T_H ∝ M^{-1/(n+1)} and, at fixed M/M_D, ∝ M_D
    for n in (2, 4, 6):
        ratio = bsm.hawking_temperature(2e4, 2000.0, n) / bsm.hawking_temperature(1e4, 2000.0, n)
        assert ratio == pytest.approx(2 ** (-1 / (n + 1)), rel=1e-12)
    assert bsm.hawking_temperature(2e4, 4000.0, 4) == pytest.approx(2 * bsm.hawking_temperature(1e4, 2000.0, 4), rel=1e-12)


@pytest.mark.parametrize("fermion, mean_over_t", [(False, 2.7012), (True, 3.1514)])
def test_emission_spectrum_mean_energy_proportional_to_temperature(fermion, mean_over_t):
    rng = np.random.default_rng(4)
    means = []
    for temperature in (100.0, 300.0, 900.0):
        energies = bsm.thermal_energies(rng, 200_000, temperature, fermion=fermion)
        assert energies.min() >= 0
        means.append(energies.mean())
        assert energies.mean() == pytest.approx(mean_over_t * temperature, rel=0.01)
        assert bsm.mean_thermal_energy(temperature, fermion=fermion) == pytest.approx(mean_over_t * temperature, rel=1e-3)
    assert means[1] / means[0] == pytest.approx(3.0, rel=0.015)
    # massive quanta are never emitted below their mass
    assert bsm.thermal_energies(rng, 1000, 300.0, mass=173.0, fermion=True).min() >= 173.0


@pytest.mark.parametrize("planck_scale", [1000.0, 2000.0, 4000.0])
def test_black_hole_parton_level(planck_scale):
    events, info = bsm.black_hole_partons(25, seed=11, bh_mass=10000.0, planck_scale=planck_scale, n_extra_dims=4)
    assert len(events) == 25
    y_max = -0.5 * math.log((10000.0 / 14000.0) ** 2)
    for event, y, n_out in zip(events, info["y_hat"], info["n_partons"]):
        assert abs(y) < y_max
        incoming = _conserves_four_momentum(event)
        assert _mass(incoming) == pytest.approx(10000.0, rel=1e-12)
        # back in the black-hole rest frame the quanta sum to (0, 0, 0, M)
        rest = boost_z(_p4(event, event["status"] == 1), -y).sum(axis=0)
        np.testing.assert_allclose(rest, [0.0, 0.0, 0.0, 10000.0], atol=1e-6)
        out = event["status"] == 1
        assert out.sum() == n_out >= 2
        # quanta on their mass shell
        p4 = _p4(event, out)
        np.testing.assert_allclose(p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(axis=1), event["m"][out] ** 2, atol=1e-3)
        # charge and baryon number of the two incoming quarks are conserved
        pids = event["pid"]
        assert sum(_charge3(p) for p in pids[out]) == sum(_charge3(p) for p in pids[~out])
        assert sum(np.sign(p) for p in pids[out] if abs(p) in QUARKS) == 2
        assert _check_colour_flow(event) == []  # no junctions in black-hole events
    assert info["temperature"][0] == pytest.approx(bsm.hawking_temperature(10000.0, planck_scale, 4))


def test_black_hole_multiplicity_follows_temperature():
    n_cold = bsm.black_hole_partons(60, seed=2, planck_scale=1000.0)[1]["n_partons"].mean()
    n_hot = bsm.black_hole_partons(60, seed=2, planck_scale=4000.0)[1]["n_partons"].mean()
    t_cold, t_hot = bsm.hawking_temperature(1e4, 1000.0, 4), bsm.hawking_temperature(1e4, 4000.0, 4)
    # ⟨N⟩ ≈ M/⟨E⟩ ∝ 1/T (within the spread of the sampling)
    assert n_cold / n_hot == pytest.approx(t_hot / t_cold, rel=0.35)


# ------------------------------------------------------------------------------------------ sphaleron
@pytest.mark.parametrize("ncs_plus_fraction, ncs", [(1.0, 1), (0.0, -1)])
@pytest.mark.parametrize("max_bosons", [0, 3])
def test_sphaleron_parton_level(ncs_plus_fraction, ncs, max_bosons):
    events, info = bsm.sphaleron_partons(
        20, seed=5, sph_sqrt_s=9000.0, sph_max_bosons=max_bosons, sph_ncs_plus_fraction=ncs_plus_fraction)
    assert np.all(info["ncs"] == ncs)
    for k, event in enumerate(events):
        incoming = _conserves_four_momentum(event)
        assert _mass(incoming) == pytest.approx(9000.0, rel=1e-12)  # √ŝ exact
        assert _mass(_p4(event, event["status"] == 1).sum(axis=0)) == pytest.approx(9000.0, rel=1e-12)
        pids = event["pid"]
        status = event["status"]
        inc, out = pids[status == -1], pids[status == 1]
        assert set(np.abs(inc)) <= {1, 2} and np.all(inc > 0)  # valence quarks
        fermions_out = [p for p in out if abs(p) in QUARKS | LEPTONS]
        if ncs == 1:  # qq → qq (spectators) + 9 q + 3 ℓ: 12 new fermions
            assert len(fermions_out) == 14 and all(p > 0 for p in fermions_out)
            n_vertex_legs = len(fermions_out) - 2
        else:  # qq → 7 q̄ + 3 ℓ̄: the two incoming quarks are absorbed
            assert len(fermions_out) == 10 and all(p < 0 for p in fermions_out)
            n_vertex_legs = len(fermions_out) + 2
        assert n_vertex_legs == 12
        baryon3 = sum(np.sign(p) for p in out if abs(p) in QUARKS) - sum(np.sign(p) for p in inc)
        lepton = sum(np.sign(p) for p in out if abs(p) in LEPTONS)
        assert baryon3 == 9 * ncs and lepton == 3 * ncs  # ΔB = ΔL = 3·ΔN_CS
        # one lepton (or neutrino) per generation, three quarks per generation at the vertex
        assert sorted((abs(p) - 11) // 2 for p in fermions_out if abs(p) in LEPTONS) == [0, 1, 2]
        assert sum(_charge3(p) for p in out) == sum(_charge3(p) for p in inc)  # charge conserved
        bosons = [p for p in out if abs(p) in (23, 24, 25)]
        assert len(bosons) == info["n_bosons"][k] <= max_bosons
        # colour: three junctions, one per generation
        junctions = _check_colour_flow(event)
        assert len(junctions) == 3
        hard_vertex = [v for v, _ in junctions if v == 0]
        assert len(hard_vertex) == (1 if ncs == -1 else 0)


def test_sphaleron_channel_mix_and_boson_counts():
    _, info = bsm.sphaleron_partons(400, seed=9)
    assert 0.4 < (info["ncs"] == 1).mean() < 0.6
    assert set(info["n_bosons"]) == {0, 1, 2, 3}
    np.testing.assert_array_equal(info["sqrt_s_hat"], 9000.0)


def test_parton_level_is_deterministic():
    a, _ = bsm.sphaleron_partons(5, seed=3)
    b, _ = bsm.sphaleron_partons(5, seed=3)
    c, _ = bsm.black_hole_partons(5, seed=3)
    d, _ = bsm.black_hole_partons(5, seed=3)
    for x, y in zip(a + c, b + d):
        for key in ("pid", "px", "col"):
            np.testing.assert_array_equal(x[key], y[key])
    e, _ = bsm.black_hole_partons(5, seed=4)
    assert not all(len(x["pid"]) == len(y["pid"]) and np.array_equal(x["px"], y["px"]) for x, y in zip(c, e))


# ------------------------------------------------------------------------------------------ Pythia
def test_pythia_accepts_junctions_from_lhef(tmp_path):
    """Pythia reconstructs the sphaleron junctions from our LHE colour tags and hadronises."""
    from jetviz.data import pythia as py8
    from jetviz.data.formats.lhe import write_lhe

    events, info = bsm.sphaleron_partons(4, seed=12, sph_max_bosons=0)
    path = write_lhe(tmp_path / "sph.lhe", events)
    pythia = py8.make_pythia(bsm._pythia_settings(path, mpi=False), 3)
    for k in range(4):
        assert pythia.next()
        kinds = sorted(pythia.event.kindJunction(j) for j in range(pythia.event.sizeJunction()))
        assert kinds == ([1, 1, 1] if info["ncs"][k] == 1 else [2, 2, 6])
        final = [pythia.event[i] for i in range(pythia.event.size()) if pythia.event[i].isFinal()]
        assert len(final) > 100
        assert sum(p.charge() for p in final) == pytest.approx(2.0)  # pp
        assert sum(p.e() for p in final) == pytest.approx(14000.0, rel=1e-9)


@pytest.fixture(scope="module")
def showered():
    return bsm.bh_sph(20, seed=7)


def test_bh_sph_end_to_end(showered):
    events = validate_events(showered)
    labels = ak.to_numpy(events.label)
    assert len(events) == 20 and (labels == 1).sum() == 10 and (labels == 0).sum() == 10
    assert not (np.all(labels[:10] == labels[0]) and np.all(labels[10:] == labels[10]))  # shuffled
    particles = events.particles
    assert np.all(ak.to_numpy(ak.flatten(particles.jet)) == -1)
    pid = ak.to_numpy(ak.flatten(particles.pid))
    assert np.isin(np.abs(pid), [12, 14, 16]).any()  # neutrinos kept for the detector to drop
    # every event is a whole pp final state: energy 14 TeV, charge +2
    np.testing.assert_allclose(ak.to_numpy(ak.sum(particles.E, axis=1)), 14000.0, rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(ak.sum(particles.charge, axis=1)), 2.0, atol=1e-9)
    charged = ak.to_numpy(ak.flatten(particles.charge)) != 0
    d0 = ak.to_numpy(ak.flatten(particles.d0))
    assert np.all(np.isnan(d0[~charged])) and np.all(np.isfinite(d0[charged]))
    sqrt_s_hat = ak.to_numpy(events.sqrt_s_hat)
    np.testing.assert_array_equal(sqrt_s_hat[labels == 1], 10000.0)
    np.testing.assert_array_equal(sqrt_s_hat[labels == 0], 9000.0)
    n_partons = ak.to_numpy(events.n_partons)
    assert n_partons[labels == 0].min() >= 10 and n_partons[labels == 1].min() >= 2


def test_classes_differ_in_charged_multiplicity(showered):
    """Sphalerons put ~13 hard quanta (and more colour strings) into 9 TeV, black holes ~4.5 into
    10 TeV (M_D = 2 TeV): more strings at similar energy give more hadrons."""
    labels = ak.to_numpy(showered.label)
    p = showered.particles
    n_charged = ak.to_numpy(ak.sum((p.charge != 0) & (p.pt > 1.0) & (abs(p.eta) < 2.5), axis=1))
    assert n_charged[labels == 0].mean() > 1.2 * n_charged[labels == 1].mean()


def test_bsm_summary(showered):
    summary = label_summary(showered)
    assert set(summary) == {0, 1}
    assert summary[0]["n_events"] == summary[1]["n_events"] == 10
    assert summary[0]["n_partons"] > summary[1]["n_partons"]
    for row in summary.values():
        assert 0 <= row["sphericity"] <= 1 and 0 <= row["nu_energy_fraction"] < 1


@pytest.mark.slow
def test_bh_sph_reproducible_and_cleans_up(tmp_path, monkeypatch, showered):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    again = bsm.bh_sph(20, seed=7)
    assert list(tmp_path.iterdir()) == []  # temporary LHE files removed
    assert ak.to_list(again.label) == ak.to_list(showered.label)
    for field in ("px", "pid", "d0"):
        np.testing.assert_array_equal(
            ak.to_numpy(ak.flatten(again.particles[field])), ak.to_numpy(ak.flatten(showered.particles[field])))
    other = bsm.bh_sph(20, seed=8)
    assert ak.to_list(ak.num(other.particles)) != ak.to_list(ak.num(showered.particles))


def test_bh_sph_small_and_no_mpi():
    events = bsm.bh_sph(3, seed=2, mpi=False)
    assert sorted(ak.to_list(events.label)) == [0, 0, 1]


def test_recipe_registered():
    from jetviz.data.recipes import get_recipe

    recipe = get_recipe("bh_sph")
    assert recipe.defaults == bsm.BH_SPH_DEFAULTS
    assert recipe.classes == ("sphaleron", "black hole")
    with pytest.raises(Exception, match="no parameter"):
        recipe.params(temperature=1.0)
