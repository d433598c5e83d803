"""Microscopic black holes vs electroweak sphalerons: jetviz's own documented approximations.

No public generator for either process ships on PyPI, so jetviz carries two small parton-level
generators (numpy only) whose events are written to a temporary Les Houches Event File
(:func:`jetviz.data.formats.lhe.write_lhe`) and showered and hadronised by Pythia 8
(``Beams:frameType = 4``). pp collisions at √s = 14 TeV. The physics choices, and what they
leave out, are listed in ``docs/samples.md`` ("bh_sph"); in short:

Black hole (label 1)
    Semiclassical Schwarzschild black hole of mass ``bh_mass`` (fixed, default 10 TeV) in
    4 + n dimensions (``n_extra_dims``, default 4) with fundamental Planck scale
    ``planck_scale`` M_D (default 2 TeV, i.e. M_BH/M_D = 5, the semiclassical regime; see
    ``docs/samples.md`` for why not 4 TeV). Hawking temperature T_H = (n+1)/(4π r_h) with
    r_h = 1/(√π M_D) · [(M_BH/M_D) · 8Γ((n+3)/2)/(n+2)]^{1/(n+1)} (Dimopoulos & Landsberg
    2001; PDG review of extra dimensions). Standard-Model quanta are emitted isotropically in the
    rest frame with Bose–Einstein / Fermi–Dirac spectra at fixed T_H (flux ∝ p² f(E) dE),
    species chosen in proportion to their degrees of freedom × emission rate; greybody factors,
    the time dependence of T_H, spin-down and the Planck-scale remnant are ignored. Emission
    stops when the emitted energy reaches M_BH; electric charge and baryon number of the two
    incoming quarks are conserved (configurations that violate them are redrawn), lepton number
    is not. The total four-momentum is then made exactly (0, 0, 0, M_BH) in the rest frame
    (boost to the centre-of-mass frame of the quanta, then a common rescaling of the
    three-momenta). Colour: the quanta are joined into colour strings by a greedy
    smallest-angle rule (each string runs from an outgoing quark through gluons to an outgoing
    antiquark or to one of the incoming quarks).
Sphaleron (label 0)
    The B+L-violating 't Hooft vertex with one fermion from each of the 12 left-handed SU(2)
    doublets (per generation one lepton and three quarks of different colours), at fixed
    √ŝ = ``sph_sqrt_s`` (default 9 TeV), in the qq-initiated picture of Ellis & Sakurai (2016)
    and with the two channels of BaryoGEN (Bravo & Hauser 2018, used by the CMS sphaleron
    search): with probability ``sph_ncs_plus_fraction`` a
    ΔN_CS = +1 transition qq → qq + 9 q + 3 ℓ (the incoming quarks continue as spectators;
    ΔB = ΔL = +3), else ΔN_CS = −1, qq → 7 q̄ + 3 ℓ̄ (the two incoming quarks are absorbed
    by the vertex; ΔB = ΔL = −3). Doublet members (up/down) are chosen at random subject to
    charge conservation. Plus 0…``sph_max_bosons`` electroweak bosons (W+, W−, Z, H weighted by
    their spin states 3:3:3:1). Momenta: flat n-body phase space (massless RAMBO, then
    three-momenta rescaled to the masses). Colour: the three quarks of each generation meet in
    a junction (ε_abc); Pythia reconstructs one junction per vertex, so each generation's
    quark triplet is attached to a colourless bookkeeping intermediate (PDG codes 9900110–2,
    status 2); for ΔN_CS = −1 the first generation's junction sits at the hard vertex with the
    two incoming quarks as legs (Pythia junction kind 6).
Both
    Incoming partons: two valence quarks, u or d independently with P(u) = 2/3 (valence
    counting). The system's rapidity is drawn from dL/dy ∝ [(1 − √τ e^y)(1 − √τ e^−y)]^3
    with τ = ŝ/s (the high-x valence shape (1 − x)^3), |y| < −½ ln τ. Pythia 8 (default Monash
    tune) adds ISR, FSR, multiparton interactions (``mpi``, default on; no pile-up), decays of
    W/Z/H/t/τ and hadronisation.
"""
from __future__ import annotations

import math
import tempfile
from functools import lru_cache
from pathlib import Path

import awkward as ak
import numpy as np

from jetviz.data import pdg
from jetviz.data import pythia as py8
from jetviz.data.kinematics import boost_z, isotropic_directions, rambo, rest_frame_with_masses
from jetviz.data.schema import make_events
from jetviz.errors import ConfigError, JetvizError

