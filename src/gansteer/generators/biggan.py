"""BigGAN in its two official PyTorch layouts: BigGAN-deep (huggingface pytorch-pretrained-biggan) and BigGAN-PyTorch.

- **BigGAN-deep** (`biggan-deep-128/256/512`): a directory with `pytorch_model.bin` (state dict) and `config.json`
  (``z_dim``, ``channel_width``, ``layers`` = [up, in_mult, out_mult] per block, ``attention_layer_position``,
  ``num_classes``, ``eps``, ``n_stats``). cond = [z, class embedding] feeds the first linear layer and the
  conditional BatchNorms of every block; BatchNorm statistics were pre-computed for 51 truncation values.
  Spectral norm is torch's (``weight_orig``, ``weight_u``, ``weight_v``; in eval sigma = u . W v).
- **BigGAN-PyTorch** (ajbrock; the `G_ema.pth` GanLatentDiscovery uses): a bare state dict. The architecture is
  read from the tensor shapes. With the hierarchical latent (``hier``), z is split into one chunk per block plus
  one for the first linear layer; each block's BatchNorm reads [class embedding, its chunk]. Spectral norm is
  ajbrock's own (``u0``, ``sv0``; in eval one power step from u0, without updating it).

Both are class-conditional (`cond`: a class index, or an (N, num_classes) one-hot / soft vector) and offer the
layered space ``z+`` of shape (N, num_layers, D): layer 0 is the first linear layer and layer 1 + i block i, each
reading its own copy of z, so a direction can be applied to some blocks only. `truncation` < 1 samples z from a
normal truncated to [-2, 2] and scaled by it (BigGAN-deep also picks the matching BatchNorm statistics).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GansteerError
from ..io.checkpoints import (
    atomic_path,
    atomic_torch_save,
    load_state_dict_strict,
    read_json_object,
    state_shape,
    torch_load,
)
from ..registry import GENERATOR_FORMATS, GENERATORS
from .base import Generator, mapped

DEEP_FORMAT = "BigGAN-deep (pytorch-pretrained-biggan: pytorch_model.bin + config.json)"
AJBROCK_FORMAT = "BigGAN-PyTorch (G_ema.pth state dict)"


class BigGANBase(Generator):
    """Shared by both layouts: truncated sampling, the layered z+ split, class conditioning."""

    spaces = ("z",)

    def __init__(self, truncation: float = 1.0) -> None:
        super().__init__()
        self.truncation = truncation

    @property
    def truncation(self) -> float:
        return self._truncation

    @truncation.setter
    def truncation(self, value: float) -> None:
        if not 0 < float(value) <= 1:
            raise GansteerError(f"truncation={value!r} is invalid; expected 0 < truncation <= 1")
        self._truncation = float(value)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None, space: str = "z",
                      cond: Tensor | int | None = None) -> Tensor:
        """z ~ N(0, I), or with truncation t < 1: N(0, I) truncated to [-2, 2], times t (BigGAN's truncation trick)."""
        self.check_space(space)
        z = torch.randn(n, self.latent_dim, generator=generator)
        if self.truncation < 1:
            while (outside := z.abs() > 2).any():  # redraw out-of-range entries: deterministic for a seed
                z[outside] = torch.randn(int(outside.sum()), generator=generator)
            z = z * self.truncation
        z = z.to(self.device, self.dtype)
        return mapped(self, z, space, cond)

    def per_layer(self, latent: Tensor, space: str) -> list[Tensor]:
        """One (N, D) latent per layer: the same z everywhere, or the rows of a z+ latent."""
        return list(latent.unbind(1)) if space == "z+" else [latent] * self.num_layers

    def stages(self, latent: Tensor, space: str, cond: Tensor) -> Iterator[tuple[str, Tensor]]:
        raise NotImplementedError

    def run_until(self, layer: str, latent: Tensor, space: str, cond: Tensor) -> Tensor:
        return next(x for name, x in self.stages(latent, space, cond) if name == layer)

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        assert cond is not None  # prepare_cond insists on a class for conditional generators
        return self.run_until("image", latent, space, cond)

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """Activations after the first linear layer, after each block, or the image (see `feature_layers`)."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        c = self.prepare_cond(cond, latent.shape[0])
        assert c is not None
        return self.run_until(layer, latent, space, c)


# ================================================================================ BigGAN-deep (huggingface)
def sn(module: nn.Conv2d | nn.Linear, eps: float) -> nn.Module:
    return nn.utils.spectral_norm(module, eps=eps)  # what the release uses: weight_orig, weight_u, weight_v


def sn_eval_weight(module: nn.Module) -> Tensor:
    """torch's eval-mode spectral norm, W / (u . W v) with the stored u, v (what the forward hook computes)."""
    w = module.weight_orig
    return w / torch.dot(module.weight_u, w.flatten(1) @ module.weight_v)


class DeepBatchNorm(nn.Module):
    """BatchNorm with statistics for `n_stats` truncation values; class-conditional gain/offset (or plain affine)."""

    def __init__(self, channels: int, cond_dim: int | None, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps, self.step = eps, 1.0 / (n_stats - 1)
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        if cond_dim is not None:
            self.scale = sn(nn.Linear(cond_dim, channels, bias=False), eps)
            self.offset = sn(nn.Linear(cond_dim, channels, bias=False), eps)
        else:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, truncation: float, cond: Tensor | None = None) -> Tensor:
        # The release's interpolation between the two nearest statistics (its weighting, kept as is).
        coef, start = math.modf(truncation / self.step)
        mean, var = self.running_means[int(start)], self.running_vars[int(start)]
        if coef != 0.0:
            mean = mean * coef + self.running_means[int(start) + 1] * (1 - coef)
            var = var * coef + self.running_vars[int(start) + 1] * (1 - coef)
        if cond is None:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)
        gain = 1 + self.scale(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain \
            + self.offset(cond)[:, :, None, None]


class DeepBlock(nn.Module):
    """Bottleneck residual block: BN-ReLU-1x1 (in -> in/4), [2x up], 2 x BN-ReLU-3x3, BN-ReLU-1x1 (-> out)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, up: bool, n_stats: int, eps: float) -> None:
        super().__init__()
        mid, self.up, self.drop = c_in // 4, up, c_in != c_out
        self.bn_0, self.conv_0 = DeepBatchNorm(c_in, cond_dim, n_stats, eps), sn(nn.Conv2d(c_in, mid, 1), eps)
        self.bn_1 = DeepBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_1 = sn(nn.Conv2d(mid, mid, 3, padding=1), eps)
        self.bn_2 = DeepBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_2 = sn(nn.Conv2d(mid, mid, 3, padding=1), eps)
        self.bn_3, self.conv_3 = DeepBatchNorm(mid, cond_dim, n_stats, eps), sn(nn.Conv2d(mid, c_out, 1), eps)

    def forward(self, x: Tensor, cond: Tensor, truncation: float) -> Tensor:
        h = self.conv_0(F.relu(self.bn_0(x, truncation, cond)))
        h = F.relu(self.bn_1(h, truncation, cond))
        if self.up:
            h, x = F.interpolate(h, scale_factor=2, mode="nearest"), F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv_2(F.relu(self.bn_2(self.conv_1(h), truncation, cond)))
        h = self.conv_3(F.relu(self.bn_3(h, truncation, cond)))
        return h + (x[:, : x.shape[1] // 2] if self.drop else x)  # the skip drops half its channels


class SelfAttention(nn.Module):
    """SA-GAN non-local block; `names` = the layout's (theta, phi, g, out) conv names."""

    def __init__(self, ch: int, conv: Any, names: Sequence[str], gamma_shape: tuple[int, ...] = (1,)) -> None:
        super().__init__()
        self.names = tuple(names)
        for name, (c_in, c_out) in zip(names, [(ch, ch // 8), (ch, ch // 8), (ch, ch // 2), (ch // 2, ch)],
                                       strict=True):
            self.add_module(name, conv(c_in, c_out))
        self.gamma = nn.Parameter(torch.zeros(gamma_shape))

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> same
        n, c, h, w = x.shape
        theta, phi, g, o = (getattr(self, name) for name in self.names)
        t = theta(x).reshape(n, c // 8, h * w)
        p = F.max_pool2d(phi(x), 2).reshape(n, c // 8, h * w // 4)
        attn = F.softmax(torch.bmm(t.transpose(1, 2), p), -1)  # (N, HW, HW/4)
        v = F.max_pool2d(g(x), 2).reshape(n, c // 2, h * w // 4)
        return x + self.gamma * o(torch.bmm(v, attn.transpose(1, 2)).view(n, c // 2, h, w))


class BigGANDeep(BigGANBase):
    """z (N, z_dim) + class -> gen_z -> 4x4 -> bottleneck blocks (+ one attention) -> image (N, 3, res, res)."""

    def __init__(self, config: Mapping[str, Any], *, truncation: float = 1.0, name: str = "biggan-deep") -> None:
        super().__init__(truncation)
        ch, zd, eps, n_stats = config["channel_width"], config["z_dim"], config["eps"], config["n_stats"]
        self.name, self.latent_dim, self.num_classes, self.config = name, zd, config["num_classes"], dict(config)
        cond_dim = zd + config["class_embed_dim"]
        self.embeddings = nn.Linear(self.num_classes, config["class_embed_dim"], bias=False)
        layers: list[nn.Module] = []
        for i, (up, c_in, c_out) in enumerate(config["layers"]):
            if i == config["attention_layer_position"]:
                layers.append(SelfAttention(ch * c_in, lambda a, b: sn(nn.Conv2d(a, b, 1, bias=False), eps),
                                            ["snconv1x1_theta", "snconv1x1_phi", "snconv1x1_g", "snconv1x1_o_conv"]))
            layers.append(DeepBlock(ch * c_in, ch * c_out, cond_dim, bool(up), n_stats, eps))
        self.generator = nn.ModuleDict({
            "gen_z": sn(nn.Linear(cond_dim, 4 * 4 * 16 * ch), eps), "layers": nn.ModuleList(layers),
            "bn": DeepBatchNorm(ch, None, n_stats, eps), "conv_to_rgb": sn(nn.Conv2d(ch, ch, 3, padding=1), eps)})
        self.resolution = 4 * 2 ** sum(bool(up) for up, _, _ in config["layers"])
        self.num_layers = 1 + len(config["layers"])  # gen_z, then every block reads [z, class]
        self.feature_layers = ("gen_z",) + tuple(f"block{i}" for i in range(len(config["layers"]))) + ("image",)

    def stages(self, latent: Tensor, space: str, cond: Tensor) -> Iterator[tuple[str, Tensor]]:
        zs, embed = self.per_layer(latent, space), self.embeddings(cond)  # L x (N, z_dim), (N, embed_dim)
        g, t = self.generator, self.truncation
        x = g["gen_z"](torch.cat([zs[0], embed], 1))
        x = x.view(x.shape[0], 4, 4, -1).permute(0, 3, 1, 2).contiguous()  # TF's NHWC order -> (N, 16ch, 4, 4)
        yield "gen_z", x
        block = 0
        for layer in g["layers"]:
            if isinstance(layer, SelfAttention):
                x = layer(x)
                continue
            x = layer(x, torch.cat([zs[1 + block], embed], 1), t)
            yield f"block{block}", x
            block += 1
        x = g["conv_to_rgb"](F.relu(g["bn"](x, t)))
        yield "image", torch.tanh(x[:, :3])

    def first_layer_weight(self) -> Tensor:
        return sn_eval_weight(self.generator["gen_z"])[:, : self.latent_dim]  # (out, z_dim): the z columns


def deep_files(path: Path) -> tuple[Path, Path]:
    weights = path / "pytorch_model.bin" if path.is_dir() else path
    config = weights.parent / "config.json"
    if not weights.is_file() or not config.is_file():
        raise GansteerError(f"{path}: expected {DEEP_FORMAT}, i.e. a directory (or a .bin) with config.json beside")
    return weights, config


def load_biggan_deep(path: str | Path, state: object = None, *, truncation: float = 1.0,
                     name: str | None = None) -> BigGANDeep:
    """BigGAN-deep from a pytorch-pretrained-biggan directory, or its pytorch_model.bin with config.json beside."""
    path = Path(path)
    weights, config_path = deep_files(path)
    config = {**DEEP_DEFAULTS, **read_json_object(config_path)}
    sd = torch_load(weights) if state is None or path.is_dir() else state
    if not isinstance(sd, dict):
        raise GansteerError(f"{weights}: not a {DEEP_FORMAT} checkpoint (expected a state dict)")
    try:
        model = BigGANDeep(config, truncation=truncation, name=name or weights.parent.name)
    except (KeyError, TypeError, ValueError) as e:
        raise GansteerError(f"{config_path}: not a BigGAN-deep config ({e!r})") from None
    load_state_dict_strict(model, sd, source=str(weights), format_name=DEEP_FORMAT)
    return model.freeze()


DEEP_DEFAULTS = {"output_dim": 128, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128, "num_classes": 1000,
                 "layers": [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
                            [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
                 "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51}


def is_biggan_deep(path: Path, state: object) -> bool:
    if path.is_dir():
        return (path / "pytorch_model.bin").is_file() and (path / "config.json").is_file()
    return isinstance(state, dict) and "generator.gen_z.weight_orig" in state


@GENERATOR_FORMATS.register("biggan-deep", help="BigGAN-deep 128/256/512, pytorch-pretrained-biggan: a dir with "
                            "pytorch_model.bin + config.json, or the .bin", detect=is_biggan_deep)
def biggan_deep_format(path: str | Path, state: object = None, **kwargs: Any) -> BigGANDeep:
    return load_biggan_deep(path, state, **kwargs)


# ======================================================================================= BigGAN-PyTorch (ajbrock)
def sn_weight(weight: Tensor, u: Tensor, eps: float) -> Tensor:
    """ajbrock's eval-mode spectral norm: one power step from the stored u (not updated), W / sigma."""
    w = weight.flatten(1)
    with torch.no_grad():
        v = F.normalize(u @ w, eps=eps)  # (1, in)
        u = F.normalize(v @ w.t(), eps=eps)  # (1, out)
    return weight / (v @ w.t() @ u.t()).squeeze()


class SNConv2d(nn.Conv2d):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, bias: bool = True, *, sn: bool, eps: float) -> None:
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, bias=bias)
        self.sn, self.eps = sn, eps
        if sn:
            self.register_buffer("u0", torch.randn(1, c_out))
            self.register_buffer("sv0", torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, sn_weight(self.weight, self.u0, self.eps) if self.sn else self.weight, self.bias)


class SNLinear(nn.Linear):
    def __init__(self, d_in: int, d_out: int, bias: bool = True, *, sn: bool, eps: float) -> None:
        super().__init__(d_in, d_out, bias=bias)
        self.sn, self.eps = sn, eps
        if sn:
            self.register_buffer("u0", torch.randn(1, d_out))
            self.register_buffer("sv0", torch.ones(1))

    def effective_weight(self) -> Tensor:
        return sn_weight(self.weight, self.u0, self.eps) if self.sn else self.weight

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.effective_weight(), self.bias)


class ClassBatchNorm(nn.Module):
    """ajbrock's ccbn: BatchNorm (stored statistics) times 1 + gain(y), plus bias(y); y = [class embedding, z chunk]."""

    def __init__(self, channels: int, cond_dim: int, *, sn: bool, sn_eps: float, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.gain = SNLinear(cond_dim, channels, bias=False, sn=sn, eps=sn_eps)
        self.bias = SNLinear(cond_dim, channels, bias=False, sn=sn, eps=sn_eps)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, False, 0.1, self.eps)
        return out * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


class OutputBatchNorm(nn.Module):
    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.gain, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, False, 0.1, self.eps)


class GBlock(nn.Module):
    """ccbn-ReLU-2x up-conv3x3-ccbn-ReLU-conv3x3, plus a 1x1 conv on the upsampled input."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, *, sn: bool, sn_eps: float, bn_eps: float) -> None:
        super().__init__()
        self.conv1 = SNConv2d(c_in, c_out, sn=sn, eps=sn_eps)
        self.conv2 = SNConv2d(c_out, c_out, sn=sn, eps=sn_eps)
        self.conv_sc = SNConv2d(c_in, c_out, 1, sn=sn, eps=sn_eps)
        self.bn1 = ClassBatchNorm(c_in, cond_dim, sn=sn, sn_eps=sn_eps, eps=bn_eps)
        self.bn2 = ClassBatchNorm(c_out, cond_dim, sn=sn, sn_eps=sn_eps, eps=bn_eps)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:  # (N, c_in, s, s) -> (N, c_out, 2s, 2s)
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class BigGANPyTorch(BigGANBase):
    """z (N, dim_z) + class -> linear on chunk 0 -> (C0, 4, 4) -> GBlocks (+ attention) -> image (N, 3, res, res)."""

    def __init__(self, *, widths: Sequence[int], chunk: int, dim_z: int, n_classes: int, shared_dim: int,
                 attention: Sequence[int] = (), bottom_width: int = 4, sn: bool = True, sn_eps: float = 1e-6,
                 bn_eps: float = 1e-5, truncation: float = 1.0, name: str = "biggan") -> None:
        super().__init__(truncation)
        n_blocks = len(widths) - 1
        self.name, self.latent_dim, self.num_classes, self.chunk = name, dim_z, n_classes, chunk
        self.resolution, self.bottom_width = bottom_width * 2 ** n_blocks, bottom_width
        self.num_layers = n_blocks + 1 if chunk else 1  # hierarchical z: the linear layer + one chunk per block
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(chunk or dim_z, widths[0] * bottom_width**2, sn=sn, eps=sn_eps)
        conv = lambda a, b: SNConv2d(a, b, 1, bias=False, sn=sn, eps=sn_eps)  # noqa: E731
        self.blocks = nn.ModuleList(
            nn.ModuleList([GBlock(c_in, c_out, shared_dim + chunk, sn=sn, sn_eps=sn_eps, bn_eps=bn_eps)]
                          + ([SelfAttention(c_out, conv, "theta phi g o".split(), ())] if i in attention else []))
            for i, (c_in, c_out) in enumerate(zip(widths, widths[1:], strict=False)))
        self.output_layer = nn.Sequential(OutputBatchNorm(widths[-1], bn_eps), nn.ReLU(),
                                          SNConv2d(widths[-1], 3, sn=sn, eps=sn_eps))
        self.feature_layers = ("linear",) + tuple(f"block{i}" for i in range(n_blocks)) + ("image",)

    def stages(self, latent: Tensor, space: str, cond: Tensor) -> Iterator[tuple[str, Tensor]]:
        zs = self.per_layer(latent, space)
        y = cond @ self.shared.weight  # class embedding (N, shared_dim); a one-hot gives the embedding row
        c = self.chunk
        x = self.linear(zs[0][:, :c] if c else zs[0]).view(latent.shape[0], -1, self.bottom_width, self.bottom_width)
        yield "linear", x
        for i, blocklist in enumerate(self.blocks):
            block_y = torch.cat([y, zs[1 + i][:, (1 + i) * c: (2 + i) * c]], 1) if c else y
            for layer in blocklist:
                x = layer(x, block_y) if isinstance(layer, GBlock) else layer(x)
            yield f"block{i}", x
        yield "image", torch.tanh(self.output_layer(x))

    def first_layer_weight(self) -> Tensor:
        w = self.linear.effective_weight()  # (out, chunk): the linear layer reads z's first chunk only
        return F.pad(w, (0, self.latent_dim - w.shape[1]))  # (out, dim_z)


def load_biggan_pytorch(path: str | Path, state: object = None, *, truncation: float = 1.0, sn_eps: float = 1e-6,
                        bn_eps: float = 1e-5, name: str | None = None) -> BigGANPyTorch:
    """BigGAN-PyTorch from a `G_ema.pth` / `G.pth` state dict; the eps defaults are the 128px release's."""
    sd = torch_load(path) if state is None else state
    if not isinstance(sd, dict) or "linear.weight" not in sd or "shared.weight" not in sd:
        raise GansteerError(f"{path}: not a {AJBROCK_FORMAT} checkpoint (expected 'shared.weight', 'linear.weight'; "
                            "only G_shared=True models are supported)")

    def shape(key: str) -> tuple[int, ...]:
        return state_shape(sd, key, source=str(path), format_name=AJBROCK_FORMAT)

    n_blocks = sum(1 for k in sd if k.startswith("blocks.") and k.endswith(".0.conv1.weight"))
    widths = [shape("blocks.0.0.conv1.weight")[1]] + [shape(f"blocks.{i}.0.conv1.weight")[0] for i in range(n_blocks)]
    n_classes, shared_dim = shape("shared.weight")
    chunk = shape("blocks.0.0.bn1.gain.weight")[1] - shared_dim
    linear_out, linear_in = shape("linear.weight")
    model = BigGANPyTorch(
        widths=widths, chunk=chunk, dim_z=chunk * (n_blocks + 1) if chunk else linear_in, n_classes=n_classes,
        shared_dim=shared_dim, attention=[i for i in range(n_blocks) if f"blocks.{i}.1.gamma" in sd],
        bottom_width=math.isqrt(linear_out // widths[0]), sn="linear.u0" in sd, sn_eps=sn_eps, bn_eps=bn_eps,
        truncation=truncation, name=name or Path(path).stem)
    load_state_dict_strict(model, sd, source=str(path), format_name=AJBROCK_FORMAT)
    return model.freeze()


def is_biggan_pytorch(path: Path, state: object) -> bool:
    return isinstance(state, dict) and "shared.weight" in state and "blocks.0.0.conv1.weight" in state


@GENERATOR_FORMATS.register("biggan-pytorch", help="BigGAN-PyTorch (ajbrock) G_ema.pth, as GanLatentDiscovery uses",
                            detect=is_biggan_pytorch)
def biggan_pytorch_format(path: str | Path, state: object = None, **kwargs: Any) -> BigGANPyTorch:
    return load_biggan_pytorch(path, state, **kwargs)


# ---------------------------------------------------------------------------------------------- tiny + writers
TINY_DEEP_CONFIG = {"output_dim": 16, "z_dim": 8, "class_embed_dim": 8, "channel_width": 4, "num_classes": 5,
                    "layers": [[True, 16, 8], [True, 8, 4], [False, 4, 2], [False, 2, 1]],
                    "attention_layer_position": 2, "eps": 1e-4, "n_stats": 51}


def _randomize(model: nn.Module, seed: int, var: tuple[float, float]) -> None:
    """Trained-looking random weights: statistics, gains and attention that are not identities."""
    g = torch.Generator().manual_seed(seed)
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            leaf = key.rsplit(".", 1)[-1]
            if leaf in ("running_vars", "stored_var"):
                value.copy_(torch.rand(value.shape, generator=g) * (var[1] - var[0]) + var[0])
            elif leaf in ("sv0",):
                value.fill_(1.0)
            else:
                value.copy_(torch.randn(value.shape, generator=g) * (0.3 if value.dim() > 1 else 0.1))
    for m in model.modules():  # torch spectral norm: u, v as a converged power iteration leaves them
        if hasattr(m, "weight_u"):
            w = m.weight_orig.detach().flatten(1)
            for _ in range(20):
                m.weight_v.copy_(F.normalize(w.t() @ m.weight_u, dim=0))
                m.weight_u.copy_(F.normalize(w @ m.weight_v, dim=0))


@GENERATORS.register("biggan-deep-tiny", tiny=True, help="random 16x16 BigGAN-deep (pytorch-pretrained-biggan "
                     "layout), 5 classes; z=8, z+ of 5 layers")
def biggan_deep_tiny(seed: int = 0, truncation: float = 1.0) -> BigGANDeep:
    model = BigGANDeep(TINY_DEEP_CONFIG, truncation=truncation, name="biggan-deep-tiny")
    _randomize(model, seed, var=(0.15, 0.4))  # small variances: lively images despite spectral norm
    return model.freeze()


@GENERATORS.register("biggan-tiny", tiny=True, help="random 16x16 BigGAN-PyTorch (G_ema.pth layout), hierarchical "
                     "z, 5 classes; z=12, z+ of 3 layers")
def biggan_tiny(seed: int = 0, truncation: float = 1.0) -> BigGANPyTorch:
    model = BigGANPyTorch(widths=[16, 8, 4], chunk=4, dim_z=12, n_classes=5, shared_dim=6, attention=[0],
                          truncation=truncation, name="biggan-tiny")
    _randomize(model, seed, var=(0.05, 0.15))
    return model.freeze()


def write_tiny_deep_checkpoint(path: str | Path, *, seed: int = 0) -> Path:
    """A directory as pytorch-pretrained-biggan stores a model: `pytorch_model.bin` + `config.json`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / "config.json") as tmp:
        tmp.write_text(json.dumps(TINY_DEEP_CONFIG, indent=2))
    atomic_torch_save(biggan_deep_tiny(seed).state_dict(), path / "pytorch_model.bin")
    return path


def write_tiny_checkpoint(path: str | Path, *, seed: int = 0) -> Path:
    """`G_ema.pth` as BigGAN-PyTorch saves it: the generator's state dict."""
    atomic_torch_save(biggan_tiny(seed).state_dict(), path)
    return Path(path)
