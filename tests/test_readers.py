"""Tests of the format readers: top-tagging HDF5, Delphes ROOT (uproot) and energyflow .npz."""
from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
from datafiles import (
    by_pt,
    cut_file,
    delphes_source,
    flat,
    listing,
    noise_file,
    random_events,
    save_frame,
    tt_frame,
    write_delphes_like,
)

from jetviz.data.formats.delphes import iterate_delphes, read_delphes
from jetviz.data.formats.energyflow import iterate_npz, read_npz, write_npz
from jetviz.data.formats.top_tagging import iterate_top_tagging_h5, read_top_tagging_h5, write_top_tagging_h5
from jetviz.data.kinematics import invariant_mass, pt_eta_phi
from jetviz.errors import DataFileError


# ----------------------------------------------------------------------------------------------
# top-tagging HDF5
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "fixed"])
def test_top_tagging_reads_reference_layout(tmp_path, fmt):
    frame, constituents = tt_frame(12, seed=1)
    path = save_frame(frame, tmp_path / f"ref_{fmt}.h5", fmt)
    events = read_top_tagging_h5(path, step_size=5)
    assert len(events) == 12
    assert ak.num(events.particles, axis=1).tolist() == [len(c) for c in constituents]
    got = np.column_stack([flat(events.particles[f]) for f in ("E", "px", "py", "pz")])
    np.testing.assert_array_equal(got, np.concatenate(constituents))
    assert np.all(flat(events.particles.pid) == 0) and np.all(flat(events.particles.charge) == 0)
    assert np.all(flat(events.particles.jet) == 0)
    assert events.label.tolist() == frame.is_signal_new.tolist()
    assert events.ttv.tolist() == frame.ttv.tolist()
    np.testing.assert_array_equal(ak.to_numpy(events.truth_px), frame.truthPX.to_numpy(np.float64))
    summed = np.array([c.sum(0) for c in constituents])
    jet_pt, jet_eta, jet_phi = pt_eta_phi(summed[:, 1], summed[:, 2], summed[:, 3])
    np.testing.assert_allclose(ak.to_numpy(events.jet_pt), jet_pt, rtol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(events.jet_phi), jet_phi, rtol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(events.jet_mass), invariant_mass(*summed[:, [1, 2, 3, 0]].T), rtol=1e-9)


def test_top_tagging_without_truth_columns(tmp_path):
    frame, _ = tt_frame(4, n_slots=10, truth=False)
    events = read_top_tagging_h5(save_frame(frame, tmp_path / "t.h5"))
    assert "truth_px" not in ak.fields(events) and "jet_mass" in ak.fields(events)


@pytest.mark.parametrize("n, max_constituents, dtype", [(1, 200, "float32"), (25, 200, "float32"), (25, 40, "float64")])
def test_top_tagging_round_trip(tmp_path, n, max_constituents, dtype):
    events = random_events(n, seed=n, max_particles=35, extra=True)
    path = write_top_tagging_h5(events, tmp_path / "rt.h5", max_constituents=max_constituents, dtype=dtype)
    back = read_top_tagging_h5(path, max_constituents=max_constituents)
    expected = by_pt(events)
    for f in ("E", "px", "py", "pz"):  # exact, as rounded to the stored dtype
        np.testing.assert_array_equal(flat(back.particles[f]), flat(expected[f]).astype(dtype).astype(np.float64))
    assert back.label.tolist() == events.label.tolist()
    assert back.ttv.tolist() == events.ttv.tolist()
    np.testing.assert_array_equal(ak.to_numpy(back.truth_E), ak.to_numpy(events.truth_E).astype(dtype))
    with pd.HDFStore(path, "r") as store:  # the reference column layout, in order
        columns = list(store.select("table", stop=0).columns)
        assert store.select("table", stop=1)["E_0"].dtype == np.dtype(dtype)
    assert columns[:8] == ["E_0", "PX_0", "PY_0", "PZ_0", "E_1", "PX_1", "PY_1", "PZ_1"]
    assert columns[4 * max_constituents :] == ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]


def test_top_tagging_write_defaults_truth_and_ttv_to_zero(tmp_path):
    events = random_events(3)
    back = read_top_tagging_h5(write_top_tagging_h5(events, tmp_path / "z.h5", max_constituents=50))
    assert back.ttv.tolist() == [0, 0, 0] and back.truth_px.tolist() == [0.0, 0.0, 0.0]


