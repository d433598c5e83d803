"""Jet colorization (seed 000): per-particle read-back, energy-weighted loss, Hungarian matching.

Particles of a batch are padded tensors ``(B, P)`` with a boolean ``mask``; ``pixel`` is the
flat pixel index ``i_eta * n_phi + i_phi`` of each particle in the η–φ map (−1 outside it),
``energy`` in GeV, ``truth`` the truth-jet colour in [0, K) (−1 for particles in no jet, e.g.
neutrinos), ``direction`` unit 3-vectors ``(B, P, 3)``.

Colours are permutation-free: the loss and the accuracy match predicted colours to truth jets
per event with the Hungarian algorithm (``matching="hungarian"``, default) or take the truth
colours as they are, ordered by jet energy (``matching="energy"``). The assignment metrics
(accuracy, purity, merged and split jets) live in :mod:`jetviz.models.assignment`;
``assignment_accuracy`` is re-exported here.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from jetviz.models.assignment import assignment_accuracy
from jetviz.models.crf import MeanFieldCRF
from jetviz.models.unet import UNet

__all__ = [
    "ColorizeModel",
    "particle_log_probs",
    "jet_cost_matrix",
    "colorize_loss",
    "hungarian_permutation",
    "assignment_accuracy",
]


def particle_log_probs(logits: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Per-particle log colour probabilities read from the per-pixel U-Net output.

    Parameters
    ----------
    logits : (B, K, n_eta, n_phi) torch.Tensor
        U-Net output.
    pixel : (B, P) torch.Tensor
        Flat pixel index per particle (−1 → reads pixel 0; mask it).

    Returns
    -------
    torch.Tensor
        ``(B, P, K)`` log-softmax over K at each particle's pixel.
    """
    log_probs = torch.log_softmax(logits.flatten(2), dim=1)  # (B, K, n_pix)
    index = pixel.clamp(min=0).unsqueeze(1).expand(-1, log_probs.shape[1], -1)
    return torch.gather(log_probs, 2, index).transpose(1, 2)


def _truth_weights(energy: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, n_colours: int) -> torch.Tensor:
    """``(B, P, K)``: E_i / E_jet(i) in the truth jet's column, 0 elsewhere and for masked particles."""
    valid = mask & (truth >= 0)
    onehot = torch.nn.functional.one_hot(truth.clamp(min=0), n_colours).to(energy.dtype) * valid.unsqueeze(-1)
    weighted = onehot * energy.unsqueeze(-1)
    jet_energy = weighted.sum(dim=1, keepdim=True)  # (B, 1, K)
    return weighted / jet_energy.clamp(min=1e-12)


def jet_cost_matrix(log_probs: torch.Tensor, energy: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, K, K)`` cost C[b, a, k] = −Σ_{i ∈ truth jet a} (E_i / E_a) log y_i(k)."""
    weights = _truth_weights(energy, truth, mask, log_probs.shape[-1])
    return -torch.einsum("bpa,bpk->bak", weights, log_probs)


def hungarian_permutation(cost: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` predicted colour assigned to each truth jet, minimising the summed cost per event."""
    cost_np = cost.detach().cpu().double().numpy()
    perm = np.stack([linear_sum_assignment(c)[1] for c in cost_np]) if len(cost_np) else np.zeros((0, cost.shape[-1]), int)
    return torch.as_tensor(perm, device=cost.device, dtype=torch.long)


def colorize_loss(
    log_probs: torch.Tensor, energy: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, matching: str = "hungarian"
) -> torch.Tensor:
    """Seed 000's loss L = −(1/N) Σ_events Σ_jet Σ_track (E_track/E_jet) log y_track.

    Parameters
    ----------
    log_probs : (B, P, K) torch.Tensor
        Per-particle log colour probabilities.
    energy, truth, mask : (B, P) torch.Tensor
        Particle energy (GeV), truth jet index and validity mask (see the module docstring).
    matching : str, optional
        ``"hungarian"`` — y_track is the probability of the colour matched to the
        track's truth jet (best permutation per event); ``"energy"`` — of the truth colour.

    Returns
    -------
    torch.Tensor
        scalar: the loss averaged over the B events.
    """
    cost = jet_cost_matrix(log_probs, energy, truth, mask)
    n_colours = cost.shape[-1]
    if matching == "hungarian":
        perm = hungarian_permutation(cost)
    elif matching == "energy":
        perm = torch.arange(n_colours, device=cost.device).expand(cost.shape[0], -1)
    else:
        raise ValueError(f"matching must be 'hungarian' or 'energy', got {matching!r}")
    matched = torch.gather(cost, 2, perm.unsqueeze(-1)).squeeze(-1)  # (B, K)
    return matched.sum(dim=1).mean()


class ColorizeModel(torch.nn.Module):
    """U-Net (+ optional mean-field CRF) mapping input maps and particles to per-particle log colour probabilities.

    Parameters
    ----------
    n_channels : int
        Input maps C of the images ``(B, C, n_eta, n_phi)``.
    n_colours : int
        Jet colours K.
    base_channels, depth, circular_phi : int, int, bool
        The U-Net's first-level width, down-samplings and circular φ padding.
    crf : bool
        Apply the CRF in :meth:`forward` (and train its ω, α); without it the CRF is still there
        as post-processing with its initial ω, α.
    crf_omega, crf_alpha, crf_iterations : float, float, int
        Initial pairwise weight ω, kernel sharpness α and mean-field iterations.
    """

    def __init__(self, n_channels: int, n_colours: int, base_channels: int = 16, depth: int = 3,
                 circular_phi: bool = True, crf: bool = False, crf_omega: float = 0.01, crf_alpha: float = 1e6,
                 crf_iterations: int = 5):
        super().__init__()
        self.n_colours = n_colours
        self.unet = UNet(n_channels, n_colours, base_channels, depth, circular_phi)
        self.crf = MeanFieldCRF(crf_omega, crf_alpha, crf_iterations, trainable=crf)
        self.use_crf = crf

    def forward(self, batch: dict[str, torch.Tensor], crf: bool | None = None, keep_all: bool = False):
        """Per-particle log probabilities ``(B, P, K)`` (a list per CRF iteration if ``keep_all``).

        ``batch`` holds ``images`` ``(B, C, n_eta, n_phi)``, ``pixel`` ``(B, P)``, ``energy``
        ``(B, P)`` GeV, ``direction`` ``(B, P, 3)`` and ``mask`` ``(B, P)``.
        """
        logits = self.unet(batch["images"])
        log_probs = particle_log_probs(logits, batch["pixel"])
        if self.use_crf if crf is None else crf:
            return self.crf(log_probs, batch["energy"], batch["direction"], batch["mask"], keep_all=keep_all)
        return [log_probs] if keep_all else log_probs
