"""Bad inputs, data side: every reader, LHE, the CLI and the sample cache.

Each case writes a real file with the tool people use (pandas, h5py, uproot, pyarrow, numpy,
plain text for LHE) into a directory that also holds a file saved before (a jetviz Parquet
sample), snapshots the bytes of every file there, runs jetviz on it and asserts

- a ``jetviz`` error (``DataFileError``) whose message names the file and the field/row (or the
  problem where a file has no fields to name, e.g. a truncated one), or the documented accepted
  behaviour (noted in the case), and
- that every file in the directory is byte-identical afterwards.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafiles import cut_file, delphes_source, noise_file, random_events, tt_frame, write_delphes_like, z_events

from jetviz.data import formats
from jetviz.data.formats.lhe import write_lhe
from jetviz.data.formats.parquet import save_events
from jetviz.errors import DataFileError


# ----------------------------------------------------------------------------------------------
# the harness
# ----------------------------------------------------------------------------------------------
def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@dataclass
class Case:
    make: Callable[[Path], Path]          # writes the bad file into the directory, returns its path
    needle: str                           # regex the message must contain (the field/row or the problem)
    read: Callable[[Path], object] = formats.read


def run_case(tmp_path: Path, case: Case) -> None:
    save_events(random_events(3, seed=99), tmp_path / "saved_before.parquet", {"note": "precious"})
    path = case.make(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(DataFileError) as info:
        result = case.read(path)
        if hasattr(result, "__next__"):
            list(result)
    message = str(info.value)
    assert info.value.path == path and str(path) in message, message
    assert re.search(case.needle, message), f"{case.needle!r} not in {message!r}"
    assert "Traceback" not in message
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------------------------
# top-tagging HDF5 written with pandas (and h5py)
# ----------------------------------------------------------------------------------------------
def tt(change: Callable[[pd.DataFrame], pd.DataFrame | None], fmt: str = "table", n_slots: int = 20,
       name: str = "jets.h5", **to_hdf) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        frame, _ = tt_frame(12, n_slots=n_slots, seed=2)
        changed = change(frame)  # edits in place (None) or returns a new frame
        frame = frame if changed is None else changed
        path = directory / name
        frame.to_hdf(path, key="table", format=fmt, mode="w", **to_hdf)
        return path
    return make


def _set(column: str, row: int, value) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        if isinstance(value, str) or frame[column].dtype.kind != np.asarray(value).dtype.kind:
            frame[column] = frame[column].astype(object if isinstance(value, str) else np.asarray(value).dtype)
        frame.loc[row, column] = value
    return change


def _e_below_p(slot: int, row: int, factor: float) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        p = np.sqrt(sum(float(frame.loc[row, f"{c}_{slot}"]) ** 2 for c in ("PX", "PY", "PZ")))
        frame.loc[row, f"E_{slot}"] = np.float32(p * factor)
    return change


def _as_strings(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].map(lambda v: f"{v:.3f}").astype(object)
        return frame
    return change


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: frame.drop(columns=[column])


def _empty_row(row: int) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        frame.loc[row, [c for c in frame.columns if re.match(r"^(E|PX|PY|PZ)_\d+$", c)]] = 0.0
    return change


def _only(columns_regex: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda frame: frame[[c for c in frame.columns if not re.match(columns_regex, c)]]


def _h5py_arrays(directory: Path) -> Path:
    path = directory / "arrays.h5"
    with h5py.File(path, "w") as handle:
        handle["jets"] = np.zeros((4, 20, 4), dtype=np.float32)
    return path


def _zero_rows(directory: Path) -> Path:
    frame, _ = tt_frame(3, n_slots=5)
    path = directory / "none.h5"
    frame.iloc[:0].to_hdf(path, key="table", format="fixed", mode="w")  # pandas writes no table for 0 rows
    return path


def _damaged(kind: str, writer: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = writer(directory)
        if kind == "cut":
            cut_file(path)
        elif kind == "noise":
            noise_file(path)
        elif kind == "zero":
            path.write_bytes(b"")
        elif kind == "flip":
            data = bytearray(path.read_bytes())
            middle = len(data) // 2
            data[middle : middle + 64] = b"\x17" * 64
            path.write_bytes(bytes(data))
        return path
    return make


def _jetviz_h5(directory: Path) -> Path:
    return formats.write(random_events(300, seed=8, max_particles=30), directory / "mine.h5", max_constituents=30)


TT_CASES = {
    "h5-nan-E0": Case(tt(_set("E_0", 3, np.nan)), r"column 'E_0', event 3: NaN"),
    "h5-nan-PX5": Case(tt(_set("PX_5", 7, np.nan)), r"column 'PX_5', event 7: NaN"),
    "h5-inf-PY2": Case(tt(_set("PY_2", 0, np.inf)), r"column 'PY_2', event 0: inf"),
    "h5-minus-inf-PZ10": Case(tt(_set("PZ_10", 11, -np.inf)), r"column 'PZ_10', event 11: -inf"),
    "h5-nan-in-padding-slot-150": Case(tt(_set("E_150", 2, np.nan), n_slots=200), r"column 'E_150', event 2: NaN"),
    "h5-E-half-of-p": Case(tt(_e_below_p(0, 4, 0.5)), r"column 'E_0', event 4: E = .* GeV is below \|p\|"),
    "h5-E-below-p-by-1e-5": Case(tt(_e_below_p(0, 9, 1 - 1e-5)), r"column 'E_0', event 9: E = .* is below \|p\|"),
    "h5-negative-E": Case(tt(_set("E_0", 6, np.float32(-1.0))), r"column 'E_0', event 6: E = -1 GeV is below"),
    "h5-string-momentum-column": Case(tt(_as_strings("PX_3")), r"column 'PX_3' is not numeric"),
    "h5-string-label": Case(tt(lambda f: f.assign(is_signal_new=np.where(f.is_signal_new == 1, "top", "qcd").astype(object))),
                            r"column 'is_signal_new' is not numeric"),
    "h5-fractional-label": Case(tt(_set("is_signal_new", 5, 0.5)), r"column 'is_signal_new', event 5: 0.5 is not an integer"),
    "h5-nan-label": Case(tt(_set("is_signal_new", 1, np.nan)), r"column 'is_signal_new', event 1: nan is not an integer"),
    "h5-fractional-ttv": Case(tt(_set("ttv", 8, 1.5)), r"column 'ttv', event 8: 1.5 is not an integer"),
    "h5-nan-truthE": Case(tt(_set("truthE", 10, np.nan)), r"column 'truthE', event 10: NaN"),
    "h5-inf-truthPX": Case(tt(_set("truthPX", 4, np.inf)), r"column 'truthPX', event 4: inf"),
    "h5-missing-PX3": Case(tt(_drop("PX_3")), r"lacks column\(s\) PX_3"),
    "h5-missing-label": Case(tt(_drop("is_signal_new")), r"lacks column\(s\) is_signal_new"),
    "h5-wrong-key": Case(lambda d: tt(lambda f: None)(d) and _rekey(d / "jets.h5"), r"has no key 'table'"),
    "h5-no-constituent-columns": Case(tt(_only(r"^(E|PX|PY|PZ)_\d+$")), r"has no constituent columns"),
    "h5-empty-row": Case(tt(_empty_row(5)), r"event 5 is empty \(an all-zero row\)"),
    "h5-cut": Case(_damaged("cut", tt(lambda f: None)), r"(truncated or corrupted|not a readable HDF5)"),
    "h5-noise": Case(_damaged("noise", tt(lambda f: None)), r"(truncated or corrupted|not a readable HDF5)"),
    "h5-zero-bytes": Case(_damaged("zero", tt(lambda f: None)), r"is empty \(0 bytes\)"),
    "h5-flipped-bytes-checksummed": Case(_damaged("flip", _jetviz_h5), r"(truncated or corrupted|cannot read rows|not a readable)"),
    "h5-fixed-nan": Case(tt(_set("PX_1", 2, np.nan), fmt="fixed"), r"column 'PX_1', event 2: NaN"),
    "h5-fixed-E-below-p": Case(tt(_e_below_p(0, 3, 0.9), fmt="fixed"), r"column 'E_0', event 3: E = .* is below"),
    "h5-fixed-string-column": Case(tt(_as_strings("PZ_0"), fmt="fixed"), r"column 'PZ_0' is not numeric"),
    "h5-data-columns-nan": Case(tt(_set("PY_0", 7, np.nan), data_columns=True), r"column 'PY_0', event 7: NaN"),
    "h5-written-by-h5py": Case(_h5py_arrays, r"has no key 'table'"),
    "h5-zero-rows": Case(_zero_rows, r"holds no events"),
    "h5-slice-nan-names-file-row": Case(tt(_set("E_1", 9, np.nan)), r"column 'E_1', event 9: NaN",
                                        read=lambda p: formats.iterate(p, step_size=4)),
}


def _rekey(path: Path) -> Path:
    frame = pd.read_hdf(path, key="table")
    path.unlink()
    frame.to_hdf(path, key="jets", format="table", mode="w")
    return path


# ----------------------------------------------------------------------------------------------
# Delphes ROOT written with uproot
# ----------------------------------------------------------------------------------------------
def root(change: Callable[[dict], None], n: int = 20, empty: tuple[int, ...] = ()) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        source = delphes_source(n, seed=5, empty=empty)
        change(source)
        return write_delphes_like(directory / "run.root", source)
    return make


def _first_of_event(jagged: ak.Array, event: int, value, dtype=None) -> ak.Array:
    values = ak.to_numpy(ak.flatten(jagged)).astype(dtype or ak.to_numpy(ak.flatten(jagged)).dtype)
    counts = ak.to_numpy(ak.num(jagged, axis=1))
    assert counts[event] > 0
    values[counts[:event].sum()] = value
    return ak.unflatten(values, counts)


def _leaf(collection: str, leaf: str, event: int, value, dtype=None) -> Callable[[dict], None]:
    def change(source: dict) -> None:
        source[collection][leaf] = _first_of_event(source[collection][leaf], event, value, dtype)
    return change


def _tower_energy_low(source: dict) -> None:
    tower = source["EFlowPhoton"]
    source["EFlowPhoton"]["E"] = _first_of_event(tower["E"], 6, np.float32(0.5 * float(tower["E"][6][0])))


def _gen_energy_low(source: dict) -> None:
    part = source["Particle"]
    source["Particle"]["E"] = ak.values_astype(part["E"] * 0 + 0.1, np.float32)  # every particle far below |p|


def _drop_leaf(collection: str, leaf: str) -> Callable[[dict], None]:
    return lambda source: source[collection].pop(leaf)


def _histogram_only(directory: Path) -> Path:
    import uproot

    path = directory / "histo.root"
    with uproot.recreate(path) as handle:
        handle["h"] = np.histogram(np.arange(10.0), bins=5)
    return path


def _events_tree(directory: Path) -> Path:
    import uproot

    path = directory / "other.root"
    with uproot.recreate(path) as handle:
        handle["Events"] = {"x": np.arange(5.0)}
    return path


ROOT_CASES = {
    "root-nan-track-PT": Case(root(_leaf("EFlowTrack", "PT", 4, np.nan)), r"column 'EFlowTrack.PT', event 4: NaN"),
    "root-inf-track-Eta": Case(root(_leaf("EFlowTrack", "Eta", 8, np.inf)), r"column 'EFlowTrack.Eta', event 8: inf"),
    "root-nan-hadron-Phi": Case(root(_leaf("EFlowNeutralHadron", "Phi", 2, np.nan)), r"column 'EFlowNeutralHadron.Phi', event 2: NaN"),
    "root-negative-track-PT": Case(root(_leaf("EFlowTrack", "PT", 3, -5.0)), r"column 'EFlowTrack.PT', event 3: PT = -5 GeV is negative"),
    "root-negative-photon-ET": Case(root(_leaf("EFlowPhoton", "ET", 1, -2.0)), r"column 'EFlowPhoton.ET', event 1: ET = -2 GeV is negative"),
    "root-float-PID-fractional": Case(root(_leaf("EFlowTrack", "PID", 7, 211.5, np.float32)), r"column 'EFlowTrack.PID', event 7: 211.5 is not an integer"),
    "root-negative-track-Mass": Case(root(_leaf("EFlowTrack", "Mass", 5, -0.1)), r"column 'EFlowTrack.Mass', event 5: mass = -0.1 GeV is negative"),
    "root-tower-E-below-ET-cosh-eta": Case(root(_tower_energy_low), r"column 'EFlowPhoton.E', event 6: E = .* is below \|p\|"),
    "root-gen-E-below-p": Case(lambda d: root(_gen_energy_low)(d), r"column 'Particle.E', event 0: E = 0.1",
                               read=lambda p: formats.read(p, collections=("Particle",))),
    "root-gen-fractional-Status": Case(root(_leaf("Particle", "Status", 3, 1.5, np.float32)), r"column 'Particle.Status', event 3: 1.5 is not an integer",
                                       read=lambda p: formats.read(p, collections=("Particle",))),
    "root-nan-track-Charge": Case(root(_leaf("EFlowTrack", "Charge", 8, np.nan, np.float32)), r"column 'EFlowTrack.Charge', event 8: NaN"),
    "root-inf-track-D0": Case(root(_leaf("EFlowTrack", "D0", 10, np.inf)), r"column 'EFlowTrack.D0', event 10: inf"),
    "root-missing-branch": Case(root(_drop_leaf("EFlowTrack", "Phi")), r"lacks branch\(es\) EFlowTrack\.Phi"),
    "root-missing-collection": Case(root(lambda s: s.pop("EFlowPhoton")), r"EFlowPhoton"),
    "root-no-Delphes-tree": Case(_events_tree, r"has no tree 'Delphes'"),
    "root-histogram-only": Case(_histogram_only, r"has no tree 'Delphes'"),
    "root-empty-events": Case(root(lambda s: None, empty=(4, 9)), r"event 4 is empty"),
    "root-cut": Case(_damaged("cut", root(lambda s: None, n=200)), r"truncated or corrupted"),
    "root-noise": Case(_damaged("noise", root(lambda s: None)), r"(truncated or corrupted|not a readable ROOT)"),
    "root-zero-bytes": Case(_damaged("zero", root(lambda s: None)), r"is empty \(0 bytes\)"),
    "root-nan-chunked": Case(root(_leaf("EFlowTrack", "PT", 19, np.nan)), r"column 'EFlowTrack.PT', event 19: NaN",
                             read=lambda p: formats.iterate(p, step_size=5)),
}


def test_root_integral_float_pid_is_read(tmp_path):
    """Documented accepted behaviour: a float PID branch holding whole numbers is read exactly."""
    source = delphes_source(6, seed=1)
    source["EFlowTrack"]["PID"] = ak.values_astype(source["EFlowTrack"]["PID"], np.float32)
    path = write_delphes_like(tmp_path / "float_pid.root", source)
    before = snapshot(tmp_path)
    with pytest.warns(UserWarning, match="dropped"):  # events without tracks
        events = formats.read(path, collections=("EFlowTrack",), drop_empty=True)
    expected = ak.to_numpy(ak.flatten(source["EFlowTrack"]["PID"])).astype(np.int64)
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(events.particles.pid)), expected)
    assert events.particles.pid.type.content.content.primitive == "int64"
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------------------------
# energyflow .npz written with numpy
# ----------------------------------------------------------------------------------------------
def npz(change: Callable[[dict], None], name: str = "jets.npz", compressed: bool = True) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        rng = np.random.default_rng(4)
        X = np.zeros((10, 8, 4))
        for i in range(10):
            k = int(rng.integers(1, 9))
            X[i, :k] = np.column_stack([rng.uniform(1, 50, k), rng.normal(0, 1, k), rng.uniform(-3, 3, k),
                                        rng.choice([22, 211, -211, 2112], k)])
        arrays = {"X": X, "y": np.arange(10) % 2}
        change(arrays)
        path = directory / name
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return path
    return make


def _x(row: int, column: int, value) -> Callable[[dict], None]:
    def change(arrays: dict) -> None:
        arrays["X"][row, 0, column] = value
    return change


NPZ_CASES = {
    "npz-negative-pT": Case(npz(_x(2, 0, -5.0)), r"column 'X\[..., 0\] \(pT\)', event 2: pT = -5 GeV is negative"),
    "npz-nan-rapidity": Case(npz(_x(3, 1, np.nan)), r"column 'X\[..., 1\] \(y\)', event 3: NaN"),
    "npz-inf-phi": Case(npz(_x(7, 2, np.inf)), r"column 'X\[..., 2\] \(phi\)', event 7: inf"),
    "npz-nan-pid": Case(npz(_x(1, 3, np.nan)), r"column 'X\[..., 3\] \(pid\)', event 1: NaN"),
    "npz-fractional-pid": Case(npz(_x(4, 3, 211.5)), r"column 'X\[..., 3\] \(pid\)', event 4: 211.5 is not an integer"),
    "npz-fractional-label": Case(npz(lambda a: a.update(y=np.array([0.0, 1, 0.5, 1, 0, 1, 0, 1, 0, 1]))), r"column 'y', event 2: 0.5 is not an integer"),
    "npz-string-labels": Case(npz(lambda a: a.update(y=np.array(["top", "qcd"] * 5))), r"column 'y' is not numeric"),
    "npz-string-X": Case(npz(lambda a: a.update(X=a["X"].astype(str))), r"X has shape \(10, 8, 4\) \(<U"),
    "npz-object-X-not-unpickled": Case(npz(lambda a: a.update(X=np.array([[None]], dtype=object), y=np.zeros(1))), r"(X has shape|npz)"),
    "npz-missing-y": Case(npz(lambda a: a.pop("y")), r"lacks array\(s\) \['y'\]"),
    "npz-missing-X": Case(npz(lambda a: a.pop("X")), r"lacks array\(s\) \['X'\]"),
    "npz-y-length": Case(npz(lambda a: a.update(y=np.zeros(11, dtype=int))), r"y has shape \(11,\); expected \(10,\)"),
    "npz-X-2d": Case(npz(lambda a: a.update(X=np.ones((10, 4)))), r"X has shape \(10, 4\)"),
    "npz-X-5-columns": Case(npz(lambda a: a.update(X=np.ones((10, 3, 5)))), r"X has shape \(10, 3, 5\)"),
    "npz-empty-row": Case(npz(lambda a: a["X"].__setitem__(6, 0.0)), r"event 6 is empty \(an all-zero row\)"),
    "npz-nan-in-padding": Case(npz(lambda a: a["X"].__setitem__((5, 7, 1), np.nan)), r"column 'X\[..., 1\] \(y\)', event 5: NaN"),
    "npz-cut": Case(_damaged("cut", npz(lambda a: None)), r"(truncated or corrupted|not a readable)"),
    "npz-noise": Case(_damaged("noise", npz(lambda a: None)), r"(truncated or corrupted|not in a format|not a readable)"),
    "npz-zero-bytes": Case(_damaged("zero", npz(lambda a: None)), r"is empty \(0 bytes\)"),
    "npz-single-npy": Case(lambda d: (np.save(d / "a.npy", np.ones((2, 3, 4))), (d / "a.npy").rename(d / "a.npz"), d / "a.npz")[-1],
                           r"is a single \.npy array"),
    "npz-uncompressed-negative-pT": Case(npz(_x(8, 0, -1.0), compressed=False), r"\(pT\)', event 8: pT = -1 GeV"),
    "npz-chunked-nan": Case(npz(_x(9, 1, np.nan)), r"\(y\)', event 9: NaN", read=lambda p: formats.iterate(p, step_size=3)),
}


# ----------------------------------------------------------------------------------------------
# jetviz Parquet written with pyarrow
# ----------------------------------------------------------------------------------------------
def _header(n: int, **changes) -> dict:
    return {"format": "jetviz-events", "format_version": 1, "n_events": n, "metadata": {}, **changes}


def parquet(change: Callable[[dict, np.ndarray], dict], n: int = 30, header: dict | None = None,
            jets: bool = False, name: str = "events.parquet") -> Callable[[Path], Path]:
    """Events whose flat particle fields (and event fields) ``change`` edits, written with pyarrow."""
    def make(directory: Path) -> Path:
        events = random_events(n, seed=6, extra=True)
        counts = ak.to_numpy(ak.num(events.particles, axis=1))
        flat = {f: ak.to_numpy(ak.flatten(events.particles[f])).copy() for f in ak.fields(events.particles)}
        fields = {f: ak.to_numpy(events[f]).copy() for f in ak.fields(events) if f != "particles"}
        fields["jet_pt"] = np.linspace(500, 600, n)
        if jets:
            fields["jets"] = events.particles[["px", "py", "pz", "E", "pt", "eta", "phi"]][:, :2]
        edited = change({"flat": flat, "fields": fields, "counts": counts}, counts)
        edited = edited if isinstance(edited, dict) else {}
        flat, fields, counts = edited.get("flat", flat), edited.get("fields", fields), edited.get("counts", counts)
        particles = ak.unflatten(ak.zip(flat, depth_limit=1), counts)
        array = ak.zip({"particles": particles, **fields}, depth_limit=1)
        table = ak.to_arrow_table(array, extensionarray=True)
        meta = json.dumps(header if header is not None else _header(len(counts))).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"jetviz": meta})
        path = directory / name
        pq.write_table(table, path, write_page_checksum=True)
        return path
    return make


def _particle(field: str, event: int, value) -> Callable[[dict, np.ndarray], None]:
    def change(data: dict, counts: np.ndarray) -> None:
        array = data["flat"][field]
        if np.asarray(value).dtype.kind == "f" and array.dtype.kind != "f":
            data["flat"][field] = array = array.astype(np.float64)
        array[counts[:event].sum()] = value
    return change


def _event_field(field: str, event: int, value) -> Callable[[dict, np.ndarray], None]:
    def change(data: dict, counts: np.ndarray) -> None:
        data["fields"][field] = data["fields"][field].astype(np.float64)
        data["fields"][field][event] = value
    return change


def _particle_e_below_p(event: int) -> Callable[[dict, np.ndarray], None]:
    def change(data: dict, counts: np.ndarray) -> None:
        k = counts[:event].sum()
        f = data["flat"]
        f["E"][k] = 0.5 * np.sqrt(f["px"][k] ** 2 + f["py"][k] ** 2 + f["pz"][k] ** 2)
    return change


def _strings(field: str) -> Callable[[dict, np.ndarray], None]:
    def change(data: dict, counts: np.ndarray) -> None:
        data["flat"][field] = np.array([f"{v:.2f}" for v in data["flat"][field]])
    return change


def _jets_edit(field: str, value_of: Callable[[ak.Array], ak.Array]) -> Callable[[dict, np.ndarray], None]:
    def change(data: dict, counts: np.ndarray) -> None:
        jets = data["fields"]["jets"]
        flat = {f: ak.to_numpy(ak.flatten(jets[f])).copy() for f in ak.fields(jets)}
        flat[field][4] = value_of(flat)
        data["fields"]["jets"] = ak.unflatten(ak.zip(flat), ak.num(jets, axis=1))
    return change


def _with_nulls(data: dict, counts: np.ndarray) -> dict:
    px = data["flat"]["px"].astype(object)
    px[counts[:3].sum()] = None
    data["flat"]["px"] = ak.from_iter(px.tolist())
    return data


def _empty_event(data: dict, counts: np.ndarray) -> dict:
    keep = np.ones(counts.sum(), dtype=bool)
    keep[counts[:2].sum() : counts[:3].sum()] = False
    new_counts = counts.copy()
    new_counts[2] = 0
    return {"flat": {k: v[keep] for k, v in data["flat"].items()}, "counts": new_counts}


def _plain_pyarrow(directory: Path) -> Path:
    path = directory / "plain.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
    return path


def _flip_page(directory: Path) -> Path:
    path = save_events(random_events(400, seed=3, max_particles=30), directory / "big.parquet")
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + 32] = bytes(b ^ 0xFF for b in data[start : start + 32])
    path.write_bytes(bytes(data))
    return path


PARQUET_CASES = {
    "pq-nan-px": Case(parquet(_particle("px", 3, np.nan)), r"column 'particles.px', event 3: NaN"),
    "pq-inf-E": Case(parquet(_particle("E", 8, np.inf)), r"column 'particles.E', event 8: inf"),
    "pq-E-below-p": Case(parquet(_particle_e_below_p(11)), r"column 'particles.E', event 11: E = .* below \|p\|"),
    "pq-negative-pt": Case(parquet(_particle("pt", 5, -3.0)), r"column 'particles.pt', event 5: pT = -3 GeV is negative"),
    "pq-inf-d0": Case(parquet(lambda d, c: d["flat"].update(d0=np.zeros(c.sum())) or _particle("d0", 6, np.inf)(d, c)),
                      r"column 'particles.d0', event 6: inf"),
    "pq-nan-charge": Case(parquet(_particle("charge", 2, np.nan)), r"column 'particles.charge', event 2: NaN"),
    "pq-nan-jet-field": Case(parquet(_event_field("jet_pt", 13, np.nan)), r"column 'jet_pt', event 13: NaN"),
    "pq-inf-truth-field": Case(parquet(_event_field("truth_E", 20, np.inf)), r"column 'truth_E', event 20: inf"),
    "pq-nan-jets-px": Case(parquet(_jets_edit("px", lambda f: np.nan), jets=True), r"column 'jets.px', event \d+: NaN"),
    "pq-jets-E-below-p": Case(parquet(_jets_edit("E", lambda f: 0.1 * abs(f["pz"][4]) + 0.0), jets=True),
                              r"column 'jets.E', event \d+: E = "),
    "pq-string-px": Case(parquet(_strings("px")), r"column 'particles.px' is not numeric"),
    "pq-string-label": Case(parquet(lambda d, c: d["fields"].update(label=np.array(["a"] * len(c)))), r"column 'label' is not numeric"),
    "pq-fractional-label": Case(parquet(_event_field("label", 7, 0.5)), r"column 'label', event 7: 0.5 is not an integer"),
    "pq-fractional-pid": Case(parquet(_particle("pid", 9, 211.5)), r"column 'particles.pid', event 9: 211.5 is not an integer"),
    "pq-null-px": Case(parquet(_with_nulls), r"column 'particles.px', event 3: missing \(null\) value"),
    "pq-missing-pid": Case(parquet(lambda d, c: d["flat"].pop("pid")), r"particles lack the field\(s\) \['pid'\]"),
    "pq-missing-label": Case(parquet(lambda d, c: d["fields"].pop("label")), r"events lack the field 'label'"),
    "pq-empty-event": Case(parquet(_empty_event), r"event 2 has no particles"),
    "pq-count-mismatch": Case(parquet(lambda d, c: None, header=_header(99)), r"holds 30 events but its metadata says 99"),
    "pq-format-too-new": Case(parquet(lambda d, c: None, header=_header(30, format_version=99)), r"format_version 99"),
    "pq-not-jetviz": Case(_plain_pyarrow, r"not a jetviz events file"),
    "pq-cut": Case(_damaged("cut", parquet(lambda d, c: None)), r"not a readable Parquet file"),
    "pq-zero-bytes": Case(_damaged("zero", parquet(lambda d, c: None)), r"is empty \(0 bytes\)"),
    "pq-flipped-page": Case(_flip_page, r"(truncated or corrupted|CRC|checksum|cannot be read|column 'particles)"),
    "pq-chunked-nan-offset": Case(parquet(_particle("py", 25, np.nan)), r"column 'particles.py', event 25: NaN",
                                  read=lambda p: formats.iterate(p, step_size=10)),
}


# ----------------------------------------------------------------------------------------------
# LHE written as text (MadGraph-like), damaged line by line
# ----------------------------------------------------------------------------------------------
def _good_lhe_text(n: int = 4) -> list[str]:
    directory = Path(tempfile.mkdtemp())
    try:
        return write_lhe(directory / "good.lhe", z_events(n)).read_text().splitlines()
    finally:
        shutil.rmtree(directory)


def _particle_lines(lines: list[str], event: int) -> tuple[int, int]:
    """(index of the header line, index of the first particle line) of ``event``."""
    starts = [i for i, line in enumerate(lines) if line.strip() == "<event>"]
    return starts[event] + 1, starts[event] + 2


def lhe(change: Callable[[list[str]], list[str]], name: str = "z.lhe", gz: bool = False) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        text = "\n".join(change(_good_lhe_text())) + "\n"
        path = directory / name
        if gz:
            with gzip.open(path, "wt") as handle:
                handle.write(text)
        else:
            path.write_text(text)
        return path
    return make


def _edit_particle(event: int, k: int, column: int, value: str) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        _, first = _particle_lines(lines, event)
        fields = lines[first + k].split()
        fields[column] = value
        lines[first + k] = " ".join(fields)
        return lines
    return change


def _edit_header(event: int, value: str) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        header, _ = _particle_lines(lines, event)
        lines[header] = value
        return lines
    return change


def _nup(event: int, nup: int) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        header, _ = _particle_lines(lines, event)
        fields = lines[header].split()
        fields[0] = str(nup)
        lines[header] = " ".join(fields)
        return lines
    return change


def _drop_close_event(event: int) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        closes = [i for i, line in enumerate(lines) if line.strip() == "</event>"]
        del lines[closes[event]]
        return lines
    return change


def _without(prefix: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [line for line in lines if not line.strip().startswith(prefix)]


def _truncate_inside_event(lines: list[str]) -> list[str]:
    _, first = _particle_lines(lines, 2)
    return lines[: first + 2]


def _lhe_line(event: int, k: int) -> Callable[[str], str]:
    """Regex naming event ``event`` and its particle line ``k`` (1-based file line)."""
    lines = _good_lhe_text()
    _, first = _particle_lines(lines, event)
    return rf"event {event} \(line {first + k + 1}\)"


LHE_CASES = {
    "lhe-new-event-before-close": Case(lhe(_drop_close_event(1)), r"event 1 \(line \d+\): a new <event> starts before the </event>"),
    "lhe-nup-lower-than-lines": Case(lhe(_nup(0, 3)), r"event 0 \(line \d+\): more particle lines than its header's NUP = 3"),
    "lhe-nup-higher-than-lines": Case(lhe(_nup(2, 6)), r"event 2 \(line \d+\): has 5 particle lines, its header says NUP = 6"),
    "lhe-nan-px": Case(lhe(_edit_particle(1, 3, 6, "nan")), _lhe_line(1, 3) + r": PUP \(px, py, pz, E, m\) is NaN or infinite"),
    "lhe-inf-E": Case(lhe(_edit_particle(2, 4, 9, "inf")), _lhe_line(2, 4) + r": PUP .* NaN or infinite"),
    "lhe-negative-E": Case(lhe(_edit_particle(3, 3, 9, "-45.6")), _lhe_line(3, 3) + r": negative energy E = -45.6 GeV"),
    "lhe-mother-beyond-nup": Case(lhe(_edit_particle(0, 3, 2, "9")), _lhe_line(0, 3) + r": mother index 9/0 outside 0..NUP = 5"),
    "lhe-negative-mother": Case(lhe(_edit_particle(1, 4, 3, "-1")), _lhe_line(1, 4) + r": mother index 3/-1 outside"),
    "lhe-fractional-pid": Case(lhe(_edit_particle(0, 0, 0, "11.5")), _lhe_line(0, 0) + r": IDUP/ISTUP/MOTHUP/ICOLUP must be integers"),
    "lhe-non-numeric-particle": Case(lhe(_edit_particle(2, 1, 7, "abc")), _lhe_line(2, 1) + r": particle line is not numeric"),
    "lhe-header-5-entries": Case(lhe(_edit_header(1, "5 1 1.0 91.2 0.0078")), r"event 1 \(line \d+\): header line has 5 entries"),
    "lhe-header-not-numeric": Case(lhe(_edit_header(0, "five 1 1.0 91.2 0.0078 0.118")), r"event 0 \(line \d+\): header line is not numeric"),
    "lhe-nup-zero": Case(lhe(_nup(3, 0)), r"event 3 \(line \d+\): NUP = 0"),
    "lhe-particle-12-entries": Case(lhe(_edit_particle(1, 2, 12, "")), r"event 1 \(line \d+\): particle line has 12 entries"),
    "lhe-no-closing-tag": Case(lhe(_without("</LesHouchesEvents")), r"is truncated: no </LesHouchesEvents> after 4 complete events"),
    "lhe-ends-inside-event": Case(lhe(_truncate_inside_event), r"is truncated: it ends inside event 2"),
    "lhe-no-init": Case(lhe(lambda lines: [x for x in lines if not x.startswith(("<init", "</init", "2212", "1.0"))]),
                        r"(has no <init> block|<event> before <LesHouchesEvents> and <init>)"),
    "lhe-not-lhe": Case(lhe(lambda lines: ["just some text", "1 2 3"]), r"is not a Les Houches Event File"),
    "lhe-close-inside-event": Case(lhe(lambda lines: _truncate_inside_event(lines) + ["</LesHouchesEvents>"]),
                                   r"event 2 \(line \d+\): </LesHouchesEvents> inside the event"),
    "lhe-gz-truncated": Case(_damaged("cut", lhe(lambda lines: lines * 1, name="z.lhe.gz", gz=True)),
                             r"(truncated|cannot be read)"),
    "lhe-zero-bytes": Case(_damaged("zero", lhe(lambda lines: lines)), r"is empty \(0 bytes\)"),
    "lhe-chunked-nan": Case(lhe(_edit_particle(3, 3, 8, "nan")), _lhe_line(3, 3) + r": PUP",
                            read=lambda p: formats.iterate(p, step_size=1)),
}


ALL_CASES = {**TT_CASES, **ROOT_CASES, **NPZ_CASES, **PARQUET_CASES, **LHE_CASES}


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_bad_file_is_a_clear_error_and_nothing_changes(tmp_path, case):
    run_case(tmp_path, case)


@pytest.mark.parametrize("case", [c for c in ALL_CASES.values() if c.read is formats.read][:40],
                         ids=[k for k, c in ALL_CASES.items() if c.read is formats.read][:40])
def test_validate_false_skips_values_only(tmp_path, case):
    """``validate=False`` reads files whose only fault is a value; structure errors remain errors."""
    save_events(random_events(3, seed=99), tmp_path / "saved_before.parquet")
    path = case.make(tmp_path)
    before = snapshot(tmp_path)
    value_fault = re.search(r"NaN|inf|below|is negative|negative energy|outside 0..NUP", case.needle)
    try:
        formats.read(path, validate=False)
    except DataFileError as err:
        assert not value_fault or "not an integer" in str(err) or "empty" in str(err), str(err)
    else:
        assert value_fault, f"{case.needle} is not a value fault, yet validate=False read the file"
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------------
def cli(*args: str, env: dict | None = None, user: int | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "jetviz.cli", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    full_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=120)


def main_error(capsys, *args: str) -> str:
    from jetviz.cli import main

    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("jetviz: error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("name, needle", [
    ("events.root", r"cannot write Delphes ROOT files; --out takes"),
    ("events.lhe", r"cannot write Les Houches Event File files"),
    ("events.csv", r"cannot write files named '.csv'"),
    ("events", r"cannot write files named '\(no extension\)'"),
    ("events.lhe.gz", r"cannot write Les Houches"),
])
def test_cli_refuses_unknown_out_before_generating(tmp_path, capsys, monkeypatch, name, needle):
    import jetviz.data.samples as samples

    monkeypatch.setattr(samples, "load_sample", lambda *a, **k: pytest.fail("generated before checking --out"))
    (tmp_path / "keep.parquet").write_bytes(b"precious")
    before = snapshot(tmp_path)
    err = main_error(capsys, "generate", "toy_top_qcd", "-n", "5", "--out", str(tmp_path / name))
    assert str(tmp_path / name) in err and re.search(needle, err), err
    assert snapshot(tmp_path) == before


def test_cli_out_existing_file_kept(tmp_path, capsys):
    out = tmp_path / "mine.parquet"
    out.write_bytes(b"precious user data")
    err = main_error(capsys, "generate", "toy_top_qcd", "-n", "5", "--out", str(out))
    assert str(out) in err and "refusing to overwrite it (pass --force" in err
    assert out.read_bytes() == b"precious user data"


@pytest.mark.parametrize("kind", ["parent-is-file", "out-is-dir"])
def test_cli_out_into_a_file_or_onto_a_directory(tmp_path, capsys, kind):
    (tmp_path / "file.txt").write_bytes(b"keep")
    (tmp_path / "dir.parquet").mkdir()
    out = tmp_path / "file.txt" / "x.parquet" if kind == "parent-is-file" else tmp_path / "dir.parquet"
    before = snapshot(tmp_path)
    err = main_error(capsys, "generate", "toy_top_qcd", "-n", "5", "--out", str(out))
    assert str(out) in err and ("is not a directory" in err or "is a directory" in err), err
    assert snapshot(tmp_path) == before


@pytest.fixture
def shared_dir():
    """A directory another (unprivileged) user can enter: tmp_path lies in root's private tree."""
    directory = Path(tempfile.mkdtemp(prefix="jetviz-perm-"))
    directory.chmod(0o755)
    yield directory
    for p in directory.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(directory)