__all__ = [
    "BH_SPH_DEFAULTS",
    "SQRT_S",
    "schwarzschild_radius",
    "hawking_temperature",
    "thermal_energies",
    "mean_thermal_energy",
    "black_hole_partons",
    "sphaleron_partons",
    "bh_sph",
]

SQRT_S = 14000.0  # GeV, pp

BH_SPH_DEFAULTS: dict = {
    "bh_mass": 10000.0,        # GeV, black-hole mass (fixed)
    "planck_scale": 2000.0,    # GeV, fundamental (4+n)-dimensional Planck scale M_D (M_BH/M_D = 5)
    "n_extra_dims": 4,         # n
    "sph_sqrt_s": 9000.0,      # GeV, sphaleron transition energy √ŝ (fixed)
    "sph_max_bosons": 3,       # extra W/Z/H per sphaleron: uniform in 0..max
    "sph_ncs_plus_fraction": 0.5,  # probability of ΔN_CS = +1 (else −1)
    "mpi": True,               # Pythia multiparton interactions (underlying event)
}

# Black-hole emission species: (PDG code of the particle, has a distinct antiparticle, is a
# fermion, degrees of freedom counting particle + antiparticle, spins and colours).
_BH_SPECIES: tuple[tuple[int, bool, bool, int], ...] = (
    *((q, True, True, 12) for q in (1, 2, 3, 4, 5, 6)),     # 3 colours × 2 spins × 2
    (21, False, False, 16),                                 # 8 colours × 2 helicities
    *((l, True, True, 4) for l in (11, 13, 15)),            # 2 spins × 2
    *((v, True, True, 2) for v in (12, 14, 16)),            # ν_L + ν̄_R
    (24, True, False, 6),                                   # W±: 3 polarisations × 2
    (23, False, False, 3),
    (22, False, False, 2),
    (25, False, False, 1),
)

# Bookkeeping intermediates carrying one junction each (colourless; charge in units of e/3).
_JUNCTION_CARRIERS = {0: 9900110, 3: 9900111, 6: 9900112}
_CARRIER_SETTINGS = (
    "9900110:all = jvSphY0 void 2 0 0 1000. 0. 0. 0. 0.",
    "9900111:all = jvSphY+ jvSphY- 2 3 0 1000. 0. 0. 0. 0.",
    "9900112:all = jvSphY++ jvSphY-- 2 6 0 1000. 0. 0. 0. 0.",
)
_BOSONS = ((24, 3), (-24, 3), (23, 3), (25, 1))  # W+, W−, Z, H with spin-state weights
_P_UP_VALENCE = 2.0 / 3.0
_VALENCE_POWER = 3.0


# --------------------------------------------------------------------------------------------
# black-hole thermodynamics
# --------------------------------------------------------------------------------------------
def schwarzschild_radius(mass: float, planck_scale: float, n_extra_dims: int) -> float:
    """Horizon radius r_h (GeV⁻¹) of a (4+n)-dimensional Schwarzschild black hole.

    r_h = 1/(√π M_D) · [(M/M_D) · 8Γ((n+3)/2)/(n+2)]^{1/(n+1)} with M_D = ``planck_scale``.
    """
    if mass <= 0 or planck_scale <= 0 or n_extra_dims < 1:
        raise ConfigError(f"black hole needs mass > 0, planck_scale > 0, n_extra_dims ≥ 1 (got {mass}, {planck_scale}, {n_extra_dims})")
    n = int(n_extra_dims)
    bracket = (mass / planck_scale) * 8.0 * math.gamma((n + 3) / 2.0) / (n + 2.0)
    return bracket ** (1.0 / (n + 1.0)) / (math.sqrt(math.pi) * planck_scale)


def hawking_temperature(mass: float, planck_scale: float, n_extra_dims: int) -> float:
    """Hawking temperature T_H = (n+1)/(4π r_h) in GeV (see :func:`schwarzschild_radius`)."""
    return (n_extra_dims + 1.0) / (4.0 * math.pi * schwarzschild_radius(mass, planck_scale, n_extra_dims))


def _spectrum_pdf(x: np.ndarray, mass_over_t: float, fermion: bool) -> np.ndarray:
    """Emitted flux per unit energy in x = E/T: p² f(E) with f the BE (−1) or FD (+1) occupancy."""
    p2 = np.clip(x**2 - mass_over_t**2, 0.0, None)
    with np.errstate(over="ignore", divide="ignore"):
        occupancy = 1.0 / (np.exp(x) + (1.0 if fermion else -1.0))
    return p2 * np.where(np.isfinite(occupancy), occupancy, 0.0)


