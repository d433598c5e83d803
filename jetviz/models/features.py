"""Tabular features for the XGBoost baselines of seed 003 (numpy/awkward only, no torch).

Two feature sets, both computed from :func:`jetviz.data.detector.simulate` output ("hits"):

**Low level, 45 columns** (:data:`LOW_LEVEL_COLUMNS`), "the five most energetic hits in ECal,
HCal and tracks" of the talk. For each detector part in the order ECal, HCal, tracks, the 5
hits with the largest E (ECal and HCal cells) or pT (tracks), in decreasing order, and for each
of them (E or pT in GeV, η, φ in radians). Columns are grouped by quantity inside a part, as
in the talk's table (``Ehad_0 … Ehad_4, Ehad.Eta_0 …``)::

    ecal_E_0..4, ecal_eta_0..4, ecal_phi_0..4,      (15)
    hcal_E_0..4, hcal_eta_0..4, hcal_phi_0..4,      (15)
    tracks_pt_0..4, tracks_eta_0..4, tracks_phi_0..4 (15)

An event with fewer than 5 hits in a part has zeros in the missing slots (E = pT = 0 marks
them; η = φ = 0 is only padding).

**High level, 39 columns** (:data:`HIGH_LEVEL_COLUMNS`), "first eight jets, first two
leptons, MET" of the talk, which does not list the columns. We use the split that sums to 39:

- 8 jets × (pT, η, φ, m) = 32: ``jet_pt_0..7, jet_eta_0..7, jet_phi_0..7, jet_m_0..7``.
  Anti-kt R = 0.4 (FastJet) on the calorimeter cells (ECal and HCal together), each cell a
  massless four-vector of energy E at its cell centre (η, φ); jets with pT > ``jet_pt_min``
  (20 GeV) in decreasing pT. Jet mass m = √max(E² − |p|², 0) GeV. Cells do not reach beyond
  the calorimeter's |η| < 2.5, so neither do jets. No jet energy calibration.
- 2 leptons × (pT, η, φ) = 6: ``lep_pt_0, lep_pt_1, lep_eta_0, lep_eta_1, lep_phi_0, lep_phi_1``.
  The detector model has no lepton identification (its tracks carry no particle type), so
  leptons are taken from the **generator-level** final state of ``events``: electrons and muons
  (|pid| 11, 13) with |η| < ``lepton_eta_max`` (2.5, the tracker), their pT smeared with the
  detector's track resolution σ(pT)/pT = a ⊕ b·pT (``smear_leptons``), kept when the smeared
  pT > ``lepton_pt_min`` (20 GeV), in decreasing pT. No isolation requirement, no efficiency
  loss: this is more optimistic than a real reconstruction.
- MET = 1: ``met``, the magnitude (GeV) of the missing transverse momentum
  −(Σ cells p⃗_T + Σ muons p⃗_T), where the muons are all generator muons that left a track
  (|η| < 2.5, pT > the detector's ``track_pt_min``; smeared like leptons), since muons cross
  the calorimeters without depositing energy in this detector model. The MET direction is not
  a column (it is what brings 40 down to 39; the φ of an isotropic event carries no class
  information on its own).

Missing jets or leptons are zero-padded (pT = 0 marks them).

Both functions validate their output (:func:`validate_features`): a NaN or infinite value, or a
wrong shape, raises :class:`jetviz.errors.SchemaError` naming the column and the events.
"""
from __future__ import annotations

from typing import Sequence

import awkward as ak
import numpy as np

from jetviz.data import pdg
from jetviz.errors import SchemaError

__all__ = [
    "LOW_LEVEL_COLUMNS",
    "HIGH_LEVEL_COLUMNS",
    "N_HITS",
    "N_JETS",
    "N_LEPTONS",
    "low_level_features",
    "high_level_features",
    "validate_features",
]

N_HITS = 5
N_JETS = 8
N_LEPTONS = 2
_PARTS = (("ecal", "E"), ("hcal", "E"), ("tracks", "pt"))

