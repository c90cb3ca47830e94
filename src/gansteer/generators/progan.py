"""Progressive GAN in the layout of facebookresearch/pytorch_GAN_zoo PGAN checkpoints (celebAHQ-256/512, ...).

A checkpoint is one `torch.save`d dict: ``config`` (a pickled `models.utils.config.BaseConfig`, an attribute bag:
``latentVectorDim``, ``depthScale0``, ``depthOtherScales``, ``dimOutput``, ``lossCriterion``, ``alpha`` ...),
``netG`` / ``netD`` (state dicts) and ``avgG`` (the moving-average generator the reference samples with). The
config is read through a weights-only allow-list that maps that one class name to an inert attribute holder
(`io.checkpoints.allow_config_class`): nothing from the file is executed.

Generator: pixel-norm(z) -> Linear -> LeakyReLU -> (C0, 4, 4) -> pixel-norm -> Conv3x3 -> then per scale: 2x
nearest up, 2 x (Conv3x3, LeakyReLU, pixel-norm) -> 1x1 toRGB of the last scale (blended with the previous
scale's toRGB while `alpha` > 0). Every conv/linear is "equalized": weights stored ~N(0, 1), the output scaled
by He's constant at run time; its weights live under ``<layer>.module.`` (older saves: without ``module.``).
"""

from __future__ import annotations

import math
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GansteerError
from ..io.checkpoints import (
    PickledConfig,
    allow_config_class,
    atomic_torch_save,
    load_state_dict_strict,
    state_shape,
    torch_load,
)
from ..registry import GENERATOR_FORMATS, GENERATORS
from .base import Generator

FORMAT = "pytorch_GAN_zoo PGAN ({'config', 'netG', 'netD', 'avgG'})"
CONFIG_CLASS = "models.utils.config.BaseConfig"
allow_config_class(CONFIG_CLASS)

# ProgressiveGAN / BaseGAN constructor defaults, used for config fields a checkpoint does not set.
DEFAULTS = {"noiseVectorDim": 512, "categoryVectorDim": 0, "depthScale0": 512, "depthOtherScales": [],
            "dimOutput": 3, "leakyReluLeak": 0.2, "perChannelNormalization": True, "equalizedlR": True,
            "alpha": 0.0, "lossCriterion": "WGANGP"}
TANH_LOSSES = ("MSE", "DCGAN")  # the reference's loss criteria whose generator ends in tanh; others are linear


class Equalized(nn.Module):
    """A conv / linear layer (held as `module`) whose output is scaled by sqrt(2 / fan_in) at run time."""

    def __init__(self, module: nn.Conv2d | nn.Linear, equalized: bool = True) -> None:
        super().__init__()
        self.module = module
        self.scale = math.sqrt(2.0 / module.weight[0].numel()) if equalized else 1.0

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x) * self.scale


def pixel_norm(x: Tensor) -> Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


