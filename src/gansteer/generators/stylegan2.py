"""StyleGAN2 (Karras et al., CVPR 2020) in plain torch: mapping z -> w, synthesis w+ -> image.

Spaces: ``z`` (the Gaussian input), ``w`` (the mapping output; with truncation ψ towards the stored ``w_avg``),
``w+`` (one w per style input, ``num_layers = num_ws`` rows) and ``z+`` (one z per row, each mapped). Row i of w+
drives synthesis conv i; the toRGB of each resolution reads the row after its last conv (NVlabs' indexing), so a
1024x1024 model has 17 convs and 18 rows.

Layers: modulated 3x3 convs with weight demodulation, per-layer noise (``noise_mode``: ``"const"`` uses the stored
noise images so an edit changes nothing but the edit, ``"random"`` draws fresh noise, ``"none"`` turns it off),
toRGB skip connections, and [1,3,3,1] FIR up-sampling (upfirdn) written with `conv2d`. Weights are stored as both
official code bases store them (equalised learning rate: raw weights, gains applied at run time), so the
checkpoint readers in `stylegan2_formats` only rename and reshape. Output images are not clamped (like the
official code): trained models stay close to [-1, 1]; pictures clamp when they are saved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GansteerError
from ..io.checkpoints import allow_config_class
from ..registry import GENERATOR_FORMATS, GENERATORS
from .base import Generator

SQRT2 = math.sqrt(2.0)
allow_config_class("argparse.Namespace")  # rosinality's training snapshots pickle their args: read as inert data
NOISE_MODES = ("const", "random", "none")


def make_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> Tensor:
    """Separable low-pass FIR taps -> normalised 2-D filter (fh, fw)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def upfirdn(x: Tensor, f: Tensor, *, up: int = 1, pad: tuple[int, int] = (0, 0), gain: float = 1.0) -> Tensor:
    """Zero-insertion upsampling by `up`, padding (negative crops), then FIR filtering with `f` (true convolution)."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    kernel = (f * gain).flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    return F.conv2d(x, kernel, groups=c)


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class StyleLinear(nn.Module):
    """Equalised-learning-rate fully connected layer: y = (W * lr/sqrt(in)) x + b * lr, optional lrelu * sqrt(2)."""

    def __init__(self, in_features: int, out_features: int, *, lr_mul: float = 1.0, bias_init: float = 0.0,
                 activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain, self.bias_gain, self.activate = lr_mul / math.sqrt(in_features), lr_mul, activate

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activate else x


class Mapping(nn.Module):
    """z (N, z_dim) [+ class (N, c_dim)] -> w (N, w_dim): 2nd-moment normalisation, then `num_layers` lrelu layers."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, *, c_dim: int = 0, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.embed = StyleLinear(c_dim, w_dim) if c_dim else None
        first = z_dim + (w_dim if c_dim else 0)  # the class embedding is concatenated to z
        self.fc = nn.ModuleList(StyleLinear(first if i == 0 else w_dim, w_dim, lr_mul=lr_mul, activate=True)
                                for i in range(num_layers))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            x = torch.cat([x, normalize_2nd_moment(self.embed(c))], dim=1)
        for layer in self.fc:
            x = layer(x)
        return x


