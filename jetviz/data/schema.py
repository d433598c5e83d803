"""The one event schema used everywhere in jetviz.

An *events* array is an ``ak.Array`` of N records. Each record has

- ``particles``: a variable-length list of particle records with the fields
  ``px, py, pz, E, pt`` (GeV), ``eta``, ``phi`` (radians, φ in (-π, π]), ``charge`` (units of e),
  ``pid`` (PDG code), ``jet`` (int truth-jet index from the recipe's truth clustering, −1 where
  the particle belongs to no jet), and optionally ``d0, z0`` (mm, tracks only; NaN for neutrals)
  and ``parton`` (int history truth: the hard decay parton the particle descends from, −1 for
  none; see :func:`jetviz.data.pythia.parton_labels`);
- ``label``: an int per-event label (class index; 0 where a sample has one class);
- optionally ``jets``: the truth jets as a list of ``px, py, pz, E, pt, eta, phi`` records, and
  any further scalar per-event fields a recipe adds (``weight``, ``jet_mass`` ...).

Arrays returned by :func:`make_events` are packed and validated. Functions here never mutate
their inputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import awkward as ak
import numpy as np

from jetviz.data.kinematics import pt_eta_phi
from jetviz.data.validate import check_events, check_particle_arrays, error
from jetviz.errors import SchemaError

__all__ = [
    "pad_ragged",
    "PARTICLE_FIELDS",
    "TRACK_FIELDS",
    "LABEL_FIELDS",
    "JET_FIELDS",
    "make_events",
    "make_jets",
    "validate_events",
    "particle_counts",
    "flat_particles",
]

PARTICLE_FIELDS: tuple[str, ...] = ("px", "py", "pz", "E", "pt", "eta", "phi", "charge", "pid", "jet")
TRACK_FIELDS: tuple[str, ...] = ("d0", "z0")
#: optional per-particle int labels beside ``jet``
LABEL_FIELDS: tuple[str, ...] = ("parton",)
JET_FIELDS: tuple[str, ...] = ("px", "py", "pz", "E", "pt", "eta", "phi")
_FLOAT_FIELDS = ("px", "py", "pz", "E", "pt", "eta", "phi", "charge", "d0", "z0")
_INT_FIELDS = ("pid", "jet")


def _unflatten_record(flat: Mapping[str, np.ndarray], counts: np.ndarray) -> ak.Array:
    record = ak.zip({k: np.asarray(v) for k, v in flat.items()}, depth_limit=1)
    return ak.unflatten(record, counts)


def make_jets(px, py, pz, E, counts) -> ak.Array:
    """Build a jagged ``jets`` field from flat Cartesian jet momenta (GeV) and per-event counts."""
    px, py, pz, E = (np.asarray(a, dtype=np.float64) for a in (px, py, pz, E))
    pt, eta, phi = pt_eta_phi(px, py, pz)
    flat = dict(px=px, py=py, pz=pz, E=E, pt=pt, eta=eta, phi=phi)
    return _unflatten_record(flat, np.asarray(counts, dtype=np.int64))


def make_events(
    particles: Mapping[str, np.ndarray],
    counts: np.ndarray,
    label: np.ndarray | int = 0,
    jets: ak.Array | None = None,
    event_fields: Mapping[str, np.ndarray] | None = None,
    source: str | Path = "events",
    validate: bool = True,
    offset: int = 0,
) -> ak.Array:
    """Build a schema-conforming events array from flat per-particle numpy arrays.

    Parameters
    ----------
    particles
        flat arrays of length ``counts.sum()``; must hold ``px, py, pz, E`` (GeV),
        ``charge`` and ``pid``; may hold ``jet`` (default −1), ``parton`` and ``d0, z0`` (mm).
        ``pt, eta, phi`` are computed from the momenta when absent.
    counts
        ``(N,)`` number of particles in each event.
    label
        ``(N,)`` int per-event label, or one int for all events.
    jets
        optional jagged truth jets (see :func:`make_jets`).
    event_fields
        optional further ``(N,)`` per-event scalar arrays.
    source
        what to call the data in error messages (a recipe name; a Path for a file,
        which makes errors DataFileError naming it).
    validate
        check values (finite, E ≥ |p|, pT ≥ 0); structure and dtypes are always checked.
    offset
        file index of the first event (for messages).

    Returns
    -------
        ak.Array of N event records, validated by :func:`validate_events`.
    """
    counts = np.asarray(counts, dtype=np.int64)
    missing = [f for f in ("px", "py", "pz", "E", "charge", "pid") if f not in particles]
    if missing:
        raise error(source, f"particle arrays lack the field(s) {missing}")
    n_total = int(counts.sum())
    flat: dict[str, np.ndarray] = {}
    for name, values in particles.items():
        values = np.asarray(values)
        if values.shape != (n_total,):
            raise SchemaError(
                f"{source}: particle field {name!r} has shape {values.shape}, expected ({n_total},) "
                "= the sum of the per-event counts"
            )
    check_particle_arrays(particles, counts, source, offset, values=False)  # dtypes, integer pid/jet
    for name in ("px", "py", "pz", "E"):
        flat[name] = np.asarray(particles[name], dtype=np.float64)
    if all(k in particles for k in ("pt", "eta", "phi")):
        pt, eta, phi = (np.asarray(particles[k], dtype=np.float64) for k in ("pt", "eta", "phi"))
    else:
        pt, eta, phi = pt_eta_phi(flat["px"], flat["py"], flat["pz"])
    flat.update(pt=pt, eta=eta, phi=phi)
    flat["charge"] = np.asarray(particles["charge"], dtype=np.float64)
    flat["pid"] = np.asarray(particles["pid"], dtype=np.int64)
    flat["jet"] = np.asarray(particles.get("jet", np.full(n_total, -1)), dtype=np.int64)
    for name in TRACK_FIELDS:
        if name in particles:
            flat[name] = np.asarray(particles[name], dtype=np.float64)
    for name in LABEL_FIELDS:
        if name in particles:
            flat[name] = np.asarray(particles[name], dtype=np.int64)

    n_events = len(counts)
    fields: dict[str, ak.Array | np.ndarray] = {"particles": _unflatten_record(flat, counts)}
    label_arr = np.broadcast_to(np.asarray(label, dtype=np.int64), (n_events,)).copy()
    fields["label"] = label_arr
    if jets is not None:
        if len(jets) != n_events:
            raise error(source, f"{len(jets)} jet lists for {n_events} events")
        fields["jets"] = jets
    for name, values in (event_fields or {}).items():
        values = np.asarray(values)
        if values.shape[:1] != (n_events,):
            raise error(source, f"event field {name!r} has {values.shape[:1]} entries for {n_events} events")
        fields[name] = values
    events = ak.zip(fields, depth_limit=1)
    return validate_events(ak.to_packed(events), source=source, values=validate, offset=offset)


def validate_events(
    events: ak.Array, source: str | Path = "events", allow_empty: bool = False, values: bool = True, offset: int = 0
) -> ak.Array:
    """Check that ``events`` follows the schema; return it unchanged or raise.

    Structure: the ``particles`` and ``label`` fields exist, every particle field in
    :data:`PARTICLE_FIELDS` exists, no event is empty unless ``allow_empty``. Types and values:
    :func:`jetviz.data.validate.check_events` (numeric dtypes, integer pid/jet/label, finite
    values, E ≥ |p| within its tolerance, pT ≥ 0; ``values=False`` skips the value checks).

    Parameters
    ----------
    events : ak.Array
    source : str or Path
        What the events are; a :class:`~pathlib.Path` makes errors :class:`DataFileError` naming
        the file, a string makes them :class:`SchemaError`.
    allow_empty : bool
    values : bool
    offset : int
        File index of ``events[0]`` (for messages).
    """
    if not isinstance(events, ak.Array):
        raise error(source, f"expected an awkward Array of events, got {type(events).__name__}")
    top = set(ak.fields(events))
    for name in ("particles", "label"):
        if name not in top:
            raise error(source, f"events lack the field {name!r} (have {sorted(top)})")
    have = set(ak.fields(events.particles))
    missing = [f for f in PARTICLE_FIELDS if f not in have]
    if missing:
        raise error(source, f"particles lack the field(s) {missing} (have {sorted(have)})")
    if events.particles.ndim != 2:
        raise error(source, f"'particles' is not a list of particle records per event (type {ak.type(events.particles)})")
    counts = ak.to_numpy(ak.num(events.particles, axis=1))
    if len(events) and not allow_empty and np.any(counts == 0):
        first = int(np.flatnonzero(counts == 0)[0])
        raise error(source, f"event {offset + first} has no particles ({int((counts == 0).sum())} empty events)")
    return check_events(events, source, offset=offset, values=values)


def particle_counts(events: ak.Array) -> np.ndarray:
    """``(N,)`` number of particles per event."""
    return ak.num(events.particles, axis=1).to_numpy()


def flat_particles(events: ak.Array, fields: tuple[str, ...] = PARTICLE_FIELDS) -> dict[str, np.ndarray]:
    """Flat numpy arrays of the requested particle fields, concatenated over events."""
    return {f: ak.to_numpy(ak.flatten(events.particles[f])) for f in fields}


def pad_ragged(values: np.ndarray, counts: np.ndarray, width: int, fill) -> np.ndarray:
    """Flat rows ``values`` ``(sum(counts), …)`` of ``len(counts)`` events as ``(N, width, …)``, cut at
    ``width`` per event, the rest ``fill``."""
    out = np.full((len(counts), width) + values.shape[1:], fill, dtype=values.dtype)
    event = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(event)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = slot < width
    out[event[keep], slot[keep]] = values[keep]
    return out
