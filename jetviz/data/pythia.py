"""Pythia8 + FastJet building blocks: run a configured Pythia, read final states, cluster jets.

Everything works on whole batches: ``pythia8mc.Pythia.nextBatch`` returns the event records as
awkward arrays, and FastJet's awkward interface clusters all events of a batch in one call, so
no Python loop runs over particles. Units: GeV, radians, mm.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Sequence

import awkward as ak
import numpy as np

from jetviz.data.kinematics import delta_r, pt_eta_phi
from jetviz.data.pdg import is_visible
from jetviz.errors import JetvizError

__all__ = [
    "pythia_versions",
    "make_pythia",
    "next_batch",
    "final_state",
    "durham_labels",
    "HARD_PARTONS",
    "parton_labels",
    "jet_labels",
    "leading_jet",
    "pythia_seed",
    "masked_p4",
    "charges",
    "hard_top_quarks",
    "matched_to_top",
]

def pythia_versions() -> dict[str, str]:
    """Versions of the generator stack, recorded in every sample file's metadata."""
    import fastjet
    import pythia8mc

    try:
        from importlib.metadata import version

        pythia_version = version("pythia8mc")
    except Exception:  # pragma: no cover - metadata always present for a wheel
        pythia_version = "unknown"
    return {"pythia8mc": pythia_version, "fastjet": getattr(fastjet, "__version__", "unknown")}


def pythia_seed(*keys: int | str) -> int:
    """A Pythia seed in [1, 900000000] derived deterministically from integers and strings."""
    ints = [k if isinstance(k, int) else int.from_bytes(str(k).encode()[:8].ljust(8, b"\0"), "little") for k in keys]
    state = np.random.SeedSequence(ints).generate_state(1)[0]
    return int(state % 900_000_000) + 1


def make_pythia(settings: Sequence[str], seed: int):
    """An initialised ``pythia8mc.Pythia`` with ``settings`` (Pythia's own strings), quiet, seeded.

    Raises
    ------
    JetvizError
        When a setting is not understood or Pythia fails to initialise.
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in [*settings, "Print:quiet = on", "Next:numberCount = 0", "Random:setSeed = on", f"Random:seed = {seed}"]:
        if not pythia.readString(line):
            raise JetvizError(f"Pythia did not accept the setting {line!r}")
    if not pythia.init():
        raise JetvizError("Pythia failed to initialise with settings: " + "; ".join(settings))
    return pythia


def next_batch(pythia, n_events: int) -> ak.Array:
    """Generate ``n_events`` events; return their full event records (``prt`` field) as awkward."""
    batch = pythia.nextBatch(n_events, "skip")
    if len(batch) == 0:
        raise JetvizError("Pythia produced no events (all failed); check the process settings")
    return batch.prt


@lru_cache(maxsize=None)
def _charge_of(pid: int) -> float:
    data = _particle_data()
    return float(data.charge(int(pid))) if data.isParticle(int(pid)) else 0.0


@lru_cache(maxsize=1)
def _particle_data():
    import pythia8mc

    return pythia8mc.Pythia("", False).particleData


def charges(pid: np.ndarray) -> np.ndarray:
    """Electric charge (units of e) for an array of PDG codes, from Pythia's particle table."""
    pid = np.asarray(pid, dtype=np.int64)
    unique, inverse = np.unique(pid, return_inverse=True)
    return np.array([_charge_of(int(p)) for p in unique], dtype=np.float64)[inverse].reshape(pid.shape)


