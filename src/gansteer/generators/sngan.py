"""SN-GAN ResNet generators in the layout of the GanLatentDiscovery release (its MNIST and Anime models).

A release is a directory holding `args.json` (the training arguments: ``model`` = sn_resnet32 | sn_resnet64 | ...,
``latent_dim``, ``image_channels``) and `generator.pt` (older runs: `generator_<step>.pt`), the state dict of a
wrapper whose ``model`` is one `nn.Sequential`:

    Linear(D, C0*16) -> reshape (C0, 4, 4) -> ResBlock x B -> BatchNorm -> ReLU -> Conv3x3(C_B, channels) -> tanh

and each ResBlock is BN -> ReLU -> 2x nearest up -> Conv3x3 -> BN -> ReLU -> Conv3x3, plus a bypass (2x up, then a
Conv3x3 when the width changes). The block also registers its two convs as ``conv1``/``conv2``, so the official
state dict names them twice (``model.2.conv1.weight`` and ``model.2.model.3.weight``); we keep both names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
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
from .base import Generator

FORMAT = "SN-GAN ResNet (GanLatentDiscovery: args.json + generator.pt)"
RESOLUTIONS = {"sn_resnet32": 32, "sn_resnet48": 48, "sn_resnet64": 64, "sn_resnet128": 128, "sn_resnet256": 256}


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, padding=1)
        self.model = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), nn.Upsample(scale_factor=2), self.conv1,
                                   nn.BatchNorm2d(c_out), nn.ReLU(), self.conv2)
        self.bypass = (nn.Upsample(scale_factor=2) if c_in == c_out
                       else nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, 1, padding=1)))

    def forward(self, x: Tensor) -> Tensor:  # (N, c_in, s, s) -> (N, c_out, 2s, 2s)
        return self.model(x) + self.bypass(x)


class SNGAN(Generator):
    """z (N, D) -> dense 4x4 -> ResBlocks doubling the size -> image (N, channels, 4 * 2^B, 4 * 2^B) in [-1, 1]."""

    def __init__(self, latent_dim: int = 128, widths: Sequence[int] = (256, 256, 256, 256), channels: int = 3,
                 name: str = "sngan") -> None:
        super().__init__()
        widths = list(widths)
        self.name, self.latent_dim, self.channels = name, int(latent_dim), int(channels)
        self.resolution = 4 * 2 ** (len(widths) - 1)
        blocks = [ResBlock(c_in, c_out) for c_in, c_out in zip(widths, widths[1:], strict=False)]
        self.model = nn.Sequential(
            nn.Linear(latent_dim, widths[0] * 16), nn.Unflatten(1, (widths[0], 4, 4)),  # (N, C0, 4, 4)
            *blocks,                                                                    # (N, C_B, res, res)
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, 1, padding=1), nn.Tanh(),
        )
        self.feature_layers = ("dense",) + tuple(f"block{i}" for i in range(len(blocks))) + ("image",)

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.model(latent)

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """`dense`: the (C0, 4, 4) seed; `block<i>`: after ResBlock i; `image`: the output."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        stop = {"dense": 2, "image": len(self.model)}.get(layer) or 3 + int(layer.removeprefix("block"))
        return self.model[:stop](latent)

    def first_layer_weight(self) -> Tensor:
        return self.model[0].weight  # (C0*16, D)


# ------------------------------------------------------------------------------------------------------- loading
def release_files(path: Path) -> tuple[Path, Path | None]:
    """(weights, args.json or None) for a release directory or a generator*.pt file."""
    if path.is_dir():
        candidates = sorted(path.glob("generator*.pt"), key=_step)
        if not candidates:
            raise GansteerError(f"{path}: no generator.pt (or generator_<step>.pt) in this {FORMAT} directory")
        weights = candidates[-1]  # generator.pt, else the latest step, as the release's loader picks
    else:
        weights = path
    args = weights.parent / "args.json"
    return weights, args if args.is_file() else None


def _step(p: Path) -> float:
    m = re.fullmatch(r"generator_(\d+)\.pt", p.name)
    return int(m.group(1)) if m else float("inf")


