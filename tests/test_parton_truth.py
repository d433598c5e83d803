"""History truth of the e+e- samples (issue 18): every final-state particle labelled by the hard
decay parton it descends from in Pythia's event record (:func:`jetviz.data.pythia.parton_labels`).

Real Pythia, a few hundred events. Expected values come from the event record itself (the
hard partons' four-momenta, a per-event Python walk of the documented rule), never from a run
of the code under test.
"""
import awkward as ak
import numpy as np
import pytest

from jetviz.data import pythia as py8
from jetviz.data.kinematics import invariant_mass
from jetviz.data.pdg import is_visible
from jetviz.data.recipes import _ee_settings, ee_jets
from jetviz.data.resonances import M_W, sigma68, ttbar_six_jet_masses
from jetviz.errors import JetvizError

P4 = ("px", "py", "pz", "E")


def event_lists(prt: ak.Array, n: int | None = None) -> list[dict]:
    """Per event a dict of Python lists: ``id, status, mother1, mother2, px, py, pz, e``."""
    sub = prt[:n]
    columns = {k: ak.to_list(sub[k]) for k in ("id", "status", "mother1", "mother2")}
    columns.update({k: ak.to_list(sub.p[k]) for k in ("px", "py", "pz", "e")})
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


class Record:
    """Pythia records of one process with their final states and parton labels."""

    def __init__(self, process: str, sqrt_s: float, n: int, seed: int):
        self.process = process
        self.prt = py8.next_batch(py8.make_pythia(_ee_settings(process, sqrt_s), seed), n)
        self.particles, self.counts = py8.final_state(self.prt)
        self.labels = py8.parton_labels(self.prt, process)
        self.event = np.repeat(np.arange(len(self.counts)), self.counts)
        self.visible = is_visible(self.particles["pid"])
        status = np.abs(ak.to_numpy(ak.flatten(self.prt.status)))
        entry_event = np.repeat(np.arange(len(self.counts)), ak.to_numpy(ak.num(self.prt.id)))
        #: events where Pythia shuffled momentum between colour singlets (status 72) to put a
        #: collapsing small string on a hadron's mass shell
        self.shuffled = np.bincount(entry_event[status == 72], minlength=len(self.counts)) > 0

    def summed(self, labels, use=None) -> np.ndarray:
        """``(N, 4)`` summed (px, py, pz, E) of the final-state particles with one of ``labels``."""
        take = np.isin(self.labels, labels) & (True if use is None else use)
        return np.stack([np.bincount(self.event[take], weights=self.particles[c][take], minlength=len(self.counts))
                         for c in P4], -1)

    def hard(self, label: int) -> np.ndarray:
        """``(N, 4)`` four-momentum of hard parton ``label``, found in the record independently."""
        sign, quark, mother = py8.HARD_PARTONS[self.process][label]
        out = []
        for event in event_lists(self.prt):
            ids = event["id"]
            rows = [i for i in range(len(ids)) if abs(event["status"][i]) == 23 and np.sign(ids[i]) == sign
                    and abs(ids[i]) <= 5 and (not quark or abs(ids[i]) == quark)
                    and ids[event["mother1"][i]] == mother]
            assert len(rows) == 1
            out.append([event[c][rows[0]] for c in ("px", "py", "pz", "e")])
        return np.array(out)


@pytest.fixture(scope="module")
def ttbar():
    return Record("ttbar", 500.0, 300, seed=17)


@pytest.fixture(scope="module")
def zh():
    return Record("zh", 250.0, 200, seed=18)


def _mass(p4: np.ndarray) -> np.ndarray:
    return invariant_mass(*p4.T)


# ----------------------------------------------------------------------------- every particle labelled
@pytest.mark.parametrize("name,n_partons", [("ttbar", 6), ("zh", 4)])
def test_every_final_state_particle_gets_a_parton_or_a_documented_minus_one(name, n_partons, request):
    record = request.getfixturevalue(name)
    labels = record.labels
    assert labels.shape == record.particles["pid"].shape and labels.dtype == np.int64
    assert ((labels >= -1) & (labels < n_partons)).all()
    # every event has particles from every hard parton
    for k in range(n_partons):
        assert (np.bincount(record.event[labels == k], minlength=len(record.counts)) > 0).all()
    energy = record.particles["E"]
    unlabelled = record.visible & (labels < 0)
    share = energy[unlabelled].sum() / energy[record.visible].sum()
    if name == "zh":  # Z and H decay systems are colour singlets and nothing radiates before them
        assert not unlabelled.any()
    else:  # radiation of the tops (and of the Ws) before they decay: a few per cent at most
        assert 0 < share < 0.03
        assert 0 < unlabelled.sum() / record.visible.sum() < 0.08


