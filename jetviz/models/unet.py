"""U-Net encoder–decoder for semantic segmentation of η–φ maps (jet colorization, seed 000)."""
from __future__ import annotations

import torch
from torch import nn

from jetviz.models.layers import PhiConv2d, conv_bn_relu

__all__ = ["UNet"]


class _Block(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, circular_phi: bool):
        super().__init__(conv_bn_relu(in_channels, out_channels, circular_phi), conv_bn_relu(out_channels, out_channels, circular_phi))


class UNet(nn.Module):
    """U-Net: ``depth`` down-sampling levels of two 3×3 convolutions each, mirrored on the way up
    with skip connections; every convolution is φ-periodic unless ``circular_phi=False``.

    Parameters
    ----------
    in_channels : int, optional
        Input maps C (energy; optionally charge, PID class, d0, z0 ...).
    n_classes : int, optional
        K jet colours.
    base_channels : int, optional
        Channels of the first level (doubled at each level down).
    depth : int, optional
        Number of 2× down-samplings; ``n_eta`` and ``n_phi`` must be divisible by 2**depth.
    circular_phi : bool, optional
        Circular padding in φ in every convolution.

    Input ``(B, C, n_eta, n_phi)``; output logits ``(B, K, n_eta, n_phi)`` (softmax over K gives
    the per-pixel colour probabilities).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 6, base_channels: int = 16, depth: int = 3,
                 circular_phi: bool = True):
        super().__init__()
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        previous = in_channels
        for width in widths[:-1]:
            self.down.append(_Block(previous, width, circular_phi))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.bottom = _Block(widths[-2], widths[-1], circular_phi)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for level in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.merge.append(_Block(2 * widths[level], widths[level], circular_phi))
        self.head = PhiConv2d(widths[0], n_classes, 1, circular_phi=circular_phi)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n_eta, n_phi = images.shape[-2:]
        if n_eta % 2**self.depth or n_phi % 2**self.depth:
            raise ValueError(f"image size {n_eta}×{n_phi} is not divisible by 2**depth = {2**self.depth}")
        skips = []
        x = images
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)
