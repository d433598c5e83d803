"""Mean-field CRF on the particles of an event (seed 000), with a Durham-distance kernel.

Tensors as in :mod:`jetviz.models.colorize`: ``(B, P)`` padded particles with a ``mask``,
``direction`` unit 3-vectors ``(B, P, 3)``, energies in GeV.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["MeanFieldCRF", "durham_kernel"]


def durham_kernel(energy: torch.Tensor, direction: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``(B, P, P)`` exp(−α · 2 min(E_i², E_j²) / E_vis² · (1 − cos θ_ij)), zero on the diagonal
    and for masked particles (the Durham distance y_ij inside an exponential)."""
    maskf = mask.to(energy.dtype)
    e_vis = (energy * maskf).sum(dim=1).clamp(min=1e-12)
    e2 = (energy * maskf) ** 2
    min_e2 = torch.minimum(e2.unsqueeze(2), e2.unsqueeze(1))
    cos = torch.einsum("bpx,bqx->bpq", direction, direction).clamp(-1.0, 1.0)
    y_ij = 2.0 * min_e2 / e_vis[:, None, None] ** 2 * (1.0 - cos)
    kernel = torch.exp(-alpha * y_ij)
    pair = maskf.unsqueeze(2) * maskf.unsqueeze(1)
    eye = torch.eye(energy.shape[1], dtype=energy.dtype, device=energy.device)
    return kernel * pair * (1.0 - eye)


class MeanFieldCRF(nn.Module):
    """Fully connected CRF on particles, solved by mean-field iterations (Potts compatibility).

    Energy of a colouring: Σ_i −log y_i(c_i) + Σ_{i<j} f_ij [c_i ≠ c_j] with
    f_ij = ω · exp(−α · 2 min(E_i², E_j²)/E_vis² · (1 − cos θ_ij)). Each iteration sets
    Q_i(k) ∝ exp(log y_i(k) + Σ_j f_ij Q_j(k)), damped: Q ← (1 − λ) Q + λ Q_new.

    Parameters
    ----------
    omega : float, optional
        Pairwise weight ω (> 0).
    alpha : float, optional
        Kernel sharpness α (> 0).
    n_iterations : int, optional
        Mean-field iterations.
    damping : float, optional
        λ in (0, 1].
    trainable : bool, optional
        Learn ω and α (log-parametrised, so they stay positive).

    Scales: the Durham distance of two particles of a 500 GeV event is ~1e-7–1e-3 (soft pairs
    are close whatever their angle). A scan of post-processing (ω, α) on 300 ee_6jet test events
    after a U-Net trained on 900 (``benchmarks/crf_scan.py``, docs/benchmarks.md) found the loss
    hurt least and the accuracy helped most at α ≈ 1e6, ω ≈ 0.01–0.02: the defaults. Larger ω
    over-smooths (ω = 0.2 drops the accuracy from 0.72 to 0.4–0.65).
    """

    def __init__(self, omega: float = 0.01, alpha: float = 1e6, n_iterations: int = 5, damping: float = 0.5,
                 trainable: bool = True):
        super().__init__()
        log_omega = torch.tensor(float(np.log(omega)))
        log_alpha = torch.tensor(float(np.log(alpha)))
        if trainable:
            self.log_omega = nn.Parameter(log_omega)
            self.log_alpha = nn.Parameter(log_alpha)
        else:
            self.register_buffer("log_omega", log_omega)
            self.register_buffer("log_alpha", log_alpha)
        self.n_iterations = n_iterations
        self.damping = damping

    @property
    def omega(self) -> float:
        return float(self.log_omega.exp())

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.exp())

    def kernel(self, energy: torch.Tensor, direction: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, P, P)`` pairwise weights f_ij."""
        return self.log_omega.exp() * durham_kernel(energy, direction, mask, self.log_alpha.exp())

    def energy(self, q: torch.Tensor, log_probs: torch.Tensor, kernel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B,)`` mean-field free energy Σ Q(−log y) + ½ Σ_ij f_ij Σ_k Q_ik (1 − Q_jk) + Σ Q log Q."""
        maskf = mask.to(q.dtype).unsqueeze(-1)
        unary = -(q * log_probs * maskf).sum(dim=(1, 2))
        pairwise = 0.5 * torch.einsum("bpq,bpk,bqk->b", kernel, q, 1.0 - q)
        entropy = (q * torch.log(q.clamp(min=1e-12)) * maskf).sum(dim=(1, 2))
        return unary + pairwise + entropy

    def forward(
        self, log_probs: torch.Tensor, energy: torch.Tensor, direction: torch.Tensor, mask: torch.Tensor,
        n_iterations: int | None = None, keep_all: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Run mean-field inference.

        Parameters
        ----------
        log_probs : (B, P, K) torch.Tensor
            Unary log probabilities (U-Net output per particle).
        energy : (B, P) torch.Tensor
            Particle energies (GeV).
        direction : (B, P, 3) torch.Tensor
            Unit vectors of the particles' momenta.
        mask : (B, P) torch.Tensor
            True for real (not padded) particles.
        n_iterations : int | None, optional
            Override the module's number of iterations.
        keep_all : bool, optional
            Return every iteration's marginals (index 0 = the U-Net's own).

        Returns
        -------
        torch.Tensor | list[torch.Tensor]
            ``(B, P, K)`` log marginals log Q after the last iteration, or the list of all.
        """
        kernel = self.kernel(energy, direction, mask)
        q = log_probs.exp()
        history = [torch.log(q.clamp(min=1e-12))]
        for _ in range(self.n_iterations if n_iterations is None else n_iterations):
            message = torch.einsum("bpq,bqk->bpk", kernel, q)
            q_new = torch.softmax(log_probs + message, dim=-1)
            q = (1.0 - self.damping) * q + self.damping * q_new
            history.append(torch.log(q.clamp(min=1e-12)))
        return history if keep_all else history[-1]
