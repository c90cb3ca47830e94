"""ResNet-18 (He et al. 2016), written here because torchvision cannot be installed beside our torch.

Same layer layout as torchvision's resnet18 (BasicBlock x [2, 2, 2, 2]); the stem takes 2*C channels (an image pair).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..registry import RECONSTRUCTORS
from .reconstructor import Reconstructor


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """(N, in_channels, H, W) -> (N, widths[-1]) pooled features."""

    def __init__(self, in_channels: int, blocks: tuple[int, ...] = (2, 2, 2, 2),
                 widths: tuple[int, ...] = (64, 128, 256, 512)) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        layers, c_in = [], widths[0]
        for i, (n, c_out) in enumerate(zip(blocks, widths, strict=True)):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(*[BasicBlock(c_in if j == 0 else c_out, c_out, stride if j == 0 else 1)
                                          for j in range(n)]))
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.features = widths[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.layers(self.stem(x))).flatten(1)


@RECONSTRUCTORS.register("resnet18", help="ResNet-18 (seed 000: ImageNet / CelebA-HQ setting)")
def resnet18(*, channels: int, num_directions: int) -> Reconstructor:
    net = ResNet(2 * channels)
    return Reconstructor(net, net.features, num_directions)


@RECONSTRUCTORS.register("resnet-tiny", tiny=True, help="ResNet with one block per stage and 8-64 channels, for tests")
def resnet_tiny(*, channels: int, num_directions: int) -> Reconstructor:
    net = ResNet(2 * channels, blocks=(1, 1, 1, 1), widths=(8, 16, 32, 64))
    return Reconstructor(net, net.features, num_directions)