def _as_nobody() -> int | None:
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions would not apply")
    return 65534


def test_cli_out_into_a_read_only_directory(shared_dir):
    user = _as_nobody()
    cache = shared_dir / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "old.parquet").write_bytes(b"old")
    locked.chmod(0o555)
    before = snapshot(shared_dir)
    result = cli("generate", "toy_top_qcd", "-n", "5", "--out", str(locked / "new.parquet"),
                 env={"JETVIZ_CACHE": str(cache)}, user=user)
    assert result.returncode == 2, result.stderr
    assert f"{locked / 'new.parquet'}: cannot be written: no permission to write in {locked}" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(shared_dir) == before  # not even the sample cache was filled


def test_cli_cache_in_a_read_only_directory(shared_dir, tmp_path):
    user = _as_nobody()
    shared_dir.chmod(0o555)
    result = cli("generate", "toy_top_qcd", "-n", "5", "--out", str(tempfile.gettempdir()) + "/never-written.parquet",
                 env={"JETVIZ_CACHE": str(shared_dir / "cache")}, user=user)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{shared_dir / 'cache' / 'samples'}: cannot create the sample cache directory" in result.stderr
    assert not Path(tempfile.gettempdir(), "never-written.parquet").exists()


def _zero_event_parquet(directory: Path) -> Path:
    return save_events(random_events(3)[:0], directory / "none.parquet")


