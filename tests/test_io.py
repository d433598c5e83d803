"""Tests of jetviz.data.io: atomic writes and the Parquet events format."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jetviz.data.formats import parquet
from jetviz.data.formats.parquet import file_info, file_metadata, load_events, save_events
from jetviz.data.io import atomic_path, atomic_write
from jetviz.data.schema import make_events, make_jets
from jetviz.errors import DataFileError, SchemaError

_MASSES = {22: 0.0, 211: 0.13957039, 321: 0.493677, 130: 0.497611, 2112: 0.93956542052, 11: 0.51099895e-3}
_CHARGES = {22: 0, 211: 1, -211: -1, 321: 1, -321: -1, 130: 0, 2112: 0, 11: -1, -11: 1}


def random_events(n: int, seed: int = 0, tracks: bool = False, jets: bool = False, extra: bool = False) -> ak.Array:
    """``n`` physical events with random momenta (pT 0.5–50 GeV, |η| < 3, masses from the pid)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 25, n)
    total = int(counts.sum())
    pt = rng.exponential(8.0, total) + 0.5
    eta = rng.uniform(-3, 3, total)
    phi = rng.uniform(-np.pi, np.pi, total)
    pid = rng.choice(np.array(sorted(_CHARGES)), total)
    mass = np.array([_MASSES[abs(int(p))] for p in pid])
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    particles = dict(
        px=px, py=py, pz=pz, E=np.sqrt(px**2 + py**2 + pz**2 + mass**2),
        charge=np.array([_CHARGES[int(p)] for p in pid], dtype=float), pid=pid,
        jet=rng.integers(-1, 4, total),
    )
    if tracks:
        charged = particles["charge"] != 0
        particles["d0"] = np.where(charged, rng.normal(0, 0.05, total), np.nan)
        particles["z0"] = np.where(charged, rng.normal(0, 0.5, total), np.nan)
    jet_array = None
    if jets:
        n_jets = rng.integers(0, 4, n)
        m = int(n_jets.sum())
        jp = rng.normal(0, 50, (3, m))
        jet_array = make_jets(jp[0], jp[1], jp[2], np.sqrt((jp**2).sum(0) + 25.0), n_jets)
    fields = None
    if extra:
        fields = {
            "weight": rng.uniform(0.5, 2, n).astype(np.float32),
            "n_jets_truth": rng.integers(0, 6, n).astype(np.int32),
            "sqrt_s": np.full(n, 500.0),
        }
    return make_events(particles, counts, rng.integers(0, 2, n), jets=jet_array, event_fields=fields)


def assert_same_events(a: ak.Array, b: ak.Array) -> None:
    assert str(a.type) == str(b.type)
    assert ak.array_equal(a, b, equal_nan=True, dtype_exact=True, check_parameters=True)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------------------------
def test_atomic_write_creates_parents_and_writes(tmp_path):
    target = tmp_path / "a" / "b" / "file.bin"
    with atomic_write(target) as handle:
        handle.write(b"hello")
        assert not target.exists()  # nothing visible before the block ends
    assert target.read_bytes() == b"hello"
    assert listing(target.parent) == ["file.bin"]


def test_atomic_write_text_mode(tmp_path):
    target = tmp_path / "t.json"
    with atomic_write(target, "w") as handle:
        json.dump({"φ": 1}, handle, ensure_ascii=False)
    assert json.loads(target.read_text(encoding="utf-8")) == {"φ": 1}


@pytest.mark.parametrize("existed", [True, False])
def test_atomic_write_failure_leaves_target_and_no_temp(tmp_path, existed):
    target = tmp_path / "data.bin"
    if existed:
        target.write_bytes(b"original")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as handle:
            handle.write(b"x" * 10_000)
            raise RuntimeError("boom")
    assert listing(tmp_path) == (["data.bin"] if existed else [])
    if existed:
        assert target.read_bytes() == b"original"


def test_atomic_write_refuses_overwrite(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"original")
    with pytest.raises(DataFileError, match="exists; refusing to overwrite") as info:
        with atomic_write(target, overwrite=False) as handle:
            handle.write(b"new")
    assert info.value.path == target
    assert target.read_bytes() == b"original"
    assert listing(tmp_path) == ["data.bin"]
    with atomic_write(target, overwrite=True) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