class StyledConv(nn.Module):
    """Modulated, demodulated 3x3 conv (optionally 2x up-sampling), noise, bias, lrelu * sqrt(2), optional clamp."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, *, up: bool = False,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.affine = StyleLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp

    def forward(self, x: Tensor, w: Tensor, f: Tensor, noise_mode: str) -> Tensor:
        styles = self.affine(w)  # (N, C_in)
        # Scale the activations around one shared conv (NVlabs' non-fused path; its per-sample grouped-conv path
        # measured no faster on a CPU). Demodulation 1/|W_o * s| without materialising per-sample weights.
        dcoefs = (styles.square() @ self.weight.square().sum([2, 3]).T + 1e-8).rsqrt()  # (N, C_out)
        x = x * styles[:, :, None, None]
        if self.up:  # transposed conv (stride 2), then the FIR filter, as in both reference code bases
            fw = f.shape[-1]
            x = F.conv_transpose2d(x, self.weight.transpose(0, 1), stride=2)
            x = upfirdn(x, f, pad=((fw + 1) // 2 - 1, (fw - 2) // 2), gain=4.0)
        else:
            x = F.conv2d(x, self.weight, padding=1)
        if noise_mode == "const":
            noise: Tensor | float = self.noise_const * self.noise_strength  # (H, W)
        elif noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype) * self.noise_strength
        else:
            noise = 0.0
        # demodulation, noise, bias and the lrelu gain in one multiply-add (lrelu(a) * √2 = lrelu(a * √2)): fewer
        # passes over the activations (bench/stylegan2.py, case post_conv)
        shift = (noise + self.bias[:, None, None]) * SQRT2
        x = F.leaky_relu(torch.addcmul(shift, x, (dcoefs * SQRT2)[:, :, None, None]), 0.2)
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation: features (N, C, H, W) -> image contribution (N, img_channels, H, W)."""

    def __init__(self, c_in: int, img_channels: int, w_dim: int, *, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.affine = StyleLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain, self.conv_clamp = 1 / math.sqrt(c_in), conv_clamp

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain  # (N, C)
        x = F.conv2d(x * styles[:, :, None, None], self.weight) + self.bias[None, :, None, None]
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class Synthesis(nn.Module):
    """w+ (N, num_ws, w_dim) -> image: a learned 4x4 constant, then per resolution [up-conv,] conv, toRGB skip."""

    def __init__(self, widths: Sequence[int], w_dim: int, img_channels: int, *, conv_clamp: float | None = None,
                 filter_taps: Sequence[float] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.resolutions = [4 * 2**i for i in range(len(widths))]
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.register_buffer("resample_filter", make_filter(filter_taps))
        convs = [StyledConv(widths[0], widths[0], w_dim, 4, conv_clamp=conv_clamp)]
        self.layer_names = ["b4.conv1"]
        for c_in, c_out, res in zip(widths, widths[1:], self.resolutions[1:], strict=False):
            convs += [StyledConv(c_in, c_out, w_dim, res, up=True, conv_clamp=conv_clamp),
                      StyledConv(c_out, c_out, w_dim, res, conv_clamp=conv_clamp)]
            self.layer_names += [f"b{res}.conv0", f"b{res}.conv1"]
        self.convs = nn.ModuleList(convs)
        self.torgbs = nn.ModuleList(ToRGB(c, img_channels, w_dim, conv_clamp=conv_clamp) for c in widths)
        self.num_ws = len(convs) + 1

    def forward(self, ws: Tensor, *, noise_mode: str = "const", stop_at: str | None = None) -> Tensor:
        f = self.resample_filter
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)  # (N, C, 4, 4)
        img: Tensor | None = None
        for i, (conv, name) in enumerate(zip(self.convs, self.layer_names, strict=True)):
            x = conv(x, ws[:, i], f, noise_mode)
            if name == stop_at:
                return x
            if name.endswith("conv1"):  # end of a resolution: upsample the running image, add this toRGB
                block = (i + 1) // 2
                y = self.torgbs[block](x, ws[:, i + 1])
                fw = f.shape[-1]
                img = y if img is None else upfirdn(img, f, up=2, pad=((fw + 1) // 2, (fw - 2) // 2), gain=4.0) + y
        return img  # type: ignore[return-value]


class StyleGAN2(Generator):
    """StyleGAN2 generator (config F layout, 'skip' architecture), any resolution, width, mapping depth."""

    spaces = ("z", "w")

    def __init__(
        self,
        resolution: int = 1024,
        *,
        latent_dim: int = 512,
        mapping_layers: int = 8,
        widths: Sequence[int] | None = None,
        channel_base: int = 32768,
        channel_max: int = 512,
        img_channels: int = 3,
        num_classes: int = 0,
        lr_mapping: float = 0.01,
        conv_clamp: float | None = None,
        truncation: float = 1.0,
        noise_mode: str = "const",
        name: str = "stylegan2",
    ) -> None:
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise GansteerError(f"StyleGAN2 resolution {resolution} must be a power of two >= 4")
        n_blocks = int(math.log2(resolution)) - 1
        widths = list(widths) if widths is not None else [
            min(channel_base // (4 * 2**i), channel_max) for i in range(n_blocks)]
        if len(widths) != n_blocks:
            raise GansteerError(f"{len(widths)} channel widths given; resolution {resolution} needs {n_blocks}")
        self.name, self.latent_dim, self.resolution, self.channels = name, latent_dim, resolution, img_channels
        self.num_classes = num_classes
        self.config = dict(resolution=resolution, latent_dim=latent_dim, mapping_layers=mapping_layers,
                           widths=widths, img_channels=img_channels, num_classes=num_classes,
                           lr_mapping=lr_mapping, conv_clamp=conv_clamp)
        self.mapping = Mapping(latent_dim, latent_dim, mapping_layers, c_dim=num_classes, lr_mul=lr_mapping)
        self.synthesis = Synthesis(widths, latent_dim, img_channels, conv_clamp=conv_clamp)
        self.register_buffer("w_avg", torch.zeros(latent_dim))
        self.num_layers = self.synthesis.num_ws
        self.feature_layers = tuple(self.synthesis.layer_names) + ("image",)
        self.truncation, self.noise_mode = truncation, noise_mode

    # ------------------------------------------------------------------ settings
    @property
    def noise_mode(self) -> str:
        return self._noise_mode

    @noise_mode.setter
    def noise_mode(self, mode: str) -> None:
        if mode not in NOISE_MODES:
            raise GansteerError(f"noise mode {mode!r} is unknown; expected one of {NOISE_MODES}")
        self._noise_mode = mode

    @property
    def truncation(self) -> float:
        """ψ: w = w_avg + ψ (w - w_avg) whenever z is mapped (1 = off, 0 = every z gives the average image)."""
        return self._truncation

    @truncation.setter
    def truncation(self, psi: float) -> None:
        if not isinstance(psi, (int, float)) or not math.isfinite(psi):
            raise GansteerError(f"truncation psi {psi!r} is invalid; expected a finite number (1 = off)")
        self._truncation = float(psi)

    # ------------------------------------------------------------------- latents
    def map_latent(self, z: Tensor, space: str, cond: Tensor | int | None = None) -> Tensor:
        """z (N, D) -> w (N, D) / w+ (N, num_ws, D) / z+ (N, num_ws, D); truncation ψ applies to w."""
        self.check_space(space)
        if space in ("z", "z+"):
            return z if space == "z" else self.expand_layers(z, "z")
        w = self._map(z, self.prepare_cond(cond, z.shape[0]))
        return w if space == "w" else self.expand_layers(w, "w")

    def _map(self, z: Tensor, cond: Tensor | None) -> Tensor:
        w = self.mapping(z, cond)
        return self.w_avg.lerp(w, self.truncation) if self.truncation != 1.0 else w

    def ws(self, latent: Tensor, space: str, cond: Tensor | None = None) -> Tensor:
        """Any latent -> w+ (N, num_ws, D), the synthesis input (`cond` already one-hot)."""
        if space == "z+":  # every row mapped on its own
            c = cond.repeat_interleave(self.num_layers, 0) if cond is not None else None
            return self._map(latent.flatten(0, 1), c).reshape(latent.shape)
        if space == "z":
            latent = self._map(latent, cond)
        return latent if space == "w+" else self.expand_layers(latent, "w")

    # ----------------------------------------------------------------- synthesis
    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.synthesis(self.ws(latent, space, cond), noise_mode=self.noise_mode)

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """Activations after a synthesis conv (``b4.conv1``, ``b8.conv0`` ... see `feature_layers`) or the image."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        ws = self.ws(latent, space, self.prepare_cond(cond, latent.shape[0]))
        return self.synthesis(ws, noise_mode=self.noise_mode, stop_at=None if layer == "image" else layer)

    def style_weights(self, layers: tuple[int, int] | None = None) -> Tensor:
        """Style-affine weights of the layers reading w+ rows [start, stop), stacked: (sum of C_in, w_dim).

        As in the SeFa reference: row i is conv i's affine; the last row is the final toRGB's; None = every conv.
        """
        start, stop = layers if layers is not None else (0, self.num_layers - 1)
        if not 0 <= start < stop <= self.num_layers:
            raise GansteerError(f"layer range {start}-{stop - 1} is invalid; expected within 0-{self.num_layers - 1}")
        affines = [self.synthesis.convs[i].affine if i < len(self.synthesis.convs) else self.synthesis.torgbs[-1].affine
                   for i in range(start, stop)]
        return torch.cat([a.weight for a in affines])

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "truncation": self.truncation, "noise_mode": self.noise_mode,
                "widths": self.config["widths"], "mapping_layers": self.config["mapping_layers"]}

    @torch.no_grad()
    def estimate_w_avg(self, n: int = 4096, seed: int = 0) -> Tensor:
        """Mean of mapped z over `n` fixed-seed samples (for checkpoints that do not store it)."""
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed)).to(self.device, self.dtype)
        c = None
        if self.num_classes:
            c = F.one_hot(torch.arange(n) % self.num_classes, self.num_classes).to(self.device, self.dtype)
        self.w_avg.copy_(self.mapping(z, c).mean(0))
        return self.w_avg


def build_stylegan2(config: dict[str, Any], state: dict[str, Tensor], *, source: str, format_name: str,
                    **settings: Any) -> StyleGAN2:
    """A frozen StyleGAN2 from a config and a state dict in our names (shapes may still be the file's)."""
    from ..io.checkpoints import load_state_dict_strict

    model = StyleGAN2(**config, **settings)
    own = model.state_dict()
    # the layouts differ from ours only by singleton axes, e.g. (1, O, I, 3, 3) vs (O, I, 3, 3)
    state = {k: v.reshape(own[k].shape) if k in own and v.squeeze().shape == own[k].squeeze().shape else v
             for k, v in state.items()}
    load_state_dict_strict(model, state, source=source, format_name=format_name)
    return model.freeze()


@GENERATORS.register("stylegan2-tiny", tiny=True, help="random 16x16 StyleGAN2 for tests; z/w 16, 6 w+ rows")
def stylegan2_tiny(seed: int = 0, **settings: Any) -> StyleGAN2:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = StyleGAN2(16, latent_dim=16, mapping_layers=2, widths=[32, 16, 8], name="stylegan2-tiny", **settings)
        with torch.no_grad():
            for conv in model.synthesis.convs:
                conv.noise_strength.fill_(0.2)  # nonzero, so noise modes differ
                conv.bias.normal_(0.0, 0.1)
            for rgb in model.synthesis.torgbs:
                rgb.weight.mul_(0.3)  # keep the random images roughly inside [-1, 1]
            model.estimate_w_avg(1024)
    return model.freeze()


# ------------------------------------------------------------------- checkpoint formats (readers live next door)
def _is_rosinality(path: Path, state: object) -> bool:
    from .stylegan2_formats import is_rosinality

    return is_rosinality(state)


@GENERATOR_FORMATS.register("stylegan2-rosinality", detect=_is_rosinality,
                            help="rosinality/stylegan2-pytorch .pt ('g_ema' [+ 'latent_avg'], or a bare g_ema dict)")
def rosinality_format(path: str | Path, state: object = None, **settings: Any) -> StyleGAN2:
    from .stylegan2_formats import load_rosinality

    return load_rosinality(path, state, **settings)


@GENERATOR_FORMATS.register("stylegan2-nvlabs-pkl", detect=lambda path, state: Path(path).suffix == ".pkl",
                            help="NVlabs StyleGAN2-ADA network pickle (G_ema), read without running its code")
def nvlabs_format(path: str | Path, state: object = None, **settings: Any) -> StyleGAN2:
    from .stylegan2_formats import load_nvlabs

    return load_nvlabs(path, **settings)
