"""Out of core: padded jet blocks from every format, and the memory-mapped preparation cache."""
from __future__ import annotations

import numpy as np
import pytest
from datafiles import random_events, save_frame, tt_frame

from jetviz.data import formats
from jetviz.data.datasets import dataset
from jetviz.data.formats._common import padded_by_pt
from jetviz.data.kinematics import pt_eta_phi
from jetviz.data.pixelate import jet_images
from jetviz.data.prepared import prepare_cached, prepared_dir
from jetviz.errors import ConfigError, DataFileError
from jetviz.models.constituents import pad_constituent_block, pad_constituents


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tt_file(tmp_path):
    frame, _ = tt_frame(230, n_slots=200, seed=4)
    return save_frame(frame, tmp_path / "train.h5")


def constituents(block):
    x, mask = pad_constituent_block(block.p4, 40, 5)
    return {"x": x, "mask": mask, "label": block.label}


def images(block):
    p4 = block.p4.astype(np.float64)
    pt, eta, phi = pt_eta_phi(p4[..., 1], p4[..., 2], p4[..., 3])
    return {"image": jet_images(pt, eta, phi, n_pix=16, width=2.0, rotate=True, flip=True), "label": block.label}


@pytest.mark.parametrize("step", [1, 37, 10_000])
def test_top_tagging_blocks_equal_the_events(tt_file, step):
    events = formats.read(tt_file)
    blocks = list(formats.iterate_jet_blocks(tt_file, step_size=step))
    assert [b.offset for b in blocks] == list(range(0, 230, step))
    p4 = np.concatenate([b.p4 for b in blocks])
    assert p4.shape == (230, 200, 4) and p4.dtype == np.float32  # the file's own dtype, no conversion
    mask = (p4 != 0).any(axis=2)
    assert mask.sum(1).tolist() == [len(p) for p in events.particles.E.tolist()]
    np.testing.assert_array_equal(p4[mask][:, 0], np.concatenate(events.particles.E.tolist()))
    assert np.concatenate([b.label for b in blocks]).tolist() == events.label.tolist()
    assert np.concatenate([b.fields["ttv"] for b in blocks]).tolist() == events.ttv.tolist()


def test_blocks_of_other_formats_are_padded_by_pt(tmp_path):
    events = random_events(25, seed=3, max_particles=30)
    path = formats.write(events, tmp_path / "jets.parquet")
    blocks = list(formats.iterate_jet_blocks(path, step_size=10, max_constituents=12))
    np.testing.assert_array_equal(np.concatenate([b.p4 for b in blocks]),
                                  padded_by_pt(events.particles, ("E", "px", "py", "pz"), 12, np.float32))


@pytest.mark.parametrize("shuffled", [False, True])
def test_constituent_blocks_equal_pad_constituents(tt_file, shuffled):
    events = formats.read(tt_file)
    p4 = np.concatenate([b.p4 for b in formats.iterate_jet_blocks(tt_file)])
    if shuffled:  # constituents in any order: sorted by pT like the awkward path
        p4 = p4[:, np.random.default_rng(1).permutation(200)]
    for n, extra in ((40, 5), (200, 0), (250, 3)):
        x_ref, mask_ref = pad_constituents(events.particles, n, extra)
        x, mask = pad_constituent_block(p4, n, extra)
        np.testing.assert_array_equal(mask, mask_ref)
        np.testing.assert_array_equal(x, x_ref)


def test_block_images_equal_the_awkward_images(tt_file):
    events = formats.read(tt_file)
    reference = jet_images(events.particles.pt, events.particles.eta, events.particles.phi, n_pix=16, width=2.0,
                           rotate=True, flip=True)
    prepared = prepare_cached(tt_file, images, {"n_pix": 16, "width": 2.0}, chunk_size=50)
    np.testing.assert_allclose(prepared["image"], reference, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 64, 10_000])