class ProgGAN(Generator):
    """z (N, D) -> 4x4 -> one scale per depth after the first, doubling -> (N, channels, 4 * 2^S, 4 * 2^S)."""

    def __init__(self, latent_dim: int = 512, depths: Sequence[int] = (512, 512, 512, 512, 256, 128, 64),
                 channels: int = 3, *, num_classes: int = 0, leak: float = 0.2, normalize: bool = True,
                 equalized: bool = True, tanh: bool = False, alpha: float = 0.0, name: str = "progan") -> None:
        super().__init__()
        self.name, self.latent_dim, self.channels = name, int(latent_dim), int(channels)
        self.num_classes = int(num_classes)  # AC-GAN checkpoints: the category vector is appended to z
        self.resolution = 4 * 2 ** (len(depths) - 1)
        self.leak, self.normalize, self.tanh, self.alpha = leak, normalize, tanh, float(alpha)
        d0 = depths[0]
        self.formatLayer = Equalized(nn.Linear(latent_dim + num_classes, 16 * d0), equalized)
        self.groupScale0 = nn.ModuleList([Equalized(nn.Conv2d(d0, d0, 3, padding=1), equalized)])
        self.scaleLayers = nn.ModuleList(
            nn.ModuleList([Equalized(nn.Conv2d(c_in, c, 3, padding=1), equalized),
                           Equalized(nn.Conv2d(c, c, 3, padding=1), equalized)])
            for c_in, c in zip(depths, depths[1:], strict=False))
        self.toRGBLayers = nn.ModuleList(Equalized(nn.Conv2d(c, channels, 1), equalized) for c in depths)
        self.feature_layers = ("format",) + tuple(f"scale{i}" for i in range(len(depths))) + ("image",)

    def stages(self, latent: Tensor, cond: Tensor | None) -> Iterator[tuple[str, Tensor]]:
        """(name, activation) after each stage, ending with the image."""
        x = latent if cond is None else torch.cat([latent, cond], 1)  # (N, D [+ classes])
        x = pixel_norm(x) if self.normalize else x
        x = F.leaky_relu(self.formatLayer(x), self.leak).view(x.shape[0], -1, 4, 4)  # (N, C0, 4, 4)
        x = pixel_norm(x) if self.normalize else x
        yield "format", x
        previous = x
        for i, group in enumerate([self.groupScale0, *self.scaleLayers]):
            previous = x
            x = x if i == 0 else F.interpolate(x, scale_factor=2, mode="nearest")  # (N, C_i, 4 * 2^i, 4 * 2^i)
            for conv in group:
                x = F.leaky_relu(conv(x), self.leak)
                x = pixel_norm(x) if self.normalize else x
            yield f"scale{i}", x
        image = self.toRGBLayers[-1](x)
        if self.alpha > 0 and len(self.toRGBLayers) > 1:  # mid-growth checkpoint: fade in the new scale
            low = F.interpolate(self.toRGBLayers[-2](previous), scale_factor=2, mode="nearest")
            image = self.alpha * low + (1 - self.alpha) * image
        yield "image", torch.tanh(image) if self.tanh else image

    def run_until(self, layer: str, latent: Tensor, cond: Tensor | None) -> Tensor:
        return next(x for name, x in self.stages(latent, cond) if name == layer)

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.run_until("image", latent, cond)

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """`format`: the (C0, 4, 4) seed; `scale<i>`: after the convs of scale i (4 * 2^i px); `image`."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        return self.run_until(layer, latent, self.prepare_cond(cond, latent.shape[0]))

    def first_layer_weight(self) -> Tensor:
        # y = scale * W pixel_norm(z) + b: the effective weight on the z part (pixel-norm only rescales z).
        return self.formatLayer.module.weight[:, : self.latent_dim] * self.formatLayer.scale  # (16*C0, D)


# ------------------------------------------------------------------------------------------------------- loading
def read_config(config: object, source: str) -> dict[str, Any]:
    if isinstance(config, PickledConfig):
        config = config.values
    if not isinstance(config, dict):
        raise GansteerError(f"{source}: 'config' is a {type(config).__name__}; expected the PGAN config object")
    return {**DEFAULTS, **config}


def build_progan(config: Mapping[str, Any], name: str) -> ProgGAN:
    return ProgGAN(
        latent_dim=int(config["noiseVectorDim"]), depths=[int(config["depthScale0"]), *config["depthOtherScales"]],
        channels=int(config["dimOutput"]), num_classes=int(config["categoryVectorDim"] or 0),
        leak=float(config["leakyReluLeak"]), normalize=bool(config["perChannelNormalization"]),
        equalized=bool(config["equalizedlR"]), tanh=config["lossCriterion"] in TANH_LOSSES,
        alpha=float(config["alpha"] or 0.0), name=name)


def with_module_keys(model: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Older saves name `formatLayer.weight` what is now `formatLayer.module.weight` (the reference accepts both)."""
    own = model.state_dict()
    out = {}
    for key, value in state.items():
        head, _, leaf = key.rpartition(".")
        modern = f"{head}.module.{leaf}"
        out[modern if key not in own and modern in own else key] = value
    return out


