"""U-Net, circular φ padding, the colorization loss, matching and the mean-field CRF."""
import math

import numpy as np
import pytest
import torch

from jetviz.models.colorize import assignment_accuracy, colorize_loss, jet_cost_matrix, particle_log_probs
from jetviz.models.crf import MeanFieldCRF, durham_kernel
from jetviz.models.layers import PhiConv2d
from jetviz.models.unet import UNet


@pytest.mark.parametrize("in_channels", [1, 4])
@pytest.mark.parametrize("n_classes", [4, 6])
@pytest.mark.parametrize("depth", [2, 3])
def test_unet_shapes(in_channels, n_classes, depth):
    model = UNet(in_channels, n_classes, base_channels=4, depth=depth)
    out = model(torch.randn(2, in_channels, 32, 64))
    assert out.shape == (2, n_classes, 32, 64)


def test_unet_rejects_indivisible_size():
    with pytest.raises(ValueError, match="divisible"):
        UNet(1, 6, base_channels=4, depth=3)(torch.randn(1, 1, 36, 64))


@pytest.mark.parametrize("circular", [True, False])
def test_phi_conv_wraps_only_when_circular(circular):
    conv = PhiConv2d(1, 1, 3, bias=False, circular_phi=circular)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    image = torch.zeros(1, 1, 8, 16)
    image[0, 0, 4, -1] = 1.0  # a feature at φ just below +π ...
    out = conv(image)
    seen_at_minus_pi = out[0, 0, 4, 0].item()  # ... is seen at φ = −π only with circular padding
    assert seen_at_minus_pi == (1.0 if circular else 0.0)
    # η is never periodic
    image = torch.zeros(1, 1, 8, 16)
    image[0, 0, -1, 5] = 1.0
    assert conv(image)[0, 0, 0, 5].item() == 0.0


@pytest.mark.parametrize("circular", [True, False])
def test_unet_receptive_field_crosses_phi_boundary(circular):
    torch.manual_seed(0)
    model = UNet(1, 3, base_channels=4, depth=2, circular_phi=circular).eval()
    image = torch.rand(1, 1, 16, 32, requires_grad=True)
    model(image)[0, :, 8, 0].sum().backward()  # output at φ = −π ...
    grad_far_side = image.grad[0, 0, 8, -2:].abs().sum().item()  # ... depends on input at φ ≈ +π
    assert (grad_far_side > 0) == circular