@lru_cache(maxsize=64)
def _spectrum_table(mass_over_t: float, fermion: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Grid x = E/T (from the mass up to mass + 60 T), the pdf, its normalised CDF, and ∫ p² f dx."""
    x = max(mass_over_t, 0.0) + np.linspace(0.0, 60.0, 12001)
    pdf = _spectrum_pdf(x, mass_over_t, fermion)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(x))])
    total = float(cdf[-1])
    return x, pdf / total, cdf / total, total


def thermal_energies(rng: np.random.Generator, n: int, temperature: float, mass: float = 0.0, fermion: bool = False) -> np.ndarray:
    """Draw ``n`` energies (GeV) of quanta emitted by a black body at ``temperature`` (GeV).

    The spectrum is dN/dE ∝ p² / (exp(E/T) ∓ 1) for E ≥ ``mass`` (Bose–Einstein for bosons,
    Fermi–Dirac for ``fermion``), sampled by inverting its tabulated CDF.
    """
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    x, _, cdf, _ = _spectrum_table(round(float(mass) / float(temperature), 12), bool(fermion))
    return np.interp(rng.random(n), cdf, x) * temperature


def mean_thermal_energy(temperature: float, mass: float = 0.0, fermion: bool = False) -> float:
    """Mean energy (GeV) of :func:`thermal_energies`; 2.701 T (bosons) or 3.151 T (fermions) if massless."""
    x, pdf, _, _ = _spectrum_table(round(float(mass) / float(temperature), 12), bool(fermion))
    return float(np.trapezoid(x * pdf, x) / np.trapezoid(pdf, x) * temperature)


def _species_weights(temperature: float) -> np.ndarray:
    """Relative emission probability of each black-hole species: dof × ∫ p² f dE."""
    weights = []
    for pid, _, fermion, dof in _BH_SPECIES:
        _, _, _, rate = _spectrum_table(round(pdg.MASSES[pid] / temperature, 12), fermion)
        weights.append(dof * rate)
    weights = np.asarray(weights)
    return weights / weights.sum()


# --------------------------------------------------------------------------------------------
# the hard system's rapidity and incoming partons
# --------------------------------------------------------------------------------------------
def _valence_rapidity(rng: np.random.Generator, tau: float) -> float:
    """Rapidity of the hard system from dL/dy ∝ [(1 − √τ e^y)(1 − √τ e^−y)]^3, |y| < −½ ln τ."""
    y_max = -0.5 * math.log(tau)
    root = math.sqrt(tau)
    peak = (1.0 - root) ** (2 * _VALENCE_POWER)  # maximum at y = 0
    while True:
        y = rng.uniform(-y_max, y_max)
        density = ((1.0 - root * math.exp(y)) * (1.0 - root * math.exp(-y))) ** _VALENCE_POWER
        if rng.random() * peak <= density:
            return y


def _incoming(rng: np.random.Generator, sqrt_s_hat: float, sqrt_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Two valence quarks (PDG codes) and their massless four-momenta for a system at rest mass √ŝ."""
    tau = (sqrt_s_hat / sqrt_s) ** 2
    if not 0 < tau < 1:
        raise ConfigError(f"√ŝ = {sqrt_s_hat} GeV must lie below √s = {sqrt_s} GeV")
    y = _valence_rapidity(rng, tau)
    x1, x2 = math.sqrt(tau) * math.exp(y), math.sqrt(tau) * math.exp(-y)
    e1, e2 = x1 * sqrt_s / 2.0, x2 * sqrt_s / 2.0
    pid = np.where(rng.random(2) < _P_UP_VALENCE, 2, 1)
    p4 = np.array([[0.0, 0.0, e1, e1], [0.0, 0.0, -e2, e2]])
    return pid, p4, y


# --------------------------------------------------------------------------------------------
# colour strings for the black hole
# --------------------------------------------------------------------------------------------
def _angle_cost(a: np.ndarray, b: np.ndarray) -> float:
    """1 − cos θ between two directions (∝ the invariant mass² of two massless partons per E²)."""
    return 1.0 - float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-300)


