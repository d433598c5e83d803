"""Sample recipes: seeded functions that generate one chunk of schema events.

Each recipe is ``make(n_events, seed, **params) -> ak.Array`` (see :mod:`jetviz.data.schema`).
:mod:`jetviz.data.samples` runs recipes in chunks, in parallel, and caches them.

Pythia recipes
--------------
``ee_6jet``     e+e- → tt̄ → 6 jets at √s = 500 GeV (both W hadronic); truth = Durham
                exclusive 6-jet clustering of the visible final state, jets ordered by energy
                (``jet``), and the history truth ``parton``: the hard decay parton (b, q, q̄′
                of t; b̄, q, q̄′ of t̄) each particle descends from in Pythia's event record
                (:func:`jetviz.data.pythia.parton_labels`; −1 for production-stage radiation).
``ee_zh_4jet``  e+e- → ZH at √s = 250 GeV, Z → qq̄, H → bb̄; Durham exclusive 4 jets, and
                ``parton`` (q, q̄ of the Z; b, b̄ of the H).
``top_qcd``     pp → tt̄ (label 1) and QCD dijets (label 0) at 14 TeV, p̂T window around the jet
                pT window, no MPI, no pile-up; particles = constituents of the leading anti-kt
                jet (radius ``R``) with ``pt_min < pT < pt_max`` and ``|η| < eta_max``, at most
                ``max_constituents`` (highest pT first). Top jets must contain (ΔR < R) a
                hadronically decaying parton-level top and its three decay quarks, as in the
                public top-tagging reference dataset.
``bh_sph``      microscopic black holes (label 1) vs sphalerons (label 0): parton-level events
                from :mod:`jetviz.data.bsm` handed to Pythia (LHEF) for shower and hadronisation.
``lhe``         any user LHE file (e.g. ZHH → 6 jets from MadGraph/Whizard) showered by Pythia,
                with Durham exclusive ``n_jets`` truth labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import awkward as ak
import numpy as np

from jetviz.data import pythia as py8
from jetviz.data.kinematics import pt_eta_phi
from jetviz.data.schema import make_events, make_jets
from jetviz.errors import ConfigError, JetvizError

__all__ = ["Recipe", "RECIPES", "get_recipe", "ee_jets", "top_qcd", "lhe_jets"]


@dataclass(frozen=True)
class Recipe:
    """A named, seeded way to make events.

    Attributes
    ----------
    name
        the sample name (``ee_6jet`` ...).
    make
        ``make(n_events, seed, **params) -> ak.Array`` producing exactly ``n_events``.
    defaults
        default parameters; every accepted parameter is listed here.
    description
        one line for menus and ``jetviz info``.
    classes
        names of the per-event ``label`` values, in order.
    toy
        True for the numpy-only stand-ins used by fast unit tests.
    chunk_size
        events per cached chunk — large enough that Pythia's initialisation
        (≈0.2–0.5 s) is a small part of a chunk, small enough for a live progress bar.
    version
        raised when a recipe's output changes for the same parameters (part of the
        cache key from version 2 on, so older cached chunks are not reused).
    """

    name: str
    make: Callable[..., ak.Array]
    defaults: dict = field(default_factory=dict)
    description: str = ""
    classes: tuple[str, ...] = ("events",)
    toy: bool = False
    chunk_size: int = 250
    version: int = 1

    def params(self, **overrides) -> dict:
        """Defaults updated with ``overrides``; unknown names raise :class:`ConfigError`."""
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise ConfigError(f"sample {self.name!r} has no parameter(s) {unknown}; it takes {sorted(self.defaults)}")
        return {**self.defaults, **overrides}


# --------------------------------------------------------------------------- e+e- → jets

def _ee_settings(process: str, sqrt_s: float) -> list[str]:
    common = ["Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {float(sqrt_s)}", "PDF:lepton = off"]
    if process == "ttbar":
        return common + ["Top:ffbar2ttbar(s:gmZ) = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
    if process == "zh":
        return common + [
            "HiggsSM:ffbar2HZ = on", "23:onMode = off", "23:onIfAny = 1 2 3 4 5",
            "25:onMode = off", "25:onIfAny = 5",
        ]
    raise ConfigError(f"unknown e+e- process {process!r}")


def _events_with_durham_truth(prt: ak.Array, n_jets: int, source: str, event_fields=None,
                              process: str | None = None) -> ak.Array:
    """Schema events of the final states with Durham ``jet`` labels, and ``parton`` labels
    (:func:`jetviz.data.pythia.parton_labels`) when the hard ``process`` is known."""
    particles, counts = py8.final_state(prt)
    jet, jets, jet_counts = py8.durham_labels(particles, counts, n_jets)
    particles["jet"] = jet
    if process is not None:
        particles["parton"] = py8.parton_labels(prt, process)
    return make_events(
        particles, counts, label=0,
        jets=make_jets(jets["px"], jets["py"], jets["pz"], jets["E"], jet_counts),
        event_fields=event_fields, source=source,
    )


def ee_jets(n_events: int, seed: int, process: str = "ttbar", sqrt_s: float = 500.0, n_jets: int = 6) -> ak.Array:
    """e+e- events with per-particle Durham exclusive ``n_jets`` (``jet``) and history (``parton``) truth labels.

    Parameters
    ----------
    n_events
        events to generate.
    seed
        Pythia seed (1 ≤ seed ≤ 9·10⁸).
    process
        ``"ttbar"`` (both W → qq̄') or ``"zh"`` (Z → qq̄, H → bb̄).
    sqrt_s
        centre-of-mass energy, GeV.
    n_jets
        K of the exclusive Durham clustering.

    Returns
    -------
        schema events; ``jets`` holds the K truth jets (energy ordered); event field ``sqrt_s``.
    """
    pythia = py8.make_pythia(_ee_settings(process, sqrt_s), seed)
    prt = py8.next_batch(pythia, n_events)
    source = f"ee_{process} (seed {seed})"
    return _events_with_durham_truth(prt, n_jets, source, {"sqrt_s": np.full(len(prt), float(sqrt_s))}, process)


# --------------------------------------------------------------------------- pp → top / QCD jets

def _pp_settings(process: str, pthat_min: float, pthat_max: float) -> list[str]:
    common = [
        "Beams:idA = 2212", "Beams:idB = 2212", "Beams:eCM = 14000.",
        f"PhaseSpace:pTHatMin = {pthat_min}", f"PhaseSpace:pTHatMax = {pthat_max}",
        "PartonLevel:MPI = off",
    ]
    if process == "ttbar":
        return common + ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on"]
    if process == "qcd":
        return common + ["HardQCD:all = on"]
    raise ConfigError(f"unknown pp process {process!r}")


def _select_leading_jets(prt, R, pt_min, pt_max, eta_max, max_constituents, signal: bool):
    """Apply the jet selection to a batch; return per-event arrays of accepted jets."""
    particles, counts = py8.final_state(prt)
    jet_p4, member, has_jet = py8.leading_jet(particles, counts, R)
    jet_pt, jet_eta, jet_phi = pt_eta_phi(jet_p4[:, 0], jet_p4[:, 1], jet_p4[:, 2])
    accept = has_jet & (jet_pt > pt_min) & (jet_pt < pt_max) & (np.abs(jet_eta) < eta_max)
    truth = np.zeros((len(counts), 4))
    if signal:
        tops = py8.hard_top_quarks(prt)
        for i in np.flatnonzero(accept):
            matched, truth[i] = py8.matched_to_top(jet_p4[i], tops[i], R)
            accept[i] = matched
    event = np.repeat(np.arange(len(counts)), counts)
    keep = member & accept[event]
    # order constituents by decreasing pT inside each event, then keep at most max_constituents
    kept_event = event[keep]
    pt = np.hypot(particles["px"][keep], particles["py"][keep])
    order = np.lexsort((-pt, kept_event))
    kept_event = kept_event[order]
    rank = np.arange(len(kept_event)) - np.searchsorted(kept_event, kept_event, side="left")
    take = np.flatnonzero(keep)[order][rank < max_constituents]
    new_counts = np.bincount(event[take], minlength=len(counts))[accept]
    selected = {k: v[take] for k, v in particles.items()}
    selected["jet"] = np.zeros(len(take), dtype=np.int64)
    jet_mass = np.sqrt(np.clip(jet_p4[:, 3] ** 2 - (jet_p4[:, :3] ** 2).sum(axis=1), 0, None))
    fields = {
        "jet_pt": jet_pt[accept], "jet_eta": jet_eta[accept], "jet_phi": jet_phi[accept],
        "jet_mass": jet_mass[accept],
        "truth_px": truth[accept, 0], "truth_py": truth[accept, 1],
        "truth_pz": truth[accept, 2], "truth_E": truth[accept, 3],
    }
    return selected, new_counts, fields


def _accepted_jets(process, n_wanted, seed, R, pt_min, pt_max, eta_max, max_constituents, batch_size=100):
    """Generate batches until ``n_wanted`` jets pass the selection; deterministic for a seed."""
    # p̂T window: the leading jet's pT follows p̂T closely for R ≥ 0.8; widen it slightly
    pythia = py8.make_pythia(_pp_settings(process, 0.9 * pt_min, 1.1 * pt_max), seed)
    chunks, have, tries = [], 0, 0
    while have < n_wanted:
        tries += 1
        if tries > 200 + 20 * n_wanted:
            raise JetvizError(f"top_qcd/{process}: selection too tight, {have} of {n_wanted} jets after {tries} batches")
        prt = py8.next_batch(pythia, batch_size)
        particles, counts, fields = _select_leading_jets(
            prt, R, pt_min, pt_max, eta_max, max_constituents, signal=process == "ttbar"
        )
        if len(counts):
            chunks.append((particles, counts, fields))
            have += len(counts)
    particles = {k: np.concatenate([c[0][k] for c in chunks]) for k in chunks[0][0]}
    counts = np.concatenate([c[1] for c in chunks])
    fields = {k: np.concatenate([c[2][k] for c in chunks]) for k in chunks[0][2]}
    n_particles = int(counts[:n_wanted].sum())
    return (
        {k: v[:n_particles] for k, v in particles.items()},
        counts[:n_wanted],
        {k: v[:n_wanted] for k, v in fields.items()},
    )


def top_qcd(
    n_events: int, seed: int, R: float = 0.8, pt_min: float = 550.0, pt_max: float = 650.0,
    eta_max: float = 2.0, max_constituents: int = 200, signal_fraction: float = 0.5,
) -> ak.Array:
    """Top jets (label 1) and QCD jets (label 0) at 14 TeV: leading anti-kt jet constituents.

    Parameters
    ----------
    n_events
        jets in total; ``round(signal_fraction · n_events)`` of them are top jets.
    seed
        seed; the two processes get derived seeds.
    R
        anti-kt radius. pt_min, pt_max: jet pT window, GeV. eta_max: jet |η| cut.
    max_constituents
        keep at most this many constituents, highest pT first.
    signal_fraction
        fraction of top jets.

    Returns
    -------
        schema events (particles = jet constituents, ``jet`` = 0), event fields ``jet_pt,
        jet_eta, jet_phi, jet_mass`` and the parton-level top four-momentum ``truth_px ...``
        (zeros for QCD). Events are shuffled with the seed.
    """
    if not (0 < R <= 2.0 and 0 <= pt_min < pt_max and eta_max > 0 and max_constituents >= 1):
        raise ConfigError(f"top_qcd: invalid selection R={R}, pT in ({pt_min}, {pt_max}), |eta|<{eta_max}")
    n_signal = int(round(signal_fraction * n_events))
    parts, all_counts, all_fields, labels = [], [], [], []
    for process, n, label in (("ttbar", n_signal, 1), ("qcd", n_events - n_signal, 0)):
        if n == 0:
            continue
        particles, counts, fields = _accepted_jets(
            process, n, py8.pythia_seed(seed, process), R, pt_min, pt_max, eta_max, max_constituents
        )
        parts.append(particles)
        all_counts.append(counts)
        all_fields.append(fields)
        labels.append(np.full(n, label))
    particles = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    fields = {k: np.concatenate([f[k] for f in all_fields]) for k in all_fields[0]}
    events = make_events(
        particles, np.concatenate(all_counts), label=np.concatenate(labels),
        event_fields=fields, source=f"top_qcd (seed {seed})",
    )
    return events[np.random.default_rng(seed).permutation(len(events))]


# --------------------------------------------------------------------------- user LHE input

def lhe_jets(n_events: int, seed: int, path: str = "", n_jets: int = 6, skip: int = 0) -> ak.Array:
    """Shower and hadronise a user's LHE file with Pythia; Durham exclusive ``n_jets`` truth.

    Parameters
    ----------
    n_events
        events to read from the file (after ``skip``).
    seed
        Pythia seed (shower and hadronisation).
    path
        the ``.lhe`` (or ``.lhe.gz``) file.
    n_jets
        K of the exclusive Durham clustering (6 for ZHH → 6 jets).
    skip
        events to skip first (chunks of one file use disjoint ranges).
    """
    from jetviz.errors import DataFileError

    lhe = Path(path)
    if not lhe.is_file():
        raise DataFileError(lhe, "no such LHE file")
    settings = ["Beams:frameType = 4", f"Beams:LHEF = {lhe}", "Beams:nSkipLHEFatInit = 0"]
    if skip:
        settings[-1] = f"Beams:nSkipLHEFatInit = {int(skip)}"
    try:
        pythia = py8.make_pythia(settings, seed)
    except JetvizError as err:
        raise DataFileError(lhe, f"Pythia could not read it as LHE: {err}") from None
    prt = pythia.nextBatch(n_events, "skip").prt
    if len(prt) < n_events:
        raise DataFileError(lhe, f"holds {len(prt)} usable events after skipping {skip}; {n_events} were asked for")
    return _events_with_durham_truth(prt, n_jets, f"{lhe.name} (seed {seed})")


def _bh_sph(n_events: int, seed: int, **params) -> ak.Array:
    from jetviz.data.bsm import bh_sph

    return bh_sph(n_events, seed, **params)


def _bh_sph_defaults() -> dict:
    try:
        from jetviz.data.bsm import BH_SPH_DEFAULTS
    except ImportError:  # pragma: no cover - module always shipped
        return {}
    return dict(BH_SPH_DEFAULTS)


def _toy(name: str) -> Callable[..., ak.Array]:
    def make(n_events: int, seed: int, **params) -> ak.Array:
        from jetviz.data import toy

        return getattr(toy, name)(n_events, seed, **params)

    make.__name__ = f"toy_{name}"
    return make


def _toy_defaults(name: str) -> dict:
    from jetviz.data import toy

    return dict(toy.TOY_DEFAULTS[name])


RECIPES: dict[str, Recipe] = {
    "ee_6jet": Recipe(
        "ee_6jet", lambda n, s, **p: ee_jets(n, s, process="ttbar", **p), {"sqrt_s": 500.0, "n_jets": 6},
        "e+e- → tt̄ → 6 jets at 500 GeV, Durham 6-jet and decay-parton truth per particle", chunk_size=1000,
        version=2,
    ),
    "ee_zh_4jet": Recipe(
        "ee_zh_4jet", lambda n, s, **p: ee_jets(n, s, process="zh", **p), {"sqrt_s": 250.0, "n_jets": 4},
        "e+e- → ZH → qq̄ bb̄ at 250 GeV, Durham 4-jet and decay-parton truth per particle", chunk_size=1000,
        version=2,
    ),
    "top_qcd": Recipe(
        "top_qcd", top_qcd,
        {"R": 0.8, "pt_min": 550.0, "pt_max": 650.0, "eta_max": 2.0, "max_constituents": 200, "signal_fraction": 0.5},
        "pp → tt̄ vs QCD dijets at 14 TeV: leading anti-kt jet constituents", ("QCD", "top"), chunk_size=500,
    ),
    "bh_sph": Recipe(
        "bh_sph", _bh_sph, _bh_sph_defaults(),
        "microscopic black holes vs sphalerons at 14 TeV (jetviz approximations, Pythia shower)",
        ("sphaleron", "black hole"),
    ),
    "lhe": Recipe(
        "lhe", lhe_jets, {"path": "", "n_jets": 6, "skip": 0},
        "your own LHE file showered by Pythia, Durham exclusive-jet truth",
    ),
}
for _name, _base in (("ee_6jet", "ee_6jet"), ("ee_zh_4jet", "ee_zh_4jet"), ("top_qcd", "top_qcd"), ("bh_sph", "bh_sph")):
    RECIPES[f"toy_{_name}"] = Recipe(
        f"toy_{_name}", _toy(_name), _toy_defaults(_name),
        f"numpy-only toy stand-in for {_base} (unit tests only)", RECIPES[_base].classes, toy=True, chunk_size=1000,
    )


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name raises :class:`ConfigError` listing the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown sample {name!r}; known samples: {', '.join(sorted(RECIPES))}") from None