def test_loss_equals_hand_computed_value():
    # one event, two jets: particles 0,1 in jet 0 (E = 3, 1), particle 2 in jet 1 (E = 2)
    probs = torch.tensor([[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]])
    log_probs = probs.log()
    energy = torch.tensor([[3.0, 1.0, 2.0]])
    truth = torch.tensor([[0, 0, 1]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    expected = -(0.75 * math.log(0.9) + 0.25 * math.log(0.6) + 1.0 * math.log(0.8))
    assert colorize_loss(log_probs, energy, truth, mask, "energy").item() == pytest.approx(expected, rel=1e-6)
    # swapping the colours costs nothing with Hungarian matching, a lot without
    swapped = log_probs.flip(-1)
    assert colorize_loss(swapped, energy, truth, mask, "hungarian").item() == pytest.approx(expected, rel=1e-6)
    assert colorize_loss(swapped, energy, truth, mask, "energy").item() > expected + 1


def test_masked_and_unlabelled_particles_do_not_count():
    log_probs = torch.log(torch.tensor([[[0.7, 0.3], [0.5, 0.5], [0.01, 0.99]]]))
    energy = torch.tensor([[1.0, 1.0, 100.0]])
    truth = torch.tensor([[0, 1, -1]])
    with_third = colorize_loss(log_probs, energy, truth, torch.ones(1, 3, dtype=torch.bool), "energy")
    without_third = colorize_loss(log_probs[:, :2], energy[:, :2], truth[:, :2], torch.ones(1, 2, dtype=torch.bool), "energy")
    assert with_third.item() == pytest.approx(without_third.item())
    cost = jet_cost_matrix(log_probs, energy, truth, torch.tensor([[True, False, True]]))
    assert cost[0, 1].abs().sum().item() == 0.0


def test_particle_log_probs_reads_the_right_pixel():
    logits = torch.zeros(1, 2, 4, 4)
    logits[0, 1, 2, 3] = 10.0  # pixel (2, 3) is colour 1
    pixel = torch.tensor([[2 * 4 + 3, 0]])
    probs = particle_log_probs(logits, pixel).exp()
    assert probs[0, 0, 1] > 0.99 and probs[0, 1, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("n_colours", [2, 6])
def test_accuracy_is_permutation_free(n_colours):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, n_colours, (5, 40))
    energy = rng.uniform(1, 10, (5, 40))
    mask = np.ones((5, 40), bool)
    perm = rng.permutation(n_colours)
    np.testing.assert_allclose(assignment_accuracy(perm[truth], truth, energy, mask, n_colours), 1.0)
    wrong = truth.copy()
    wrong[:, :10] = (truth[:, :10] + 1) % n_colours
    assert np.all(assignment_accuracy(wrong, truth, energy, mask, n_colours) < 1.0)


def _toy_event(n=30, k=3, seed=0):
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(k, 3))
    jet = rng.integers(0, k, n)
    direction = axes[jet] + 0.1 * rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    energy = rng.uniform(1, 20, n)
    noisy = np.eye(k)[jet] * 1.5 + rng.normal(0, 1.0, (n, k))
    log_probs = torch.log_softmax(torch.tensor(noisy), dim=-1)[None]
    return log_probs, torch.tensor(energy)[None], torch.tensor(direction)[None], torch.ones(1, n, dtype=torch.bool), jet


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crf_energy_decreases_monotonically(seed):
    log_probs, energy, direction, mask, _ = _toy_event(seed=seed)
    crf = MeanFieldCRF(omega=0.1, alpha=1e4, n_iterations=12, damping=0.5, trainable=False).double()
    history = crf(log_probs, energy, direction, mask, keep_all=True)
    kernel = crf.kernel(energy, direction, mask)
    energies = [crf.energy(h.exp(), log_probs, kernel, mask).item() for h in history]
    assert len(energies) == 13
    assert all(b <= a + 1e-9 for a, b in zip(energies, energies[1:]))
    assert energies[-1] < energies[0]


def test_crf_pulls_close_particles_together():
    log_probs, energy, direction, mask, jet = _toy_event(n=60, seed=3)
    crf = MeanFieldCRF(omega=0.1, alpha=1e4, n_iterations=10, trainable=False).double()
    before = (log_probs.argmax(-1)[0].numpy() == jet).mean()
    after = (crf(log_probs, energy, direction, mask).argmax(-1)[0].numpy() == jet).mean()
    assert after > before


def test_durham_kernel_properties():
    _, energy, direction, mask, _ = _toy_event(n=10)
    mask[0, -2:] = False
    kernel = durham_kernel(energy, direction, mask, torch.tensor(3.0))
    assert torch.allclose(kernel, kernel.transpose(1, 2))
    assert torch.all(kernel.diagonal(dim1=1, dim2=2) == 0)
    assert torch.all(kernel[0, -2:] == 0) and torch.all(kernel[0, :, -2:] == 0)
    assert torch.all((kernel >= 0) & (kernel <= 1))


def test_crf_is_trainable():
    log_probs, energy, direction, mask, jet = _toy_event(n=20)
    crf = MeanFieldCRF(trainable=True).double()
    out = crf(log_probs, energy, direction, mask)
    loss = colorize_loss(out, energy, torch.tensor(jet)[None], mask)
    loss.backward()
    assert crf.log_omega.grad is not None and crf.log_alpha.grad is not None
