"""The jetclr runner: data preparation, training that learns, evaluation, resume, ablation, errors."""
import numpy as np
import pytest
import torch

from jetviz.data.samples import load_sample
from jetviz.errors import Cancelled, ConfigError, SchemaError
from jetviz.models.jetclr import invariance_curve, representations
from jetviz.runners.jetclr import (
    JetclrConfig,
    JetclrResult,
    JetclrRunner,
    ablation,
    prepare,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: encoder and sizes that train in seconds on one CPU thread
SMALL = dict(d_model=16, n_heads=2, n_layers=1, rep_dim=16, proj_dim=8, batch_size=32, n_angles=9, n_invariance=32,
             threads=1, n_constituents=30, extra_slots=10)


def small_config(**overrides) -> JetclrConfig:
    values = dict(SMALL, sample="toy_top_qcd", n_jets=240, epochs=2)
    values.update(overrides)
    return JetclrConfig(**values)


@pytest.fixture(scope="module")
def toy_jets():
    return load_sample("toy_top_qcd", 240, seed=0, show_progress=False, R=0.8, pt_min=550.0, pt_max=650.0)


@pytest.fixture(scope="module")
def finished(toy_jets, tmp_path_factory):
    events = []
    result = JetclrRunner(small_config(), tmp_path_factory.mktemp("jetclr") / "run", events=toy_jets).fit(
        progress=events.append)
    return result, events


# ----------------------------------------------------------------------------- data
def test_prepare_centres_pads_and_splits_stratified(toy_jets):
    config = small_config()
    data = prepare(toy_jets, config)
    assert data.x.shape == (240, 40, 3) and data.mask.shape == (240, 40)
    assert not data.mask[:, 30:].any()  # the extra slots start empty
    pt = data.x[..., 0]
    for axis in (1, 2):  # centred on the pT-weighted axis
        np.testing.assert_allclose((pt * data.x[..., axis]).sum(1) / pt.sum(1), 0.0, atol=1e-5)
    assert (np.diff(np.where(data.mask, pt, -1), axis=1) <= 1e-4).all()  # hardest first, padding last
    for part, share in ((0, 0.5), (1, 0.25), (2, 0.25)):
        for label in (0, 1):
            n = ((data.split == part) & (data.labels == label)).sum()
            assert abs(n - share * (data.labels == label).sum()) <= 1
    again = prepare(toy_jets, config)
    np.testing.assert_array_equal(again.split, data.split)  # seeded


def test_prepare_refuses_bad_jets(toy_jets):
    with pytest.raises(SchemaError, match="per-jet 'label'"):
        prepare(toy_jets[["particles"]], small_config())
    with pytest.raises(ConfigError, match="LCT training split needs top and QCD"):
        prepare(toy_jets[toy_jets.label == 0], small_config())
    with pytest.raises(ConfigError, match="leaves no test jets"):
        prepare(toy_jets, small_config(train_share=0.7, lct_share=0.3))
    with pytest.raises(ConfigError, match="boosts"):
        JetclrConfig.from_dict(dict(small_config().to_dict(), augmentations=["rotations", "boosts"]))


# ----------------------------------------------------------------------------- training and evaluation
def test_runner_end_to_end(finished):
    result, events = finished
    m, a = result.metrics, result.arrays
    assert m["row"] == "all" and m["n_train"] == 120 and m["n_lct"] + m["n_test"] == 120
    assert len(a["rep"]) == len(a["scores"]) == len(a["test_index"]) == m["n_test"]
    assert (a["split"][a["test_index"]] == 2).all()
    fpr, tpr, auc = result.roc()
    assert auc == pytest.approx(m["auc"]) and fpr[0] == 0 and tpr[-1] == 1
    assert result.roc(trained=False)[2] == pytest.approx(m["auc_untrained"])
    # s(r(x), r(R(0)x)) = 1 and the curve is periodic in 2π
    assert a["invariance"][0] == pytest.approx(1.0, abs=1e-5) and a["invariance"][-1] == pytest.approx(1.0, abs=1e-4)
    assert len(a["angles"]) == 9 and (a["invariance"] <= 1 + 1e-5).all()
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [1, 2]
    assert events[-1]["kind"] == "done" and np.isfinite(m["alignment"]) and m["uniformity"] <= 0


def test_reopened_run_equals_the_finished_one(finished):
    result, _ = finished
    again = JetclrResult.load(result.run_dir)
    assert again.metrics == result.metrics and len(again.history) == 2
    np.testing.assert_array_equal(again.arrays["rep"], result.arrays["rep"])
    data = again.load_data()
    test = again.arrays["test_index"][:16]
    np.testing.assert_allclose(representations(again.model, data.x[test], data.mask[test]), again.arrays["rep"][:16],
                               rtol=1e-4, atol=1e-5)


def test_killed_training_resumes_from_its_checkpoint(toy_jets, tmp_path):
    config = small_config(epochs=3)
    straight = JetclrRunner(config, tmp_path / "straight", events=toy_jets).fit()
    calls = {"n": 0}

    def cancel_in_epoch_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 4  # 120 training jets / 32 = 3 steps per epoch: stops in epoch 2

    with pytest.raises(Cancelled, match="epoch 2"):
        JetclrRunner(config, tmp_path / "resumed", events=toy_jets).fit(cancel=cancel_in_epoch_two)
    events = []
    resumed = JetclrRunner(config, tmp_path / "resumed", events=toy_jets).fit(progress=events.append)
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [2, 3]
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]  # no lost history
    np.testing.assert_allclose([h["train_loss"] for h in resumed.history],
                               [h["train_loss"] for h in straight.history], rtol=1e-5)
    np.testing.assert_allclose(resumed.arrays["rep"], straight.arrays["rep"], rtol=1e-4, atol=1e-5)