def load_progan(path: str | Path, state: object = None, *, average: bool = True, name: str | None = None) -> ProgGAN:
    """A PGAN from a pytorch_GAN_zoo checkpoint; `average` picks the moving-average generator `avgG` (default,
    as the reference's `test(getAvG=True)`) over `netG`."""
    ckpt = torch_load(path) if state is None else state
    if not isinstance(ckpt, dict) or "netG" not in ckpt or "config" not in ckpt:
        raise GansteerError(f"{path}: not a {FORMAT} checkpoint (expected a dict with 'config' and 'netG')")
    key = "avgG" if average and "avgG" in ckpt else "netG"
    model = build_progan(read_config(ckpt["config"], str(path)), name or Path(path).stem)
    load_state_dict_strict(model, with_module_keys(model, ckpt[key]), source=f"{path} [{key}]", format_name=FORMAT)
    return model.freeze()


def is_progan(path: Path, state: object) -> bool:
    return (isinstance(state, dict) and "config" in state and isinstance(state.get("netG"), dict)
            and any(k.startswith("formatLayer.") for k in state["netG"]))


@GENERATOR_FORMATS.register("pgan", help="Progressive GAN, pytorch_GAN_zoo checkpoint (config + netG/avgG), e.g. "
                            "celebaHQ_s6_i80000.pth", detect=is_progan)
def pgan_format(path: str | Path, state: object = None, **kwargs: Any) -> ProgGAN:
    return load_progan(path, state, **kwargs)


# ---------------------------------------------------------------------------------------------- tiny + writer
TINY_CONFIG = {"noiseVectorDim": 8, "latentVectorDim": 8, "categoryVectorDim": 0, "depthScale0": 16,
               "depthOtherScales": [16, 8], "dimOutput": 3, "leakyReluLeak": 0.2, "perChannelNormalization": True,
               "equalizedlR": True, "alpha": 0.0, "lossCriterion": "WGANGP", "attribKeysOrder": None,
               "initBiasToZero": True, "miniBatchStdDev": True, "learningRate": 0.001, "lambdaGP": 10.0,
               "epsilonD": 0.001, "weightConditionG": 0.0, "weightConditionD": 0.0, "GDPP": False,
               "logisticGradReal": 0.0}


@GENERATORS.register("progan-tiny", tiny=True, help="random 16x16 Progressive GAN (pytorch_GAN_zoo layout); z=8")
def progan_tiny(seed: int = 0) -> ProgGAN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_progan({**DEFAULTS, **TINY_CONFIG}, "progan-tiny")
        for p in model.parameters():  # equalized layers store N(0, 1) weights; small random biases
            p.data.normal_(0, 1 if p.dim() > 1 else 0.1)
        model.toRGBLayers[-1].module.weight.data.mul_(0.3)  # images mostly within [-1, 1], as a trained model's
    return model.freeze()


def write_tiny_checkpoint(path: str | Path, *, seed: int = 0, config: Mapping[str, Any] | None = None) -> Path:
    """A checkpoint as pytorch_GAN_zoo's `save()` writes it: the pickled BaseConfig, netG, netD and avgG."""
    model = progan_tiny(seed) if config is None else build_progan({**DEFAULTS, **config}, "progan")
    config = dict(TINY_CONFIG if config is None else config)
    state = model.state_dict()
    netg = {k: v + 0.01 for k, v in state.items()}  # the trained network differs slightly from its average
    ckpt = {"config": config_object(config), "netG": netg, "netD": netd_state(config), "avgG": state}
    with fake_config_module():
        atomic_torch_save(ckpt, path)
    return Path(path)


