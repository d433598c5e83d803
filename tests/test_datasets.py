"""The data root, dataset names (confined), cheap listings and content fingerprints."""
from __future__ import annotations

import builtins
import json
import os

import awkward as ak
import numpy as np
import pytest
from datafiles import cut_file, delphes_source, random_events, save_frame, tt_frame, write_delphes_like, z_events

from jetviz.cli import main
from jetviz.data import datasets
from jetviz.data.formats.lhe import write_lhe
from jetviz.data.formats.parquet import save_events
from jetviz.errors import ConfigError, DataFileError


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A data root with one file of every format, written by the tools people use, plus junk."""
    data = tmp_path / "jetviz-data"
    monkeypatch.setenv("JETVIZ_DATA", str(data))
    (data / "top-tagging").mkdir(parents=True)
    frame, _ = tt_frame(40, n_slots=30, seed=1)
    save_frame(frame, data / "top-tagging" / "train.h5")
    write_delphes_like((data / "delphes").mkdir() or data / "delphes" / "run1.root", delphes_source(12, seed=2))
    save_events(random_events(15, seed=3, extra=True), data / "mine.parquet", {"recipe": "by hand"})
    ef = random_events(9, seed=4)
    from jetviz.data.formats.energyflow import write_npz

    write_npz(ef, data / "ef.npz")
    write_lhe(data / "z.lhe", z_events(6))
    (data / "README.txt").write_text("my notes")
    (data / ".hidden.parquet").write_bytes(b"whatever")
    return data


def test_data_root_default_and_created(tmp_path, monkeypatch):
    monkeypatch.delenv("JETVIZ_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.data_root() == tmp_path / "home" / "jetviz-data" and (tmp_path / "home" / "jetviz-data").is_dir()
    monkeypatch.setenv("JETVIZ_DATA", str(tmp_path / "elsewhere" / "data"))
    assert datasets.data_root().is_dir()
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("JETVIZ_DATA", str(tmp_path / "afile"))
    with pytest.raises(DataFileError, match="data root"):
        datasets.data_root()


def test_names_resolve_inside_the_root(root):
    found = datasets.dataset("top-tagging/train.h5")
    assert found.path == (root / "top-tagging" / "train.h5").resolve() and found.name == "top-tagging/train.h5"
    events = found.read()
    assert len(events) == 40 and set(np.unique(events.label.to_numpy())) <= {0, 1}
    assert sum(len(c) for c in found.iterate(step_size=16)) == 40
    (root / "link.h5").symlink_to(root / "top-tagging" / "train.h5")  # a link inside the root is fine
    assert datasets.dataset("link.h5").path == found.path
    assert datasets.dataset("ee_6jet").is_recipe and datasets.dataset("ee_6jet").describe()["has_particle_truth"]


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret.parquet"
    save_events(random_events(2), secret)
    return secret


@pytest.mark.parametrize("kind", ["dotdot", "dotdot-deep", "absolute", "etc-passwd", "home", "symlink-file", "symlink-dir",
                                  "nul", "backslash", "empty"])
def test_escapes_are_refused_and_nothing_is_read(root, outside, monkeypatch, kind):
    (root / "out.parquet").symlink_to(outside)
    (root / "outdir").symlink_to(outside.parent)
    name = {
        "dotdot": f"../{outside.name}", "dotdot-deep": f"top-tagging/../../{outside.name}", "absolute": str(outside),
        "etc-passwd": "/etc/passwd", "home": "~/secret.parquet", "symlink-file": "out.parquet",
        "symlink-dir": f"outdir/{outside.name}", "nul": "mine.parquet\x00", "backslash": "..\\secret.parquet", "empty": " ",
    }[kind]
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(f) or real_open(f, *a, **k))
    with pytest.raises(ConfigError) as info:
        datasets.dataset(name)
    message = str(info.value)
    assert "data root" in message or "non-empty" in message
    assert opened == []  # refused before any file was opened


def test_missing_and_directory_names(root):
    with pytest.raises(DataFileError, match="no such dataset"):
        datasets.dataset("nope.h5")
    with pytest.raises(DataFileError, match="is a directory"):
        datasets.dataset("top-tagging")


def test_listing_every_format_damaged_and_junk(root, outside, monkeypatch):
    import pyarrow.parquet as pq
    import tables

    cut = root / "broken" / "cut.h5"
    cut.parent.mkdir()
    save_frame(tt_frame(200, n_slots=30)[0], cut)
    cut_file(cut, 0.3)
    (root / "broken" / "zero.parquet").write_bytes(b"")
    (root / "broken" / "junk.root").write_bytes(b"this is not ROOT at all" * 10)
    (root / "out.parquet").symlink_to(outside)
    monkeypatch.setattr(tables.Table, "read", lambda *a, **k: pytest.fail("a listing read rows"))
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("a listing read a whole Parquet file"))
    entries = {e["name"]: e for e in datasets.list_datasets()}
    assert "README.txt" not in entries and ".hidden.parquet" not in entries
    tt = entries["top-tagging/train.h5"]
    assert (tt["format"], tt["kind"], tt["n_events"], tt["label_source"], tt["damaged"]) == ("top-tagging-h5", "jets", 40, "is_signal_new", None)
    assert entries["delphes/run1.root"]["n_events"] == 12 and entries["delphes/run1.root"]["kind"] == "events"
    assert entries["mine.parquet"]["n_events"] == 15 and entries["mine.parquet"]["labels"] == [0, 1]
    assert entries["ef.npz"]["labels"] == [0, 1] and entries["ef.npz"]["n_events"] == 9
    assert entries["z.lhe"]["n_events"] == 6
    for name, needle in (("broken/cut.h5", "truncated or corrupted"), ("broken/zero.parquet", "empty (0 bytes)"),
                         ("broken/junk.root", ""), ("out.parquet", "outside the data root")):
        assert entries[name]["damaged"] is not None and needle in entries[name]["damaged"], entries[name]


def test_per_particle_truth_is_listed(root):
    save_events(random_events(4, seed=1), root / "no_truth.parquet")
    events = random_events(4, seed=2)
    particles = ak.with_field(events.particles, ak.zeros_like(events.particles.pid), "jet")
    save_events(ak.with_field(events, particles, "particles"), root / "truth.parquet")
    entries = {e["name"]: e for e in datasets.list_datasets()}
    assert entries["truth.parquet"]["has_particle_truth"] and not entries["no_truth.parquet"]["has_particle_truth"]


def test_fingerprint_notices_changes(tmp_path):
    path = tmp_path / "big.bin"
    rng = np.random.default_rng(0)
    path.write_bytes(rng.integers(0, 256, 3 * 2**20, dtype=np.uint8).tobytes())
    first = datasets.fingerprint(path)
    assert datasets.fingerprint(path) == first and datasets.fingerprint_changes(first, path) is None
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the last MiB
    path.write_bytes(bytes(data))
    os.utime(path, ns=(first["mtime_ns"], first["mtime_ns"]))  # even with the old mtime
    assert "head_tail_sha256" in datasets.fingerprint_changes(first, path)
    path.write_bytes(bytes(data) + b"x")
    assert "size_bytes" in datasets.fingerprint_changes(first, path)
    path.unlink()
    assert "gone" in datasets.fingerprint_changes(first, path)


def test_run_record(root):
    record = datasets.dataset("mine.parquet").record()
    assert record["name"] == "mine.parquet" and record["format"] == "jetviz-parquet" and record["n_events"] == 15
    assert record["fingerprint"] == datasets.fingerprint(root / "mine.parquet")
    assert datasets.dataset("top_qcd").record() == {"name": "top_qcd", "source": "recipe"}
    assert datasets.from_path(root / "ef.npz").read().label.tolist() == datasets.dataset("ef.npz").read().label.tolist()


def test_cli_datasets_and_info_by_name(root, capsys):
    (root / "cut.h5").write_bytes((root / "top-tagging" / "train.h5").read_bytes()[:5000])
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "top-tagging/train.h5" in out and "damaged:" in out and "README" not in out
    assert main(["datasets", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in listing["datasets"]} >= {"top-tagging/train.h5", "mine.parquet", "cut.h5"}
    assert main(["info", "top-tagging/train.h5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == 40 and summary["name"] == "top-tagging/train.h5"
    assert main(["info", "top_qcd"]) == 0 and json.loads(capsys.readouterr().out)["kind"] == "jets"
    assert main(["info", "no-such-dir/x.h5"]) == 2  # neither a file here nor a dataset under the root
    assert "no such dataset under the data root" in capsys.readouterr().err
