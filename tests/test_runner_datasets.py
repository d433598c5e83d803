"""Every runner on the user's own files: a dataset name under the data root as the config's sample.

The files are written by the tools people use, not by jetviz: the top-tagging layout with pandas
(``to_hdf(format="table")``, 200 constituents × E, PX, PY, PZ, ``is_signal_new``), events as
jetviz Parquet. Runs record what they were trained on, a changed file is noticed, and names that
leave the data root are refused before anything is read.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetviz.data import formats
from jetviz.data.samples import load_sample
from jetviz.errors import ConfigError, DataFileError
from jetviz.runners.classify import ClassifyConfig, ClassifyRunner
from jetviz.runners.jetclr import JetclrConfig, JetclrResult, JetclrRunner
from jetviz.runners.vae_emd import VaeEmdConfig, VaeEmdRunner
from jetviz.data.datasets import sample_choices
from datafiles import write_top_tagging_with_pandas

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_JETS = 400


@pytest.fixture()
def data_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "jetviz-data"
    root.mkdir()
    monkeypatch.setenv("JETVIZ_DATA", str(root))
    monkeypatch.setenv("JETVIZ_RUNS", str(tmp_path / "runs"))
    return root


@pytest.fixture()
def top_tagging(data_root) -> tuple[str, ak.Array]:
    jets = write_top_tagging_with_pandas(data_root / "top-tagging" / "train.h5", N_JETS)
    return "top-tagging/train.h5", jets


def test_jetclr_trains_on_a_pandas_written_top_tagging_file(top_tagging, data_root):
    name, jets = top_tagging
    assert name in sample_choices(JetclrConfig, "jets").values()  # the page offers it
    config = JetclrConfig(sample=name, n_jets=300, epochs=2, d_model=16, n_heads=2, n_layers=1, rep_dim=16,
                          proj_dim=8, batch_size=32, n_angles=9, n_invariance=32, threads=1, n_constituents=30,
                          extra_slots=10)
    seen: list[dict] = []
    result = JetclrRunner(config).fit(progress=seen.append)
    assert np.isfinite(result.metrics["auc"]) and len(result.history) == 2
    # labels from the file's is_signal_new, jets in file order
    data = JetclrRunner(config, result.run_dir).load_data(lambda e: None)
    np.testing.assert_array_equal(data.labels, ak.to_numpy(jets.label)[:300])
    # preparation progress per chunk went to the progress stream
    assert any(e.get("stage") == "prepare" for e in seen)
    recorded = json.loads((result.run_dir / "config.json").read_text())["dataset"]
    assert recorded["name"] == name and recorded["format"] == "top-tagging-h5" and recorded["n_events"] == N_JETS
    assert recorded["fingerprint"]["size_bytes"] == (data_root / name).stat().st_size
    reopened = JetclrResult.load(result.run_dir)
    assert reopened.dataset == recorded and reopened.dataset_changed() is None

    # a changed file is noticed by the reopened run, and resuming the run on it is refused
    path = data_root / name
    with open(path, "r+b") as f:
        f.seek(-16, os.SEEK_END)
        f.write(b"\0" * 16)
    assert "head_tail_sha256" in JetclrResult.load(result.run_dir).dataset_changed()
    with pytest.raises(ConfigError, match="content has changed since"):
        JetclrRunner(config, result.run_dir).fit()


def test_vae_emd_trains_on_the_same_file_and_reuses_the_preparation(top_tagging):
    name, jets = top_tagging
    config = VaeEmdConfig(sample=name, n_jets=240, n_pix=16, image_width=2.0, n_down=2, latent=8, channels=4,
                          epochs=2, batch_size=16, n_corr=12, n_pool=12, n_medoids=3, n_anomaly=30, emd_jobs=1,
                          threads=1)
    first: list[dict] = []
    result = VaeEmdRunner(config).fit(progress=first.append)
    assert 0.0 <= result.metrics["auc"]["vae_loss"] <= 1.0 and result.metrics["n_train"] + result.metrics["n_test"] == 240
    data = VaeEmdRunner(config, result.run_dir).load_data(lambda e: None)
    assert len(data) == 240 and data.images.shape[1:] == (1, 16, 16)
    np.testing.assert_array_equal(data.labels, ak.to_numpy(jets.label)[:240])
    # the second run of the same file and settings reads the preparation cache (one progress event, complete)
    again: list[dict] = []
    VaeEmdRunner(config).load_data(again.append)
    prepare = [e for e in again if e.get("stage") == "prepare"]
    assert len(prepare) == 1 and prepare[0]["done"] == prepare[0]["total"] == N_JETS


def test_classify_trains_on_a_parquet_events_file(data_root):
    events = load_sample("toy_bh_sph", 120, seed=4, show_progress=False)
    formats.write(events, data_root / "mine.parquet")
    assert "mine.parquet" in sample_choices(ClassifyConfig, "events").values()
    assert "mine.parquet" not in sample_choices(JetclrConfig, "jets").values()  # events are not jets
    config = ClassifyConfig(sample="mine.parquet", n_events=100, n_folds=2, width=2, epochs=1, batch_size=16,
                            xgb_n_estimators=10, threads=1)
    result = ClassifyRunner(config).fit()
    assert result.metrics["n_events"] == 100 and result.metrics["models"]
    assert all(0.0 <= m["accuracy_mean"] <= 1.0 for m in result.metrics["models"].values())
    recorded = json.loads((result.run_dir / "config.json").read_text())["dataset"]
    assert recorded["name"] == "mine.parquet" and recorded["n_events"] == 120


def test_a_file_with_too_few_events_or_no_truth_is_a_clear_error(top_tagging, data_root):
    name, _ = top_tagging
    with pytest.raises(ConfigError, match=rf"{name} holds {N_JETS} jets"):
        JetclrRunner(JetclrConfig(sample=name, n_jets=N_JETS + 100, epochs=1)).load_data(lambda e: None)
    formats.write(load_sample("toy_bh_sph", 30, seed=1, show_progress=False), data_root / "notruth.parquet")
    from jetviz.runners.colorize import ColorizeConfig, ColorizeRunner

    with pytest.raises(ConfigError, match="truth"):
        ColorizeRunner(ColorizeConfig(sample="notruth.parquet", n_train=16, n_test=8, epochs=1)).load_data(
            lambda e: None)


@pytest.mark.parametrize("name", ["../outside.h5", "top-tagging/../../outside.h5", "link/outside.h5",
                                  "/etc/passwd"])
def test_names_from_a_page_or_url_that_leave_the_data_root_are_refused_before_reading(top_tagging, data_root, name):
    from jetviz.data.datasets import dataset
    from jetviz.ui.jetclr import JetclrStore

    outside = data_root.parent / "outside.h5"
    write_top_tagging_with_pandas(outside, 50)
    (data_root / "link").symlink_to(data_root.parent, target_is_directory=True)
    before = outside.read_bytes()
    with pytest.raises((ConfigError, DataFileError), match="data root"):
        dataset(name)
    store = JetclrStore()
    assert name not in store.samples.values() and "top-tagging/train.h5" in store.samples.values()
    rejected = store.read_url_query({"sample": [name.encode()]})
    assert rejected and rejected[0].startswith(f"sample={name!r}") and store.config.sample == "top_qcd"
    assert store.read_url_query({"sample": [b"top-tagging/train.h5"]}) == []  # the ?sample= deep link
    assert store.config.sample == "top-tagging/train.h5"
    assert outside.read_bytes() == before


def test_a_word_that_is_no_recipe_is_refused_by_the_config():
    with pytest.raises(ValueError, match="neither a sample of this runner"):
        JetclrConfig(sample="ee_6jet")  # another runner's recipe, not a file
