"""Sample cache, chunking, parallel generation, progress and the dask path."""

import awkward as ak
import pytest

from jetviz.data.formats.parquet import load_events
from jetviz.data.samples import cache_dir, load_sample, sample_chunks
from jetviz.errors import ConfigError


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("n,size,expected", [(1, 250, [1]), (250, 250, [250]), (600, 250, [250, 250, 100])])
def test_sample_chunks(n, size, expected):
    assert sample_chunks(n, size) == expected


def test_cached_once_then_reused(fresh_cache):
    calls = []
    first = load_sample("toy_ee_6jet", 30, seed=1, chunk_size=10, workers=1, progress=lambda d, t: calls.append((d, t)))
    files = sorted(cache_dir().glob("toy_ee_6jet-*.parquet"))
    assert len(files) == 3
    assert calls[0] == (0, 30) and calls[-1] == (30, 30)
    mtimes = [f.stat().st_mtime_ns for f in files]
    calls.clear()
    again = load_sample("toy_ee_6jet", 30, seed=1, chunk_size=10, workers=1, progress=lambda d, t: calls.append((d, t)))
    assert [f.stat().st_mtime_ns for f in files] == mtimes  # nothing regenerated
    assert calls == [(30, 30)]
    assert ak.to_list(first.particles.px) == ak.to_list(again.particles.px)


def test_provenance_in_metadata(fresh_cache):
    load_sample("ee_6jet", 5, seed=2, workers=1, show_progress=False)
    (path,) = cache_dir().glob("ee_6jet-*.parquet")
    _, meta = load_events(path)
    assert meta["recipe"] == "ee_6jet" and meta["seed"] == 2 and meta["params"]["sqrt_s"] == 500.0
    assert meta["generators"]["pythia8mc"].startswith("8.317")


def test_larger_sample_extends_smaller(fresh_cache):
    small = load_sample("ee_6jet", 20, seed=4, chunk_size=10, workers=1, show_progress=False)
    large = load_sample("ee_6jet", 30, seed=4, chunk_size=10, workers=1, show_progress=False)
    assert ak.to_list(large.particles.E[:20]) == ak.to_list(small.particles.E)


@pytest.mark.slow
def test_two_processes_equal_one(fresh_cache, tmp_path, monkeypatch):
    parallel = load_sample("ee_6jet", 40, seed=6, chunk_size=10, workers=2, show_progress=False)
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path / "other"))
    serial = load_sample("ee_6jet", 40, seed=6, chunk_size=10, workers=1, show_progress=False)
    assert ak.to_list(parallel.particles.px) == ak.to_list(serial.particles.px)


@pytest.mark.slow
def test_dask_local_cluster_equals_local(fresh_cache, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        on_dask = load_sample("ee_6jet", 20, seed=8, chunk_size=10, client=client, show_progress=False)
    monkeypatch.setenv("JETVIZ_CACHE", str(tmp_path / "other"))
    local = load_sample("ee_6jet", 20, seed=8, chunk_size=10, workers=1, show_progress=False)
    assert ak.to_list(on_dask.particles.px) == ak.to_list(local.particles.px)


@pytest.mark.parametrize("damage", ["truncate", "other_chunk"])
def test_damaged_cache_entry_is_named_then_regenerated(fresh_cache, damage):
    first = load_sample("toy_top_qcd", 8, seed=0, workers=1, show_progress=False)
    (path,) = cache_dir().glob("toy_top_qcd-*.parquet")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:  # a valid jetviz file, but another sample's chunk under this name
        other = load_sample("toy_top_qcd", 8, seed=1, workers=1, show_progress=False)
        (path_other,) = [p for p in cache_dir().glob("toy_top_qcd-s1-*.parquet")]
        path.write_bytes(path_other.read_bytes())
        assert not ak.array_equal(other, first)
    with pytest.warns(UserWarning, match=f"damaged sample cache file .*{path.name}.*generating the chunk again"):
        events = load_sample("toy_top_qcd", 8, seed=0, workers=1, show_progress=False)
    assert ak.array_equal(events, first)  # regenerated: the same seeded events
    load_events(path)  # and the cache file is whole again


@pytest.mark.parametrize("bad", [{"n_events": 0}, {"n_events": -5}, {"seed": -1}, {"radius": 1.0}])
def test_bad_arguments(fresh_cache, bad):
    kwargs = {"n_events": 5, "seed": 0, **bad}
    with pytest.raises(ConfigError):
        load_sample("toy_top_qcd", show_progress=False, **kwargs)
