"""The particle table jetviz keeps (jetviz.data.pdg) against the generator's own (Pythia 8)."""
import numpy as np
import pytest

from jetviz.data import pdg


def test_charges_masses_and_visibility():
    assert pdg.charge(np.array([211, -211, 11, -11, 22, 3112, 999999])).tolist() == [1, -1, -1, 1, 0, -1, 0]
    assert pdg.charge3(np.array([2, -1, 24, -24, 21])).tolist() == [2, 1, 3, -3, 0]
    assert pdg.mass(np.array([22, -2212, 12345])).tolist() == [0.0, pdg.MASSES[2212], 0.0]
    assert pdg.is_visible(np.array([12, -14, 16, 1000022, -1000039, 22, 211, 13])).tolist() == [False] * 5 + [True] * 3
    assert pdg.mass(np.zeros((2, 0), dtype=int)).shape == (2, 0)
    assert pdg.charge(np.array([[211, 22], [-13, 2212]])).shape == (2, 2)


@pytest.fixture(scope="module")
def pythia_table():
    pythia8mc = pytest.importorskip("pythia8mc")
    return pythia8mc.Pythia("", False).particleData


def test_table_agrees_with_pythia(pythia_table):
    """Same charge as Pythia for every listed id and its antiparticle; the same mass within
    Pythia's rounding of the PDG values (u, d, s: massless here, constituent masses in Pythia)."""
    for pid in sorted(set(pdg.MASSES) | set(pdg.CHARGES3)):
        assert pythia_table.isParticle(pid), pid
        for signed in (pid, -pid) if pythia_table.hasAnti(pid) else (pid,):
            assert pdg.charge(np.array([signed]))[0] == pytest.approx(pythia_table.charge(signed)), signed
        if pid not in (1, 2, 3):
            assert pdg.mass(np.array([pid]))[0] == pytest.approx(pythia_table.m0(pid), rel=2e-4, abs=1e-5), pid


def test_every_final_state_particle_of_a_pythia_event_is_in_the_table():
    pytest.importorskip("pythia8mc")
    from jetviz.data import pythia as py8

    pythia = py8.make_pythia(["Beams:idA = 11", "Beams:idB = -11", "Beams:eCM = 500.", "PDF:lepton = off",
                              "Top:ffbar2ttbar(s:gmZ) = on"], 5)
    particles, _ = py8.final_state(py8.next_batch(pythia, 20))
    pid = particles["pid"]
    np.testing.assert_array_equal(pdg.charge(pid), particles["charge"])  # Pythia's own charges
    known = set(pdg.MASSES)
    assert set(np.abs(pid).tolist()) <= known
