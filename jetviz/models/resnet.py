"""ResNet18 for 3-channel η–φ event images (seed 003), written here with φ-periodic convolutions.

torchvision is not installable beside the CPU torch of this project, and its ResNet pads φ
with zeros anyway, so this is a from-scratch ResNet18 (He et al. 2016, "basic block" variant)
whose every convolution is a :class:`jetviz.models.layers.PhiConv2d`: circular padding in φ
(the last axis) and zeros in η, switchable with ``circular_phi=False`` (the ablation).

Differences from the ImageNet ResNet18, for 50 × 50 inputs:

- stem: one 3×3 stride-1 convolution (+ BatchNorm + ReLU) instead of the 7×7 stride-2
  convolution and 3×3 max-pool, which would shrink 50 × 50 to 13 × 13 before the first
  block and throw away the cell granularity (the CIFAR adaptation of ResNet does the same);
- the four stages keep their layout (2 basic blocks each, widths ``w, 2w, 4w, 8w``, strides
  1, 2, 2, 2), so 50 × 50 becomes 50 → 25 → 13 → 7 before global average pooling;
- the projection shortcut of a stage that changes shape is a 1×1 ``PhiConv2d`` (no padding,
  so nothing to wrap) + BatchNorm, as in the original "option B".
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jetviz.errors import ConfigError, SchemaError
from typing import Iterable

from jetviz.models.layers import PhiConv2d

__all__ = ["BasicBlock", "ResNet18", "refresh_batchnorm", "batch_rows", "image_inputs", "resnet_scores"]


class BasicBlock(nn.Module):
    """Two 3×3 φ-periodic convolutions with BatchNorm, a residual connection and ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    stride : int, optional
        Stride of the first convolution (2 halves η and φ, rounding up).
    circular_phi : bool, optional
        Circular padding in φ in both convolutions.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, circular_phi: bool = True):
        super().__init__()
        self.conv1 = PhiConv2d(in_channels, out_channels, 3, stride=stride, bias=False, circular_phi=circular_phi)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = PhiConv2d(out_channels, out_channels, 3, stride=1, bias=False, circular_phi=circular_phi)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                PhiConv2d(in_channels, out_channels, 1, stride=stride, bias=False, circular_phi=circular_phi),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet18 classifier of ``(B, C, n_eta, n_phi)`` images → ``(B, n_classes)`` logits.

    Parameters
    ----------
    in_channels : int, optional
        Image channels C (3 for ECal E, HCal E, tracks pT).
    n_classes : int, optional
        Number of classes K (≥ 2); the output is raw logits (use cross-entropy).
    circular_phi : bool, optional
        Circular padding in φ in every convolution (False: zero padding, the
        ablation of seed 003).
    width : int, optional
        Channels of the first stage ``w`` (64 in the original; the stages have
        ``w, 2w, 4w, 8w``). A small width (8) trains in seconds on a CPU.

    Any image size ≥ 1 × 1 works (global average pooling); the design size is 50 × 50.
    """

    stage_blocks = (2, 2, 2, 2)

    def __init__(self, in_channels: int = 3, n_classes: int = 2, circular_phi: bool = True, width: int = 64):
        super().__init__()
        if int(in_channels) < 1 or int(n_classes) < 2 or int(width) < 1:
            raise ConfigError(
                f"ResNet18 needs in_channels ≥ 1, n_classes ≥ 2 and width ≥ 1, got "
                f"in_channels={in_channels}, n_classes={n_classes}, width={width}"
            )
        self.in_channels = int(in_channels)
        self.n_classes = int(n_classes)
        self.circular_phi = bool(circular_phi)
        self.width = int(width)
        self.stem = nn.Sequential(
            PhiConv2d(self.in_channels, self.width, 3, stride=1, bias=False, circular_phi=self.circular_phi),
            nn.BatchNorm2d(self.width),
            nn.ReLU(inplace=True),
        )
        stages = []
        previous = self.width
        for level, n_blocks in enumerate(self.stage_blocks):
            channels = self.width * 2**level
            blocks = []
            for b in range(n_blocks):
                stride = 2 if (level > 0 and b == 0) else 1
                blocks.append(BasicBlock(previous, channels, stride, self.circular_phi))
                previous = channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(previous, self.n_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for module in self.modules():  # zero-init the last BN of each block: start as identity
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled ``(B, 8·width)`` representation before the linear head."""
        self._check_input(x)
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of images ``(B, in_channels, n_eta, n_phi)``."""
        return self.head(self.features(x))

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise SchemaError(f"ResNet18 takes a torch tensor (B, C, n_eta, n_phi), got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise SchemaError(
                f"ResNet18 expects images of shape (B, {self.in_channels}, n_eta, n_phi) with φ last, "
                f"got {tuple(x.shape)}"
            )


@torch.no_grad()
def refresh_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Recompute every BatchNorm's running mean and variance as exact averages over ``batches``.

    After a short training the running statistics (momentum 0.1) still describe the early
    weights, and the model in ``eval()`` mode can be far worse than in ``train()`` mode. This
    resets them and averages the batch statistics of ``batches`` (input tensors, e.g. a few
    training batches without augmentation) with the current weights ("precise BN"). Weights are
    not touched; the model is left in ``eval()`` mode and returned.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average = plain mean over the batches
    model.train()
    try:
        for x in batches:
            model(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    return model


def image_inputs(images: np.ndarray, transform: str = "log") -> np.ndarray:
    """What the ResNet sees: ``log1p(E / 1 GeV)`` or ``E / 100 GeV`` of ``(N, 3, n_eta, n_phi)`` images."""
    if transform == "log":
        return np.log1p(np.clip(images, 0.0, None)).astype(np.float32)
    if transform == "linear":
        return (images / 100.0).astype(np.float32)
    raise ConfigError(f"image_transform must be 'log' or 'linear', got {transform!r}")


def batch_rows(n: int, batch_size: int, order: np.ndarray | None = None) -> Iterable[np.ndarray]:
    """Row indices ``order`` (default ``0 … n−1``) in consecutive batches of ``batch_size``."""
    order = np.arange(n) if order is None else order
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


@torch.no_grad()
def resnet_scores(model: ResNet18, images: np.ndarray, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
    """P(class 1) ``(N,)`` float64 of a ResNet (in eval mode) for transformed images ``(N, 3, n_eta, n_phi)``."""
    model.eval()
    out = []
    for rows in batch_rows(len(images), batch_size):
        logits = model(torch.as_tensor(images[rows], device=device))
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