def test_run_directory_is_never_reused_for_other_settings(finished, toy_jets):
    result, _ = finished
    with pytest.raises(ConfigError, match="other settings"):
        JetclrRunner(small_config(epochs=5), result.run_dir, events=toy_jets).fit()


def test_training_learns_invariance_and_beats_the_untrained_encoder(tmp_path):
    """Real top/QCD jets: a short contrastive training raises the linear-classifier AUC above the
    untrained encoder's, and makes the representation more rotation invariant."""
    config = JetclrConfig(**dict(SMALL, d_model=32, n_heads=4, rep_dim=32, proj_dim=16, n_constituents=40),
                          sample="top_qcd", n_jets=800, epochs=6, learning_rate=2e-3)
    result = JetclrRunner(config, tmp_path / "run").fit()
    m = result.metrics
    assert m["auc"] > m["auc_untrained"]
    assert m["invariance_min"] > m["invariance_min_untrained"]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_invariance_curve_of_a_rotation_invariant_input_is_flat(toy_jets):
    # jets that are rotationally symmetric (a ring of equal constituents) look the same at every
    # angle that maps the ring onto itself: s = 1 there for any encoder
    from jetviz.models.jetclr import JetCLREncoder

    n = 6
    angles = np.arange(n) * 2 * np.pi / n
    x = np.zeros((2, 8, 3), np.float32)
    x[:, :n, 0] = 50.0
    x[:, :n, 1], x[:, :n, 2] = 0.2 * np.cos(angles), 0.2 * np.sin(angles)
    mask = x[..., 0] > 0
    torch.manual_seed(0)
    curve = invariance_curve(JetCLREncoder(16, 2, 1, 16, 8), x, mask, angles)
    np.testing.assert_allclose(curve, 1.0, atol=1e-5)


# ----------------------------------------------------------------------------- ablation
def test_ablation_runs_each_row_on_shared_jets_and_reopens_finished_ones(toy_jets, tmp_path, monkeypatch):
    import jetviz.runners.jetclr as runner_module

    monkeypatch.setattr(runner_module.JetclrRunner, "load_data",
                        lambda self, progress=None: self._data if self._data is not None else prepare(toy_jets, self.config))
    config = small_config(epochs=1)
    events = []
    rows = ablation(config, rows=["none", "rotations"], workers=1, root=tmp_path, progress=events.append)
    assert [r["row"] for r in rows] == ["none", "rotations"]
    assert [e["done"] for e in events if e["kind"] == "unit"] == [1, 2]
    again = ablation(config, rows=["rotations", "none"], workers=1, root=tmp_path)
    assert again == rows  # finished rows are reopened, not retrained
    with pytest.raises(ConfigError, match="unknown ablation row"):
        ablation(config, rows=["boosts"], root=tmp_path)


def test_ablation_on_given_jets_trains_another_seed_on_the_same_split(toy_jets, tmp_path, monkeypatch):
    """``ablation(data=...)``: a second training seed on the jets (and split) of the first, not its own sample."""
    import jetviz.runners.jetclr as runner_module

    data = prepare(toy_jets, small_config())

    def refuse(self, progress=None):
        if self._data is None:
            raise AssertionError("ablation loaded a sample although jets were given")
        return self._data

    monkeypatch.setattr(runner_module.JetclrRunner, "load_data", refuse)
    config = small_config(epochs=1, seed=3)
    assert not np.array_equal(prepare(toy_jets, config).split, data.split)  # seed 3 alone would split otherwise
    rows = ablation(config, rows=["none"], workers=1, root=tmp_path, data=data)
    result = JetclrResult.load(rows[0]["run_dir"])
    np.testing.assert_array_equal(result.arrays["split"], data.split)
    assert result.config.seed == 3
