"""A parametrised calorimeter + tracker: the idea of Delphes' simple mode, vectorised with numpy.

:func:`simulate` turns schema events (generator-level particles) into what a detector sees:

- **ECal** cells from photons and electrons (and undecayed π⁰ → γγ),
- **HCal** cells from every other visible particle (charged and neutral hadrons),
- **tracks** from charged particles with pT > ``track_pt_min`` and |η| < ``track_eta_max``
  (electrons, charged hadrons and muons; muons leave a track only),
- nothing from invisible particles (neutrinos, and the neutralino/gravitino of BSM samples).

Calorimeters are a grid of ``n_eta × n_phi`` cells covering |η| < ``eta_max`` and the full φ
circle; cell (i, j) covers η ∈ [−eta_max + iΔη, −eta_max + (i+1)Δη) and φ ∈ [−π + jΔφ,
−π + (j+1)Δφ), φ periodic — the same grid as :func:`jetviz.data.pixelate.pixel_index`, so
:func:`jetviz.data.pixelate.event_images` maps each cell onto one pixel. The true energies
deposited in a cell are summed, then the cell energy is smeared once (as Delphes smears
towers) with a Gaussian of width

    σ(E) = stochastic·√E ⊕ noise ⊕ constant·E        (E in GeV, ⊕ = sum in quadrature)

and clipped at 0; cells below ``cell_threshold`` are dropped. A cell is reported at its
centre: ``E`` is the deposited (smeared) energy in GeV and ``pt = E / cosh(η_centre)``.

Track pT is smeared with σ(pT)/pT = a ⊕ b·pT; track η, φ are the particle's (no angular
smearing, 100 % efficiency).

Default values (ATLAS/CMS-like, as in Delphes' cards):

- ``eta_max`` 2.5: tracker and fine-grained calorimeter coverage (ATLAS, CMS);
- ``n_eta × n_phi`` 50 × 50: Δη = 0.1, Δφ = 0.126, about the ATLAS HCal tower size 0.1 × 0.1;
- ``ecal_stochastic`` 0.10 GeV^½: ATLAS LAr 10 %/√E (CMS PbWO₄: 3 %/√E);
- ``ecal_noise`` 0.17 GeV: ATLAS LAr design electronic-noise term;
- ``ecal_constant`` 0.01: ATLAS LAr 0.7 % design, ~1 % achieved;
- ``hcal_stochastic`` 0.50 GeV^½: ATLAS Tile 50 %/√E for hadrons (Delphes ATLAS card 52 %);
- ``hcal_noise`` 0 GeV: (Delphes' ATLAS card uses 1.59 GeV per tower);
- ``hcal_constant`` 0.03: ATLAS Tile 3 %;
- ``track_pt_min`` 0.5 GeV: typical reconstruction threshold (ATLAS 0.4–0.5, CMS 0.1–0.9);
- ``track_eta_max`` 2.5: ATLAS inner detector / CMS tracker acceptance;
- ``track_resolution`` (a) 0.01: 1 % at low pT (multiple scattering);
- ``track_resolution_pt`` (b) 1.5e-4 /GeV: CMS-like, 15 % at 1 TeV (ATLAS ID: 5e-4 /GeV);
- ``cell_threshold`` 0.1 GeV: keeps soft structure in images (Delphes: 0.5 GeV ECal, 1 GeV HCal).
"""
from __future__ import annotations

from typing import Callable

import awkward as ak
import numpy as np
import param

from jetviz.data import pdg
from jetviz.data.pixelate import pixel_index
from jetviz.errors import SchemaError

__all__ = ["Detector", "simulate"]

_CALO_FIELDS = ("E", "pt", "eta", "phi")


