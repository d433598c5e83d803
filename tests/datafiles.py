"""Real files for the data tests, each written by the tool people use (pandas, uproot, numpy).

Helpers, not tests: random physical events, the top-tagging layout written with pandas, Delphes-like
trees written with uproot, e+e- → Z → qq̄ hard events for LHE files, and ways to damage a file.
"""
from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd

from jetviz.data import pdg
from jetviz.data.schema import make_events

_PIDS = np.array([22, 211, -211, 321, -321, 130, 2112, -2112, 2212, 11, -11, -13, 13])


def random_events(n: int, seed: int = 0, max_particles: int = 40, extra: bool = False) -> ak.Array:
    """``n`` physical events with random momenta (pT 0.5–50 GeV, |η| < 3), masses from the pid."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_particles + 1, n)
    total = int(counts.sum())
    pt = rng.exponential(8.0, total) + 0.5
    eta = rng.uniform(-3, 3, total)
    phi = rng.uniform(-np.pi, np.pi, total)
    pid = rng.choice(_PIDS, total)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + pdg.mass(pid) ** 2)
    particles = dict(px=px, py=py, pz=pz, E=energy, charge=pdg.charge(pid), pid=pid)
    fields = None
    if extra:
        fields = {
            "ttv": rng.integers(0, 3, n),
            "truth_E": rng.uniform(600, 900, n),
            "truth_px": rng.normal(0, 300, n),
            "truth_py": rng.normal(0, 300, n),
            "truth_pz": rng.normal(0, 300, n),
        }
    return make_events(particles, counts, rng.integers(0, 2, n), event_fields=fields)


def by_pt(events: ak.Array) -> ak.Array:
    return events.particles[ak.argsort(events.particles.pt, axis=1, ascending=False, stable=True)]


def flat(array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=None))


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def cut_file(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def noise_file(path: Path, size: int = 4096) -> None:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())



def tt_frame(n: int, n_slots: int = 200, seed: int = 0, truth: bool = True) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """A DataFrame in the reference layout built directly with pandas (not with our writer)."""
    rng = np.random.default_rng(seed)
    block = np.zeros((n, n_slots, 4), dtype=np.float32)
    constituents = []
    for i in range(n):
        k = int(rng.integers(1, min(n_slots, 30) + 1))
        p = rng.normal(0, 20, (k, 3))
        e = np.sqrt((p**2).sum(1))
        rows = np.column_stack([e, p]).astype(np.float32)
        block[i, :k] = rows
        constituents.append(rows.astype(np.float64))
    columns = [f"{c}_{i}" for i in range(n_slots) for c in ("E", "PX", "PY", "PZ")]
    frame = pd.DataFrame(block.reshape(n, -1), columns=columns)
    if truth:
        for c in ("truthE", "truthPX", "truthPY", "truthPZ"):
            frame[c] = rng.normal(0, 100, n).astype(np.float32)
    frame["ttv"] = rng.integers(0, 3, n)
    frame["is_signal_new"] = rng.integers(0, 2, n)
    return frame, constituents


def save_frame(frame: pd.DataFrame, path: Path, fmt: str = "table") -> Path:
    frame.to_hdf(path, key="table", format=fmt, mode="w")
    return path



def _jagged(rng, counts, low, high, dtype=np.float32):
    return ak.unflatten(rng.uniform(low, high, int(counts.sum())).astype(dtype), counts)


def delphes_source(n: int, seed: int = 0, empty: tuple[int, ...] = ()) -> dict[str, ak.Array]:
    """Random Delphes-like collections (the leaves Delphes writes, as float32/int32)."""
    rng = np.random.default_rng(seed)

    def counts(high):
        c = rng.integers(0, high, n)
        c[list(empty)] = 0
        return c

    nt, ng, nh, npart = counts(6), counts(4), counts(3), counts(8) + 1
    track_pid = ak.unflatten(rng.choice(np.array([211, -211, 321, -321, 11, -13], np.int32), int(nt.sum())), nt)
    track = {
        "PT": _jagged(rng, nt, 0.5, 50), "Eta": _jagged(rng, nt, -2.5, 2.5), "Phi": _jagged(rng, nt, -np.pi, np.pi),
        "PID": track_pid, "Charge": ak.values_astype(np.sign(track_pid) * ak.where(abs(track_pid) > 20, 1, -1), np.int32),
        "D0": _jagged(rng, nt, -0.1, 0.1), "DZ": _jagged(rng, nt, -1, 1), "Mass": _jagged(rng, nt, 0.1, 0.5),
    }

    def tower(c):
        et, eta = _jagged(rng, c, 0.5, 40), _jagged(rng, c, -4, 4)
        return {"ET": et, "Eta": eta, "Phi": _jagged(rng, c, -np.pi, np.pi), "E": ak.values_astype(et * np.cosh(eta), np.float32)}

    part = {
        "PID": ak.unflatten(rng.choice(np.array([22, 211, -211, 2212, 2], np.int32), int(npart.sum())), npart),
        "Status": ak.unflatten(rng.choice(np.array([1, 1, 2, 23], np.int32), int(npart.sum())), npart),
        "Charge": ak.unflatten(rng.integers(-1, 2, int(npart.sum())).astype(np.int32), npart),
        "Px": _jagged(rng, npart, -30, 30), "Py": _jagged(rng, npart, -30, 30), "Pz": _jagged(rng, npart, -90, 90),
    }
    status = flat(part["Status"]).copy()
    status[np.cumsum(npart) - npart] = 1  # every event keeps at least one generator particle
    part["Status"] = ak.unflatten(status, npart)
    part["E"] = ak.values_astype(np.sqrt(part["Px"] ** 2 + part["Py"] ** 2 + part["Pz"] ** 2 + 0.1), np.float32)
    return {"EFlowTrack": track, "EFlowPhoton": tower(ng), "EFlowNeutralHadron": tower(nh), "Particle": part}


def write_delphes_like(path: Path, source: dict, dotted: bool = True, baskets: int = 3) -> Path:
    """A TTree ``Delphes`` with jagged branches named ``EFlowTrack.PT`` (or ``EFlowTrack_PT``).

    uproot cannot write Delphes' split TClonesArray branches, but it writes top-level jagged
    branches with any name; records become ``Collection<sep>Leaf`` branches sharing a counter
    ``Collection_size`` (the name Delphes gives its counters).
    """
    import uproot

    records = {name: ak.zip(leaves) for name, leaves in source.items()}
    n = len(next(iter(records.values())))
    with uproot.recreate(path) as file:
        tree = file.mktree(
            "Delphes",
            {name: rec.type.content for name, rec in records.items()},
            counter_name=lambda counted: f"{counted}_size",
            field_name=(lambda outer, inner: f"{outer}.{inner}") if dotted else (lambda outer, inner: f"{outer}_{inner}"),
        )
        edges = np.linspace(0, n, baskets + 1).astype(int)
        for a, b in zip(edges[:-1], edges[1:]):
            tree.extend({name: rec[a:b] for name, rec in records.items()})
    return path


E_BEAM = 45.6  # GeV: e+e- → Z → qq̄ at the Z pole


def z_events(n: int, seed: int = 1) -> list[dict]:
    """e-(+z) e+(−z) → Z (status 2) → q q̄, exact four-momentum balance, colour 501."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n):
        cos_t, phi = rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)
        sin_t = np.sqrt(1 - cos_t**2)
        q = int(rng.choice([1, 2, 3, 4, 5]))
        m = {4: 1.5, 5: 4.8}.get(q, 0.0)
        p = np.sqrt(E_BEAM**2 - m**2) * np.array([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
        events.append({
            "pid": np.array([11, -11, 23, q, -q]), "status": np.array([-1, -1, 2, 1, 1]),
            "mother1": np.array([0, 0, 1, 3, 3]), "mother2": np.array([0, 0, 2, 0, 0]),
            "col": np.array([0, 0, 0, 501, 0]), "acol": np.array([0, 0, 0, 0, 501]),
            "px": np.array([0.0, 0.0, 0.0, p[0], -p[0]]), "py": np.array([0.0, 0.0, 0.0, p[1], -p[1]]),
            "pz": np.array([E_BEAM, -E_BEAM, 0.0, p[2], -p[2]]),
            "E": np.array([E_BEAM, E_BEAM, 2 * E_BEAM, E_BEAM, E_BEAM]),
            "m": np.array([0.0, 0.0, 2 * E_BEAM, m, m]),
        })
    return events


def write_top_tagging_with_pandas(path: Path, n: int, seed: int = 3) -> ak.Array:
    """Toy top/QCD jets as a public-layout top-tagging HDF5 file written by pandas; returns the jets."""
    from jetviz.data.samples import load_sample

    jets = load_sample("toy_top_qcd", n, seed=seed, show_progress=False)
    order = ak.argsort(jets.particles.pt, axis=1, ascending=False)
    particles = jets.particles[order]
    block = np.zeros((n, 200, 4), dtype=np.float32)
    for i, row in enumerate(particles):
        k = min(len(row), 200)
        block[i, :k] = np.column_stack([ak.to_numpy(row[f])[:k] for f in ("E", "px", "py", "pz")])
    frame = pd.DataFrame(block.reshape(n, -1), columns=[f"{c}_{i}" for i in range(200) for c in ("E", "PX", "PY", "PZ")])
    frame["ttv"] = 0
    frame["is_signal_new"] = ak.to_numpy(jets.label).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_hdf(path, key="table", format="table", mode="w")
    return jets
