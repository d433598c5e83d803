"""Delphes ROOT files read with uproot, chunk by chunk (``TTree.iterate``)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import awkward as ak
import numpy as np

from jetviz.data import pdg
from jetviz.data.formats._common import (
    DEFAULT_STEP,
    all_chunks,
    build_events,
    each_chunk,
    require_file,
    short,
)
from jetviz.data.kinematics import pt_eta_phi, wrap_phi
from jetviz.data.validate import (
    as_integers,
    require_energy_above_momentum,
    require_finite,
    require_nonnegative,
    require_numeric,
)
from jetviz.errors import DataFileError

__all__ = ["iterate_delphes", "read_delphes", "DELPHES_COLLECTIONS"]

#: The collections read by default: the particle-flow candidates.
DELPHES_COLLECTIONS: tuple[str, ...] = ("EFlowTrack", "EFlowPhoton", "EFlowNeutralHadron")
#: Delphes class of each collection this reader understands, and the leaves it reads.
_DELPHES_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required leaves, optional leaves)
    "gen": (("PID", "Status", "Charge", "Px", "Py", "Pz", "E"), ()),
    "track": (("PT", "Eta", "Phi", "Charge", "PID"), ("Mass", "D0", "DZ")),
    "tower": (("ET", "Eta", "Phi"), ("E",)),
}
_DELPHES_NAMES = {
    "Particle": "gen",
    "GenParticle": "gen",
    "EFlowTrack": "track",
    "Track": "track",
    "EFlowPhoton": "tower",
    "EFlowNeutralHadron": "tower",
    "Tower": "tower",
}


def _delphes_kind(collection: str, names: set[str]) -> str | None:
    if collection in _DELPHES_NAMES:
        return _DELPHES_NAMES[collection]
    for kind, leaf in (("gen", "Status"), ("track", "PT"), ("tower", "ET")):
        if _resolve_leaf(collection, leaf, names):
            return kind
    return None


def _resolve_leaf(collection: str, leaf: str, names: set[str]) -> str | None:
    """Branch name of ``collection``'s ``leaf``: Delphes' ``C.X`` or the flat ``C_X`` form."""
    for candidate in (f"{collection}.{leaf}", f"{collection}_{leaf}"):
        if candidate in names:
            return candidate
    return None


def _delphes_plan(path: Path, tree, tree_name: str, collections: Sequence[str]) -> list[dict]:
    names = set(tree.keys(recursive=True, full_paths=False)) | set(tree.keys(recursive=True))
    plan, missing = [], []
    for collection in collections:
        kind = _delphes_kind(collection, names)
        if kind is None:
            missing.append(f"{collection}.PT/.ET/.Px (no such collection)")
            continue
        required, optional = _DELPHES_KINDS[kind]
        leaves: dict[str, str] = {}
        for leaf in required:
            branch = _resolve_leaf(collection, leaf, names)
            if branch is None:
                missing.append(f"{collection}.{leaf}")
            else:
                leaves[leaf] = branch
        for leaf in optional:
            branch = _resolve_leaf(collection, leaf, names)
            if branch is not None:
                leaves[leaf] = branch
        plan.append({"collection": collection, "kind": kind, "leaves": leaves})
    if missing:
        raise DataFileError(
            path,
            f"tree {tree_name!r} lacks branch(es) {', '.join(missing)} "
            "(looked for Delphes 'Collection.Leaf' and flat 'Collection_Leaf' names)",
        )
    return plan


def _flat(array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)))


def _delphes_collection(
    path: Path, entry: dict, arrays: ak.Array, with_tracks: bool, offset: int, validate: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-event counts and flat schema fields of one collection in one chunk, validated leaf by leaf."""
    leaves, kind = entry["leaves"], entry["kind"]
    get = {leaf: arrays[branch] for leaf, branch in leaves.items()}
    reference = next(iter(get.values()))
    counts = np.asarray(ak.to_numpy(ak.num(reference, axis=1)), dtype=np.int64)
    for leaf, values in get.items():
        if not np.array_equal(ak.to_numpy(ak.num(values, axis=1)), counts):
            raise ValueError(f"branch {leaves[leaf]} has per-event lengths unlike the rest of {entry['collection']}")
    if kind == "gen":
        status = as_integers(_flat(get["Status"]), path, leaves["Status"],
                             np.repeat(np.arange(len(counts)), counts), offset)
        keep = ak.unflatten(status == 1, counts)
        get = {leaf: values[keep] for leaf, values in get.items()}
        counts = np.asarray(ak.to_numpy(ak.num(get["PID"], axis=1)), dtype=np.int64)
    rows = np.repeat(np.arange(len(counts)), counts)
    raw = {leaf: _flat(values) for leaf, values in get.items()}
    for leaf, values in raw.items():
        require_numeric(values.dtype, path, leaves[leaf])
    if validate:
        for leaf, values in raw.items():
            require_finite(values, path, leaves[leaf], rows, offset)
    pid = as_integers(raw["PID"], path, leaves["PID"], rows, offset) if "PID" in raw else None
    if kind == "gen":
        px, py, pz, energy = (raw[k].astype(np.float64) for k in ("Px", "Py", "Pz", "E"))
        pt, eta, phi = pt_eta_phi(px, py, pz)
        charge = raw["Charge"].astype(np.float64)
        d0 = z0 = np.full(len(px), np.nan)
    else:
        pt_leaf = "PT" if kind == "track" else "ET"
        pt = raw[pt_leaf].astype(np.float64)
        eta = raw["Eta"].astype(np.float64)
        if validate:
            require_nonnegative(pt, path, leaves[pt_leaf], pt_leaf, rows=rows, offset=offset)
        phi = wrap_phi(raw["Phi"].astype(np.float64))
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        if kind == "track":
            charge = raw["Charge"].astype(np.float64)
            if "Mass" in raw:
                mass = raw["Mass"].astype(np.float64)
                if validate:
                    require_nonnegative(mass, path, leaves["Mass"], "mass", rows=rows, offset=offset)
            else:
                mass = pdg.mass(pid)
            energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
            d0 = raw["D0"].astype(np.float64) if "D0" in raw else np.full(len(pt), np.nan)
            z0 = raw["DZ"].astype(np.float64) if "DZ" in raw else np.full(len(pt), np.nan)
        else:
            photon = "Photon" in entry["collection"]
            pid = np.full(len(pt), 22 if photon else 0, dtype=np.int64)
            charge = np.zeros(len(pt))
            energy = raw["E"].astype(np.float64) if "E" in raw else pt * np.cosh(eta)
            d0 = z0 = np.full(len(pt), np.nan)
    if validate:
        energy_column = leaves.get("E", f"{entry['collection']} energy")
        require_energy_above_momentum(energy, px, py, pz, path, energy_column, rows, offset)
    fields = dict(px=px, py=py, pz=pz, E=energy, pt=pt, eta=eta, phi=phi, charge=charge, pid=pid)
    if with_tracks:
        fields.update(d0=d0, z0=z0)
    return counts, fields