def _bh_colours(pids: np.ndarray, p3: np.ndarray, incoming_cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Colour tags for outgoing quanta (quarks ≥ antiquarks + 2; two incoming quarks).

    Strings run from each outgoing quark to an outgoing antiquark or to an incoming quark
    (represented by its beam direction, +z for the first and −z for the second); quark–end
    pairs are formed greedily by smallest angle, then each gluon is inserted where it adds the
    least Σ(1 − cos θ) along a string.
    """
    col = np.zeros(len(pids), dtype=np.int64)
    acol = np.zeros(len(pids), dtype=np.int64)
    quarks = [i for i, p in enumerate(pids) if 1 <= p <= 6]
    antiquarks = [i for i, p in enumerate(pids) if -6 <= p <= -1]
    gluons = [i for i, p in enumerate(pids) if p == 21]
    # end points: ("out", index) for outgoing antiquarks, ("in", k) for incoming quark k
    ends = [("out", j) for j in antiquarks] + [("in", 0), ("in", 1)]
    if len(quarks) != len(ends):
        raise JetvizError(f"colour strings need n_quarks = n_antiquarks + 2, got {len(quarks)} and {len(antiquarks)}")
    beam = {0: np.array([0.0, 0.0, 1.0]), 1: np.array([0.0, 0.0, -1.0])}

    def direction(node):
        kind, k = node
        return p3[k] if kind == "out" else beam[k]

    pairs = [(
        _angle_cost(p3[q], direction(e)), qi, ei) for qi, q in enumerate(quarks) for ei, e in enumerate(ends)]
    pairs.sort()
    used_q, used_e, strings = set(), set(), []
    for _, qi, ei in pairs:
        if qi in used_q or ei in used_e:
            continue
        used_q.add(qi)
        used_e.add(ei)
        strings.append([("out", quarks[qi]), ends[ei]])
    for g in gluons:
        best = None
        for s, chain in enumerate(strings):
            for pos in range(1, len(chain)):
                a, b = direction(chain[pos - 1]), direction(chain[pos])
                added = _angle_cost(direction(chain[pos - 1]), p3[g]) + _angle_cost(p3[g], b) - _angle_cost(a, b)
                if best is None or added < best[0]:
                    best = (added, s, pos)
        strings[best[1]].insert(best[2], ("out", g))
    tag = 503
    for chain in strings:
        # chain: quark, gluons..., end
        for pos in range(len(chain) - 1):
            here, nxt = chain[pos], chain[pos + 1]
            if nxt[0] == "in":
                value = incoming_cols[nxt[1]]  # the colour of an incoming quark flows out here
            else:
                value = tag
                tag += 1
            col[here[1]] = value
            if nxt[0] == "out":
                acol[nxt[1]] = value
    return col, acol


# --------------------------------------------------------------------------------------------
# parton-level generators
# --------------------------------------------------------------------------------------------
def _lhe_event(pid, status, mother1, mother2, col, acol, p4, mass, scale) -> dict:
    return {
        "pid": np.asarray(pid, dtype=np.int64), "status": np.asarray(status, dtype=np.int64),
        "mother1": np.asarray(mother1, dtype=np.int64), "mother2": np.asarray(mother2, dtype=np.int64),
        "col": np.asarray(col, dtype=np.int64), "acol": np.asarray(acol, dtype=np.int64),
        "px": p4[:, 0].copy(), "py": p4[:, 1].copy(), "pz": p4[:, 2].copy(), "E": p4[:, 3].copy(),
        "m": np.asarray(mass, dtype=np.float64), "scale": float(scale),
    }


_SPECIES_PID = np.array([s[0] for s in _BH_SPECIES])
_SPECIES_HAS_ANTI = np.array([s[1] for s in _BH_SPECIES])
_SPECIES_IS_QUARK = np.array([1 <= s[0] <= 6 for s in _BH_SPECIES])
_SPECIES_CHARGE3 = pdg.charge3(_SPECIES_PID)
_SPECIES_MASS = pdg.mass(_SPECIES_PID)


def _draw_bh_quanta(rng, mass, temperature, weights, incoming_pid, max_batches=2000, rows=128, width=64):
    """Species (signed PDG codes), rest-frame four-momenta and masses of the emitted quanta.

    Whole emission sequences are drawn in batches of ``rows`` trials; the first trial that
    conserves the baryon number and charge of the incoming quarks is kept (exact conditioning).
    """
    target_b3 = int(np.sum(np.sign(incoming_pid)))  # each incoming quark carries 3B = 1
    target_q3 = int(pdg.charge3(incoming_pid).sum())
    for _ in range(max_batches):
        index = rng.choice(len(_BH_SPECIES), size=(rows, width), p=weights)
        energies = np.empty((rows, width))
        for s in np.unique(index):
            pick = index == s
            energies[pick] = thermal_energies(rng, int(pick.sum()), temperature, _SPECIES_MASS[s], _BH_SPECIES[s][2])
        sign = np.where(rng.random((rows, width)) < 0.5, 1, -1)
        cumulative = np.cumsum(energies, axis=1)
        crossed = cumulative >= mass
        has = crossed.any(axis=1)
        k = np.argmax(crossed, axis=1)  # quanta 0..k-1 stay below M, quantum k crosses it
        below = np.where(k > 0, cumulative[np.arange(rows), np.maximum(k - 1, 0)], 0.0)
        above = cumulative[np.arange(rows), k]
        n_keep = np.where(above - mass < mass - below, k + 1, k)  # keep the quantum that crosses M if closer
        kept = np.arange(width)[None, :] < n_keep[:, None]
        signed = np.where(_SPECIES_HAS_ANTI[index], sign, 1)
        b3 = np.sum(np.where(kept & _SPECIES_IS_QUARK[index], signed, 0), axis=1)
        q3 = np.sum(np.where(kept, signed * _SPECIES_CHARGE3[index], 0), axis=1)
        mass_sum = np.sum(np.where(kept, _SPECIES_MASS[index], 0.0), axis=1)
        good = has & (n_keep >= 2) & (b3 == target_b3) & (q3 == target_q3) & (mass_sum < 0.95 * mass)
        if not good.any():
            continue
        r = int(np.argmax(good))
        n = int(n_keep[r])
        pids = _SPECIES_PID[index[r, :n]] * signed[r, :n]
        masses = _SPECIES_MASS[index[r, :n]]
        e = energies[r, :n]
        p_abs = np.sqrt(np.clip(e**2 - masses**2, 0.0, None))
        p4 = np.concatenate([isotropic_directions(rng, n) * p_abs[:, None], e[:, None]], axis=1)
        return pids.astype(np.int64), rest_frame_with_masses(p4, masses, mass), masses
    raise JetvizError(f"black hole: no charge- and baryon-number-conserving emission in {max_batches * rows} trials")


def black_hole_partons(
    n_events: int, seed: int, bh_mass: float = 10000.0, planck_scale: float = 2000.0, n_extra_dims: int = 4,
    sqrt_s: float = SQRT_S,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Parton-level black-hole events (see the module docstring for the model).

    Returns
    -------
        ``(events, info)``: ``events`` a list of hard events in the :mod:`jetviz.data.formats.lhe`
        representation (incoming quarks status −1, emitted quanta status 1, lab frame);
        ``info`` per-event arrays ``sqrt_s_hat``, ``y_hat`` (rapidity of the black hole),
        ``x1``, ``x2``, ``n_partons`` (emitted quanta) and ``temperature`` (GeV).
    """
    temperature = hawking_temperature(bh_mass, planck_scale, n_extra_dims)
    weights = _species_weights(temperature)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB1AC]))
    events, info = [], {k: [] for k in ("sqrt_s_hat", "y_hat", "x1", "x2", "n_partons", "temperature")}
    for _ in range(n_events):
        incoming_pid, incoming_p4, y = _incoming(rng, bh_mass, sqrt_s)
        pids, rest_p4, masses = _draw_bh_quanta(rng, bh_mass, temperature, weights, incoming_pid)
        col, acol = _bh_colours(pids, rest_p4[:, :3], (501, 502))
        lab = boost_z(rest_p4, y)
        n = len(pids)
        p4 = np.concatenate([incoming_p4, lab])
        events.append(_lhe_event(
            np.concatenate([incoming_pid, pids]), [-1, -1] + [1] * n, [0, 0] + [1] * n, [0, 0] + [2] * n,
            np.concatenate([[501, 502], col]), np.concatenate([[0, 0], acol]), p4,
            np.concatenate([[0.0, 0.0], masses]), bh_mass,
        ))
        info["sqrt_s_hat"].append(bh_mass)
        info["y_hat"].append(y)
        info["x1"].append(incoming_p4[0, 3] / (sqrt_s / 2))
        info["x2"].append(incoming_p4[1, 3] / (sqrt_s / 2))
        info["n_partons"].append(n)
        info["temperature"].append(temperature)
    return events, {k: np.asarray(v) for k, v in info.items()}


