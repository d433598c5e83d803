"""One read/write/iterate/describe dispatch over every format, chosen by content and suffix."""
from __future__ import annotations

import gzip
import re
import shutil

import awkward as ak
import numpy as np
import pytest
from datafiles import delphes_source, random_events, write_delphes_like, z_events

from jetviz.data import formats
from jetviz.data.formats.lhe import write_lhe
from jetviz.data.formats.parquet import save_events
from jetviz.errors import DataFileError


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One small file of every format, each written by the tool people use (or jetviz's writer)."""
    root = tmp_path_factory.mktemp("formats")
    events = random_events(12, seed=3, max_particles=20, extra=True)
    made = {
        "parquet": save_events(events, root / "ev.parquet", {"recipe": "test"}),
        "h5": formats.write(events, root / "jets.h5", max_constituents=20),
        "npz": formats.write(events, root / "jets.npz"),
        "root": write_delphes_like(root / "run.root", delphes_source(9, seed=1)),
        "lhe": write_lhe(root / "z.lhe", z_events(5)),
    }
    with open(made["lhe"], "rb") as src, gzip.open(root / "z.lhe.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    made["lhe.gz"] = root / "z.lhe.gz"
    return made, events


@pytest.mark.parametrize("kind, name, n", [
    ("parquet", "jetviz-parquet", 12), ("h5", "top-tagging-h5", 12), ("npz", "energyflow-npz", 12),
    ("root", "delphes-root", 9), ("lhe", "lhe", 5), ("lhe.gz", "lhe", 5),
])
def test_read_iterate_describe_every_format(files, kind, name, n):
    made, _ = files
    path = made[kind]
    assert formats.format_of(path).name == name
    events = formats.read(path)
    assert len(events) == n and "particles" in ak.fields(events)
    chunks = list(formats.iterate(path, step_size=4))
    assert [len(c) for c in chunks] == [4] * (n // 4) + ([n % 4] if n % 4 else [])
    assert ak.array_equal(ak.concatenate(chunks), events, equal_nan=True)
    info = formats.describe(path)
    assert info["format"] == name and info["size_bytes"] == path.stat().st_size
    assert info["n_events"] in (n, None) and info["kind"] in ("jets", "events")


def test_lhe_events_are_the_outgoing_partons(files):
    made, _ = files
    events = formats.read(made["lhe"])
    hard = z_events(5)
    for i, event in enumerate(hard):
        out = event["status"] == 1
        assert events.particles.pid[i].tolist() == event["pid"][out].tolist()
        np.testing.assert_allclose(events.particles.E[i].to_numpy(), event["E"][out])


@pytest.mark.parametrize("kind, wrong_name", [("parquet", "ev.h5"), ("h5", "jets.parquet"), ("npz", "jets.root"), ("root", "run.npz"), ("lhe", "z.txt")])
def test_content_wins_over_a_wrong_suffix(files, tmp_path, kind, wrong_name):
    made, _ = files
    copy = tmp_path / wrong_name
    shutil.copy(made[kind], copy)
    assert ak.array_equal(formats.read(copy), formats.read(made[kind]), equal_nan=True)


@pytest.mark.parametrize("name, needle", [("out.root", "cannot write Delphes ROOT"), ("out.lhe", "cannot write Les Houches"),
                                          ("out.csv", "unknown extension '.csv'"), ("out", "unknown extension '(none)'")])
def test_write_refuses_before_writing(files, tmp_path, name, needle):
    _, events = files
    (tmp_path / "keep.txt").write_bytes(b"precious")
    before = snapshot(tmp_path)
    with pytest.raises(DataFileError, match=re.escape(needle)) as info:
        formats.write(events, tmp_path / name)
    assert name in str(info.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt", ["jetviz-parquet", "top-tagging-h5", "energyflow-npz"])
def test_write_by_format_name_round_trips(files, tmp_path, fmt):
    _, events = files
    path = formats.write(events, tmp_path / "any.name", format=fmt)
    assert formats.format_of(path).name == fmt
    assert ak.num(formats.read(path).particles, axis=1).tolist() == ak.num(events.particles, axis=1).tolist()


@pytest.mark.parametrize("content, needle", [(b"", "empty (0 bytes)"), (b"hello world, not data", "not in a format jetviz reads")])
def test_unknown_content_and_suffix(tmp_path, content, needle):
    path = tmp_path / "mystery.dat"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=re.escape(needle)):
        formats.read(path)