def _delphes_chunk(path: Path, plan: list[dict], arrays: ak.Array, offset: int, label: int, drop_empty: bool,
                   validate: bool):
    with_tracks = any(e["kind"] == "track" and ("D0" in e["leaves"] or "DZ" in e["leaves"]) for e in plan)
    n_events = len(arrays)
    parts = [_delphes_collection(path, entry, arrays, with_tracks, offset, validate) for entry in plan]
    counts = np.zeros(n_events, dtype=np.int64)
    event_of = []
    for c, _ in parts:
        counts += c
        event_of.append(np.repeat(np.arange(n_events), c))
    order = np.argsort(np.concatenate(event_of), kind="stable")  # per event: collections in order
    particles = {name: np.concatenate([f[name] for _, f in parts])[order] for name in parts[0][1]}
    particles["jet"] = np.full(len(order), -1, dtype=np.int64)
    return build_events(path, particles, counts, np.full(n_events, label, np.int64), None, offset, drop_empty,
                        validate=validate)


def _delphes_chunks(
    path: str | Path, step_size, collections: Sequence[str], tree: str, label: int, drop_empty: bool,
    validate: bool = True,
) -> Iterator[tuple[ak.Array, int]]:
    import uproot

    path = Path(path)
    require_file(path)
    if isinstance(collections, str):
        collections = (collections,)
    if not collections:
        raise ValueError("iterate_delphes: give at least one collection")
    try:
        handle = uproot.open(path)
    except Exception as exc:
        raise DataFileError(path, f"is not a readable ROOT file (truncated or corrupted?): {short(exc)}") from None
    with handle:
        try:
            keys = handle.keys(cycle=False)
            if tree not in keys:
                raise DataFileError(path, f"has no tree {tree!r} (keys: {sorted(set(keys))})")
            ttree = handle[tree]
            if not hasattr(ttree, "iterate") or not hasattr(ttree, "branches"):
                raise DataFileError(path, f"{tree!r} is a {type(ttree).__name__}, not a TTree")
            plan = _delphes_plan(path, ttree, tree, collections)
            expressions = sorted({b for entry in plan for b in entry["leaves"].values()})
            for arrays, report in ttree.iterate(expressions, step_size=step_size, report=True, library="ak"):
                yield _delphes_chunk(path, plan, arrays, int(report.tree_entry_start), label, drop_empty, validate)
        except DataFileError:
            raise
        except Exception as exc:
            raise DataFileError(path, f"cannot be read (truncated or corrupted?): {short(exc)}") from None