def _doublet_member(doublet: int, up: bool) -> int:
    """PDG code (particle) of the up or down member of doublet 0..11 (generation = doublet // 4)."""
    generation, kind = divmod(doublet, 4)
    if kind == 0:  # lepton doublet (ν, ℓ)
        return (12, 14, 16)[generation] if up else (11, 13, 15)[generation]
    return (2, 4, 6)[generation] if up else (1, 3, 5)[generation]


def _sphaleron_event(rng, sqrt_s_hat, sqrt_s, max_bosons, ncs_plus_fraction):
    """One sphaleron hard event (LHE representation) and its info dict."""
    incoming_pid, incoming_p4, y = _incoming(rng, sqrt_s_hat, sqrt_s)
    n_bosons = int(rng.integers(0, max_bosons + 1))
    boson_w = np.array([w for _, w in _BOSONS], dtype=float)
    bosons = [int(_BOSONS[k][0]) for k in rng.choice(len(_BOSONS), size=n_bosons, p=boson_w / boson_w.sum())]
    q3_bosons = int(pdg.charge3(np.asarray(bosons, dtype=np.int64)).sum())
    ncs = 1 if rng.random() < ncs_plus_fraction else -1
    # Charge: the 12 doublet members have Q = T3 + Y/2 and the hypercharges cancel, so the 12
    # (anti)fermions of the vertex carry ncs·(n_up − 6). Whether the incoming quarks are crossed
    # into the vertex (ΔN_CS = −1) or pass through as spectators (+1), charge conservation then
    # needs ncs·(n_up − 6) + Q_bosons = 0.
    n_up_total = 6 - q3_bosons // 3 if ncs == 1 else 6 + q3_bosons // 3
    up = np.zeros(12, dtype=bool)
    if ncs == 1:
        free = np.arange(12)
        crossed = {}
    else:
        # the incoming quarks are two first-generation quark doublets of different colours
        colours = rng.choice(3, size=2, replace=False)
        crossed = {1 + int(colours[0]): 0, 1 + int(colours[1]): 1}  # doublet -> incoming index
        for d, k in crossed.items():
            up[d] = incoming_pid[k] == 2
        free = np.array([d for d in range(12) if d not in crossed])
    n_more = n_up_total - int(up.sum())
    if not 0 <= n_more <= len(free):
        raise JetvizError("sphaleron: no charge-conserving doublet assignment")  # cannot happen for ≤ 3 bosons
    up[rng.choice(free, size=n_more, replace=False)] = True
    outgoing = []  # (pid, doublet or None)
    for d in range(12):
        if d in crossed:
            continue
        outgoing.append((ncs * _doublet_member(d, bool(up[d])), d))
    if ncs == 1:
        outgoing += [(int(incoming_pid[0]), -1), (int(incoming_pid[1]), -2)]  # spectators
    outgoing += [(b, None) for b in bosons]
    pids = np.array([p for p, _ in outgoing], dtype=np.int64)
    doublet = [d for _, d in outgoing]
    masses = pdg.mass(pids)
    rest = rambo(rng, sqrt_s_hat, masses)
    lab = boost_z(rest, y)

    # assemble the LHE record: incoming, hard-vertex outgoing, carriers, carrier daughters
    rows = []  # dicts with pid, status, m1, m2, col, acol, p4, m
    rows.append(dict(pid=int(incoming_pid[0]), status=-1, m1=0, m2=0, col=501, acol=0, p4=incoming_p4[0], m=0.0))
    rows.append(dict(pid=int(incoming_pid[1]), status=-1, m1=0, m2=0, col=502, acol=0, p4=incoming_p4[1], m=0.0))
    tag = 503
    by_generation: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for j, d in enumerate(doublet):
        if d is not None and d >= 0 and d % 4 != 0:
            by_generation[d // 4].append(j)
    for j, d in enumerate(doublet):
        is_quark = abs(int(pids[j])) <= 6
        if d is None or (d is not None and d >= 0 and d % 4 == 0):  # bosons, leptons
            rows.append(dict(pid=int(pids[j]), status=1, m1=1, m2=2, col=0, acol=0, p4=lab[j], m=masses[j]))
        elif d < 0:  # spectator quark keeps its incoming colour
            rows.append(dict(pid=int(pids[j]), status=1, m1=1, m2=2, col=501 if d == -1 else 502, acol=0, p4=lab[j], m=masses[j]))
        elif ncs == -1 and d // 4 == 0 and is_quark:  # first-generation antiquark at the hard-vertex junction
            rows.append(dict(pid=int(pids[j]), status=1, m1=1, m2=2, col=0, acol=tag, p4=lab[j], m=masses[j]))
            tag += 1
    for generation, members in by_generation.items():
        if len(members) != 3:
            continue  # the ΔN_CS = −1 first generation is handled at the hard vertex
        p4 = lab[members].sum(axis=0)
        m = math.sqrt(max(p4[3] ** 2 - float(p4[:3] @ p4[:3]), 0.0))
        q3 = int(pdg.charge3(pids[members]).sum())
        carrier = int(np.sign(q3)) * _JUNCTION_CARRIERS[abs(q3)] if q3 else _JUNCTION_CARRIERS[0]
        rows.append(dict(pid=carrier, status=2, m1=1, m2=2, col=0, acol=0, p4=p4, m=m))
        parent = len(rows)  # 1-based index of the carrier
        for j in members:
            c, a = (tag, 0) if pids[j] > 0 else (0, tag)
            tag += 1
            rows.append(dict(pid=int(pids[j]), status=1, m1=parent, m2=0, col=c, acol=a, p4=lab[j], m=masses[j]))
    event = _lhe_event(
        [r["pid"] for r in rows], [r["status"] for r in rows], [r["m1"] for r in rows], [r["m2"] for r in rows],
        [r["col"] for r in rows], [r["acol"] for r in rows], np.array([r["p4"] for r in rows]),
        [r["m"] for r in rows], sqrt_s_hat,
    )
    info = dict(
        sqrt_s_hat=sqrt_s_hat, y_hat=y, x1=incoming_p4[0, 3] / (sqrt_s / 2), x2=incoming_p4[1, 3] / (sqrt_s / 2),
        n_partons=len(pids), ncs=ncs, n_bosons=n_bosons,
    )
    return event, info


def sphaleron_partons(
    n_events: int, seed: int, sph_sqrt_s: float = 9000.0, sph_max_bosons: int = 3,
    sph_ncs_plus_fraction: float = 0.5, sqrt_s: float = SQRT_S,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Parton-level sphaleron events (see the module docstring for the model).

    Returns
    -------
        ``(events, info)``: hard events in the :mod:`jetviz.data.formats.lhe` representation and
        per-event arrays ``sqrt_s_hat``, ``y_hat``, ``x1``, ``x2``, ``n_partons`` (outgoing
        hard quanta incl. spectators and bosons), ``ncs`` (ΔN_CS = ±1), ``n_bosons``.
    """
    if not 0 <= sph_ncs_plus_fraction <= 1:
        raise ConfigError(f"sph_ncs_plus_fraction must lie in [0, 1], got {sph_ncs_plus_fraction}")
    if not 0 <= int(sph_max_bosons) <= 3:
        raise ConfigError(f"sph_max_bosons must lie in 0..3 (charge conservation with 12 doublets), got {sph_max_bosons}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5FA1]))
    events, infos = [], []
    for _ in range(n_events):
        event, info = _sphaleron_event(rng, sph_sqrt_s, sqrt_s, int(sph_max_bosons), sph_ncs_plus_fraction)
        events.append(event)
        infos.append(info)
    keys = ("sqrt_s_hat", "y_hat", "x1", "x2", "n_partons", "ncs", "n_bosons")
    return events, {k: np.asarray([i[k] for i in infos]) for k in keys}


# --------------------------------------------------------------------------------------------
# Pythia shower + hadronisation
# --------------------------------------------------------------------------------------------
def _pythia_settings(lhe_path: Path, mpi: bool) -> list[str]:
    return [
        "Beams:frameType = 4", f"Beams:LHEF = {lhe_path}",
        *_CARRIER_SETTINGS,
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
    ]


def _shower(events: list[dict], x1: np.ndarray, seed: int, mpi: bool, source: str, workdir: Path):
    """Shower/hadronise LHE events with Pythia; return (prt of successes, parton-event index of each)."""
    from jetviz.data.formats.lhe import write_lhe

    path = workdir / f"{source}.lhe"
    write_lhe(path, events, beams=(2212, 2212, SQRT_S / 2, SQRT_S / 2), overwrite=True,
              comment=f"jetviz {source} parton-level events")
    pythia = py8.make_pythia(_pythia_settings(path, mpi), seed)
    batch = pythia.nextBatch(len(events), "none")
    ok = ~ak.to_numpy(ak.is_none(batch, axis=0))
    batch = batch[ok]
    if len(batch) == 0:
        return None, np.zeros(0, dtype=np.int64)
    # Pythia may skip LHE events after a failure; find each shower's parton event by its x1
    x1_pythia = ak.to_numpy(batch.info.x1)
    order = np.argsort(x1)
    pos = np.clip(np.searchsorted(x1[order], x1_pythia), 1, len(x1) - 1)
    left, right = order[pos - 1], order[pos]
    index = np.where(np.abs(x1[left] - x1_pythia) <= np.abs(x1[right] - x1_pythia), left, right)
    if np.any(np.abs(x1[index] - x1_pythia) > 1e-9):
        raise JetvizError(f"{source}: could not match Pythia events to their parton-level events")
    return batch.prt, index


def _generate_class(kind: str, n_wanted: int, seed: int, params: dict, workdir: Path):
    """Showered events of one class: (particles, counts, event fields), exactly ``n_wanted``."""
    parts, counts_all, fields_all, have = [], [], [], 0
    for attempt in range(20):
        n_make = n_wanted - have + max(2, int(math.ceil(0.03 * (n_wanted - have))))
        sub_seed = py8.pythia_seed(seed, kind, attempt)
        if kind == "bh":
            events, info = black_hole_partons(
                n_make, sub_seed, params["bh_mass"], params["planck_scale"], params["n_extra_dims"])
        else:
            events, info = sphaleron_partons(
                n_make, sub_seed, params["sph_sqrt_s"], params["sph_max_bosons"], params["sph_ncs_plus_fraction"])
        prt, index = _shower(events, info["x1"], sub_seed, params["mpi"], f"{kind}_{attempt}", workdir)
        if prt is None:
            continue
        take = min(len(index), n_wanted - have)
        particles, counts = py8.final_state(prt[:take])
        parts.append(particles)
        counts_all.append(counts)
        fields_all.append({
            "sqrt_s_hat": info["sqrt_s_hat"][index[:take]].astype(np.float64),
            "y_hat": info["y_hat"][index[:take]].astype(np.float64),
            "n_partons": info["n_partons"][index[:take]].astype(np.int64),
        })
        have += take
        if have == n_wanted:
            break
    if have < n_wanted:
        raise JetvizError(f"bh_sph/{kind}: Pythia showered only {have} of {n_wanted} events")
    particles = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    fields = {k: np.concatenate([f[k] for f in fields_all]) for k in fields_all[0]}
    return particles, np.concatenate(counts_all), fields


def bh_sph(
    n_events: int, seed: int, bh_mass: float = 10000.0, planck_scale: float = 2000.0, n_extra_dims: int = 4,
    sph_sqrt_s: float = 9000.0, sph_max_bosons: int = 3, sph_ncs_plus_fraction: float = 0.5, mpi: bool = True,
) -> ak.Array:
    """Microscopic black holes (label 1) and sphalerons (label 0) at 14 TeV, showered by Pythia.

    Parameters
    ----------
    n_events
        events in total; ``n_events // 2`` black holes, the rest sphalerons.
    seed
        seed of everything (parton level and Pythia); the same seed gives the same events.
    bh_mass
        black-hole mass M_BH, GeV. planck_scale: fundamental Planck scale M_D, GeV.
    n_extra_dims
        number of extra dimensions n.
    sph_sqrt_s
        sphaleron transition energy √ŝ, GeV.
    sph_max_bosons
        electroweak bosons per sphaleron drawn uniformly in 0..max (≤ 3).
    sph_ncs_plus_fraction
        probability of a ΔN_CS = +1 transition (else −1).
    mpi
        Pythia multiparton interactions (underlying event) on or off.

    Returns
    -------
        schema events, shuffled with the seed: every final-state particle (neutrinos
        included; a detector drops them) with ``charge``, ``pid``, ``d0``, ``z0``; ``jet`` = −1
        (no truth clustering); event fields ``sqrt_s_hat`` (GeV), ``y_hat`` (rapidity of the
        hard system) and ``n_partons`` (outgoing hard-process quanta before the shower).
    """
    params = dict(bh_mass=float(bh_mass), planck_scale=float(planck_scale), n_extra_dims=int(n_extra_dims),
                  sph_sqrt_s=float(sph_sqrt_s), sph_max_bosons=int(sph_max_bosons),
                  sph_ncs_plus_fraction=float(sph_ncs_plus_fraction), mpi=bool(mpi))
    if n_events < 1:
        raise ConfigError(f"bh_sph: n_events must be positive, got {n_events}")
    if not (0 < params["bh_mass"] < SQRT_S and 0 < params["sph_sqrt_s"] < SQRT_S):
        raise ConfigError(f"bh_sph: bh_mass and sph_sqrt_s must lie in (0, {SQRT_S}) GeV")
    n_bh = n_events // 2
    n_sph = n_events - n_bh
    blocks = []
    with tempfile.TemporaryDirectory(prefix="jetviz-bh_sph-") as tmp:
        for kind, n, label in (("bh", n_bh, 1), ("sph", n_sph, 0)):
            if n == 0:
                continue
            particles, counts, fields = _generate_class(kind, n, seed, params, Path(tmp))
            blocks.append((particles, counts, fields, np.full(n, label, dtype=np.int64)))
    particles = {k: np.concatenate([b[0][k] for b in blocks]) for k in blocks[0][0]}
    fields = {k: np.concatenate([b[2][k] for b in blocks]) for k in blocks[0][2]}
    particles["jet"] = np.full(len(particles["pid"]), -1, dtype=np.int64)
    events = make_events(
        particles, np.concatenate([b[1] for b in blocks]), label=np.concatenate([b[3] for b in blocks]),
        event_fields=fields, source=f"bh_sph (seed {seed})",
    )
    return events[np.random.default_rng(seed).permutation(len(events))]
