"""A faster private copy of a frozen generator for methods that run it thousands of times (trained methods).

Rewrites that leave the function unchanged up to float rounding: each BatchNorm that directly follows a
Conv2d / ConvTranspose2d in an `nn.Sequential` is folded into that convolution's weight and bias (a frozen eval-mode
BatchNorm is a per-channel affine map); two transposed convolutions that oneDNN runs slowly get an equivalent faster
form (a 1 x 1-input projection as a matrix product, a thin stride-2 output layer as a sub-pixel convolution); and 4-d
weights are stored channels-last when a probe forward still works (code that `.view`s activations can fail on
channels-last tensors; the copy then stays as it was).

Optionally the copy runs in bfloat16 (`LowPrecision`): the frozen generator's convolutions take about half the time
on CPUs with native bfloat16 (AVX512-BF16, AMX; emulated, and slower, on others), at about 1 % error on the images --
mixed precision as on GPUs, with everything trained (directions, reconstructor, optimiser) still in float32.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import GansteerError
from .base import Generator, mapped

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def fold_batchnorm(module: nn.Module) -> int:
    """Fold eval-mode BatchNorm2d into the convolution before it, in place, in each nn.Sequential; returns the count."""
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if (isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d)
                    and not bn.training and bn.running_mean is not None and conv.groups == 1):
                transpose = isinstance(conv, nn.ConvTranspose2d)
                seq[i] = fuse_conv_bn_eval(conv, bn, transpose=transpose).requires_grad_(False)
                seq[i + 1] = nn.Identity()
                folded += 1
    return folded


class ProjectionConvTranspose(nn.Module):
    """A ConvTranspose2d (stride 1, no padding) on a 1 x 1 input -- DCGAN's first layer -- is one matrix product,
    (N, C_in) @ (C_in, C_out k k): 0.8 ms instead of oneDNN's 1.8 ms on dcgan-face (batch 32), 2.3 vs 5.9 ms with
    the backward. Other input sizes go to the convolution itself."""

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        self.conv = conv
        k = conv.kernel_size[0] * conv.kernel_size[1]
        self.register_buffer("matrix", conv.weight.detach().reshape(conv.in_channels, -1).contiguous())
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().repeat_interleave(k))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (1, 1):
            return self.conv(x)
        y = x.flatten(1) @ self.matrix
        y = y if self.bias is None else y + self.bias
        return y.view(x.shape[0], self.conv.out_channels, *self.conv.kernel_size)


class SubPixelConvTranspose(nn.Module):
    """ConvTranspose2d(kernel 4, stride 2, padding 1) as a 3 x 3 convolution to 4 C_out channels followed by a pixel
    shuffle: output pixel (2i + a, 2j + b) reads inputs i - 1 .. i + 1, j - 1 .. j + 1 through taps of the original
    kernel. For an RGB output layer oneDNN's transposed form is the slower one (dcgan-face: 5.5 vs 3.5 ms)."""

    TAPS = ({0: 3, 1: 1}, {1: 2, 2: 0})  # output phase -> {offset in the 3 x 3 window: kernel index}

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        w = conv.weight.detach()  # (C_in, C_out, 4, 4)
        sub = w.new_zeros(conv.out_channels, 2, 2, conv.in_channels, 3, 3)
        for a, rows in enumerate(self.TAPS):
            for b, cols in enumerate(self.TAPS):
                for dy, ky in rows.items():
                    for dx, kx in cols.items():
                        sub[:, a, b, :, dy, dx] = w[:, :, ky, kx].T
        self.register_buffer("weight", sub.reshape(4 * conv.out_channels, conv.in_channels, 3, 3))
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().repeat_interleave(4))

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.pixel_shuffle(nn.functional.conv2d(x, self.weight, self.bias, padding=1), 2)


def rewrite_transposed_convolutions(module: nn.Module, *, max_subpixel_channels: int = 4) -> int:
    """Replace, in each nn.Sequential, stride-1 unpadded transposed convolutions (for 1 x 1 inputs) and thin stride-2
    output layers by the equivalent forms above, in place; returns the count."""
    rewritten = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i, conv in enumerate(seq):
            if not isinstance(conv, nn.ConvTranspose2d) or conv.groups != 1 or conv.dilation != (1, 1) \
                    or conv.output_padding != (0, 0):
                continue
            if conv.stride == (1, 1) and conv.padding == (0, 0):
                seq[i] = ProjectionConvTranspose(conv)
            elif (conv.kernel_size, conv.stride, conv.padding) == ((4, 4), (2, 2), (1, 1)) \
                    and conv.out_channels <= max_subpixel_channels:
                seq[i] = SubPixelConvTranspose(conv)
            else:
                continue
            rewritten += 1
    return rewritten


class LowPrecision(Generator):
    """`inner` run in a lower precision, speaking float32: latents are cast down on the way in, images and features
    up on the way out (gradients flow through both casts)."""

    def __init__(self, inner: Generator, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        self.inner = inner.to(dtype)
        for attr in ("name", "latent_dim", "spaces", "num_layers", "resolution", "channels", "num_classes",
                     "feature_layers"):
            setattr(self, attr, getattr(inner, attr))
        self.freeze()

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def forward(self, latent: Tensor, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        return self.inner(latent.to(self.inner.dtype), space=space, cond=cond).float()

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        return self.inner.features(latent.to(self.inner.dtype), layer, space=space, cond=cond).float()

    def map_latent(self, z: Tensor, space: str, cond: Tensor | int | None = None) -> Tensor:
        return mapped(self.inner, z.to(self.inner.dtype), space, cond).float()


def fast_copy(generator: Generator, probe: Tensor, *, space: str = "z", cond: int | None = None, fold: bool = True,
              precision: str = "float32") -> Generator:
    """A deep copy of `generator`: with `fold`, BatchNorm folded and channels-last weights where that works; with
    precision="bfloat16", run in bfloat16 behind float32 inputs and outputs (see above)."""
    if precision not in PRECISIONS:
        raise GansteerError(f"unknown precision {precision!r}; expected one of: {', '.join(PRECISIONS)}")
    try:
        fast = copy.deepcopy(generator)
    except Exception:  # an exotic generator that cannot be copied: use it as it is
        if precision != "float32":
            raise GansteerError(f"generator {generator.name!r} cannot be copied to run in {precision}") from None
        return generator
    if fold:
        fold_batchnorm(fast)
        rewrite_transposed_convolutions(fast)
        fast.to(memory_format=torch.channels_last)
        if not _runs(fast, probe, space, cond):
            fast.to(memory_format=torch.contiguous_format)
    if precision != "float32":
        if fast.device.type == "cpu" and native_bfloat16() is False:
            warnings.warn("this CPU has no native bfloat16 (AVX512-BF16 / AMX): precision='bfloat16' is emulated and "
                          "slower than float32", stacklevel=2)
        fast = LowPrecision(fast, PRECISIONS[precision])
        if not _runs(fast, probe, space, cond):
            raise GansteerError(f"generator {generator.name!r} does not run in {precision}; use float32")
    return fast.freeze()


def native_bfloat16() -> bool | None:
    """Whether the CPU computes bfloat16 natively, from /proc/cpuinfo's flags; None where that file does not exist."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _runs(generator: Generator, probe: Tensor, space: str, cond: int | None) -> bool:
    try:
        with torch.no_grad():
            generator(probe, space=space, cond=cond)
    except RuntimeError:
        return False
    return True