def test_minus_one_particles_of_ttbar_come_from_production_stage_radiation(ttbar):
    """Unlabelled particles exist only in events where a top or a W radiated before decaying."""
    radiated = []
    for event in event_lists(ttbar.prt):
        ids, status, mother = event["id"], event["status"], event["mother1"]
        radiated.append(any(abs(status[i]) in (51, 52) and ids[i] in (21, 22) and abs(ids[mother[i]]) in (6, 24)
                            for i in range(len(ids))))
    radiated = np.array(radiated)
    has_unlabelled = np.bincount(ttbar.event[ttbar.labels < 0], minlength=len(ttbar.counts)) > 0
    assert has_unlabelled.any()
    assert not (has_unlabelled & ~radiated).any()


# ----------------------------------------------------------------------------- the rule, walked by hand
def _labels_by_hand(event: dict, process: str) -> list[int]:
    """The documented rule, one entry at a time (Python recursion over one event record)."""
    ids, status, m1, m2 = event["id"], [abs(s) for s in event["status"]], event["mother1"], event["mother2"]
    p = np.array([event["px"], event["py"], event["pz"]]).T
    energy = event["e"]
    roots = {}
    for label, (sign, quark, mother) in enumerate(py8.HARD_PARTONS[process]):
        for i in range(len(ids)):
            if (status[i] == 23 and abs(ids[i]) <= 5 and np.sign(ids[i]) == sign and (not quark or abs(ids[i]) == quark)
                    and m1[i] > 0 and ids[m1[i]] == mother):
                roots[i] = label
    memo: dict[int, int] = {}

    def label(i: int) -> int:
        if i in roots:
            return roots[i]
        if m1[i] == 0:
            return -1
        if i not in memo:
            if 81 <= status[i] <= 89 and m2[i] > m1[i]:
                string = range(m1[i], m2[i] + 1)
                cos = [p[i] @ p[j] / np.linalg.norm(p[i]) / np.linalg.norm(p[j]) for j in string]
                memo[i] = label(string[int(np.argmax(cos))])
            elif status[i] == 73 and m2[i] > 0 and m2[i] != m1[i]:
                memo[i] = label(m1[i] if energy[m1[i]] >= energy[m2[i]] else m2[i])
            else:
                memo[i] = label(m1[i])
        return memo[i]

    return [label(i) for i in range(len(ids)) if event["status"][i] > 0]


@pytest.mark.parametrize("name", ["ttbar", "zh"])
def test_labels_follow_the_documented_rule(name, request):
    record = request.getfixturevalue(name)
    events = event_lists(record.prt, 12)
    expected = np.concatenate([_labels_by_hand(event, name) for event in events])
    np.testing.assert_array_equal(record.labels[: len(expected)], expected)


def test_string_between_b_and_bbar_is_shared_and_w_strings_are_not(ttbar):
    """Colour flow of tt̄: the b–b̄ string spans both tops (its hadrons go to both ends), each W's
    decay system is its own string (its hadrons all stay with that W)."""
    events = event_lists(ttbar.prt, 40)
    shared = 0
    for event, labels in zip(events, np.split(ttbar.labels, np.cumsum(ttbar.counts)[:-1])):
        status, m1, m2 = (np.array(event[k]) for k in ("status", "mother1", "mother2"))
        label = np.full(len(status), -9)
        label[status > 0] = labels
        primary = (np.abs(status) >= 81) & (np.abs(status) <= 89) & (m2 > m1) & (status > 0)  # stable primary hadrons
        strings = {}
        for i in np.flatnonzero(primary):
            strings.setdefault((m1[i], m2[i]), set()).add(int(label[i]))
        assert all(g <= {1, 2} or g <= {4, 5} or g <= {0, 3, -1} for g in strings.values()), strings
        shared += any({0, 3} <= g for g in strings.values())
    assert shared > 20  # in most events the b–b̄ string's stable hadrons go to both b and b̄


# ----------------------------------------------------------------------------- resonances from the history
def _check_singlet_sums(record, pairs, scale):
    """Each decay system (a colour singlet) carries the four-momentum of its two decay quarks:
    exactly, except in events where Pythia shuffled momentum between singlets (status 72)."""
    assert 0 < record.shuffled.mean() < 0.1
    for labels in pairs:
        difference = np.abs(record.summed(labels) - record.hard(labels[0]) - record.hard(labels[1])).max(1)
        assert (difference[~record.shuffled] < 1e-6 * scale).all()
        assert (difference[record.shuffled] < 0.2).all()


def test_w_decay_systems_sum_to_the_w_decay_quarks(ttbar):
    """All final-state descendants of a W (neutrinos too) carry its decay quarks' four-momentum."""
    _check_singlet_sums(ttbar, ((1, 2), (4, 5)), 250)


def test_z_and_higgs_decay_systems_sum_to_their_quarks(zh):
    _check_singlet_sums(zh, ((0, 1), (2, 3)), 125)
    m_h = _mass(zh.summed((2, 3)))
    assert abs(np.median(m_h) - 125.0) < 0.01 and sigma68(m_h) < 0.05  # Γ_H = 4 MeV
    m_z = _mass(zh.summed((0, 1)))
    assert abs(np.median(m_z) - 91.19) < 1.0 and 1.0 < sigma68(m_z) < 4.0  # Breit–Wigner, Γ_Z = 2.5 GeV
    assert sigma68(_mass(zh.summed((2, 3), zh.visible))) < 8.0  # b → c ℓ ν: neutrinos widen the visible H