class Detector(param.Parameterized):
    """Calorimeter (ECal + HCal) and tracker parameters; see the module docstring for the model.

    Every parameter has bounds, so a UI builds validated widgets from it and a config
    round-trips through JSON (``detector.param.serialize_parameters()``).
    """

    eta_max = param.Number(2.5, bounds=(0.5, 5.0), doc="calorimeter coverage |η| < eta_max")
    n_eta = param.Integer(50, bounds=(4, 512), doc="calorimeter cells along η")
    n_phi = param.Integer(50, bounds=(4, 512), doc="calorimeter cells along φ (periodic, covering the circle)")
    ecal_stochastic = param.Number(0.10, bounds=(0.0, 1.0), doc="ECal stochastic term a in a/√E (GeV^½)")
    ecal_noise = param.Number(0.17, bounds=(0.0, 5.0), doc="ECal noise term per cell (GeV)")
    ecal_constant = param.Number(0.01, bounds=(0.0, 0.5), doc="ECal constant term (fraction of E)")
    hcal_stochastic = param.Number(0.50, bounds=(0.0, 2.0), doc="HCal stochastic term a in a/√E (GeV^½)")
    hcal_noise = param.Number(0.0, bounds=(0.0, 5.0), doc="HCal noise term per cell (GeV)")
    hcal_constant = param.Number(0.03, bounds=(0.0, 0.5), doc="HCal constant term (fraction of E)")
    track_pt_min = param.Number(0.5, bounds=(0.0, 100.0), doc="tracks need true pT above this (GeV)")
    track_eta_max = param.Number(2.5, bounds=(0.0, 5.0), doc="tracker coverage |η| < track_eta_max")
    track_resolution = param.Number(0.01, bounds=(0.0, 1.0), doc="a in σ(pT)/pT = a ⊕ b·pT")
    track_resolution_pt = param.Number(1.5e-4, bounds=(0.0, 0.01), doc="b in σ(pT)/pT = a ⊕ b·pT (1/GeV)")
    cell_threshold = param.Number(0.1, bounds=(0.0, 100.0), doc="cells with smeared E below this are dropped (GeV)")

    def eta_edges(self) -> np.ndarray:
        """``(n_eta + 1,)`` cell edges in η."""
        return np.linspace(-self.eta_max, self.eta_max, self.n_eta + 1)

    def phi_edges(self) -> np.ndarray:
        """``(n_phi + 1,)`` cell edges in φ (radians), from −π to π."""
        return np.linspace(-np.pi, np.pi, self.n_phi + 1)

    def ecal_sigma(self, energy: np.ndarray) -> np.ndarray:
        """Absolute ECal resolution σ(E) in GeV for cell energies E (GeV), input shape."""
        return _calo_sigma(energy, self.ecal_stochastic, self.ecal_noise, self.ecal_constant)

    def hcal_sigma(self, energy: np.ndarray) -> np.ndarray:
        """Absolute HCal resolution σ(E) in GeV for cell energies E (GeV), input shape."""
        return _calo_sigma(energy, self.hcal_stochastic, self.hcal_noise, self.hcal_constant)

    def track_sigma(self, pt: np.ndarray) -> np.ndarray:
        """Relative track resolution σ(pT)/pT = a ⊕ b·pT for pT in GeV, input shape."""
        return np.hypot(self.track_resolution, self.track_resolution_pt * np.asarray(pt, dtype=np.float64))


def _calo_sigma(energy: np.ndarray, stochastic: float, noise: float, constant: float) -> np.ndarray:
    energy = np.clip(np.asarray(energy, dtype=np.float64), 0.0, None)
    return np.sqrt(stochastic**2 * energy + noise**2 + (constant * energy) ** 2)


def _records(fields: dict[str, np.ndarray], counts: np.ndarray) -> ak.Array:
    return ak.unflatten(ak.zip(fields, depth_limit=1), counts)