@pytest.mark.parametrize("make, needle", [
    (_zero_event_parquet, r"holds no events"),
    (_zero_rows, r"holds no events"),
    (lambda d: d / "missing.parquet", r"no such file"),
    (lambda d: (d / "zero.h5").write_bytes(b"") and d / "zero.h5" or d / "zero.h5", r"is empty \(0 bytes\)"),
    (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", r"is not in a format jetviz reads"),
    (lambda d: tt(_set("PX_2", 4, np.nan))(d), r"column 'PX_2', event 4: NaN"),
    (lambda d: root(_leaf("EFlowTrack", "PID", 3, 22.5, np.float32))(d), r"column 'EFlowTrack.PID', event 3: 22.5 is not an integer"),
    (lambda d: npz(_x(0, 0, -1.0))(d), r"\(pT\)', event 0: pT = -1 GeV is negative"),
], ids=["zero-event-parquet", "zero-row-h5", "missing", "zero-bytes", "text-file", "h5-nan", "root-float-pid", "npz-negative-pt"])
def test_cli_info_explains(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    before = snapshot(tmp_path)
    err = main_error(capsys, "info", str(path))
    assert str(path) in err and re.search(needle, err), err
    assert snapshot(tmp_path) == before


def test_cli_info_subprocess_no_traceback(tmp_path):
    path = tt(_set("E_0", 1, np.inf))(tmp_path)
    result = cli("info", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: column 'E_0', event 1: inf" in result.stderr


# ----------------------------------------------------------------------------------------------
# the sample cache
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path / "cache"))
    from jetviz.data.samples import cache_dir, load_sample

    first = load_sample("toy_top_qcd", 20, seed=3, chunk_size=10, workers=1, show_progress=False)
    return cache_dir(), first


def _damage_chunk(path: Path, how: str, directory: Path) -> None:
    if how == "truncated":
        cut_file(path)
    elif how == "zero":
        path.write_bytes(b"")
    elif how == "noise":
        noise_file(path)
    elif how == "nan":  # a valid Parquet file whose values are not
        table = pq.read_table(path)
        events = ak.from_arrow(table)
        flat = {f: ak.to_numpy(ak.flatten(events.particles[f])).copy() for f in ak.fields(events.particles)}
        flat["E"][0] = np.nan
        particles = ak.unflatten(ak.zip(flat), ak.num(events.particles, axis=1))
        bad = ak.with_field(events, particles, "particles")
        out = ak.to_arrow_table(bad, extensionarray=True).replace_schema_metadata(table.schema.metadata)
        pq.write_table(out, path)
    elif how == "other-chunk":
        sibling = sorted(p for p in directory.glob("*.parquet") if p != path)[0]
        path.write_bytes(sibling.read_bytes())


@pytest.mark.parametrize("how", ["truncated", "zero", "noise", "nan", "other-chunk"])
def test_damaged_cache_chunk_is_reported_and_regenerated(cache, how):
    """Documented accepted behaviour: a warning naming the file and the problem, the chunk made
    again (the same seeded events), every other cache file untouched."""
    from jetviz.data.samples import load_sample

    directory, first = cache
    damaged = sorted(directory.glob("toy_top_qcd-s3-c1-*.parquet"))[0]
    _damage_chunk(damaged, how, directory)
    others = {p.name: p.read_bytes() for p in directory.glob("*.parquet") if p != damaged}
    with pytest.warns(UserWarning, match=rf"damaged sample cache file {re.escape(str(damaged))}: .*generating the chunk again"):
        again = load_sample("toy_top_qcd", 20, seed=3, chunk_size=10, workers=1, show_progress=False)
    assert ak.array_equal(again, first)
    assert {p.name: p.read_bytes() for p in directory.glob("*.parquet") if p != damaged} == others


def test_cache_path_is_a_file(tmp_path, monkeypatch):
    from jetviz.data.samples import load_sample

    (tmp_path / "cache").write_bytes(b"not a directory")
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path / "cache"))
    before = snapshot(tmp_path)
    with pytest.raises(DataFileError, match="cannot create the sample cache directory") as info:
        load_sample("toy_top_qcd", 5, workers=1, show_progress=False)
    assert "cache" in str(info.value.path)
    assert snapshot(tmp_path) == before