def netd_state(config: Mapping[str, Any]) -> dict[str, Tensor]:
    """Random tensors under the reference discriminator's names and shapes (the loader ignores netD)."""
    depths, c = [config["depthScale0"], *config["depthOtherScales"]], config["dimOutput"]
    shapes = {"decisionLayer.module": (1, depths[0]), "groupScaleZero.0.module": (depths[0], depths[0] + 1, 3, 3),
              "groupScaleZero.1.module": (depths[0], depths[0] * 16)}
    for i, d in enumerate(depths):
        shapes[f"fromRGBLayers.{i}.module"] = (d, c, 1, 1)
    for i, (low, d) in enumerate(zip(depths, depths[1:], strict=False)):
        shapes[f"scaleLayers.{i}.0.module"], shapes[f"scaleLayers.{i}.1.module"] = (d, d, 3, 3), (low, d, 3, 3)
    return {f"{k}.{leaf}": torch.randn(s if leaf == "weight" else s[:1]) for k, s in shapes.items()
            for leaf in ("weight", "bias")}


class _BaseConfig:  # pickles as models.utils.config.BaseConfig (see fake_config_module)
    pass


def config_object(values: Mapping[str, Any]) -> object:
    obj = _BaseConfig()
    obj.__dict__.update(values)
    return obj


@contextmanager
def fake_config_module() -> Iterator[None]:
    """While saving, make pickle find `_BaseConfig` under the reference's module and class name."""
    module_name, _, class_name = CONFIG_CLASS.rpartition(".")
    parts = module_name.split(".")
    names = [".".join(parts[: i + 1]) for i in range(len(parts))]  # models, models.utils, models.utils.config
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    setattr(sys.modules[module_name], class_name, _BaseConfig)
    _BaseConfig.__module__, _BaseConfig.__qualname__ = module_name, class_name
    try:
        yield
    finally:
        _BaseConfig.__module__, _BaseConfig.__qualname__ = __name__, "_BaseConfig"
        for n, module in saved.items():
            if module is None:
                del sys.modules[n]
            else:
                sys.modules[n] = module


# ===================================== the tkarras layout GanLatentDiscovery uses (100_celeb_hq_network-snapshot.pth)
KARRAS_FORMAT = "ProgGAN, tkarras snapshot converted to PyTorch (features.<i>.conv/wscale, output.conv/wscale)"


class PixelNorm(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x)


