"""Convolutional β-VAE for jet images (seed 002), its loss, and k-medoids on a distance matrix.

:class:`ConvVAE` maps ``(B, 1, n_pix, n_pix)`` jet images (unit sum, Δη × Δφ) to a
``latent``-dimensional Gaussian (mean, log-variance) through ``n_down`` downsampling blocks
(each: 3×3 convolution + ReLU, then a stride-2 3×3 convolution + ReLU, so 40 → 20 → 10 → 5
pixels) and back through the mirrored decoder (stride-2 transposed convolutions). The output
is a softmax over all pixels: like the inputs, every reconstruction is a non-negative,
unit-sum pT distribution (and it starts uniform, with MSE ≈ Σ x², instead of far off). Jet images are local patches around the
jet axis, so every convolution pads with zeros (no φ wrap).

Loss (:func:`vae_loss`), per jet, as in the talk: ``(1 − β)·MSE + β·KLD`` with
MSE = Σ_pixels (x − x′)² and KLD = KL(N(μ, σ²) ‖ N(0, 1)) summed over the latent
dimensions. With unit-sum images the MSE is O(10⁻²) and the KLD O(10–100), hence the talk's
tiny optimal β ≈ 10⁻⁷.

**EMD-trained variant** (the talk's backup): the reconstruction term can be the sliced
Wasserstein-1 distance instead of the MSE (:class:`SlicedW1`, ``vae_loss(..., distance=)``):
the mean over ``n_slices`` evenly spaced directions ψ_k ∈ [0, π) of the exact 1-d W_1 between
the two images projected on (cos ψ_k, sin ψ_k) — in units of θ/R, like the EMD, and
differentiable. On one pixel grid each projection sorts the same pixel centres for both
images, so W_1 = Σ_i |F_x(t_i) − F_x′(t_i)| (t_{i+1} − t_i) with F the cumulative sums in
that order. It is a lower bound of the 2-d W_1 (projection shortens every move).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jetviz.errors import ConfigError, SchemaError

__all__ = ["ConvVAE", "SlicedW1", "vae_loss", "vae_scores", "representations", "k_medoids"]


class ConvVAE(nn.Module):
    """β-VAE with ``n_down`` convolutional downsampling blocks and a ``latent``-d Gaussian latent space.

    Parameters
    ----------
    n_pix : int, optional
        Image side (divisible by 2**n_down, e.g. 40 for n_down ≤ 3).
    n_down : int, optional
        Downsampling blocks, 1–3 (the talk's scan).
    latent : int, optional
        Latent dimensions (64 in the talk).
    channels : int, optional
        Channels of the first block; block k has ``channels · 2**k``.
    """

    def __init__(self, n_pix: int = 40, n_down: int = 3, latent: int = 64, channels: int = 16):
        super().__init__()
        if not 1 <= int(n_down) <= 4:
            raise ConfigError(f"n_down must be 1..4, got {n_down}")
        if int(n_pix) % (2 ** int(n_down)):
            raise ConfigError(f"n_pix = {n_pix} is not divisible by 2**n_down = {2 ** int(n_down)}")
        if int(latent) < 1 or int(channels) < 1:
            raise ConfigError(f"latent and channels must be ≥ 1, got {latent}, {channels}")
        self.n_pix, self.n_down, self.latent, self.channels = int(n_pix), int(n_down), int(latent), int(channels)
        widths = [channels * 2**k for k in range(self.n_down)]
        blocks, previous = [], 1
        for width in widths:
            blocks.append(nn.Sequential(
                nn.Conv2d(previous, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            ))
            previous = width
        self.down = nn.ModuleList(blocks)
        self.side = self.n_pix // 2**self.n_down
        flat = previous * self.side**2
        self.to_mu = nn.Linear(flat, self.latent)
        self.to_logvar = nn.Linear(flat, self.latent)
        self.from_latent = nn.Linear(self.latent, flat)
        ups = []
        for width, out in zip(widths[::-1], widths[::-1][1:] + [channels]):
            ups.append(nn.Sequential(
                nn.ConvTranspose2d(width, out, 4, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(out, out, 3, padding=1), nn.ReLU(),
            ))
        self.up = nn.ModuleList(ups)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    def _check(self, images: torch.Tensor) -> None:
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1:] != (1, self.n_pix, self.n_pix):
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise SchemaError(f"ConvVAE expects images (B, 1, {self.n_pix}, {self.n_pix}), got {shape}")

    def encode(self, images: torch.Tensor, layers: bool = False):
        """(μ, log σ²), each ``(B, latent)``; with ``layers=True`` also the flattened output
        ``(B, ·)`` of every downsampling block (for the correlation with W_p per layer)."""
        self._check(images)
        h, outputs = images, []
        for block in self.down:
            h = block(h)
            outputs.append(torch.flatten(h, 1))
        flat = torch.flatten(h, 1)
        mu, logvar = self.to_mu(flat), self.to_logvar(flat)
        return (mu, logvar, outputs) if layers else (mu, logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unit-sum images ``(B, 1, n_pix, n_pix)`` from latent points ``(B, latent)`` (softmax over pixels)."""
        h = self.from_latent(z).view(len(z), -1, self.side, self.side)
        for block in self.up:
            h = block(h)
        logits = self.out(h)
        return torch.softmax(logits.flatten(1), dim=1).view_as(logits)

    def forward(self, images: torch.Tensor, sample: bool | None = None):
        """(reconstruction, μ, log σ²); samples z = μ + σ·ε in training mode (or if ``sample``)."""
        mu, logvar = self.encode(images)
        sample = self.training if sample is None else sample
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
        return self.decode(z), mu, logvar


class SlicedW1(nn.Module):
    """Sliced Wasserstein-1 distance between unit-sum images on one (η, φ) pixel grid.

    Parameters
    ----------
    n_pix : int
        Image side in pixels.
    width : float
        Image side in Δη and Δφ (radians); pixel centres as in
        :func:`jetviz.models.emd.pixel_centres` on ``(−width/2, width/2)``.
    R : float, optional
        The jet radius dividing distances (as in the EMD's θ/R).
    n_slices : int, optional
        Directions ψ_k = kπ/n_slices, k = 0 … n_slices − 1.

    Call with two ``(B, 1, n_pix, n_pix)`` (or ``(B, n_pix, n_pix)``) images; returns ``(B,)``.
    """

    def __init__(self, n_pix: int, width: float, R: float = 1.0, n_slices: int = 32):
        super().__init__()
        if int(n_pix) < 1 or not width > 0 or not R > 0 or int(n_slices) < 1:
            raise ConfigError(f"need n_pix ≥ 1, width > 0, R > 0, n_slices ≥ 1; got {n_pix}, {width}, {R}, {n_slices}")
        self.n_pix, self.n_slices = int(n_pix), int(n_slices)
        centres = (torch.arange(self.n_pix, dtype=torch.float64) + 0.5) * (width / self.n_pix) - width / 2
        eta, phi = torch.meshgrid(centres, centres, indexing="ij")  # row-major pixels: (η index, φ index)
        angles = torch.arange(self.n_slices, dtype=torch.float64) * (torch.pi / self.n_slices)
        positions = (torch.cos(angles)[:, None] * eta.reshape(1, -1) + torch.sin(angles)[:, None] * phi.reshape(1, -1)) / R
        positions, order = torch.sort(positions, dim=1)  # (K, P)
        self.register_buffer("order", order)
        self.register_buffer("gaps", positions[:, 1:] - positions[:, :-1])  # (K, P − 1), float64

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
        a, b = images_a.flatten(1), images_b.flatten(1)
        if a.shape != b.shape or a.shape[1] != self.n_pix**2:
            raise SchemaError(f"SlicedW1 expects two (B, 1, {self.n_pix}, {self.n_pix}) image batches, "
                              f"got {tuple(images_a.shape)} and {tuple(images_b.shape)}")
        difference = (a - b)[:, self.order]  # (B, K, P) in each slice's order, the images' dtype
        cdf = torch.cumsum(difference, dim=2)[:, :, :-1]
        return (cdf.abs() * self.gaps.to(cdf.dtype)).sum(2).mean(1)


def vae_loss(reconstruction: torch.Tensor, images: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float, distance: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-jet ``(1 − β)·D + β·KLD``, D and KLD, each ``(B,)``.

    D = MSE = Σ_pixels (x − x′)² by default, or ``distance(x′, x)`` (e.g. :class:`SlicedW1`);
    KLD = −½ Σ_latent (1 + log σ² − μ² − σ²).
    """
    if not 0.0 <= float(beta) <= 1.0:
        raise ConfigError(f"beta must lie in [0, 1], got {beta}")
    if distance is None:
        reco = ((reconstruction - images) ** 2).flatten(1).sum(1)
    else:
        reco = distance(reconstruction, images)
    kld = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
    return (1.0 - beta) * reco + beta * kld, reco, kld


def k_medoids(distances: np.ndarray, k: int, seed: int = 0, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """k-medoids (k-medoids++ seeding, then alternating assignment / medoid update) on a distance matrix.

    Parameters
    ----------
    distances : (N, N) np.ndarray
        Symmetric, non-negative, zero diagonal (e.g. pairwise W_p).
    k : int
        Number of medoids, 1 ≤ k ≤ N.
    seed : int, optional
        Seed of the k-medoids++ initialisation.
    max_iter : int, optional
        Iterations at most (stops when the medoids no longer change).

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        (medoids ``(k,)`` indices into the N points, sorted; labels ``(N,)`` index 0..k−1 of each
        point's nearest medoid).
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise SchemaError(f"distances must be a square (N, N) matrix, got {d.shape}")
    n = len(d)
    if not 1 <= int(k) <= n:
        raise ConfigError(f"k must lie in 1..{n}, got {k}")
    if not np.isfinite(d).all() or (d < 0).any():
        raise SchemaError("distances must be finite and non-negative")
    rng = np.random.default_rng(seed)
    medoids = [int(rng.integers(n))]
    for _ in range(1, int(k)):
        nearest = d[:, medoids].min(axis=1)
        weights = nearest**2
        total = weights.sum()
        choice = int(rng.choice(n, p=weights / total)) if total > 0 else int(rng.choice(np.setdiff1d(np.arange(n), medoids)))
        medoids.append(choice)
    medoids = np.array(medoids)
    for _ in range(int(max_iter)):
        labels = d[:, medoids].argmin(axis=1)
        updated = medoids.copy()
        for c in range(len(medoids)):
            members = np.flatnonzero(labels == c)
            if len(members):
                updated[c] = members[d[np.ix_(members, members)].sum(axis=1).argmin()]
        if np.array_equal(np.sort(updated), np.sort(medoids)):
            break
        medoids = updated
    medoids = np.sort(medoids)
    return medoids, d[:, medoids].argmin(axis=1)


@torch.no_grad()
def vae_scores(model: ConvVAE, images: np.ndarray, beta: float, device: str = "cpu", batch_size: int = 512,
               distance: SlicedW1 | None = None) -> np.ndarray:
    """Per-jet VAE loss ``(N,)`` with z = μ (the anomaly score); ``distance`` as in :func:`vae_loss`."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = torch.tensor(images[start:start + batch_size], device=device)  # a copy: images may be a read-only memory map
        reconstruction, mu, logvar = model(x, sample=False)
        out.append(vae_loss(reconstruction, x, mu, logvar, beta, distance)[0].cpu().numpy())
    return np.concatenate(out).astype(np.float64)


@torch.no_grad()
def representations(model: ConvVAE, images: np.ndarray, device: str = "cpu") -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(per-block flattened activations, latent μ ``(N, latent)``, reconstructions) of ``images``."""
    model.eval()
    x = torch.as_tensor(images, device=device)
    mu, logvar, layers = model.encode(x, layers=True)
    return [layer.cpu().numpy() for layer in layers], mu.cpu().numpy(), model.decode(mu).cpu().numpy()