def test_top_tagging_write_truncates_to_hardest(tmp_path):
    events = random_events(6, seed=2, max_particles=30)
    with pytest.warns(UserWarning, match="hardest"):
        path = write_top_tagging_h5(events, tmp_path / "cut.h5", max_constituents=5, dtype="float64")
    back = read_top_tagging_h5(path)
    expected = by_pt(events)[:, :5]
    assert ak.num(back.particles, axis=1).tolist() == ak.num(expected, axis=1).tolist()
    np.testing.assert_array_equal(flat(back.particles.pt), flat(expected.pt))


def test_top_tagging_chunked_equals_whole_and_slices(tmp_path):
    events = random_events(23, seed=4, max_particles=20, extra=True)
    path = write_top_tagging_h5(events, tmp_path / "c.h5", max_constituents=20)
    whole = read_top_tagging_h5(path)
    for step in (1, 4, 100):
        chunks = list(iterate_top_tagging_h5(path, step_size=step))
        assert len(chunks) == -(-23 // step)
        assert ak.array_equal(ak.concatenate(chunks), whole)
    assert ak.array_equal(read_top_tagging_h5(path, start=5, stop=17, step_size=4), whole[5:17])
    assert ak.array_equal(read_top_tagging_h5(path, start=-3), whole[-3:])


def test_top_tagging_reads_a_slice_in_chunks(tmp_path, monkeypatch):
    path = write_top_tagging_h5(random_events(30, seed=5, max_particles=8), tmp_path / "s.h5", max_constituents=8)
    import tables

    calls = []
    read = tables.Table.read

    def spy(self, start=None, stop=None, *args, **kwargs):
        calls.append((start, stop))
        return read(self, start, stop, *args, **kwargs)

    monkeypatch.setattr(tables.Table, "read", spy)
    events = read_top_tagging_h5(path, start=10, stop=27, step_size=5)
    assert len(events) == 17
    assert calls == [(10, 15), (15, 20), (20, 25), (25, 27)]  # only the rows asked for, a chunk at a time


@pytest.mark.parametrize("drop, rename, needle", [("PX_3", None, "PX_3"), (None, ("is_signal_new", "label"), "is_signal_new"), (None, ("PZ_0", "pz_0"), "PZ_0")])
def test_top_tagging_wrong_columns_are_named(tmp_path, drop, rename, needle):
    frame, _ = tt_frame(5, n_slots=10)
    if drop:
        frame = frame.drop(columns=[drop])
    if rename:
        frame = frame.rename(columns={rename[0]: rename[1]})
    path = save_frame(frame, tmp_path / "w.h5")
    with pytest.raises(DataFileError, match=needle) as info:
        read_top_tagging_h5(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_top_tagging_wrong_key(tmp_path):
    path = tmp_path / "k.h5"
    tt_frame(3, n_slots=5)[0].to_hdf(path, key="jets", format="table")
    with pytest.raises(DataFileError, match="no key 'table'"):
        read_top_tagging_h5(path)


@pytest.mark.parametrize("start, row, slot, column", [(0, 7, 2, "PX"), (4, 9, 150, "E"), (0, 0, 0, "PZ")])
def test_top_tagging_nan_names_file_and_event(tmp_path, start, row, slot, column):
    frame, _ = tt_frame(12, seed=3)
    frame.loc[row, f"{column}_{slot}"] = np.nan  # slot 150 is padding: still reported
    path = save_frame(frame, tmp_path / "nan.h5")
    with pytest.raises(DataFileError) as info:
        read_top_tagging_h5(path, start=start, step_size=3)
    message = str(info.value)
    assert str(path) in message and "NaN" in message and f"event {row}" in message


@pytest.mark.parametrize("empty_rows", [[0], [3, 4, 9]])
def test_top_tagging_empty_rows(tmp_path, empty_rows):
    frame, constituents = tt_frame(10, n_slots=30, seed=6)
    columns = [c for c in frame.columns if c[:2] in ("E_", "PX", "PY", "PZ")]
    frame.loc[empty_rows, columns] = 0.0
    path = save_frame(frame, tmp_path / "empty.h5")
    with pytest.raises(DataFileError, match=f"event {empty_rows[0]} is empty") as info:
        read_top_tagging_h5(path, step_size=4)
    assert str(path) in str(info.value)
    with pytest.warns(UserWarning, match=f"dropped {len(empty_rows)} empty"):
        events = read_top_tagging_h5(path, drop_empty=True, step_size=4)
    kept = [i for i in range(10) if i not in empty_rows]
    assert len(events) == len(kept)
    assert events.label.tolist() == frame.is_signal_new.iloc[kept].tolist()
    assert ak.num(events.particles, axis=1).tolist() == [len(constituents[i]) for i in kept]


@pytest.mark.parametrize("damage", ["cut", "noise", "missing"])
def test_top_tagging_damaged_files(tmp_path, damage):
    path = write_top_tagging_h5(random_events(40, seed=1), tmp_path / "d.h5", max_constituents=40)
    if damage == "cut":
        cut_file(path)
    elif damage == "noise":
        noise_file(path)
    else:
        path.unlink()
    with pytest.raises(DataFileError) as info:
        read_top_tagging_h5(path)
    assert info.value.path == path and str(path) in str(info.value)


@pytest.mark.parametrize("where", [0.4, 0.6])
def test_top_tagging_corrupted_bytes_detected(tmp_path, where):
    path = write_top_tagging_h5(random_events(300, seed=8), tmp_path / "c.h5", max_constituents=40)
    data = bytearray(path.read_bytes())
    start = int(len(data) * where)
    data[start : start + 16] = b"\x17" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DataFileError) as info:
        read_top_tagging_h5(path)
    assert str(path) in str(info.value)


def test_top_tagging_uncompressed_option(tmp_path):
    events = random_events(20, seed=9)
    small = write_top_tagging_h5(events, tmp_path / "z.h5", max_constituents=60)
    plain = write_top_tagging_h5(events, tmp_path / "p.h5", max_constituents=60, complevel=0)
    assert plain.stat().st_size > 2 * small.stat().st_size
    assert ak.array_equal(read_top_tagging_h5(plain), read_top_tagging_h5(small))


def test_top_tagging_overwrite_refused_and_failed_write_clean(tmp_path, monkeypatch):
    path = write_top_tagging_h5(random_events(3, seed=1, max_particles=30), tmp_path / "o.h5", max_constituents=30)
    before = path.read_bytes()
    with pytest.raises(DataFileError, match="refusing to overwrite"):
        write_top_tagging_h5(random_events(4, seed=2, max_particles=30), path, max_constituents=30)
    assert path.read_bytes() == before

    def broken(self, key, value, *args, **kwargs):
        Path(self.filename).write_bytes(b"\x89HDF partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.HDFStore, "put", broken)
    with pytest.raises(OSError, match="disk full"):
        write_top_tagging_h5(random_events(4, seed=2, max_particles=30), path, max_constituents=30, overwrite=True)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["o.h5"]


# ----------------------------------------------------------------------------------------------
# Delphes ROOT
# ----------------------------------------------------------------------------------------------
def expected_delphes(source: dict) -> dict[str, np.ndarray]:
    """What read_delphes must return for the default EFlow collections, built independently."""
    def f64(x):
        return ak.values_astype(x, np.float64)

    t, g, h = source["EFlowTrack"], source["EFlowPhoton"], source["EFlowNeutralHadron"]
    pieces = []
    for kind, c in (("track", t), ("photon", g), ("neutral", h)):
        pt = f64(c["PT"] if kind == "track" else c["ET"])
        eta, phi = f64(c["Eta"]), f64(c["Phi"])
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        if kind == "track":
            energy = np.sqrt(px**2 + py**2 + pz**2 + f64(c["Mass"]) ** 2)
            pid, charge, d0, z0 = c["PID"], f64(c["Charge"]), f64(c["D0"]), f64(c["DZ"])
        else:
            energy = f64(c["E"])
            pid = ak.zeros_like(pt, dtype=np.int64) + (22 if kind == "photon" else 0)
            charge, d0, z0 = pt * 0, pt * np.nan, pt * np.nan
        pieces.append(ak.zip(dict(px=px, py=py, pz=pz, E=energy, pt=pt, eta=eta, phi=phi,
                                  charge=charge, pid=ak.values_astype(pid, np.int64), d0=d0, z0=z0)))
    particles = ak.concatenate(pieces, axis=1)
    out = {f: flat(particles[f]) for f in ak.fields(particles)}
    out["counts"] = ak.to_numpy(ak.num(particles, axis=1))
    return out


@pytest.fixture(scope="module")
def delphes_file(tmp_path_factory):
    source = delphes_source(30, seed=7)
    return write_delphes_like(tmp_path_factory.mktemp("delphes") / "delphes.root", source), source


@pytest.mark.parametrize("dotted", [True, False])
def test_delphes_eflow_matches_source(tmp_path, dotted):
    source = delphes_source(30, seed=7)
    path = write_delphes_like(tmp_path / "d.root", source, dotted=dotted)
    events = read_delphes(path)
    expected = expected_delphes(source)
    assert ak.num(events.particles, axis=1).tolist() == expected["counts"].tolist()
    for name in ("px", "py", "pz", "E", "pt", "eta", "phi", "d0", "z0"):
        np.testing.assert_allclose(flat(events.particles[name]), expected[name], rtol=1e-12, atol=1e-12, err_msg=name)
    for name in ("pid", "charge"):
        np.testing.assert_array_equal(flat(events.particles[name]), expected[name])
    assert np.all(flat(events.particles.jet) == -1) and np.all(ak.to_numpy(events.label) == 0)


@pytest.mark.parametrize("step", [1, 4, 11])
def test_delphes_chunked_equals_whole(delphes_file, step):
    path, _ = delphes_file
    whole = read_delphes(path, label=1)
    chunks = list(iterate_delphes(path, step_size=step, label=1))
    assert len(chunks) > 1 and all(len(c) <= step for c in chunks)
    assert ak.array_equal(ak.concatenate(chunks), whole, equal_nan=True)
    assert ak.array_equal(read_delphes(path, step_size=step, label=1), whole, equal_nan=True)
    assert np.all(ak.to_numpy(whole.label) == 1)


def test_delphes_generator_particles_keep_status_one(delphes_file):
    path, source = delphes_file
    events = read_delphes(path, collections=("Particle",))
    part = source["Particle"]
    keep = part["Status"] == 1
    assert ak.num(events.particles, axis=1).tolist() == ak.num(part["PID"][keep], axis=1).tolist()
    np.testing.assert_array_equal(flat(events.particles.pz), flat(part["Pz"][keep]).astype(np.float64))
    np.testing.assert_array_equal(flat(events.particles.pid), flat(part["PID"][keep]))
    assert "d0" not in ak.fields(events.particles)


def test_delphes_collection_order(delphes_file):
    path, source = delphes_file
    events = read_delphes(path, collections=("EFlowNeutralHadron", "EFlowTrack"))
    hadrons, tracks = source["EFlowNeutralHadron"]["ET"], source["EFlowTrack"]["PID"]
    expected = [[0] * len(h) + t for h, t in zip(hadrons.tolist(), tracks.tolist())]
    assert events.particles.pid.tolist() == expected
    expected_pt = [h + t for h, t in zip(hadrons.tolist(), source["EFlowTrack"]["PT"].tolist())]
    np.testing.assert_array_equal(flat(events.particles.pt), np.concatenate(expected_pt).astype(np.float32))


@pytest.mark.parametrize(
    "kwargs, needle",
    [({"tree": "Events"}, "no tree 'Events'"), ({"collections": ("EFlowTrack", "Muon")}, "Muon"), ({"collections": ("Jet",)}, "Jet")],
)
def test_delphes_missing_tree_or_collection(delphes_file, kwargs, needle):
    path, _ = delphes_file
    with pytest.raises(DataFileError, match=needle) as info:
        read_delphes(path, **kwargs)
    assert str(path) in str(info.value)


def test_delphes_missing_branch_is_named(tmp_path):
    source = delphes_source(6, seed=1)
    del source["EFlowTrack"]["Phi"]
    path = write_delphes_like(tmp_path / "nophi.root", source)
    with pytest.raises(DataFileError, match=r"EFlowTrack\.Phi"):
        read_delphes(path)


def with_nan(jagged: ak.Array, event: int) -> ak.Array:
    """``jagged`` with its first value in ``event`` replaced by NaN."""
    values, counts = flat(jagged).copy(), ak.to_numpy(ak.num(jagged, axis=1))
    values[counts[:event].sum()] = np.nan
    return ak.unflatten(values, counts)


@pytest.mark.parametrize("event, step, collection, leaf", [(0, 100, "EFlowTrack", "PT"), (17, 5, "EFlowNeutralHadron", "Eta"), (29, 4, "EFlowTrack", "Phi")])
def test_delphes_nan_names_event(tmp_path, event, step, collection, leaf):
    source = delphes_source(30, seed=3)
    assert len(source[collection][leaf][event]) > 0
    source[collection][leaf] = with_nan(source[collection][leaf], event)
    path = write_delphes_like(tmp_path / "nan.root", source)
    with pytest.raises(DataFileError) as info:
        read_delphes(path, step_size=step)
    message = str(info.value)
    assert str(path) in message and "NaN" in message and f"event {event}" in message


def test_delphes_empty_events(tmp_path):
    source = delphes_source(12, seed=4, empty=(2, 7))
    path = write_delphes_like(tmp_path / "empty.root", source)
    with pytest.raises(DataFileError, match="event 2 is empty"):
        read_delphes(path, step_size=5)
    with pytest.warns(UserWarning, match="dropped 2 empty"):
        events = read_delphes(path, drop_empty=True, step_size=5)
    assert len(events) == 10
    assert ak.all(ak.num(events.particles, axis=1) > 0)
    assert len(read_delphes(path, collections=("Particle",))) == 12  # generator particles in every event
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = list(iterate_delphes(path, drop_empty=True, step_size=5))
    assert sum(len(c) for c in chunks) == 10 and len(caught) == 2  # events 2 and 7 in chunks 0 and 1


@pytest.mark.parametrize("damage", ["cut", "noise", "missing"])
def test_delphes_damaged_files(tmp_path, damage):
    path = write_delphes_like(tmp_path / "bad.root", delphes_source(200, seed=2), baskets=4)
    if damage == "cut":
        cut_file(path)
    elif damage == "noise":
        noise_file(path)
    else:
        path.unlink()
    with pytest.raises(DataFileError) as info:
        read_delphes(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_delphes_cut_at_the_end_is_detected(tmp_path):
    path = write_delphes_like(tmp_path / "tail.root", delphes_source(200, seed=2), baskets=4)
    cut_file(path, 0.9)
    with pytest.raises(DataFileError):
        read_delphes(path)


# ----------------------------------------------------------------------------------------------
# energyflow .npz
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, seed", [(1, 0), (15, 1), (60, 2)])
def test_npz_round_trip(tmp_path, n, seed):
    events = random_events(n, seed=seed)
    path = write_npz(events, tmp_path / "ef.npz")
    back = read_npz(path)
    expected = by_pt(events)
    assert ak.num(back.particles, axis=1).tolist() == ak.num(expected, axis=1).tolist()
    for name in ("px", "py", "pz", "E", "pt", "eta", "phi"):
        np.testing.assert_allclose(flat(back.particles[name]), flat(expected[name]), rtol=1e-10, atol=1e-10, err_msg=name)
    for name in ("pid", "charge"):
        np.testing.assert_array_equal(flat(back.particles[name]), flat(expected[name]))
    assert back.label.tolist() == events.label.tolist()
    with np.load(path) as archive:
        X = archive["X"]
        assert X.shape == (n, int(ak.max(ak.num(events.particles, axis=1))), 4)
        # column 1 is the rapidity y = 0.5 ln((E + pz) / (E - pz)), not η
        e, pz = ak.to_numpy(ak.firsts(expected.E)), ak.to_numpy(ak.firsts(expected.pz))
        np.testing.assert_allclose(X[:, 0, 1], 0.5 * np.log((e + pz) / (e - pz)), rtol=1e-9, atol=1e-12)


def test_npz_rapidity_is_converted_with_pid_mass(tmp_path):
    # one proton (m = 0.938 GeV) at pT = 1 GeV, y = 2 and one photon at pT = 3, y = -1
    X = np.zeros((1, 3, 4))
    X[0, 0] = (1.0, 2.0, 0.5, 2212)
    X[0, 1] = (3.0, -1.0, -2.0, 22)
    path = tmp_path / "by_hand.npz"
    np.savez(path, X=X, y=np.array([1.0]))
    events = read_npz(path)
    p = events.particles[0]
    mt = np.sqrt(1 + 0.93827208816**2)
    assert p.pz[0] == pytest.approx(mt * np.sinh(2.0)) and p.E[0] == pytest.approx(mt * np.cosh(2.0))
    assert p.eta[0] != pytest.approx(2.0, abs=1e-3)  # η ≠ y for a massive particle
    assert p.eta[1] == pytest.approx(-1.0) and p.charge.tolist() == [1.0, 0.0]
    assert events.label.tolist() == [1] and p.jet.tolist() == [0, 0]


def test_npz_three_columns(tmp_path):
    X = np.zeros((2, 2, 3))
    X[0, 0] = (5.0, 0.3, 1.0)
    X[1, :] = ((2.0, -0.5, 0.1), (1.0, 0.2, 3.0))
    path = tmp_path / "three.npz"
    np.savez(path, X=X, y=np.array([0, 1]))
    events = read_npz(path)
    assert ak.num(events.particles, axis=1).tolist() == [1, 2]
    assert flat(events.particles.pid).tolist() == [0, 0, 0]
    np.testing.assert_allclose(flat(events.particles.eta), [0.3, -0.5, 0.2])


@pytest.mark.parametrize(
    "arrays, needle",
    [
        ({"X": np.ones((2, 3, 4))}, "'y'"),
        ({"y": np.zeros(2)}, "'X'"),
        ({"X": np.ones((2, 3)), "y": np.zeros(2)}, "shape"),
        ({"X": np.ones((2, 3, 4)), "y": np.zeros(3)}, "y has shape"),
        ({"X": np.ones((2, 3, 4)), "y": np.array([0.5, 1.0])}, r"column 'y', event 0: 0.5 is not an integer"),
        ({"X": np.full((2, 3, 4), 211.5), "y": np.zeros(2)}, r"\(pid\)', event 0: 211.5 is not an integer"),
        ({"X": np.array([[None]], dtype=object), "y": np.zeros(1)}, "npz"),
    ],
)
def test_npz_wrong_content(tmp_path, arrays, needle):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFileError, match=needle) as info:
        read_npz(path)
    assert str(path) in str(info.value)


def test_npz_nan_names_event(tmp_path):
    path = write_npz(random_events(9, seed=3), tmp_path / "n.npz")
    with np.load(path) as archive:
        X, y = archive["X"].copy(), archive["y"]
    X[6, 0, 1] = np.nan
    np.savez(path, X=X, y=y)
    with pytest.raises(DataFileError) as info:
        read_npz(path)
    assert str(path) in str(info.value) and "NaN" in str(info.value) and "event 6" in str(info.value)


def test_npz_empty_rows(tmp_path):
    path = write_npz(random_events(8, seed=4), tmp_path / "e.npz")
    with np.load(path) as archive:
        X, y = archive["X"].copy(), archive["y"]
    X[[1, 5]] = 0.0
    np.savez(path, X=X, y=y)
    with pytest.raises(DataFileError, match="event 1 is empty"):
        read_npz(path)
    with pytest.warns(UserWarning, match="dropped 2 empty"):
        events = read_npz(path, drop_empty=True)
    assert events.label.tolist() == [int(v) for i, v in enumerate(y) if i not in (1, 5)]


@pytest.mark.parametrize("damage", ["cut", "noise", "missing", "npy"])
def test_npz_damaged_files(tmp_path, damage):
    path = write_npz(random_events(30, seed=2), tmp_path / "d.npz")
    if damage == "cut":
        cut_file(path)
    elif damage == "noise":
        noise_file(path)
    elif damage == "npy":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(3))
    else:
        path.unlink()
    with pytest.raises(DataFileError) as info:
        read_npz(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_npz_overwrite_refused_and_failed_write_clean(tmp_path, monkeypatch):
    path = write_npz(random_events(3, seed=1), tmp_path / "o.npz")
    before = path.read_bytes()
    with pytest.raises(DataFileError, match="refusing to overwrite"):
        write_npz(random_events(4, seed=2), path)
    assert path.read_bytes() == before

    def broken(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        write_npz(random_events(4, seed=2), path, overwrite=True)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["o.npz"]


def test_write_npz_keeps_the_given_name(tmp_path):
    path = write_npz(random_events(2), tmp_path / "no_suffix")
    assert listing(tmp_path) == ["no_suffix"] and len(read_npz(path)) == 2


@pytest.mark.parametrize("step", [1, 7, 1000])
@pytest.mark.parametrize("compressed", [True, False])
def test_npz_chunked_equals_whole(tmp_path, step, compressed):
    events = random_events(23, seed=6)
    path = write_npz(events, tmp_path / "c.npz")
    if not compressed:  # np.savez stores the members uncompressed: the same streaming path
        with np.load(path) as archive:
            X, y = archive["X"], archive["y"]
        np.savez(path, X=X, y=y)
    whole = read_npz(path)
    chunks = list(iterate_npz(path, step_size=step))
    assert len(chunks) == -(-23 // step) and all(len(c) <= step for c in chunks)
    assert ak.array_equal(ak.concatenate(chunks), whole)


def test_npz_fortran_order_is_read(tmp_path):
    events = random_events(5, seed=7)
    path = write_npz(events, tmp_path / "c.npz")
    with np.load(path) as archive:
        X, y = archive["X"], archive["y"]
    np.savez(tmp_path / "f.npz", X=np.asfortranarray(X), y=y)
    assert ak.array_equal(read_npz(tmp_path / "f.npz", step_size=2), read_npz(path))