def fill_legacy_keys(model: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Older saves lack BatchNorm's `num_batches_tracked` or one of two names of a shared tensor: fill them in."""
    state = dict(state)
    names: dict[int, list[str]] = {}
    for key, value in model.state_dict(keep_vars=True).items():
        names.setdefault(id(value), []).append(key)
    for keys in names.values():
        present = [k for k in keys if k in state]
        for k in keys:
            if k not in state and present:
                state[k] = state[present[0]]
            elif k not in state and k.endswith("num_batches_tracked"):
                state[k] = torch.tensor(0)
    return state


def load_sngan(path: str | Path, state: object = None, *, name: str | None = None) -> SNGAN:
    """An SN-GAN from a release directory (args.json + generator.pt) or from the generator .pt itself."""
    path = Path(path)
    weights, args_path = release_files(path)
    sd = torch_load(weights) if state is None or path.is_dir() else state
    if not isinstance(sd, dict) or "model.0.weight" not in sd:
        raise GansteerError(f"{weights}: not a {FORMAT} checkpoint (expected a state dict with 'model.0.weight')")
    n_blocks = sum(1 for k in sd if re.fullmatch(r"model\.\d+\.model\.0\.weight", k))
    def dim(key: str) -> int:
        return state_shape(sd, key, source=str(weights), format_name=FORMAT)[0]

    widths = [dim(f"model.{2 + i}.model.0.weight") for i in range(n_blocks)] + [dim(f"model.{2 + n_blocks}.weight")]
    model = SNGAN(latent_dim=sd["model.0.weight"].shape[1], widths=widths, channels=dim(f"model.{4 + n_blocks}.weight"),
                  name=name or (path.name if path.is_dir() else weights.stem))
    if args_path is not None:
        check_args(read_json_object(args_path), model, args_path)
    load_state_dict_strict(model, fill_legacy_keys(model, sd), source=str(weights), format_name=FORMAT)
    return model.freeze()


def check_args(args: dict[str, Any], model: SNGAN, source: Path) -> None:
    """The weights must agree with the training arguments stored beside them."""
    if args.get("gen_sn"):
        raise GansteerError(f"{source}: gen_sn=true (spectrally normalised generator) is not supported; "
                            "expected the release's plain ResNet generator")
    resolution = RESOLUTIONS.get(args.get("model"), model.resolution)
    for key, want, got in (("latent_dim", args.get("latent_dim", model.latent_dim), model.latent_dim),
                           ("image_channels", args.get("image_channels", model.channels), model.channels),
                           ("model", resolution, model.resolution)):
        if want != got:
            raise GansteerError(f"{source}: {key}={args[key]!r} does not match the weights ({got} in generator.pt)")


def is_sngan(path: Path, state: object) -> bool:
    if path.is_dir():
        return (path / "args.json").is_file() and any(path.glob("generator*.pt"))
    return isinstance(state, dict) and "model.0.weight" in state and "model.2.model.0.weight" in state


@GENERATOR_FORMATS.register("sngan", help="SN-GAN ResNet, GanLatentDiscovery layout: a dir with args.json + "
                            "generator.pt (MNIST, Anime), or the .pt", detect=is_sngan)
def sngan_format(path: str | Path, state: object = None, **kwargs: Any) -> SNGAN:
    return load_sngan(path, state, **kwargs)


# ---------------------------------------------------------------------------------------------- tiny + writer
@GENERATORS.register("sngan-tiny", tiny=True, help="random 16x16 one-channel SN-GAN ResNet for tests; z=8")
def sngan_tiny(seed: int = 0) -> SNGAN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SNGAN(latent_dim=8, widths=(16, 16, 8), channels=1, name="sngan-tiny")
        for m in model.modules():  # trained-looking BatchNorm statistics, so that loading them is tested
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.normal_(1, 0.1)
                m.bias.data.normal_(0, 0.1)
    return model.freeze()


def write_tiny_checkpoint(path: str | Path, *, seed: int = 0) -> Path:
    """A release directory exactly as GanLatentDiscovery ships it: `args.json` + `generator.pt` (state dict)."""
    path = Path(path)
    model = sngan_tiny(seed)
    args = {"model": "sn_resnet16_tiny", "latent_dim": model.latent_dim, "image_channels": model.channels,
            "distribution": "normal", "distribution_params": "{}", "gen_sn": False}
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / "args.json") as tmp:
        tmp.write_text(json.dumps(args, indent=2))
    atomic_torch_save(model.state_dict(), path / "generator.pt")
    return path