def test_atomic_path_refuses_target_appearing_meanwhile(tmp_path):
    target = tmp_path / "late.bin"
    with pytest.raises(DataFileError, match="refusing to overwrite"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert listing(tmp_path) == ["late.bin"]


def test_atomic_write_keeps_permissions_of_replaced_file(tmp_path):
    target = tmp_path / "perm.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with atomic_write(target) as handle:
        handle.write(b"new")
    assert target.stat().st_mode & 0o777 == 0o640


def test_atomic_write_rejects_read_mode(tmp_path):
    with pytest.raises(ValueError):
        with atomic_write(tmp_path / "x", mode="rb"):
            pass


# ----------------------------------------------------------------------------------------------
# save_events / load_events round trips
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, tracks, jets, extra",
    [(1, False, False, False), (17, True, False, False), (40, True, True, True), (5, False, True, False)],
)
def test_round_trip_exact(tmp_path, n, tracks, jets, extra):
    events = random_events(n, seed=n, tracks=tracks, jets=jets, extra=extra)
    meta = {"recipe": "toy", "params": {"n": n, "sqrt_s": 500.0}, "seed": 12, "versions": {"pythia": "8.317"}}
    path = save_events(events, tmp_path / "ev.parquet", metadata=meta)
    assert path == tmp_path / "ev.parquet"
    loaded, loaded_meta = load_events(path)
    assert_same_events(events, loaded)
    assert loaded_meta == meta
    assert ("d0" in ak.fields(loaded.particles)) == tracks
    assert ("jets" in ak.fields(loaded)) == jets
    if tracks:  # NaN for neutrals survives
        neutral = ak.flatten(loaded.particles.charge == 0)
        assert np.all(np.isnan(ak.to_numpy(ak.flatten(loaded.particles.d0))[ak.to_numpy(neutral)]))
    assert listing(tmp_path) == ["ev.parquet"]


def test_metadata_numpy_values_and_cheap_header(tmp_path):
    events = random_events(3)
    meta = {"seed": np.int64(7), "scale": np.float32(0.5), "arr": np.arange(3), "tuple": (1, 2), "path": Path("x/y")}
    path = save_events(events, tmp_path / "m.parquet", metadata=meta)
    expected = {"seed": 7, "scale": 0.5, "arr": [0, 1, 2], "tuple": [1, 2], "path": "x/y"}
    assert file_metadata(path) == expected
    assert load_events(path)[1] == expected
    info = file_info(path)
    assert info["n_events"] == 3 and info["format_version"] == parquet.FORMAT_VERSION
    assert info["fields"] == ["particles", "label"] and info["size_bytes"] == path.stat().st_size


def test_metadata_none_gives_empty_dict(tmp_path):
    path = save_events(random_events(2), tmp_path / "e.parquet")
    assert file_metadata(path) == {}


def test_unserialisable_metadata_writes_nothing(tmp_path):
    with pytest.raises(DataFileError, match="JSON"):
        save_events(random_events(2), tmp_path / "e.parquet", metadata={"f": object()})
    assert listing(tmp_path) == []


def test_save_validates_events(tmp_path):
    events = random_events(4)
    bad = ak.with_field(events, events.particles[["px", "py", "pz", "E"]], "particles")  # lacks fields
    with pytest.raises(SchemaError):
        save_events(bad, tmp_path / "bad.parquet")
    assert listing(tmp_path) == []


def test_save_refuses_overwrite_and_keeps_bytes(tmp_path):
    path = save_events(random_events(5, seed=1), tmp_path / "e.parquet", metadata={"v": 1})
    before = path.read_bytes()
    with pytest.raises(DataFileError, match="refusing to overwrite") as info:
        save_events(random_events(6, seed=2), path, metadata={"v": 2})
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    save_events(random_events(6, seed=2), path, metadata={"v": 2}, overwrite=True)
    assert file_metadata(path) == {"v": 2} and len(load_events(path)[0]) == 6


def test_failed_save_leaves_original_and_no_temp(tmp_path, monkeypatch):
    path = save_events(random_events(5, seed=1), tmp_path / "e.parquet")
    before = path.read_bytes()

    def broken_write_table(table, where, **kwargs):
        where.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken_write_table)
    with pytest.raises(OSError, match="disk full"):
        save_events(random_events(9, seed=3), path, overwrite=True)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["e.parquet"]