def test_w_and_top_masses_from_the_history_truth(ttbar):
    """Peaks at m_W and m_top with Breit–Wigner widths (Γ_W 2.1, Γ_t 1.4 GeV) from all particles;
    wider from the visible ones (neutrinos of heavy-flavour decays)."""
    for use, w_width, top_width in ((None, 2.6, 3.0), (ttbar.visible, 3.5, 8.0)):
        m_w = np.concatenate([_mass(ttbar.summed(labels, use)) for labels in ((1, 2), (4, 5))])
        m_top = np.concatenate([_mass(ttbar.summed(labels, use)) for labels in ((0, 1, 2), (3, 4, 5))])
        assert abs(np.median(m_w) - M_W) < 1.0 and 1.0 < sigma68(m_w) < w_width
        assert abs(np.median(m_top) - 173.0) < 2.5 and 0.7 < sigma68(m_top) < top_width


def test_history_truth_resolves_the_w_better_than_durham_on_the_same_events(ttbar):
    """The point of the history truth: a clustering can lose to it. Same events, same visible
    particles, same χ² pairing of six jets into two tops."""
    jet, _, _ = py8.durham_labels(ttbar.particles, ttbar.counts, 6)
    masses = {}
    for name, colours in (("history", ttbar.labels), ("durham", jet)):
        jets = np.zeros((len(ttbar.counts), 6, 4))
        for k in range(6):
            take = (colours == k) & ttbar.visible
            for c, field in enumerate(P4):
                jets[:, k, c] = np.bincount(ttbar.event[take], weights=ttbar.particles[field][take],
                                            minlength=len(ttbar.counts))
        masses[name] = ttbar_six_jet_masses(jets)
    w_history, top_history = (sigma68(m.ravel()) for m in masses["history"])
    w_durham, top_durham = (sigma68(m.ravel()) for m in masses["durham"])
    assert w_history < 0.5 * w_durham  # measured: 2.0 vs 7.1 GeV
    assert top_history < 0.6 * top_durham
    assert abs(np.median(masses["history"][0]) - M_W) < 1.0


# ----------------------------------------------------------------------------- samples and errors
def test_ee_samples_carry_history_and_durham_truth():
    events = ee_jets(20, seed=4)
    parton, jet = (ak.to_numpy(ak.flatten(events.particles[f])) for f in ("parton", "jet"))
    assert parton.dtype == np.int64 and ((parton >= -1) & (parton < 6)).all()
    assert ((jet >= -1) & (jet < 6)).all()
    assert (parton != jet).any()  # two different truths
    zh_events = ee_jets(10, seed=4, process="zh", sqrt_s=250.0, n_jets=4)
    assert set(np.unique(ak.to_numpy(ak.flatten(zh_events.particles.parton)))) == {0, 1, 2, 3}


def test_parton_labels_reject_an_unknown_or_wrong_process(ttbar):
    with pytest.raises(JetvizError, match="no hard-parton table"):
        py8.parton_labels(ttbar.prt, "zhh")
    with pytest.raises(JetvizError, match="expected one"):
        py8.parton_labels(ttbar.prt, "zh")  # tt̄ records have no Z → qq̄


def test_colorize_reads_the_configured_truth():
    """The colorize runner trains on Durham (default) or on the history truth, keeping Durham beside it."""
    from jetviz.errors import ConfigError
    from jetviz.runners.colorize import ColorizeConfig, prepare

    sample = ee_jets(12, seed=6)
    grid = dict(n_eta=16, n_phi=16, max_particles=4096)
    durham = prepare(sample, ColorizeConfig(**grid))
    history = prepare(sample, ColorizeConfig(**grid, truth="parton"))
    np.testing.assert_array_equal(durham.truth, durham.durham)
    np.testing.assert_array_equal(history.durham, durham.truth)
    assert (history.truth != history.durham)[history.visible].any()
    # per event: the visible particles' 'parton' labels, hardest first
    for b, particles in enumerate(sample.particles):
        pid, energy, parton = (ak.to_numpy(particles[f]) for f in ("pid", "E", "parton"))
        keep = is_visible(pid)
        expected = parton[keep][np.argsort(-energy[keep], kind="stable")]
        np.testing.assert_array_equal(history.truth[b, history.visible[b]], expected)
    toy = ee_jets(3, seed=1).particles[["px", "py", "pz", "E", "pt", "eta", "phi", "charge", "pid", "jet"]]
    with pytest.raises(ConfigError, match="parton"):
        prepare(ak.zip({"particles": toy, "label": np.zeros(3, int), "jets": ee_jets(3, seed=1).jets}, depth_limit=1),
                ColorizeConfig(n_eta=16, n_phi=16, truth="parton"))