class WScale(nn.Module):
    """The converted snapshot's run-time weight scale: x * scale + b (`scale` (1,), `b` (C,))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale, self.b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.b[None, :, None, None]


class KarrasBlock(nn.Module):
    """pixel-norm -> [2x nearest up] -> conv (no bias) -> wscale -> LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(c_in, c_out, kernel, 1, 3 if kernel == 4 else kernel // 2, bias=False)
        self.wscale = WScale(c_out)

    def forward(self, x: Tensor) -> Tensor:
        x = pixel_norm(x)
        x = F.interpolate(x, scale_factor=2, mode="nearest") if self.up else x
        return F.leaky_relu(self.wscale(self.conv(x)), 0.2)


class KarrasProgGAN(Generator):
    """z (N, D) as (N, D, 1, 1) -> 4x4 conv (pad 3) -> 3x3 conv -> (up + 3x3, 3x3) per scale -> 1x1 toRGB, no tanh.

    CelebA-HQ 1024: D = 512, widths 512 x 4 scales, then 256, 128, 64, 32, 16."""

    def __init__(self, latent_dim: int = 512, widths: Sequence[int] = (512, 512, 512, 512, 512, 256, 128, 64, 32, 16),
                 channels: int = 3, name: str = "progan-karras") -> None:
        super().__init__()
        self.name, self.latent_dim, self.channels = name, int(latent_dim), int(channels)
        self.resolution = 4 * 2 ** (len(widths) - 1)
        blocks = [KarrasBlock(latent_dim, widths[0], 4, False), KarrasBlock(widths[0], widths[0], 3, False)]
        for c_in, c in zip(widths, widths[1:], strict=False):
            blocks += [KarrasBlock(c_in, c, 3, True), KarrasBlock(c, c, 3, False)]
        # The official trunk is named `features`, which is also our feature method: register it under that name
        # directly (so the state-dict keys match) and reach it as `self.trunk`.
        self._modules["features"] = nn.Sequential(*blocks)
        self.output = nn.Sequential(OrderedDict(norm=PixelNorm(), conv=nn.Conv2d(widths[-1], channels, 1, bias=False),
                                                wscale=WScale(channels)))
        self.feature_layers = tuple(f"scale{i}" for i in range(len(widths))) + ("image",)

    @property
    def trunk(self) -> nn.Sequential:
        return self._modules["features"]  # type: ignore[return-value]

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.output(self.trunk(latent[:, :, None, None]))

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """`scale<i>`: after the two convs of scale i (4 * 2^i px); `image`."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        if layer == "image":
            return self.synthesize(latent, space=space, cond=None)
        return self.trunk[: 2 * int(layer.removeprefix("scale")) + 2](latent[:, :, None, None])

    def first_layer_weight(self) -> Tensor:
        # The 4x4 conv (pad 3) on a 1x1 input: output pixel (i, j) reads kernel tap (3 - i, 3 - j).
        first = self.trunk[0]
        w = first.conv.weight.flip(2, 3).permute(0, 2, 3, 1)  # (C, 4, 4, D)
        return w.reshape(-1, w.shape[-1]) * first.wscale.scale  # (C*16, D), on pixel-normed z


def load_progan_karras(path: str | Path, state: object = None, *, name: str | None = None) -> KarrasProgGAN:
    """The converted tkarras snapshot (a bare state dict); widths and resolution are read from the weights."""
    sd = torch_load(path) if state is None else state
    if not isinstance(sd, dict) or "features.0.conv.weight" not in sd:
        raise GansteerError(f"{path}: not a {KARRAS_FORMAT} checkpoint (expected 'features.0.conv.weight')")
    n_blocks = sum(1 for k in sd if k.startswith("features.") and k.endswith(".conv.weight"))
    shapes = [state_shape(sd, f"features.{i}.conv.weight", source=str(path), format_name=KARRAS_FORMAT)
              for i in range(1, n_blocks, 2)]  # the second conv of every scale: (C, C, 3, 3)
    out = state_shape(sd, "output.conv.weight", source=str(path), format_name=KARRAS_FORMAT)
    model = KarrasProgGAN(latent_dim=sd["features.0.conv.weight"].shape[1], widths=[s[0] for s in shapes],
                          channels=out[0], name=name or Path(path).stem)
    load_state_dict_strict(model, sd, source=str(path), format_name=KARRAS_FORMAT)
    return model.freeze()


def is_progan_karras(path: Path, state: object) -> bool:
    return isinstance(state, dict) and "features.0.wscale.scale" in state and "output.wscale.b" in state


@GENERATOR_FORMATS.register("pgan-karras", help="ProgGAN tkarras snapshot converted to PyTorch, as GanLatentDiscovery"
                            "'s 100_celeb_hq_network-snapshot-010403.pth", detect=is_progan_karras)
def pgan_karras_format(path: str | Path, state: object = None, **kwargs: Any) -> KarrasProgGAN:
    return load_progan_karras(path, state, **kwargs)


@GENERATORS.register("progan-karras-tiny", tiny=True, help="random 16x16 ProgGAN in the converted tkarras layout "
                     "(GanLatentDiscovery's); z=8")
def progan_karras_tiny(seed: int = 0) -> KarrasProgGAN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = KarrasProgGAN(latent_dim=8, widths=(16, 16, 8), name="progan-karras-tiny")
        for block in [*model.trunk, model.output]:  # N(0, 1) weights, He's constant sqrt(2 / fan_in) as scale
            nn.init.normal_(block.conv.weight)
            block.wscale.scale.data.fill_(math.sqrt(2 / block.conv.weight[0].numel()))
            block.wscale.b.data.normal_(0, 0.1)
        model.output.wscale.scale.data.mul_(0.4)  # images mostly within [-1, 1], as a trained model's
    return model.freeze()


def write_tiny_karras_checkpoint(path: str | Path, *, seed: int = 0) -> Path:
    """The converted snapshot as GanLatentDiscovery loads it: the generator's bare state dict."""
    atomic_torch_save(progan_karras_tiny(seed).state_dict(), path)
    return Path(path)
