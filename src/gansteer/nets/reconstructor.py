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


def create_reconstructor(name: str, *, channels: int, num_directions: int, fast: bool = False,
                         **kwargs: object) -> Reconstructor:
    """`create_reconstructor("lenet", channels=3, num_directions=64)`: input is 2*channels (the image pair);
    `fast` runs its first convolution channels-last (see `channels_last_input_conv`)."""
    net = RECONSTRUCTORS.create(name, channels=channels, num_directions=num_directions, **kwargs)
    return channels_last_input_conv(net) if fast else net


def channels_last_input_conv(net: nn.Module) -> nn.Module:
    """Run the first Conv2d of `net` channels-last and hand its output on NCHW (in place; returns `net`).

    On a CPU the backward of a convolution over the 2 x 3 channels of an image pair is about twice as fast
    channels-last, while the BatchNorm and pooling after it are faster NCHW: LeNet's step (forward and backward) takes
    10-14 % less time, ResNet-18's the same. The same function; parameters and state-dict keys are unchanged."""
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
    conv.register_forward_pre_hook(lambda module, args: (args[0].contiguous(memory_format=torch.channels_last),))
    conv.register_forward_hook(lambda module, args, out: out.contiguous())
    return net
