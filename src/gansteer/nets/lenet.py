"""LeNet-style reconstructor (Voynov & Babenko's choice for SN-GAN MNIST / Anime): two conv+pool stages, three FCs."""

from __future__ import annotations

from torch import nn

from ..registry import RECONSTRUCTORS
from .reconstructor import Reconstructor


def lenet_backbone(in_channels: int, width: int = 2, features: int = 84) -> nn.Sequential:
    """(N, in_channels, H, W) -> (N, features * width); any H, W >= 16 (adaptive pooling before the FCs)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6 * width, 5), nn.BatchNorm2d(6 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6 * width, 16 * width, 5), nn.BatchNorm2d(16 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Linear(16 * width * 16, 120 * width), nn.BatchNorm1d(120 * width), nn.ReLU(),
        nn.Linear(120 * width, features * width), nn.ReLU(),
    )


@RECONSTRUCTORS.register("lenet", help="LeNet (seed 000: MNIST / Anime setting); width 2")
def lenet(*, channels: int, num_directions: int, width: int = 2) -> Reconstructor:
    return Reconstructor(lenet_backbone(2 * channels, width), 84 * width, num_directions)


@RECONSTRUCTORS.register("lenet-tiny", tiny=True, help="LeNet of width 1 for tests")
def lenet_tiny(*, channels: int, num_directions: int) -> Reconstructor:
    return Reconstructor(lenet_backbone(2 * channels, 1, 32), 32, num_directions)