# ----------------------------------------------------------------------------------------------
# damaged and foreign files
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path) -> Path:
    return save_events(random_events(60, seed=5, tracks=True, jets=True), tmp_path / "good.parquet", {"k": 1})


def _expect_file_error(path: Path, *needles: str, footer: bool = True) -> DataFileError:
    """load_events raises naming the file and ``needles``; so does file_metadata if ``footer``."""
    for reader in (load_events, file_metadata) if footer else (load_events,):
        with pytest.raises(DataFileError) as info:
            reader(path)
        if reader is load_events:
            error = info.value
    assert error.path == path and str(path) in str(error)
    for needle in needles:
        assert needle in str(error)
    return error


def test_missing_file(tmp_path):
    _expect_file_error(tmp_path / "nope.parquet", "no such file")


def test_directory_is_not_a_file(tmp_path):
    _expect_file_error(tmp_path, "directory")


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.99])
def test_truncated_file(saved, fraction):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * fraction)])
    _expect_file_error(saved, "truncated or corrupted")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.parquet"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _expect_file_error(path, "not a readable Parquet file")


@pytest.mark.parametrize("where", [0.3, 0.5])
def test_corrupted_data_pages_detected(saved, where):
    data = bytearray(saved.read_bytes())
    start = int(len(data) * where)
    data[start : start + 32] = np.random.default_rng(1).integers(0, 256, 32, dtype=np.uint8).tobytes()
    saved.write_bytes(bytes(data))
    with pytest.raises(DataFileError) as info:
        load_events(saved)
    assert str(saved) in str(info.value)


def test_parquet_without_jetviz_metadata(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), path)
    _expect_file_error(path, "not a jetviz events file")


def test_awkward_parquet_without_jetviz_metadata(tmp_path):
    path = tmp_path / "ak.parquet"
    ak.to_parquet(random_events(3), path)
    _expect_file_error(path, "not a jetviz events file")


def _write_with_header(path: Path, array: ak.Array, header: dict) -> None:
    table = ak.to_arrow_table(array, extensionarray=True)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"jetviz": json.dumps(header).encode()})
    pq.write_table(table, path)


def _header(n: int, **changes) -> dict:
    header = {"format": "jetviz-events", "format_version": 1, "n_events": n, "metadata": {}}
    header.update(changes)
    return header


def test_wrong_schema_is_named(tmp_path):
    events = random_events(4)
    fields = [f for f in ak.fields(events.particles) if f != "pid"]
    bad = ak.zip({"particles": events.particles[fields], "label": events.label}, depth_limit=1)
    path = tmp_path / "wrong.parquet"
    _write_with_header(path, bad, _header(4))
    error = _expect_file_error(path, "pid", footer=False)
    assert "particles lack the field(s) ['pid']" in error.problem
    assert file_metadata(path) == {}  # the footer alone is fine: file_metadata stays cheap


def test_nan_inside_file_is_reported(tmp_path):
    events = random_events(6, seed=3)
    flat = {f: ak.to_numpy(ak.flatten(events.particles[f])).copy() for f in ak.fields(events.particles)}
    counts = ak.num(events.particles, axis=1).to_numpy()
    flat["px"][counts[:4].sum()] = np.nan  # first particle of event 4
    particles = ak.unflatten(ak.zip(flat), counts)
    bad = ak.zip({"particles": particles, "label": events.label}, depth_limit=1)
    path = tmp_path / "nan.parquet"
    _write_with_header(path, bad, _header(6))
    _expect_file_error(path, "NaN", "event 4", footer=False)


@pytest.mark.parametrize(
    "header, needle",
    [
        ({"format": "something-else", "format_version": 1}, "does not describe"),
        (_header(3, format_version=99), "format_version 99"),
        (_header(7), "metadata says 7"),
    ],
)
def test_bad_headers(tmp_path, header, needle):
    path = tmp_path / "h.parquet"
    _write_with_header(path, random_events(3), header)
    with pytest.raises(DataFileError, match=needle):
        load_events(path)


def test_error_is_picklable_with_path(tmp_path):
    with pytest.raises(DataFileError) as info:
        load_events(tmp_path / "missing.parquet")
    again = pickle.loads(pickle.dumps(info.value))
    assert again.path == info.value.path and again.problem == "no such file"