def iterate_delphes(
    path: str | Path,
    step_size: int | str = DEFAULT_STEP,
    collections: Sequence[str] = DELPHES_COLLECTIONS,
    tree: str = "Delphes",
    label: int = 0,
    drop_empty: bool = False,
    validate: bool = True,
) -> Iterator[ak.Array]:
    """Read a Delphes ROOT file chunk by chunk with uproot (``TTree.iterate``).

    Each event's particles are the entries of ``collections``, concatenated in that order:

    - track collections (``EFlowTrack``, ``Track``; Delphes class ``Track``): ``PT, Eta, Phi,
      Charge, PID`` and, when present, ``Mass`` (else the mass of the PID from
      :data:`jetviz.data.pdg.MASSES`), ``D0`` and ``DZ`` → ``d0``, ``z0`` (mm);
    - tower collections (``EFlowPhoton``, ``EFlowNeutralHadron``, ``Tower``; class ``Tower``):
      massless ``ET, Eta, Phi`` (pT = ET) with energy from ``E`` when present; charge 0,
      pid 22 for photon collections and 0 (unknown) otherwise; ``d0``/``z0`` NaN;
    - the generator collection ``Particle`` (class ``GenParticle``): ``Px, Py, Pz, E, PID,
      Charge``, keeping ``Status == 1`` only.

    ``d0``/``z0`` exist when a track collection has ``D0``/``DZ``. Branches are looked up by
    Delphes' names (``EFlowTrack.PT``, nested under ``EFlowTrack`` in real Delphes files) or
    in the flat ``EFlowTrack_PT`` form; a test file written with uproot (which cannot write
    Delphes' split TClonesArray branches) uses top-level ``EFlowTrack.PT`` branches with an
    ``EFlowTrack_size`` counter, which both forms cover. Unknown collection names are
    accepted when their leaves tell the class (``Status``: generator, ``PT``: track, ``ET``:
    tower).

    Every leaf read is validated (:mod:`jetviz.data.validate`): numeric, finite, ``PT``/``ET``
    ≥ 0, ``Mass`` ≥ 0, integer ``PID`` and ``Status`` (a float PID such as 211.5 is an error,
    never truncated), E ≥ |p| (generator particles, towers with ``E``); errors name the branch
    and the tree entry.

    Parameters
    ----------
    path : str or Path
        The ROOT file.
    step_size : int or str
        Entries per chunk (or an uproot size string such as ``"100 MB"``).
    collections : sequence of str
        Collection (branch) names to read, in the order particles are listed.
    tree : str
        The TTree name.
    label : int
        The per-event label given to every event (a Delphes file holds one sample).
    drop_empty : bool
        Drop events without particles (warning per chunk) instead of raising.
    validate : bool
        Check values; False skips finite/≥ 0/E ≥ |p| (dtypes and integers are always checked).

    Yields
    ------
    ak.Array
        Schema events, one chunk at a time; ``jet`` is −1 (no truth clustering).

    Raises
    ------
    DataFileError
        Missing, truncated or corrupted file, missing tree or branches (named), bad values
        (branch and entry named), empty events without ``drop_empty``.
    """
    path = Path(path)
    yield from each_chunk(path, _delphes_chunks(path, step_size, collections, tree, label, drop_empty, validate))


def read_delphes(
    path: str | Path,
    step_size: int | str = DEFAULT_STEP,
    collections: Sequence[str] = DELPHES_COLLECTIONS,
    tree: str = "Delphes",
    label: int = 0,
    drop_empty: bool = False,
    validate: bool = True,
) -> ak.Array:
    """Read a whole Delphes ROOT file: :func:`iterate_delphes` concatenated.

    Parameters
    ----------
    path, step_size, collections, tree, label, drop_empty, validate
        As for :func:`iterate_delphes`.

    Returns
    -------
    ak.Array
        Schema events, one per tree entry kept.
    """
    path = Path(path)
    return all_chunks(path, _delphes_chunks(path, step_size, collections, tree, label, drop_empty, validate))


def describe_delphes(path: str | Path, tree: str = "Delphes") -> dict:
    """Cheap facts about a Delphes ROOT file: entries and the collections it has (no baskets read).

    Returns
    -------
    dict
        ``kind`` ``"events"``, ``n_events`` (tree entries), ``collections`` (those this reader
        understands), ``labels`` None and ``label_source`` None (a Delphes file holds one sample;
        the label is given when reading), ``has_particle_truth`` False, ``fields`` ``["label"]``.
    """
    import uproot

    path = Path(path)
    require_file(path)
    try:
        with uproot.open(path) as handle:
            keys = handle.keys(cycle=False)
            if tree not in keys:
                raise DataFileError(path, f"has no tree {tree!r} (keys: {sorted(set(keys))})")
            ttree = handle[tree]
            if not hasattr(ttree, "num_entries") or not hasattr(ttree, "branches"):
                raise DataFileError(path, f"{tree!r} is a {type(ttree).__name__}, not a TTree")
            names = set(ttree.keys(recursive=True, full_paths=False)) | set(ttree.keys(recursive=True))
            n_entries = int(ttree.num_entries)
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(path, f"is not a readable ROOT file (truncated or corrupted?): {short(exc)}") from None
    prefixes = {name.split(".")[0].split("_")[0] for name in names}
    collections = sorted(c for c in prefixes if _delphes_kind(c, names) and any(
        _resolve_leaf(c, leaf, names) for leaf in ("PT", "ET", "Status")))
    return {
        "kind": "events",
        "n_events": n_entries,
        "collections": collections,
        "labels": None,
        "label_source": None,
        "has_particle_truth": False,
        "fields": ["label"],
    }
