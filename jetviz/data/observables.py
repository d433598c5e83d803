"""Event observables that tell classes apart, and their per-label summary table.

:func:`label_summary` is the table of ``docs/samples.md`` ("bh_sph": what physically differs
between black holes and sphalerons); ``jetviz summary SAMPLE -n N`` prints it for any sample or
dataset.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from jetviz.data import pdg

__all__ = ["sphericity", "label_summary"]


def sphericity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> float:
    """Sphericity S = 3/2 (λ₂ + λ₃) of the momentum tensor Σ pᵢpⱼ / Σ|p|² of one event.

    Parameters
    ----------
    px, py, pz : (n,) arrays
        Three-momenta (GeV) of the event's particles.

    Returns
    -------
    float
        0 for a pencil-like event, 1 for an isotropic one; 0 for an event without momentum.
    """
    p = np.stack([px, py, pz], axis=1)
    norm = float((p**2).sum())
    if norm <= 0:
        return 0.0
    eig = np.sort(np.linalg.eigvalsh(p.T @ p / norm))
    return float(1.5 * (eig[0] + eig[1]))


def label_summary(events: ak.Array, pt_min: float = 1.0, eta_max: float = 2.5) -> dict[int, dict[str, float]]:
    """Per-label means (and standard deviations) of observables that differ between classes.

    For each label: ``n_particles`` (all final-state particles), ``n_charged`` (charged, pT >
    ``pt_min`` GeV, |η| < ``eta_max``), ``n_photons`` (same cuts), ``n_leptons_pt20`` (e, μ
    with pT > 20 GeV, |η| < ``eta_max``), ``n_jets_pt50`` (anti-kt R = 0.4 jets of the visible
    particles with pT > 50 GeV, |η| < ``eta_max``), ``nu_energy_fraction`` (neutrino share of
    the total final-state energy), ``photon_energy_fraction`` (photon share of the visible
    energy), ``sphericity`` (:func:`sphericity` of the visible particles with |η| <
    ``eta_max``), and ``n_partons`` (outgoing hard-process quanta before the shower) where the
    events have that field.

    Parameters
    ----------
    events : schema events
    pt_min : float
        GeV, for the charged-particle and photon counts.
    eta_max : float
        Central region for counts, jets and sphericity.

    Returns
    -------
    dict
        ``{label: {name: mean, name + "_std": std, "n_events": count}}``.
    """
    import fastjet

    from jetviz.data.pythia import masked_p4

    labels = ak.to_numpy(events.label)
    counts = ak.to_numpy(ak.num(events.particles, axis=1))
    flat = {f: ak.to_numpy(ak.flatten(events.particles[f])) for f in ("px", "py", "pz", "E", "pt", "eta", "charge", "pid")}
    event = np.repeat(np.arange(len(counts)), counts)
    n_events = len(counts)

    def per_event(mask, weights=None):
        return np.bincount(event[mask], weights=None if weights is None else weights[mask], minlength=n_events)

    central = np.abs(flat["eta"]) < eta_max
    neutrino = np.isin(np.abs(flat["pid"]), pdg.NEUTRINOS)
    visible = pdg.is_visible(flat["pid"])
    photon = flat["pid"] == pdg.PHOTON
    energy_all = per_event(np.ones(len(event), dtype=bool), flat["E"])
    energy_vis = per_event(visible, flat["E"])
    event_sphericity = np.zeros(n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for i in range(n_events):
        sl = slice(offsets[i], offsets[i + 1])
        vis = visible[sl] & central[sl]
        event_sphericity[i] = sphericity(flat["px"][sl][vis], flat["py"][sl][vis], flat["pz"][sl][vis])
    p4, _, _ = masked_p4(flat, counts, visible)
    jets = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets(50.0)
    jet_pt = np.hypot(jets.px, jets.py)
    jet_eta = np.arcsinh(jets.pz / np.maximum(jet_pt, 1e-9))
    n_jets = ak.to_numpy(ak.sum(abs(jet_eta) < eta_max, axis=1))
    leptons = np.isin(np.abs(flat["pid"]), (pdg.ELECTRON, pdg.MUON))
    table = {
        "n_particles": counts.astype(float),
        "n_charged": per_event((flat["charge"] != 0) & (flat["pt"] > pt_min) & central).astype(float),
        "n_photons": per_event(photon & (flat["pt"] > pt_min) & central).astype(float),
        "n_leptons_pt20": per_event(leptons & (flat["pt"] > 20.0) & central).astype(float),
        "n_jets_pt50": n_jets.astype(float),
        "nu_energy_fraction": per_event(neutrino, flat["E"]) / energy_all,
        "photon_energy_fraction": per_event(photon, flat["E"]) / energy_vis,
        "sphericity": event_sphericity,
    }
    if "n_partons" in ak.fields(events):
        table["n_partons"] = ak.to_numpy(events.n_partons).astype(float)
    out: dict[int, dict[str, float]] = {}
    for label in np.unique(labels):
        pick = labels == label
        row = {"n_events": float(pick.sum())}
        for name, values in table.items():
            row[name] = float(values[pick].mean())
            row[name + "_std"] = float(values[pick].std())
        out[int(label)] = row
    return out
