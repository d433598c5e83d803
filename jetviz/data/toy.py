"""Numpy-only toy stand-ins for each sample: same schema, no Pythia, generated in milliseconds.

For fast unit tests only — they have none of the physics of the real recipes beyond momentum
balance (e+e- toys) and a jet-like shape. Each returns exactly ``n_events`` events.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from jetviz.data.kinematics import p4_from_pt_eta_phi, pt_eta_phi, wrap_phi
from jetviz.data.schema import make_events, make_jets

__all__ = ["TOY_DEFAULTS", "ee_6jet", "ee_zh_4jet", "top_qcd", "bh_sph"]

TOY_DEFAULTS: dict[str, dict] = {
    "ee_6jet": {"sqrt_s": 500.0, "n_jets": 6, "particles_per_jet": 12},
    "ee_zh_4jet": {"sqrt_s": 250.0, "n_jets": 4, "particles_per_jet": 12},
    "top_qcd": {"R": 0.8, "pt_min": 550.0, "pt_max": 650.0, "max_constituents": 200},
    "bh_sph": {"particles_per_event": 120},
}

_PIDS = np.array([211, -211, 22, 22, 130, 321, -321, 2112, 11, -13])


def _random_pid(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    pid = rng.choice(_PIDS, size=n)
    charge = np.select([np.isin(pid, [211, 321, -11, -13]), np.isin(pid, [-211, -321, 11, 13])], [1.0, -1.0], 0.0)
    return pid, charge


def _ee(n_events: int, seed: int, sqrt_s: float, n_jets: int, particles_per_jet: int) -> ak.Array:
    """Back-to-back-balanced massless 'jets' of collinear-ish particles, exact momentum balance."""
    rng = np.random.default_rng(seed)
    n_per_event = n_jets * particles_per_jet
    # jet directions isotropic; energies from a Dirichlet split of √s
    cos_theta = rng.uniform(-0.9, 0.9, (n_events, n_jets))
    phi = rng.uniform(-np.pi, np.pi, (n_events, n_jets))
    axis = np.stack([np.sqrt(1 - cos_theta**2) * np.cos(phi), np.sqrt(1 - cos_theta**2) * np.sin(phi), cos_theta], -1)
    jet_e = rng.dirichlet(np.full(n_jets, 4.0), n_events) * sqrt_s
    # particles: energy fractions inside each jet, small angular spread around the axis
    frac = rng.dirichlet(np.full(particles_per_jet, 1.5), (n_events, n_jets))
    spread = rng.normal(0, 0.08, (n_events, n_jets, particles_per_jet, 3))
    direction = axis[:, :, None, :] + spread
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    p = (jet_e[:, :, None] * frac)[..., None] * direction  # massless: |p| = E
    # exact balance: remove the event's total momentum, spread over particles by energy share
    energy = np.linalg.norm(p, axis=-1).reshape(n_events, n_per_event)
    p = p.reshape(n_events, n_per_event, 3)
    total = p.sum(axis=1, keepdims=True)
    p = p - total * (energy / energy.sum(axis=1, keepdims=True))[..., None]
    # massless (E = |p|): one scale per event keeps Σp = 0 and makes ΣE = √s
    scale = sqrt_s / np.linalg.norm(p, axis=-1).sum(axis=1, keepdims=True)
    p = p * scale[..., None]
    energy = np.linalg.norm(p, axis=-1)
    jet = np.repeat(np.arange(n_jets), particles_per_jet)[None, :].repeat(n_events, 0)
    pid, charge = _random_pid(rng, n_events * n_per_event)
    particles = dict(
        px=p[..., 0].ravel(), py=p[..., 1].ravel(), pz=p[..., 2].ravel(), E=energy.ravel(),
        charge=charge, pid=pid, jet=jet.ravel(),
    )
    jets_p = np.zeros((n_events, n_jets, 4))
    for k in range(n_jets):
        sel = jet == k
        jets_p[:, k, :3] = (p * sel[..., None]).sum(axis=1)
        jets_p[:, k, 3] = (energy * sel).sum(axis=1)
    counts = np.full(n_events, n_per_event)
    jets = make_jets(*(jets_p[..., i].ravel() for i in range(4)), np.full(n_events, n_jets))
    return make_events(particles, counts, 0, jets=jets, event_fields={"sqrt_s": np.full(n_events, sqrt_s)}, source="toy")


def ee_6jet(n_events: int, seed: int, sqrt_s: float = 500.0, n_jets: int = 6, particles_per_jet: int = 12) -> ak.Array:
    """Toy e+e- → 6 jets: Σp = (0, 0, 0, √s) exactly; ``jet`` labels the generating jet."""
    return _ee(n_events, seed, sqrt_s, n_jets, particles_per_jet)


def ee_zh_4jet(n_events: int, seed: int, sqrt_s: float = 250.0, n_jets: int = 4, particles_per_jet: int = 12) -> ak.Array:
    """Toy e+e- → 4 jets, as :func:`ee_6jet`."""
    return _ee(n_events, seed, sqrt_s, n_jets, particles_per_jet)


def top_qcd(
    n_events: int, seed: int, R: float = 0.8, pt_min: float = 550.0, pt_max: float = 650.0, max_constituents: int = 200
) -> ak.Array:
    """Toy jets: label 1 'top' = three prongs, label 0 'QCD' = one prong; pT in the window."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n_events) % 2).astype(np.int64)
    rng.shuffle(label)
    counts = np.clip(rng.poisson(np.where(label == 1, 60, 40)), 5, max_constituents)
    jet_pt = rng.uniform(pt_min, pt_max, n_events)
    jet_eta = rng.uniform(-1.5, 1.5, n_events)
    jet_phi = rng.uniform(-np.pi, np.pi, n_events)
    event = np.repeat(np.arange(n_events), counts)
    prong_offsets = rng.normal(0, R / 3, (n_events, 3, 2))
    prong_offsets[label == 0] = 0.0
    prong = rng.integers(0, 3, len(event))
    d_eta = prong_offsets[event, prong, 0] + rng.normal(0, 0.05, len(event))
    d_phi = prong_offsets[event, prong, 1] + rng.normal(0, 0.05, len(event))
    frac = rng.exponential(1.0, len(event))
    frac /= np.bincount(event, frac)[event]
    pt = frac * jet_pt[event]
    eta = jet_eta[event] + d_eta
    phi = wrap_phi(jet_phi[event] + d_phi)
    px, py, pz, energy = p4_from_pt_eta_phi(pt, eta, phi)
    pid, charge = _random_pid(rng, len(event))
    sums = [np.bincount(event, v, minlength=n_events) for v in (px, py, pz, energy)]
    mass = np.sqrt(np.clip(sums[3] ** 2 - sums[0] ** 2 - sums[1] ** 2 - sums[2] ** 2, 0, None))
    sum_pt, sum_eta, sum_phi = pt_eta_phi(*sums[:3])
    particles = dict(px=px, py=py, pz=pz, E=energy, pt=pt, eta=eta, phi=phi, charge=charge, pid=pid,
                     jet=np.zeros(len(event), dtype=np.int64))
    fields = {"jet_pt": sum_pt, "jet_eta": sum_eta, "jet_phi": sum_phi, "jet_mass": mass}
    return make_events(particles, counts, label, event_fields=fields, source="toy")


def bh_sph(n_events: int, seed: int, particles_per_event: int = 120) -> ak.Array:
    """Toy black holes (label 1, isotropic, more particles) vs sphalerons (label 0, fewer, harder)."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n_events) % 2).astype(np.int64)
    rng.shuffle(label)
    counts = np.maximum(rng.poisson(np.where(label == 1, particles_per_event, 0.7 * particles_per_event)), 10)
    event = np.repeat(np.arange(n_events), counts)
    pt = rng.exponential(np.where(label[event] == 1, 30.0, 45.0))
    eta = rng.normal(0, 1.3, len(event))
    phi = rng.uniform(-np.pi, np.pi, len(event))
    px, py, pz, energy = p4_from_pt_eta_phi(pt, eta, phi)
    pid, charge = _random_pid(rng, len(event))
    particles = dict(px=px, py=py, pz=pz, E=energy, pt=pt, eta=eta, phi=phi, charge=charge, pid=pid)
    return make_events(particles, counts, label, source="toy")