#: The 45 low-level columns, in order (see the module docstring).
LOW_LEVEL_COLUMNS: tuple[str, ...] = tuple(
    f"{part}_{q}_{k}" for part, weight in _PARTS for q in (weight, "eta", "phi") for k in range(N_HITS)
)
#: The 39 high-level columns, in order (see the module docstring).
HIGH_LEVEL_COLUMNS: tuple[str, ...] = (
    tuple(f"jet_{q}_{k}" for q in ("pt", "eta", "phi", "m") for k in range(N_JETS))
    + tuple(f"lep_{q}_{k}" for q in ("pt", "eta", "phi") for k in range(N_LEPTONS))
    + ("met",)
)
assert len(LOW_LEVEL_COLUMNS) == 45 and len(HIGH_LEVEL_COLUMNS) == 39



def validate_features(features: np.ndarray, columns: Sequence[str], source: str = "features") -> np.ndarray:
    """Check a feature matrix: 2-d ``(N, len(columns))``, numeric, every value finite.

    Parameters
    ----------
    features : np.ndarray
        The matrix.
    columns : Sequence[str]
        Its column names (only their number and names are used).
    source : str, optional
        What the matrix is, for the message.

    Returns
    -------
    np.ndarray
        ``features`` as a float64 array (no copy when it already is one).

    Raises
    ------
    SchemaError
        Naming the wrong shape, or the first column holding NaN/inf with the count and the
        first events concerned.
    """
    try:
        x = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{source} must be a numeric (N, {len(columns)}) array: {exc}") from None
    if x.ndim != 2 or x.shape[1] != len(columns):
        raise SchemaError(f"{source} must have shape (N, {len(columns)}), got {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=0))
        first = int(cols[0])
        rows = np.flatnonzero(bad[:, first])
        kind = "NaN" if np.isnan(x[rows[0], first]) else "infinite"
        others = f" (and {len(cols) - 1} more column(s))" if len(cols) > 1 else ""
        raise SchemaError(
            f"{source}: column {columns[first]!r} has {len(rows)} non-finite value(s) "
            f"(first {kind}, in event(s) {rows[:5].tolist()}){others}"
        )
    return x


def _check_hits(hits: ak.Array) -> None:
    if not isinstance(hits, ak.Array):
        raise SchemaError(f"hits must be an awkward array from detector.simulate, got {type(hits).__name__}")
    for part, weight in _PARTS:
        if part not in ak.fields(hits):
            raise SchemaError(f"hits lack the field {part!r} (have {ak.fields(hits)}); pass detector.simulate output")
        missing = [f for f in (weight, "eta", "phi") if f not in ak.fields(hits[part])]
        if missing:
            raise SchemaError(f"hits.{part} lacks the field(s) {missing} (have {ak.fields(hits[part])})")
        for f in (weight, "eta", "phi"):
            values = hits[part][f]
            bad = ~np.isfinite(_flat(values))
            if bad.any():
                event = np.repeat(np.arange(len(hits)), ak.to_numpy(ak.num(values, axis=1)))[bad]
                raise SchemaError(
                    f"hits.{part}.{f} has {int(bad.sum())} NaN/infinite value(s), in event(s) {np.unique(event)[:5].tolist()}"
                )


def _leading(values: ak.Array, key: ak.Array, fields: Sequence[str], n: int) -> list[np.ndarray]:
    """The ``n`` entries with the largest ``key`` per event, as zero-padded ``(N, n)`` float64 arrays."""
    order = ak.argsort(key, axis=1, ascending=False, stable=True)[:, :n]
    out = []
    for f in fields:
        picked = ak.pad_none(values[f][order], n, axis=1, clip=True)
        out.append(np.asarray(ak.to_numpy(ak.fill_none(picked, 0.0)), dtype=np.float64).reshape(len(values), n))
    return out


def low_level_features(hits: ak.Array, n_hits: int = N_HITS) -> np.ndarray:
    """The 45 low-level features: 5 leading hits of ECal, HCal and tracks × (E or pT, η, φ).

    Parameters
    ----------
    hits : ak.Array
        N records from :func:`jetviz.data.detector.simulate` (fields ``ecal``, ``hcal``
        with ``E, eta, phi`` and ``tracks`` with ``pt, eta, phi``).
    n_hits : int, optional
        Hits per part (5 in the talk; other values change the column count to
        9·n_hits and no longer match :data:`LOW_LEVEL_COLUMNS`).

    Returns
    -------
    np.ndarray
        float64 ``(N, 9·n_hits)``, columns :data:`LOW_LEVEL_COLUMNS` for the default.
    """
    _check_hits(hits)
    blocks = []
    for part, weight in _PARTS:
        values = hits[part]
        blocks.extend(_leading(values, values[weight], (weight, "eta", "phi"), int(n_hits)))
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(hits), 0))
    columns = LOW_LEVEL_COLUMNS if n_hits == N_HITS else [
        f"{part}_{q}_{k}" for part, weight in _PARTS for q in (weight, "eta", "phi") for k in range(n_hits)
    ]
    return validate_features(x, columns, "low-level features")