def test_prepare_equals_the_whole_file_and_is_reused(tt_file, chunk_size):
    calls, seen = [], []

    def counted(block):
        calls.append(len(block))
        return constituents(block)

    first = prepare_cached(tt_file, counted, {"n": 40}, chunk_size=chunk_size, progress=lambda d, n: seen.append((d, n)))
    whole = constituents(next(formats.iterate_jet_blocks(tt_file, step_size=10_000)))
    for name in whole:
        np.testing.assert_array_equal(first[name], whole[name])
        assert isinstance(first[name], np.memmap) and not first[name].flags.writeable
    assert not first.from_cache and seen[-1] == (230, 230) and len(seen) == len(calls) == -(-230 // chunk_size)
    calls.clear(), seen.clear()
    again = prepare_cached(tt_file, counted, {"n": 40}, chunk_size=chunk_size, progress=lambda d, n: seen.append((d, n)))
    assert again.from_cache and calls == [] and seen == [(230, 230)] and again.path == first.path
    np.testing.assert_array_equal(again["x"], first["x"])
    assert again.meta["dataset"]["fingerprint"]["size_bytes"] == tt_file.stat().st_size


def test_key_follows_params_version_and_content(tt_file, tmp_path):
    base = prepare_cached(tt_file, constituents, {"n": 40})
    assert prepare_cached(tt_file, constituents, {"n": 41}).key != base.key
    assert prepare_cached(tt_file, constituents, {"n": 40}, version="2").key != base.key
    assert prepare_cached(tt_file, images, {"n": 40}).key != base.key
    frame, _ = tt_frame(230, n_slots=200, seed=5)  # the same name, other jets
    tt_file.unlink()
    save_frame(frame, tt_file)
    changed = prepare_cached(tt_file, constituents, {"n": 40})
    assert changed.key != base.key and not changed.from_cache
    assert not np.array_equal(changed["x"], base["x"])


def test_a_failing_transform_leaves_nothing(tt_file):
    def broken(block):
        if block.offset >= 100:
            raise RuntimeError("out of memory, say")
        return constituents(block)

    with pytest.raises(RuntimeError, match="out of memory"):
        prepare_cached(tt_file, broken, {}, chunk_size=50)
    assert list(prepared_dir().iterdir()) == []


@pytest.mark.parametrize("transform, needle", [
    (lambda b: {"x": np.zeros(3)}, "for a chunk of"),
    (lambda b: {"x": np.array(["a"] * len(b))}, "one numeric row per input row"),
    (lambda b: {"x": np.zeros((len(b), 2 if b.offset else 3))}, "changed from"),
    (lambda b: {"x": np.zeros(len(b))} if b.offset else {"y": np.zeros(len(b))}, "outputs changed"),
    (lambda b: {}, "non-empty dict"),
    (lambda b: {"../x": np.zeros(len(b))}, "identifier"),
])
def test_bad_transforms_are_config_errors(tt_file, transform, needle):
    with pytest.raises(ConfigError, match=needle):
        prepare_cached(tt_file, transform, {}, chunk_size=100)
    assert list(prepared_dir().iterdir()) == []


def test_damaged_entry_is_reported_and_rebuilt(tt_file):
    first = prepare_cached(tt_file, constituents, {})
    x_path = first.path / "x.npy"
    reference = np.array(first["x"])
    del first
    x_path.write_bytes(x_path.read_bytes()[:1000])
    with pytest.warns(UserWarning, match=r"damaged preparation cache entry .*x.npy"):
        again = prepare_cached(tt_file, constituents, {})
    assert not again.from_cache
    np.testing.assert_array_equal(again["x"], reference)


def test_bad_file_is_named_and_nothing_cached(tmp_path):
    frame, _ = tt_frame(50, n_slots=20, seed=1)
    frame.loc[33, "PY_4"] = np.nan
    path = save_frame(frame, tmp_path / "bad.h5")
    with pytest.raises(DataFileError, match=r"bad.h5: column 'PY_4', event 33: NaN"):
        prepare_cached(path, constituents, {}, chunk_size=10)
    assert list(prepared_dir().iterdir()) == []


def test_events_chunks_from_a_dataset_name(tmp_path, monkeypatch):
    monkeypatch.setenv("JETVIZ_DATA", str(tmp_path / "data"))
    events = random_events(40, seed=2)
    formats.write(events, tmp_path / "data" / "ev.parquet")

    def multiplicity(chunk):
        return {"n": np.asarray([len(p) for p in chunk.particles.pt.tolist()])}

    prepared = prepare_cached(dataset("ev.parquet"), multiplicity, {}, chunk_size=7, chunks="events")
    assert prepared["n"].tolist() == [len(p) for p in events.particles.pt.tolist()]
    with pytest.raises(ConfigError, match="recipe"):
        prepare_cached(dataset("top_qcd"), multiplicity, {})


def test_batches_visit_every_row_once(tt_file):
    prepared = prepare_cached(tt_file, constituents, {})
    labels = np.concatenate([b["label"] for b in prepared.batches(64, seed=3)])
    assert sorted(labels.tolist()) == sorted(np.asarray(prepared["label"]).tolist())
    rows = np.arange(0, 230, 2)
    assert sum(len(b["x"]) for b in prepared.batches(50, names=["x"], rows=rows)) == len(rows)