def _impact_parameters(px, py, pz, vx, vy, vz) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line transverse (d0) and longitudinal (z0) impact parameters (mm) w.r.t. the origin."""
    pt, _, phi = pt_eta_phi(px, py, pz)
    d0 = vx * np.sin(phi) - vy * np.cos(phi)
    z0 = vz - (vx * np.cos(phi) + vy * np.sin(phi)) * pz / np.maximum(pt, 1e-9)
    return d0, z0


def final_state(prt: ak.Array) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Final-state particles of a batch of Pythia event records.

    Parameters
    ----------
    prt : ak.Array
        Pythia event records, ``(N, var)`` particle records as returned by :func:`next_batch`.

    Returns
    -------
    tuple[dict[str, np.ndarray], np.ndarray]
        ``(particles, counts)``: flat arrays ``px, py, pz, E`` (GeV), ``charge``, ``pid``,
        ``d0, z0`` (mm; NaN for neutral particles) and ``(N,)`` per-event counts.
    """
    final = prt[prt.status > 0]
    counts = ak.to_numpy(ak.num(final, axis=1))
    flat = ak.flatten(final)
    px, py, pz, energy = (ak.to_numpy(flat.p[c]).astype(np.float64) for c in ("px", "py", "pz", "e"))
    pid = ak.to_numpy(flat.id).astype(np.int64)
    charge = charges(pid)
    vertex = flat.vProd
    vx, vy, vz = (ak.to_numpy(ak.fill_none(vertex[c], 0.0)).astype(np.float64) for c in ("px", "py", "pz"))
    d0, z0 = _impact_parameters(px, py, pz, vx, vy, vz)
    neutral = charge == 0
    d0[neutral] = np.nan
    z0[neutral] = np.nan
    particles = dict(px=px, py=py, pz=pz, E=energy, charge=charge, pid=pid, d0=d0, z0=z0)
    return particles, counts


def masked_p4(particles: dict[str, np.ndarray], counts: np.ndarray, mask: np.ndarray) -> tuple[ak.Array, np.ndarray, np.ndarray]:
    """Jagged (px, py, pz, E) records of the particles where ``mask`` holds, for FastJet.

    Returns
    -------
    tuple[ak.Array, np.ndarray, np.ndarray]
        ``(p4, keep, sub_counts)``: the jagged records, the flat indices of the kept particles
        and ``(N,)`` kept particles per event.
    """
    index = np.arange(len(mask))
    event = np.repeat(np.arange(len(counts)), counts)
    keep = index[mask]
    sub_counts = np.bincount(event[keep], minlength=len(counts))
    record = ak.zip({k: particles[k2][keep] for k, k2 in (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "E"))})
    return ak.unflatten(record, sub_counts), keep, sub_counts


def jet_labels(
    particles: dict[str, np.ndarray], counts: np.ndarray, n_jets: int, algorithm: str = "durham", radius: float = 0.7
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Cluster the visible final state of each e+e- event; label each particle by its jet.

    Parameters
    ----------
    particles : dict[str, np.ndarray]
        Flat particle arrays (see :func:`final_state`).
    counts : (N,) np.ndarray
        Particles per event.
    n_jets : int
        K: ``"durham"`` forms exactly K exclusive jets (ee_kt); ``"antikt"`` keeps the
        K most energetic inclusive e+e- anti-kt jets (``ee_genkt``, p = −1, ``radius``).
    algorithm : str, optional
        ``"durham"`` or ``"antikt"``.
    radius : float, optional
        Anti-kt radius (radians), unused for Durham.

    Returns
    -------
    tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]
        ``(jet, jets, jet_counts)``: ``jet`` flat per-particle index in [0, K) with jets ordered
        by decreasing energy, −1 for neutrinos and for particles outside the K kept jets;
        ``jets`` flat four-momenta (``px, py, pz, E``) of the kept jets; ``jet_counts`` ``(N,)``.
    """
    import fastjet

    visible = is_visible(particles["pid"])
    p4, keep, sub_counts = masked_p4(particles, counts, visible)
    if algorithm == "durham":
        if np.any(sub_counts < n_jets):
            raise JetvizError(f"an event has fewer than {n_jets} visible particles; cannot form {n_jets} Durham jets")
        sequence = fastjet.ClusterSequence(p4, fastjet.JetDefinition0Param(fastjet.ee_kt_algorithm))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # fastjet's generic note on exclusive jets
            jets = sequence.exclusive_jets(n_jets)
            index = sequence.exclusive_jets_constituent_index(n_jets)
    elif algorithm == "antikt":
        sequence = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fastjet.ee_genkt_algorithm, float(radius), -1.0))
        jets = sequence.inclusive_jets()
        index = sequence.constituent_index()
    else:
        raise JetvizError(f"unknown e+e- jet algorithm {algorithm!r} (use 'durham' or 'antikt')")
    # rank jets by energy inside each event; rank ≥ n_jets means "not kept"
    order = ak.argsort(-jets.E, axis=1, stable=True)
    rank_flat = ak.to_numpy(ak.flatten(ak.argsort(order, axis=1, stable=True))).astype(np.int64)
    jets_per_event = ak.to_numpy(ak.num(jets, axis=1))
    jet_offsets = np.concatenate([[0], np.cumsum(jets_per_event)])
    # per visible particle: which jet holds it
    particle_offsets = np.concatenate([[0], np.cumsum(sub_counts)])
    local = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64)
    event_of = np.repeat(np.arange(len(counts)), ak.to_numpy(ak.sum(ak.num(index, axis=2), axis=1)))
    jet_of = ak.to_numpy(ak.flatten(ak.local_index(index, axis=1)[:, :, None] * ak.ones_like(index), axis=None))
    rank = rank_flat[jet_offsets[event_of] + jet_of]
    visible_label = np.full(len(keep), -1, dtype=np.int64)
    visible_label[particle_offsets[event_of] + local] = np.where(rank < n_jets, rank, -1)
    jet = np.full(len(visible), -1, dtype=np.int64)
    jet[keep] = visible_label
    kept = jets[order][:, :n_jets]
    kept_jets = {c: ak.to_numpy(ak.flatten(kept[c])).astype(np.float64) for c in ("px", "py", "pz", "E")}
    return jet, kept_jets, ak.to_numpy(ak.num(kept, axis=1)).astype(np.int64)


def durham_labels(
    particles: dict[str, np.ndarray], counts: np.ndarray, n_jets: int
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Durham exclusive ``n_jets`` truth labels: :func:`jet_labels` with ``algorithm="durham"``."""
    return jet_labels(particles, counts, n_jets, "durham")