def _flat(array: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=np.float64)


def _jets(hits: ak.Array, radius: float, pt_min: float, n_jets: int) -> np.ndarray:
    """(N, 4·n_jets) jet block: anti-kt of ECal + HCal cells as massless four-vectors."""
    n = len(hits)
    cells = ak.concatenate([hits.ecal[["E", "eta", "phi"]], hits.hcal[["E", "eta", "phi"]]], axis=1)
    counts = ak.to_numpy(ak.num(cells, axis=1)).astype(np.int64)
    energy, eta, phi = _flat(cells.E), _flat(cells.eta), _flat(cells.phi)
    pt = energy / np.cosh(eta)
    block = np.zeros((n, 4 * n_jets))
    keep = energy > 0
    if not keep.any():
        return block
    p4 = ak.unflatten(
        ak.zip({"px": (pt * np.cos(phi))[keep], "py": (pt * np.sin(phi))[keep],
                "pz": (pt * np.sinh(eta))[keep], "E": energy[keep]}),
        np.bincount(np.repeat(np.arange(n), counts)[keep], minlength=n),
    )
    import fastjet

    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, float(radius))
    jets = fastjet.ClusterSequence(p4, definition).inclusive_jets(float(pt_min))
    jpx, jpy, jpz, je = (ak.Array(jets[c]) for c in ("px", "py", "pz", "E"))
    jpt = np.sqrt(jpx**2 + jpy**2)
    record = ak.zip({
        "pt": jpt,
        "eta": np.arcsinh(jpz / ak.where(jpt > 0, jpt, 1e-12)),
        "phi": np.arctan2(jpy, jpx),
        "m": np.sqrt(np.maximum(je**2 - jpx**2 - jpy**2 - jpz**2, 0.0)),
    })
    return np.concatenate(_leading(record, record.pt, ("pt", "eta", "phi", "m"), n_jets), axis=1)


