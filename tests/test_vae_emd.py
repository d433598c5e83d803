"""β-VAE, k-medoids and the vae_emd runner: shapes, learning, correlations, anomaly scores, resume, errors."""
import numpy as np
import pytest
import torch

from jetviz.data.samples import load_sample
from jetviz.errors import Cancelled, ConfigError, SchemaError
from jetviz.models.emd import emd, from_image, pixel_centres
from jetviz.models.metrics import pair_distances, pearson
from jetviz.models.vae import ConvVAE, SlicedW1, k_medoids, vae_loss
from jetviz.runners.vae_emd import (
    VaeEmdConfig,
    VaeEmdResult,
    VaeEmdRunner,
    beta_scan,
    prepare,
    train_vae,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("n_down", [1, 2, 3])
@pytest.mark.parametrize("n_pix", [16, 40])
def test_vae_shapes_and_layers(n_down, n_pix):
    model = ConvVAE(n_pix=n_pix, n_down=n_down, latent=8, channels=2)
    x = torch.rand(5, 1, n_pix, n_pix)
    reconstruction, mu, logvar = model(x)
    assert reconstruction.shape == x.shape and (reconstruction >= 0).all()
    torch.testing.assert_close(reconstruction.sum((1, 2, 3)), torch.ones(5))  # unit sum, like the inputs
    assert mu.shape == logvar.shape == (5, 8)
    _, _, layers = model.encode(x, layers=True)
    assert [tuple(layer.shape) for layer in layers] == [
        (5, 2 * 2**k * (n_pix // 2 ** (k + 1)) ** 2) for k in range(n_down)]
    with pytest.raises(SchemaError, match=rf"\(B, 1, {n_pix}, {n_pix}\)"):
        model(torch.rand(5, 2, n_pix, n_pix))


def test_vae_rejects_bad_settings():
    with pytest.raises(ConfigError, match="divisible"):
        ConvVAE(n_pix=30, n_down=3)
    with pytest.raises(ConfigError, match="n_down"):
        ConvVAE(n_down=0)
    with pytest.raises(ConfigError, match="beta"):
        vae_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), torch.zeros(1, 2), torch.zeros(1, 2), 2.0)


@pytest.mark.parametrize("beta", [0.0, 1e-7, 0.5, 1.0])
def test_vae_loss_is_the_weighted_sum_and_kld_vanishes_at_the_prior(beta):
    x = torch.rand(3, 1, 8, 8)
    reconstruction = torch.rand(3, 1, 8, 8)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    total, mse, kld = vae_loss(reconstruction, x, mu, logvar, beta)
    torch.testing.assert_close(mse, ((reconstruction - x) ** 2).sum((1, 2, 3)))
    torch.testing.assert_close(total, (1 - beta) * mse + beta * kld)
    assert (kld >= 0).all()
    _, _, kld0 = vae_loss(reconstruction, x, torch.zeros(3, 4), torch.zeros(3, 4), beta)
    torch.testing.assert_close(kld0, torch.zeros(3))


def test_short_training_lowers_the_loss():
    rng = np.random.default_rng(0)
    images = np.zeros((64, 1, 16, 16), np.float32)
    for i in range(64):  # unit-sum images: one of four two-prong patterns
        k = rng.integers(4)
        images[i, 0, 4 + 2 * k, 5] = images[i, 0, 6, 4 + 2 * k] = 0.5
    config = VaeEmdConfig(n_pix=16, n_down=2, latent=4, channels=4, epochs=20, batch_size=8, learning_rate=1e-2, beta=1e-4)
    _, history = train_vae(images, config)
    assert history[-1]["train_loss"] < 0.9 * history[0]["train_loss"]  # no learning: ratio ≈ 1


# ----------------------------------------------------------------------------- sliced W_1 (EMD-trained variant)
def random_images(seed, n, n_pix, fill=0.3):
    """(n, 1, n_pix, n_pix) unit-sum float64 images with a random share ``fill`` of nonzero pixels."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(1.0, (n, 1, n_pix, n_pix)) * (rng.random((n, 1, n_pix, n_pix)) < fill)
    x[:, 0, n_pix // 2, n_pix // 2] += 0.1  # never empty
    return x / x.sum((1, 2, 3), keepdims=True)


@pytest.mark.parametrize("n_pix, width, R, n_slices", [(8, 2.0, 1.0, 1), (8, 2.0, 1.0, 7), (16, 1.6, 0.8, 32)])
def test_sliced_w1_equals_scipy_1d_wasserstein_per_slice(n_pix, width, R, n_slices):
    from scipy.stats import wasserstein_distance

    a, b = random_images(1, 3, n_pix), random_images(2, 3, n_pix)
    value = SlicedW1(n_pix, width, R, n_slices).double()(torch.as_tensor(a), torch.as_tensor(b)).numpy()
    centres = pixel_centres(n_pix, -width / 2, width / 2)
    eta, phi = np.meshgrid(centres, centres, indexing="ij")
    for k in range(3):
        per_slice = []
        for angle in np.arange(n_slices) * np.pi / n_slices:
            t = ((np.cos(angle) * eta + np.sin(angle) * phi) / R).ravel()
            per_slice.append(wasserstein_distance(t, t, a[k].ravel(), b[k].ravel()))
        assert value[k] == pytest.approx(np.mean(per_slice), rel=1e-5)


def test_sliced_w1_is_a_lower_bound_of_the_emd_and_sees_translations():
    n_pix, width = 16, 2.0
    sliced = SlicedW1(n_pix, width, n_slices=16).double()
    a, b = random_images(3, 4, n_pix, fill=0.1), random_images(4, 4, n_pix, fill=0.1)
    centres = pixel_centres(n_pix, -width / 2, width / 2)
    value = sliced(torch.as_tensor(a), torch.as_tensor(b)).numpy()
    for k in range(4):  # projection only shortens each move: sliced W_1 ≤ W_1 of the images
        exact = emd(from_image(a[k], centres, centres), from_image(b[k], centres, centres), norm=True, periodic_phi=False)
        assert 0 < value[k] <= exact * (1 + 1e-6)
    assert sliced(torch.as_tensor(a), torch.as_tensor(a)).abs().max() < 1e-12
    # a one-pixel move in η: every slice moves all weight by Δ|cos ψ|
    shifted = np.zeros_like(a)
    shifted[:, :, 1:] = a[:, :, :-1]
    a_inner = a.copy()
    a_inner[:, :, -1] = 0.0
    a_inner /= a_inner.sum((1, 2, 3), keepdims=True)
    shifted[:, :, 1:] = a_inner[:, :, :-1]
    step = width / n_pix
    expected = step * np.mean(np.abs(np.cos(np.arange(16) * np.pi / 16)))
    np.testing.assert_allclose(sliced(torch.as_tensor(a_inner), torch.as_tensor(shifted)).numpy(), expected, rtol=1e-9)
    with pytest.raises(SchemaError, match="SlicedW1 expects"):
        sliced(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="n_slices"):
        SlicedW1(16, 2.0, n_slices=0)


def test_emd_trained_vae_lowers_its_loss_and_runs_in_the_runner(toy_jets, tmp_path):
    rng = np.random.default_rng(0)
    images = np.zeros((64, 1, 16, 16), np.float32)
    for i in range(64):
        k = rng.integers(4)
        images[i, 0, 4 + 2 * k, 5] = images[i, 0, 6, 4 + 2 * k] = 0.5
    config = VaeEmdConfig(n_pix=16, n_down=2, latent=4, channels=4, epochs=12, batch_size=8, learning_rate=1e-2,
                          beta=1e-4, loss="sliced_w1")
    _, history = train_vae(images, config)
    assert history[-1]["train_reco"] < 0.7 * history[0]["train_reco"]
    result = VaeEmdRunner(small_config(loss="sliced_w1", epochs=2), tmp_path / "run", events=toy_jets).fit()
    assert result.metrics["loss"] == "sliced_w1" and np.isfinite(result.arrays["score_vae"]).all()
    assert 0.0 <= result.metrics["auc"]["vae_loss"] <= 1.0


def test_k_medoids_finds_well_separated_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    points = np.concatenate([c + rng.normal(0, 0.5, (20, 2)) for c in centres])
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    medoids, labels = k_medoids(d, 3, seed=0)
    assert len(medoids) == 3 and sorted(medoids // 20) == [0, 1, 2]  # one medoid per cluster
    for cluster in range(3):
        assert len(set(labels[cluster * 20:(cluster + 1) * 20])) == 1
    with pytest.raises(ConfigError, match="k must lie"):
        k_medoids(d, 0)
    with pytest.raises(SchemaError, match="square"):
        k_medoids(d[:5], 2)


def test_pair_distances_and_pearson():
    x = np.random.default_rng(2).normal(size=(7, 3))
    iu = np.triu_indices(7, 1)
    np.testing.assert_allclose(pair_distances(x), np.linalg.norm(x[iu[0]] - x[iu[1]], axis=1), atol=1e-12)
    a = np.arange(10.0)
    assert pearson(a, 3 * a + 1) == pytest.approx(1.0) and pearson(a, -a) == pytest.approx(-1.0)
    assert np.isnan(pearson(a, np.ones(10)))


def small_config(**overrides):
    values = dict(sample="toy_top_qcd", n_jets=160, n_pix=16, image_width=2.0, n_down=2, latent=8, channels=4,
                  epochs=4, batch_size=16, learning_rate=3e-3, n_corr=12, n_pool=12, n_medoids=3, n_anomaly=30,
                  emd_jobs=1, threads=1)
    values.update(overrides)
    return VaeEmdConfig(**values)


@pytest.fixture(scope="module")
def toy_jets():
    return load_sample("toy_top_qcd", 160, seed=0, show_progress=False, R=1.0, pt_min=450.0, pt_max=1000.0)


@pytest.fixture(scope="module")
def finished(toy_jets, tmp_path_factory):
    torch.set_num_threads(1)
    events = []
    result = VaeEmdRunner(small_config(), tmp_path_factory.mktemp("vae"), events=toy_jets).fit(progress=events.append)
    return result, events


def test_runner_end_to_end(finished):
    result, events = finished
    a = result.arrays
    assert set(result.metrics["correlations"]) == {"input", "block1", "block2", "latent"}
    assert len(a["w_p0.5"]) == len(a["w_p1"]) == 12 * 11 // 2 == result.metrics["n_pairs"]
    assert (a["w_p1"] > 0).all() and len(a["medoids"]) == 3
    assert np.isin(a["medoids"], np.flatnonzero(a["split"] == 0)).all()  # medoids are QCD training jets
    assert (a["labels"][a["split"] == 0] == 0).all()  # no top jet in training
    for score in ("vae_loss", "emd_mean_qcd", "emd_medoids"):
        fpr, tpr, auc_value = result.roc(score)
        assert auc_value == pytest.approx(result.metrics["auc"][score])
    # the toy top jets have three prongs, QCD one: the EMD to QCD-like references separates them
    assert result.metrics["auc"]["emd_medoids"] > 0.8 and result.metrics["auc"]["emd_mean_qcd"] > 0.8
    # the input-space MSE between unit-sum images correlates with W_p
    assert result.metrics["correlations"]["input"]["p0.5"] > 0.3
    assert events[-1]["kind"] == "done" and any(e["kind"] == "epoch" for e in events)


def test_reopened_run_equals_the_finished_one(finished):
    result, _ = finished
    again = VaeEmdResult.load(result.run_dir)
    assert again.metrics == result.metrics
    np.testing.assert_array_equal(again.arrays["score_vae"], result.arrays["score_vae"])
    i, j = again.pairs()
    assert len(i) == len(again.arrays["w_p1"]) and (i < j).all() or (i != j).all()


def test_emd_part_is_reused_and_vae_resumes(finished, toy_jets, tmp_path):
    result, _ = finished
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "emd.npz").write_bytes((result.run_dir / "emd.npz").read_bytes())
    events = []
    again = VaeEmdRunner(result.config, run_dir, events=toy_jets).fit(progress=events.append)
    assert not [e for e in events if e.get("stage") == "emd"]  # the stored EMD study was used
    np.testing.assert_allclose(again.arrays["score_vae"], result.arrays["score_vae"], rtol=1e-5)


def test_cancelled_training_resumes_to_the_uninterrupted_result(finished, toy_jets, tmp_path):
    reference, _ = finished
    steps = []
    with pytest.raises(Cancelled, match="epoch 3"):
        VaeEmdRunner(small_config(), tmp_path / "run", events=toy_jets).fit(
            progress=steps.append, cancel=lambda: any(s["kind"] == "step" and s["epoch"] == 3 for s in steps))
    assert (tmp_path / "run" / "checkpoint.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()
    resumed = VaeEmdRunner(small_config(), tmp_path / "run", events=toy_jets).fit()
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    np.testing.assert_allclose([h["train_loss"] for h in resumed.history], [h["train_loss"] for h in reference.history],
                               rtol=1e-6)
    np.testing.assert_allclose(resumed.arrays["score_vae"], reference.arrays["score_vae"], rtol=1e-5)
    assert resumed.metrics["correlations"]["latent"]["p1"] == pytest.approx(
        reference.metrics["correlations"]["latent"]["p1"], rel=1e-5)


def test_bad_inputs_are_refused(toy_jets, tmp_path):
    with pytest.raises(SchemaError, match="per-jet 'label'"):
        prepare(toy_jets[["particles"]], small_config())
    with pytest.raises(ConfigError, match="20 jets given, n_jets = 160"):
        VaeEmdRunner(small_config(), tmp_path / "a", events=toy_jets[:20]).fit()
    with pytest.raises(ConfigError, match="top jets"):
        prepare(toy_jets[toy_jets.label == 0], small_config())
    with pytest.raises(ConfigError, match="other settings"):
        run_dir = tmp_path / "b"
        run_dir.mkdir()
        (run_dir / "config.json").write_text('{"epochs": 99}')
        VaeEmdRunner(small_config(), run_dir, events=toy_jets).fit()


def test_beta_scan_runs_each_beta_on_shared_jets(toy_jets, tmp_path, monkeypatch):
    import jetviz.runners.base as module

    monkeypatch.setattr(module, "load_run_sample", lambda *args, **kwargs: toy_jets)
    rows = beta_scan(small_config(epochs=2), betas=[1e-4, 0.0], workers=1, root=tmp_path)
    assert [row["beta"] for row in rows] == [0.0, 1e-4]
    assert all(0.0 <= row["auc_vae_loss"] <= 1.0 for row in rows)
    # the EMD part is shared, so its AUCs are identical across β
    assert rows[0]["auc_emd_medoids"] == rows[1]["auc_emd_medoids"]
    assert (tmp_path / "scan.json").exists() and (tmp_path / "beta-0" / "metrics.json").exists()


@pytest.mark.slow
def test_beta_scan_on_a_real_dask_cluster(toy_jets, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    import jetviz.runners.base as module

    monkeypatch.setattr(module, "load_run_sample", lambda *args, **kwargs: toy_jets)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        rows = beta_scan(small_config(epochs=1), betas=[1e-7, 1e-5], client=client, root=tmp_path)
    assert [row["beta"] for row in rows] == [1e-7, 1e-5]
    local = beta_scan(small_config(epochs=1), betas=[1e-7], workers=1, root=tmp_path / "local")
    assert rows[0]["auc_emd_mean_qcd"] == local[0]["auc_emd_mean_qcd"]


@pytest.mark.slow
def test_real_top_jets_are_anomalous_to_qcd_by_emd(tmp_path):
    """Pythia top_qcd, R = 1.0, pT > 450 GeV: W_1 to QCD references scores top jets higher."""
    config = VaeEmdConfig(n_jets=240, n_pix=40, n_down=3, channels=4, epochs=2, n_corr=20, n_pool=30,
                          n_medoids=4, n_anomaly=80, emd_jobs=1, threads=1)
    result = VaeEmdRunner(config, tmp_path).fit()
    assert result.metrics["auc"]["emd_mean_qcd"] > 0.6 and result.metrics["auc"]["emd_medoids"] > 0.6
    top = result.arrays["labels"] == 1
    assert np.median(result.arrays["mass"][top]) > 1.5 * np.median(result.arrays["mass"][~top])  # top mass peak vs QCD


def _scripted_val_losses(monkeypatch, losses):
    """Make the validation loss of epoch k (1-based, in training order) ``losses[k - 1]`` (a repeated
    last value afterwards); the training itself is untouched."""
    import jetviz.runners.vae_emd as module

    calls = []

    def fake(model, images, beta, device="cpu", **kwargs):
        calls.append(1)
        return np.full(len(images), losses[min(len(calls), len(losses)) - 1], dtype=np.float64)

    monkeypatch.setattr(module, "vae_scores", fake)
    return calls


def test_early_stopping_ends_training_on_a_validation_plateau(toy_jets, monkeypatch):
    data = prepare(toy_jets, small_config())
    train, validation = data.images[data.split == 0], data.images[data.split == 1][:20]
    # best at epochs 1, 2 and 4 (the count restarts), then two epochs without improvement: stop after epoch 6
    _scripted_val_losses(monkeypatch, [5.0, 4.0, 4.5, 3.0, 3.1, 3.2, 3.3, 3.4])
    events = []
    _, history = train_vae(train, small_config(epochs=10, patience=2), validation=validation, progress=events.append)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert [h["val_loss"] for h in history] == pytest.approx([5.0, 4.0, 4.5, 3.0, 3.1, 3.2])
    stopped = [e for e in events if e.get("stage") == "stopped"]
    assert len(stopped) == 1 and "epoch 4" in stopped[0]["message"]
    # off (patience 0, the default): every epoch runs on the same plateau
    _scripted_val_losses(monkeypatch, [5.0])
    _, history = train_vae(train, small_config(epochs=5), validation=validation)
    assert len(history) == 5


def test_early_stopped_run_resumes_to_the_uninterrupted_result(toy_jets, tmp_path, monkeypatch):
    config = small_config(epochs=10, patience=2)
    _scripted_val_losses(monkeypatch, [1.0])  # a plateau from the first epoch: stop after epoch 3
    reference = VaeEmdRunner(config, tmp_path / "ref", events=toy_jets).fit()
    assert [h["epoch"] for h in reference.history] == [1, 2, 3] and reference.metrics["epochs_trained"] == 3
    steps = []
    _scripted_val_losses(monkeypatch, [1.0])
    with pytest.raises(Cancelled, match="epoch 2"):
        VaeEmdRunner(config, tmp_path / "run", events=toy_jets).fit(
            progress=steps.append, cancel=lambda: any(s["kind"] == "step" and s["epoch"] == 2 for s in steps))
    resumed = VaeEmdRunner(config, tmp_path / "run", events=toy_jets).fit()
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    np.testing.assert_allclose([h["train_loss"] for h in resumed.history],
                               [h["train_loss"] for h in reference.history], rtol=1e-6)
    for name, tensor in reference.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=1e-5, atol=1e-7)
    # the stop is in the checkpoint: training again from it (a run killed after the stop) adds no epoch
    data = prepare(toy_jets, config)
    train, validation = data.images[data.split == 0], data.images[data.split == 1][:20]
    _scripted_val_losses(monkeypatch, [1.0])
    _, first = train_vae(train, config, validation=validation, checkpoint=tmp_path / "ckpt.pt")
    calls = _scripted_val_losses(monkeypatch, [1.0])
    _, again = train_vae(train, config, validation=validation, checkpoint=tmp_path / "ckpt.pt")
    assert len(first) == 3 and again == first and not calls
