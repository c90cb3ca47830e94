"""Reconstructor R(I1, I2) -> (logits over K directions, predicted shift): a backbone on the channel-concatenated pair.

Used by Voynov & Babenko (predicts which direction moved G(z) and by how much), WarpedGANSpace and RCA.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..registry import RECONSTRUCTORS


class Reconstructor(nn.Module):
    """Backbone features of cat(I1, I2) -> a K-way classification head and a scalar regression head."""

    def __init__(self, backbone: nn.Module, features: int, num_directions: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.direction_head = nn.Linear(features, num_directions)
        self.shift_head = nn.Linear(features, 1)

    def forward(self, image: Tensor, shifted: Tensor) -> tuple[Tensor, Tensor]:
        h = self.backbone(torch.cat([image, shifted], dim=1))  # (N, features)
        return self.direction_head(h), self.shift_head(h).squeeze(1)


def create_reconstructor(name: str, *, channels: int, num_directions: int, **kwargs: object) -> Reconstructor:
    """`create_reconstructor("lenet", channels=3, num_directions=64)`: input is 2*channels (the image pair)."""
    return RECONSTRUCTORS.create(name, channels=channels, num_directions=num_directions, **kwargs)
