"""Symmetry augmentations of η–φ event images ``(B, C, n_eta, n_phi)`` (seed 003).

The physics of a pp collision is symmetric under η → −η (the beams are identical) and under
a rotation about the beam axis φ → φ + α. On a pixel grid symmetric about η = 0 and covering
the full φ circle, these are exact permutations of pixels:

- :func:`eta_flip` reverses the η axis (second-to-last) of each image with probability ``p``;
- :func:`phi_roll` rolls the φ axis (last) of each image by its own random whole number of
  pixels (a rotation by a multiple of Δφ = 2π / n_phi).

Both act per image of a batch, return a new tensor (the input is never modified) and only
permute pixels, so every image's total energy, and every pixel value, is preserved exactly.
Randomness comes from an optional ``torch.Generator`` (on the images' device) so a run is
reproducible.
"""
from __future__ import annotations

import torch

from jetviz.errors import ConfigError, SchemaError

__all__ = ["eta_flip", "phi_roll", "augment_images"]


def _check(images: torch.Tensor, name: str) -> None:
    if not isinstance(images, torch.Tensor):
        raise SchemaError(f"{name} takes a torch tensor (B, C, n_eta, n_phi), got {type(images).__name__}")
    if images.ndim != 4:
        raise SchemaError(f"{name} expects images of shape (B, C, n_eta, n_phi), got {tuple(images.shape)}")


def eta_flip(images: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Reflect η → −η (reverse axis −2) of each image independently with probability ``p``.

    Parameters
    ----------
    images : (B, C, n_eta, n_phi) torch.Tensor
        Images (the η grid must be symmetric about 0, as the
        detector's and :func:`jetviz.data.pixelate.event_images`' are).
    generator : torch.Generator | None, optional
        Source of randomness (None: torch's global one).
    p : float, optional
        Probability of flipping each image, in [0, 1].

    Returns
    -------
    torch.Tensor
        A new tensor of the same shape, dtype and device.
    """
    _check(images, "eta_flip")
    if not 0.0 <= float(p) <= 1.0:
        raise ConfigError(f"eta_flip probability p must lie in [0, 1], got {p}")
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < float(p)
    return torch.where(flip[:, None, None, None], images.flip(-2), images)


def phi_roll(images: torch.Tensor, generator: torch.Generator | None = None, shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate each image about the beam axis: roll its φ axis (the last) by a random whole shift.

    Parameters
    ----------
    images : (B, C, n_eta, n_phi) torch.Tensor
        Images.
    generator : torch.Generator | None, optional
        Source of randomness for the shifts (None: torch's global one).
    shifts : (B,) torch.Tensor | None, optional
        Integer shifts in pixels (then no randomness): image ``b``
        becomes ``torch.roll(images[b], shifts[b], dims=-1)``.

    Returns
    -------
    torch.Tensor
        A new tensor of the same shape, dtype and device.
    """
    _check(images, "phi_roll")
    b, n_phi = images.shape[0], images.shape[-1]
    if shifts is None:
        shifts = torch.randint(0, n_phi, (b,), generator=generator, device=images.device)
    else:
        shifts = torch.as_tensor(shifts, device=images.device)
        if shifts.shape != (b,) or shifts.is_floating_point():
            raise SchemaError(f"phi_roll shifts must be ({b},) integers, got {tuple(shifts.shape)} {shifts.dtype}")
    # torch.roll: out[j] = in[(j - shift) mod n]; one gather for the whole batch
    source = torch.remainder(torch.arange(n_phi, device=images.device)[None, :] - shifts[:, None].long(), n_phi)
    index = source[:, None, None, :].expand_as(images)
    return torch.gather(images, -1, index)


def augment_images(images: torch.Tensor, generator: torch.Generator | None = None, flip_eta: bool = True,
            roll_phi: bool = True, p_flip: float = 0.5) -> torch.Tensor:
    """The training augmentation of seed 003: :func:`eta_flip` then :func:`phi_roll`, each switchable.

    Returns a new tensor even when both are off (a copy), so callers may always write into it.
    """
    out = images
    if flip_eta:
        out = eta_flip(out, generator, p_flip)
    if roll_phi:
        out = phi_roll(out, generator)
    return out if out is not images else images.clone()