def high_level_features(
    hits: ak.Array,
    events: ak.Array,
    detector=None,
    seed: int = 0,
    jet_radius: float = 0.4,
    jet_pt_min: float = 20.0,
    lepton_pt_min: float = 20.0,
    lepton_eta_max: float = 2.5,
    smear_leptons: bool = True,
) -> np.ndarray:
    """The 39 high-level features: 8 jets × (pT, η, φ, m), 2 leptons × (pT, η, φ), MET.

    Parameters
    ----------
    hits : ak.Array
        N records from :func:`jetviz.data.detector.simulate` of ``events`` (calorimeter
        cells ``ecal``, ``hcal`` with ``E, eta, phi``).
    events : ak.Array
        The same N schema events (generator level; particles ``pt, eta, phi, pid``),
        for the leptons and the muons' share of MET (the detector has no lepton ID).
    detector : jetviz.data.detector.Detector, optional
        The :class:`jetviz.data.detector.Detector` that made ``hits`` (default
        ``Detector()``): its track resolution smears lepton pT, its ``track_pt_min``
        decides which muons enter MET.
    seed : int, optional
        Seed of the lepton pT smearing.
    jet_radius : float, optional
        Anti-kt radius R.
    jet_pt_min : float, optional
        Jets need pT above this (GeV).
    lepton_pt_min : float, optional
        Leptons need (smeared) pT above this (GeV).
    lepton_eta_max : float, optional
        Leptons need |η| below this.
    smear_leptons : bool, optional
        Smear lepton (and muon) pT with the track resolution (False: truth pT).

    Returns
    -------
    np.ndarray
        float64 ``(N, 39)``, columns :data:`HIGH_LEVEL_COLUMNS` (module docstring for details).
    """
    from jetviz.data.detector import Detector

    _check_hits(hits)
    if not isinstance(events, ak.Array) or "particles" not in ak.fields(events):
        raise SchemaError("high_level_features needs the generator-level events (with 'particles') for the leptons")
    if len(events) != len(hits):
        raise SchemaError(f"hits have {len(hits)} events but events have {len(events)}; pass the events simulate() was given")
    particles = events.particles
    missing = [f for f in ("pt", "eta", "phi", "pid") if f not in ak.fields(particles)]
    if missing:
        raise SchemaError(f"particles lack the field(s) {missing} needed for leptons (have {ak.fields(particles)})")
    detector = Detector() if detector is None else detector
    n = len(hits)

    jets = _jets(hits, jet_radius, jet_pt_min, N_JETS)

    # leptons: generator-level e, μ, smeared with the tracker resolution
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    event = np.repeat(np.arange(n), counts)
    pt, eta, phi = _flat(particles.pt), _flat(particles.eta), _flat(particles.phi)
    apid = np.abs(np.asarray(ak.to_numpy(ak.flatten(particles.pid, axis=1))).astype(np.int64))
    lepton = np.isin(apid, (pdg.ELECTRON, pdg.MUON)) & (np.abs(eta) < float(lepton_eta_max))
    muon_track = (apid == pdg.MUON) & (np.abs(eta) < detector.track_eta_max) & (pt > detector.track_pt_min)
    charged = lepton | muon_track
    pt_s = pt.copy()
    if smear_leptons:
        rng = np.random.default_rng(seed)
        idx = np.flatnonzero(charged)
        pt_s[idx] = np.clip(pt[idx] * (1.0 + detector.track_sigma(pt[idx]) * rng.standard_normal(len(idx))), 0.0, None)
    lepton &= pt_s > float(lepton_pt_min)
    lep_counts = np.bincount(event[lepton], minlength=n)
    lep = ak.unflatten(ak.zip({"pt": pt_s[lepton], "eta": eta[lepton], "phi": phi[lepton]}), lep_counts)
    leptons = np.concatenate(_leading(lep, lep.pt, ("pt", "eta", "phi"), N_LEPTONS), axis=1)

    # MET: minus the vector sum of cell pT and muon-track pT
    cells = ak.concatenate([hits.ecal[["E", "eta", "phi"]], hits.hcal[["E", "eta", "phi"]]], axis=1)
    c_counts = ak.to_numpy(ak.num(cells, axis=1)).astype(np.int64)
    c_event = np.repeat(np.arange(n), c_counts)
    c_eta, c_phi = _flat(cells.eta), _flat(cells.phi)
    c_pt = _flat(cells.E) / np.cosh(c_eta)
    mx = np.bincount(c_event, weights=c_pt * np.cos(c_phi), minlength=n)
    my = np.bincount(c_event, weights=c_pt * np.sin(c_phi), minlength=n)
    mx += np.bincount(event[muon_track], weights=(pt_s * np.cos(phi))[muon_track], minlength=n)
    my += np.bincount(event[muon_track], weights=(pt_s * np.sin(phi))[muon_track], minlength=n)
    met = np.hypot(mx, my)[:, None]

    return validate_features(np.concatenate([jets, leptons, met], axis=1), HIGH_LEVEL_COLUMNS, "high-level features")
