"""Convolutions for η–φ images: φ (the last axis) is periodic, η is not.

Every convolution that sees φ pads it circularly (``circular_phi=True``) and pads η with
zeros, so a feature at φ = π is seen next to φ = −π. ``circular_phi=False`` zero-pads both
axes (the ablation asked for in seed 000 and seed 003).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PhiConv2d", "conv_bn_relu"]


class PhiConv2d(nn.Conv2d):
    """``nn.Conv2d`` on ``(B, C, n_eta, n_phi)`` with circular padding in φ and zeros in η.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride : int
        As ``nn.Conv2d`` (square kernel).
    bias : bool, optional
        As ``nn.Conv2d``.
    circular_phi : bool, optional
        Pad φ circularly (True) or with zeros (False).

    The output has the size of ``nn.Conv2d(..., padding=kernel_size // 2)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 bias: bool = True, circular_phi: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        self.pad = kernel_size // 2
        self.circular_phi = circular_phi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        if p:
            if self.circular_phi:
                x = F.pad(x, (p, p, 0, 0), mode="circular")
                x = F.pad(x, (0, 0, p, p))
            else:
                x = F.pad(x, (p, p, p, p))
        return super().forward(x)


def conv_bn_relu(in_channels: int, out_channels: int, circular_phi: bool = True, stride: int = 1) -> nn.Sequential:
    """3×3 φ-periodic convolution → BatchNorm → ReLU."""
    return nn.Sequential(
        PhiConv2d(in_channels, out_channels, 3, stride=stride, bias=False, circular_phi=circular_phi),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )
