"""DCGAN in the PyTorch-tutorial layout (`main.0` ... `main.12`): the embedded `dcgan-face` default and `dcgan-tiny`.

The face weights are the 64x64 DCGAN shipped by the PyPI package `gan-face-generate` (trained on DigiFace-1M):
`gan_face_generate/weights.tar`, key `netG_state_dict`, nz=100, ngf=64. We find the file through the installed
package's location without importing it (its imports pull torchvision and wandb).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import GansteerError
from ..io.checkpoints import load_state_dict_strict, torch_load
from ..registry import GENERATOR_FORMATS, GENERATORS
from .base import Generator


class DCGAN(Generator):
    """z (N, nz) -> 1x1 -> 4x4 -> ... -> resolution, ConvTranspose/BatchNorm/ReLU blocks, tanh output."""

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 3, resolution: int = 64, name: str = "dcgan"):
        super().__init__()
        self.name, self.latent_dim, self.channels, self.resolution = name, nz, channels, resolution
        n_up = resolution.bit_length() - 3  # 4x4 after the first layer, doubling to `resolution`
        if resolution < 8 or resolution & (resolution - 1):
            raise GansteerError(f"DCGAN resolution {resolution} must be a power of two >= 8")
        widths = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)]  # e.g. 512, 256, 128, 64
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]),
                                   nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.feature_layers = tuple(f"block{i}" for i in range(n_up)) + ("image",)

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.main(latent[:, :, None, None])

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """Activations after block i's ReLU (`block0` is 4x4), or the image itself."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        if layer == "image":
            return self.main(latent[:, :, None, None])
        stop = 3 * (int(layer.removeprefix("block")) + 1)
        return self.main[:stop](latent[:, :, None, None])

    def first_layer_weight(self) -> Tensor:
        # ConvTranspose2d weight (nz, C, 4, 4) acting on a 1x1 input: y[c, i, j] = sum_k z_k W[k, c, i, j].
        w = self.main[0].weight
        return w.reshape(w.shape[0], -1).T  # (C*16, nz)


def face_weights_path() -> Path:
    """Location of `weights.tar` inside the installed `gan-face-generate` package (not imported)."""
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise GansteerError(
            "generator 'dcgan-face' needs the package gan-face-generate: run `pip install --no-deps gan-face-generate`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.tar"
    if not path.is_file():
        raise GansteerError(f"gan-face-generate is installed but {path} is missing; reinstall it")
    return path


def load_dcgan(path: str | Path, *, key: str = "netG_state_dict", name: str | None = None) -> DCGAN:
    """A DCGAN from a tutorial-layout checkpoint: a state dict, or a dict holding it under `key`."""
    sd = torch_load(path)
    if isinstance(sd, dict) and key in sd:
        sd = sd[key]
    if not isinstance(sd, dict) or "main.0.weight" not in sd:
        raise GansteerError(f"{path}: not a DCGAN checkpoint (expected a state dict with 'main.0.weight' or {key!r})")
    first, last = sd["main.0.weight"], sd[max((k for k in sd if k.endswith(".weight")), key=_index)]
    nz, ngf8 = first.shape[:2]
    n_up = sum(1 for k, v in sd.items() if k.endswith(".weight") and v.dim() == 4) - 1
    model = DCGAN(nz=nz, ngf=ngf8 // 2 ** (n_up - 1), channels=last.shape[1], resolution=2 ** (n_up + 2),
                  name=name or Path(path).stem)
    load_state_dict_strict(model, sd, source=str(path), format_name="DCGAN (PyTorch tutorial layout)")
    return model.freeze()


def _index(key: str) -> int:
    return int(key.split(".")[1])


def is_dcgan_checkpoint(sd: object) -> bool:
    if isinstance(sd, dict) and "netG_state_dict" in sd:
        sd = sd["netG_state_dict"]
    return isinstance(sd, dict) and "main.0.weight" in sd


@GENERATORS.register("dcgan-face", help="64x64 faces (DigiFace-1M), the embedded default; nz=100")
def dcgan_face() -> DCGAN:
    return load_dcgan(face_weights_path(), name="dcgan-face")


@GENERATORS.register("dcgan-tiny", tiny=True, help="random 16x16 DCGAN for tests; nz=8")
def dcgan_tiny(seed: int = 0) -> DCGAN:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DCGAN(nz=8, ngf=8, channels=3, resolution=16, name="dcgan-tiny")
        for m in model.modules():  # the tutorial's init, so outputs are not saturated
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return model.freeze()


@GENERATOR_FORMATS.register("dcgan", help="PyTorch DCGAN-tutorial state dict (optionally under 'netG_state_dict')",
                            detect=lambda path, state: is_dcgan_checkpoint(state))
def dcgan_format(path: str | Path, state: object = None, **kwargs: object) -> DCGAN:
    return load_dcgan(path)
