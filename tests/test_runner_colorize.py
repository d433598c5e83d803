"""The colorize runner end to end on small samples: learning, save/load, resume, cancel, errors."""
import numpy as np
import pytest
import torch

from jetviz.data.samples import load_sample
from jetviz.errors import Cancelled, ConfigError, DataFileError
from jetviz.runners.rundir import RunDir
from jetviz.runners.colorize import ColorizeConfig, ColorizeResult, ColorizeRunner, prepare


@pytest.fixture(scope="module")
def toy_events():
    return load_sample("toy_ee_6jet", 96, seed=3, show_progress=False)


def small_config(**overrides):
    values = dict(sample="toy_ee_6jet", n_train=64, n_test=32, n_eta=32, n_phi=32, base_channels=4, depth=2,
                  epochs=2, batch_size=16, learning_rate=5e-3, crf_iterations=2)
    values.update(overrides)
    return ColorizeConfig(**values)


@pytest.mark.parametrize("channels", [["energy"], ["energy", "charged", "photon"]])
def test_prepare_shapes_and_pixels(toy_events, channels):
    config = small_config(channels=channels)
    data = prepare(toy_events, config)
    n = len(toy_events)
    assert data.images.shape == (n, len(channels), 32, 32) and data.images.dtype == np.float32
    assert data.pixel.shape == data.energy.shape == data.truth.shape == data.mask.shape
    assert data.direction.shape == data.pixel.shape + (3,)
    # every particle in the map points at a pixel holding at least its energy
    flat = data.images[:, 0].reshape(n, -1)
    rows, cols = np.nonzero(data.mask)
    sqrt_s = 500.0
    assert np.all(flat[rows, data.pixel[rows, cols]] * sqrt_s >= data.energy[rows, cols] * (1 - 1e-4))
    # energy in the map = energy of the particles in the map
    np.testing.assert_allclose(flat.sum(1) * sqrt_s, (data.energy * data.mask).sum(1), rtol=1e-4)


@pytest.mark.parametrize("crf", [False, True])
def test_few_steps_lower_the_loss(tmp_path, toy_events, crf):
    config = small_config(crf=crf, epochs=4)
    result = ColorizeRunner(config, tmp_path / "run", events=toy_events).fit()
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert 0 <= result.metrics["test_accuracy_unet"] <= 1


def test_save_and_reopen_without_retraining(tmp_path, toy_events):
    result = ColorizeRunner(small_config(), tmp_path / "run", events=toy_events).fit()
    reopened = ColorizeResult.load(tmp_path / "run")
    assert reopened.metrics == pytest.approx(result.metrics)
    assert reopened.config.to_dict() == result.config.to_dict()
    data = prepare(toy_events[:4], reopened.config)
    before = result.predict(data)
    after = reopened.predict(data)
    np.testing.assert_allclose(after.pixel_probs, before.pixel_probs, atol=1e-6)
    assert after.iterations.shape[:2] == (4, reopened.config.crf_iterations + 1)
    np.testing.assert_allclose(after.iterations.sum(-1)[:, -1][after.data.mask], 1.0, atol=1e-5)


def test_resume_after_interruption_keeps_history(tmp_path, toy_events):
    run_dir = tmp_path / "run"
    steps = []

    def cancel_in_epoch_two():
        return len(steps) > 4 + 1  # 4 steps per epoch: stop during the second epoch

    with pytest.raises(Exception, match="cancelled"):
        ColorizeRunner(small_config(epochs=3), run_dir, events=toy_events).fit(
            progress=lambda e: steps.append(e) if e["kind"] == "step" else None, cancel=cancel_in_epoch_two)
    assert [row["epoch"] for row in RunDir(run_dir).read_history()] == [1]
    first_epoch = RunDir(run_dir).read_history()[0]
    events = []
    result = ColorizeRunner(small_config(epochs=3), run_dir, events=toy_events).fit(progress=events.append)
    assert any(e.get("stage") == "resume" for e in events)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert result.history[0]["train_loss"] == pytest.approx(first_epoch["train_loss"])


@pytest.mark.parametrize("crf", [False, True])
def test_cancelled_run_resumes_to_the_uninterrupted_result(tmp_path, toy_events, crf):
    config = small_config(epochs=3, crf=crf)
    reference = ColorizeRunner(config, tmp_path / "reference", events=toy_events).fit()
    steps = []
    with pytest.raises(Cancelled, match="epoch 2"):
        ColorizeRunner(config, tmp_path / "cancelled", events=toy_events).fit(
            progress=steps.append, cancel=lambda: any(s["kind"] == "step" and s["epoch"] == 2 for s in steps))
    assert RunDir(tmp_path / "cancelled").has_checkpoint and not RunDir(tmp_path / "cancelled").finished
    resumed = ColorizeRunner(config, tmp_path / "cancelled", events=toy_events).fit()
    np.testing.assert_allclose([h["train_loss"] for h in resumed.history], [h["train_loss"] for h in reference.history],
                               rtol=1e-6)
    for key in ("test_loss_unet", "test_accuracy_unet", "test_loss_crf", "test_m_w_sigma68_unet"):
        assert resumed.metrics[key] == pytest.approx(reference.metrics[key], rel=1e-5, abs=1e-7), key
    for name, value in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)
    assert not RunDir(tmp_path / "cancelled").has_checkpoint


def test_damaged_checkpoint_is_a_clear_error(tmp_path, toy_events):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFileError, match="checkpoint.pt"):
        ColorizeRunner(small_config(), run_dir, events=toy_events).fit()


@pytest.mark.parametrize("bad", [{"n_train": 0}, {"epochs": -1}, {"eta_max": 100.0}, {"sample": "top_qcd"}])
def test_out_of_range_config_rejected(bad):
    with pytest.raises((ValueError, ConfigError)):
        ColorizeConfig(**bad)


def test_config_json_round_trip():
    config = small_config(channels=["energy", "d0"], crf=True)
    assert ColorizeConfig.from_json(config.to_json()).to_dict() == config.to_dict()
    with pytest.raises(ConfigError, match="no parameter"):
        ColorizeConfig.from_dict({"n_trian": 5})


def test_too_few_events(tmp_path, toy_events):
    with pytest.raises(ConfigError, match="needed"):
        ColorizeRunner(small_config(n_train=500), tmp_path / "r", events=toy_events).fit()


@pytest.mark.slow
def test_real_pythia_run_masses(tmp_path):
    config = ColorizeConfig(sample="ee_6jet", n_train=64, n_test=64, base_channels=4, depth=2, n_eta=32, n_phi=32,
                            epochs=1, seed=5)
    result = ColorizeRunner(config, tmp_path / "run").fit()
    m = result.metrics
    # Durham truth assignment reconstructs W and top peaks
    assert 70 < m["test_m_w_median_truth"] < 90 and 160 < m["test_m_top_median_truth"] < 185
    assert m["test_m_w_sigma68_truth"] < 15