def leading_jet(
    particles: dict[str, np.ndarray], counts: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leading-pT anti-kt jet of radius ``radius`` in each event (visible final state).

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray]
        ``(jet_p4, member, has_jet)``: ``jet_p4`` ``(N, 4)`` (px, py, pz, E) in GeV of the leading
        jet (zeros where an event has none); ``member`` flat boolean per particle, True for the
        constituents of that jet; ``has_jet`` ``(N,)``.
    """
    import fastjet

    visible = is_visible(particles["pid"])
    p4, keep, sub_counts = masked_p4(particles, counts, visible)
    sequence = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fastjet.antikt_algorithm, float(radius)))
    jets = sequence.inclusive_jets()
    index = sequence.constituent_index()
    jet_pt = np.sqrt(jets.px**2 + jets.py**2)
    has_jet = ak.to_numpy(ak.num(jets, axis=1)) > 0
    lead = ak.argmax(jet_pt, axis=1, keepdims=True)
    lead_jet = ak.firsts(jets[lead])
    jet_p4 = np.stack([ak.to_numpy(ak.fill_none(lead_jet[c], 0.0)) for c in ("px", "py", "pz", "E")], axis=1)
    lead_index = ak.firsts(index[lead])  # (N, var) local indices among visible particles
    lead_index = ak.fill_none(lead_index, [], axis=0)
    offsets = np.concatenate([[0], np.cumsum(sub_counts)])
    n_members = ak.to_numpy(ak.num(lead_index, axis=1))
    flat_local = ak.to_numpy(ak.flatten(lead_index)).astype(np.int64)
    event_of = np.repeat(np.arange(len(counts)), n_members)
    member_visible = np.zeros(len(keep), dtype=bool)
    member_visible[offsets[event_of] + flat_local] = True
    member = np.zeros(len(visible), dtype=bool)
    member[keep] = member_visible
    return jet_p4, member, has_jet


#: the hard decay partons of each e+e- process, in label order: (sign of the PDG code, |PDG| or 0
#: for any quark, PDG code of the mother). ttbar: t → b W⁺(→ q q̄′), t̄ → b̄ W⁻(→ q q̄′) (the "b"
#: is whichever down-type quark the top decays to: Pythia includes t → s W, d W), so labels
#: (0, 1, 2) make the top, (1, 2) the W⁺, (3, 4, 5) the antitop, (4, 5) the W⁻ (quark before
#: antiquark in each W). zh: Z → q q̄ (0, 1), H → b b̄ (2, 3).
HARD_PARTONS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "ttbar": ((+1, 0, 6), (+1, 0, 24), (-1, 0, 24), (-1, 0, -6), (+1, 0, -24), (-1, 0, -24)),
    "zh": ((+1, 0, 23), (-1, 0, 23), (+1, 5, 25), (-1, 5, 25)),
}


def parton_labels(prt: ak.Array, process: str) -> np.ndarray:
    """History truth: the hard decay parton each final-state particle descends from.

    Walks Pythia's event record from every entry up its mothers to one of the hard decay
    partons of :data:`HARD_PARTONS` (the outgoing quarks of the resonance decays, status 23):

    * an ordinary entry (shower branching, recoil copy, hadronisation copy, hadron decay)
      follows its first mother: in a timelike shower both daughters of a branching and the
      recoiler's copy point back to the parton they came from, so every parton of the shower
      descends from exactly one hard parton (or from none);
    * a primary hadron (status 81–89: from a string, a ministring or a cluster) has as mothers
      the whole range of partons of its colour-singlet system. It goes to the parton of that
      range **nearest to it in angle** (largest cos θ between the three-momenta), and so to
      that parton's hard parton. Hadrons of one string are thereby shared between the partons
      at its ends and the gluons between them, each to the string piece it is emitted along;
      a W's, Z's or H's decay system is its own colour singlet, so its hadrons all stay inside
      it and carry exactly its decay quarks' four-momentum (except in the ≈ 2 % of events where
      Pythia shifts ≲ 0.1 GeV between singlets to put a collapsing small string on a hadron's
      mass shell, status 72), while the b–b̄ string of tt̄ spans both tops;
    * a parton merged from two nearby ones (status 73, two mothers) follows the more energetic.

    Particles whose ancestry reaches no hard decay parton get −1: gluons and photons radiated
    by the top quarks or by a W before it decays (production-stage radiation, part of neither
    decay), and the hadrons nearest to such gluons in their string. Measured on 2,000 ee_6jet
    events at 500 GeV: 1.2 % of the visible energy, 3.6 % of the visible particles, in 41 % of
    the events; ZH at 250 GeV has none.

    With these labels (visible particles, the χ² pairing of :mod:`jetviz.data.resonances`) the
    same 2,000 tt̄ events give σ68(m_W) = 2.2 GeV and σ68(m_top) = 5.8 GeV, against 7.8 and
    15.7 GeV from Durham exclusive-6 jets.

    Parameters
    ----------
    prt : ak.Array
        Pythia event records, as from :func:`next_batch`.
    process : str
        A key of :data:`HARD_PARTONS` (``"ttbar"``, ``"zh"``).

    Returns
    -------
    np.ndarray
        Flat int64 labels in [0, K) or −1 for the final-state particles (``status > 0``), in the
        order of :func:`final_state`.

    Raises
    ------
    JetvizError
        An unknown process, or an event without exactly one of each hard parton.
    """
    if process not in HARD_PARTONS:
        raise JetvizError(f"no hard-parton table for process {process!r}; known: {sorted(HARD_PARTONS)}")
    counts = ak.to_numpy(ak.num(prt.id, axis=1)).astype(np.int64)
    start = np.repeat(np.cumsum(counts) - counts, counts)  # global index of each entry's event row 0
    flat = lambda field: ak.to_numpy(ak.flatten(field)).astype(np.int64)  # noqa: E731
    pid, status = flat(prt.id), np.abs(flat(prt.status))
    mother1, mother2 = flat(prt.mother1), flat(prt.mother2)
    p3 = np.stack([ak.to_numpy(ak.flatten(prt.p[c])).astype(np.float64) for c in ("px", "py", "pz")], -1)
    energy = ak.to_numpy(ak.flatten(prt.p.e)).astype(np.float64)
    index = np.arange(len(pid))
    first_mother = np.where(mother1 > 0, start + mother1, index)
    parent = first_mother.copy()
    # primary hadrons: the nearest parton (in angle) of their string's range of mothers
    hadron = (status >= 81) & (status <= 89) & (mother2 > mother1) & (mother1 > 0)
    rows = np.flatnonzero(hadron)
    length = mother2[rows] - mother1[rows] + 1
    segment = np.repeat(np.arange(len(rows)), length)
    offset_in_range = np.arange(len(segment)) - np.repeat(np.cumsum(length) - length, length)
    candidate = np.repeat(start[rows] + mother1[rows], length) + offset_in_range
    unit = p3 / np.maximum(np.linalg.norm(p3, axis=1, keepdims=True), 1e-300)
    cosine = np.einsum("ij,ij->i", unit[rows][segment], unit[candidate])
    order = np.lexsort((-cosine, segment))
    first = np.searchsorted(segment[order], np.arange(len(rows)))
    parent[rows] = candidate[order][first]
    # merged partons: the more energetic of their two mothers
    merged = np.flatnonzero((status == 73) & (mother2 > 0) & (mother2 != mother1) & (mother1 > 0))
    a, b = start[merged] + mother1[merged], start[merged] + mother2[merged]
    parent[merged] = np.where(energy[a] >= energy[b], a, b)
    # the hard decay partons are the roots that carry a label
    root_label = np.full(len(pid), -1, dtype=np.int64)
    mother_id = pid[first_mother]
    outgoing = (status == 23) & (np.abs(pid) <= 5) & (mother1 > 0)
    event = np.repeat(np.arange(len(counts)), counts)
    for label, (sign, quark, mother) in enumerate(HARD_PARTONS[process]):
        hit = outgoing & (np.sign(pid) == sign) & ((np.abs(pid) == quark) if quark else True) & (mother_id == mother)
        per_event = np.bincount(event[hit], minlength=len(counts))
        if (per_event != 1).any():
            bad = int(np.flatnonzero(per_event != 1)[0])
            raise JetvizError(f"{process}: event {bad} has {per_event[bad]} hard parton(s) of kind {label} "
                              f"(PDG sign {sign:+d}, mother {mother}); expected one")
        root_label[hit] = label
        parent[hit] = index[hit]
    for _ in range(64):  # pointer jumping: log2(depth of the record) rounds
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        parent = grand
    else:  # pragma: no cover - Pythia's mothers always precede their daughters
        raise JetvizError("the event record's mother links do not end (a cycle?)")
    return root_label[parent][flat(prt.status) > 0]


def hard_top_quarks(prt: ak.Array) -> list[list[tuple[int, np.ndarray, list[np.ndarray]]]]:
    """Hadronically decaying tops of each event with their decay quarks.

    For each event: a list of ``(sign, top_p4, [quark_p4, ...])`` where ``top_p4`` (px, py, pz,
    E in GeV) is the sum of the three decay quarks and the quarks are its b and, for hadronic W decays, the two W
    daughter quarks. Leptonic tops are left out. Loops over the few hard-process entries only.
    """
    hard = (np.abs(prt.status) == 22) | (np.abs(prt.status) == 23)
    mother_id = prt.id[prt.mother1]  # per-event gather of each entry's first mother's PDG code
    fields = {
        "id": prt.id[hard], "mother_id": mother_id[hard],
        "px": prt.p.px[hard], "py": prt.p.py[hard], "pz": prt.p.pz[hard], "E": prt.p.e[hard],
    }
    result = []
    for event in ak.to_list(ak.zip(fields)):
        tops = []
        for sign in (+1, -1):
            b = [e for e in event if e["id"] == 5 * sign and abs(e["mother_id"]) == 6]
            w_quarks = [e for e in event if 1 <= abs(e["id"]) <= 5 and e["mother_id"] == 24 * sign]
            if not b or len(w_quarks) != 2:
                continue
            quarks = [np.array([q["px"], q["py"], q["pz"], q["E"]]) for q in (b[0], *w_quarks)]
            # the parton-level top: its three decay quarks summed (before their showers)
            tops.append((sign, np.sum(quarks, axis=0), quarks))
        result.append(tops)
    return result


def matched_to_top(jet_p4: np.ndarray, tops: list, radius: float) -> tuple[bool, np.ndarray]:
    """Is a jet within ΔR < ``radius`` of a hadronic top and of all three of its decay quarks?

    Returns ``(matched, top_p4)`` (top_p4 zeros when unmatched).
    """
    _, jet_eta, jet_phi = pt_eta_phi(*jet_p4[:3])
    for _, top_p4, quarks in tops:
        points = [top_p4, *quarks]
        ok = True
        for p4 in points:
            _, eta, phi = pt_eta_phi(*p4[:3])
            if delta_r(jet_eta, jet_phi, eta, phi) >= radius:
                ok = False
                break
        if ok:
            return True, np.asarray(top_p4, dtype=float)
    return False, np.zeros(4)