def _calorimeter(
    event: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    n_events: int,
    detector: Detector,
    sigma: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> ak.Array:
    """Sum true energies per cell, smear each occupied cell once, apply the threshold."""
    n_eta, n_phi, eta_max = detector.n_eta, detector.n_phi, detector.eta_max
    i_eta, i_phi = pixel_index(eta, phi, n_eta, n_phi, (-eta_max, eta_max), (-np.pi, np.pi))
    on = i_eta >= 0
    cell = (event[on] * n_eta + i_eta[on]) * n_phi + i_phi[on]
    cells, inverse = np.unique(cell, return_inverse=True)  # sorted, so grouped by event
    true_e = np.bincount(inverse, weights=energy[on], minlength=len(cells))
    smeared = np.clip(true_e + sigma(true_e) * rng.standard_normal(len(cells)), 0.0, None)
    keep = (smeared >= detector.cell_threshold) & (smeared > 0)
    cells, smeared = cells[keep], smeared[keep]
    ev, rest = np.divmod(cells, n_eta * n_phi)
    c_eta = -eta_max + (rest // n_phi + 0.5) * (2.0 * eta_max / n_eta)
    c_phi = -np.pi + (rest % n_phi + 0.5) * (2.0 * np.pi / n_phi)
    fields = {"E": smeared, "pt": smeared / np.cosh(c_eta), "eta": c_eta, "phi": c_phi}
    return _records(fields, np.bincount(ev, minlength=n_events))


def simulate(events: ak.Array, detector: Detector | None = None, seed: int = 0) -> ak.Array:
    """Pass schema events through the parametrised detector.

    Parameters
    ----------
    events
        N schema events; reads the particle fields ``E, pt, eta, phi, charge, pid``
        (GeV, radians) and ``d0, z0`` (mm) where present. Not modified.
    detector
        the :class:`Detector` (default: ``Detector()``, ATLAS/CMS-like).
    seed
        seed of the smearing; the same input, detector and seed give the same output.

    Returns
    -------
        ak.Array of N records with fields

        - ``ecal``, ``hcal``: var * {E, pt, eta, phi}: cells above threshold at their cell
          centres; ``E`` is the deposited (smeared) energy in GeV, ``pt = E / cosh(η)`` (GeV),
          sorted by cell (η index, then φ index);
        - ``tracks``: var * {E, pt, eta, phi, charge, d0, z0}: one per reconstructed charged
          particle in input order, ``pt`` smeared (GeV), ``E`` from the smeared momentum and the
          particle's mass, ``d0, z0`` the particle's (mm; 0 where absent or NaN).
    """
    detector = Detector() if detector is None else detector
    if "particles" not in ak.fields(events):
        raise SchemaError(f"events lack the field 'particles' (have {ak.fields(events)})")
    particles = events.particles
    have = set(ak.fields(particles))
    missing = [f for f in ("E", "pt", "eta", "phi", "charge", "pid") if f not in have]
    if missing:
        raise SchemaError(f"particles lack the field(s) {missing} needed by the detector (have {sorted(have)})")

    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    n = len(counts)
    event = np.repeat(np.arange(n, dtype=np.int64), counts)

    def flat(name: str) -> np.ndarray:
        return np.asarray(ak.to_numpy(ak.flatten(particles[name], axis=1)), dtype=np.float64)

    energy, pt, eta, phi, charge = (flat(f) for f in ("E", "pt", "eta", "phi", "charge"))
    apid = np.abs(ak.to_numpy(ak.flatten(particles.pid, axis=1)).astype(np.int64))

    invisible = pdg.is_invisible(apid)
    muon = apid == pdg.MUON
    em = np.isin(apid, pdg.EM_SHOWERING)
    hadron = ~(invisible | muon | em)
    in_calo = np.abs(eta) < detector.eta_max

    rng_ecal, rng_hcal, rng_track = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))

    sel = em & in_calo
    ecal = _calorimeter(event[sel], eta[sel], phi[sel], energy[sel], n, detector, detector.ecal_sigma, rng_ecal)
    sel = hadron & in_calo
    hcal = _calorimeter(event[sel], eta[sel], phi[sel], energy[sel], n, detector, detector.hcal_sigma, rng_hcal)

    sel = (charge != 0) & ~invisible & (pt > detector.track_pt_min) & (np.abs(eta) < detector.track_eta_max)
    t_pt = pt[sel]
    t_pt_s = np.clip(t_pt * (1.0 + detector.track_sigma(t_pt) * rng_track.standard_normal(len(t_pt))), 0.0, None)
    t_eta = eta[sel]
    mass2 = np.clip(energy[sel] ** 2 - (t_pt * np.cosh(t_eta)) ** 2, 0.0, None)
    tracks = {
        "E": np.sqrt((t_pt_s * np.cosh(t_eta)) ** 2 + mass2),
        "pt": t_pt_s,
        "eta": t_eta,
        "phi": phi[sel],
        "charge": charge[sel],
    }
    for name in ("d0", "z0"):
        tracks[name] = np.nan_to_num(flat(name)[sel], nan=0.0) if name in have else np.zeros(len(t_pt))
    track_counts = np.bincount(event[sel], minlength=n)

    return ak.zip({"ecal": ecal, "hcal": hcal, "tracks": _records(tracks, track_counts)}, depth_limit=1)
