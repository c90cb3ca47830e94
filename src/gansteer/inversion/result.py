"""`Inversion`: the latent found for one or more photos, with what it was fitted to, in a portable file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import GansteerError
from ..generators.base import Generator
from ..io.checkpoints import read_safetensors, write_safetensors

FORMAT_VERSION = 1
HEADER_KEY = "gansteer_latent"


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB per image, for images in [-1, 1] (peak-to-peak 2)."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(4 / mse)


@dataclass
class Inversion:
    """Latents (N, D) or layered (N, L, D) in `space` of one generator; `target` is the photo as fitted."""

    latent: Tensor
    space: str
    generator: str
    generator_hash: str
    target: Tensor | None = None  # (N, C, R, R) in [-1, 1]
    reconstruction: Tensor | None = None  # G(latent), same shape
    cond: list[int] | None = None  # class per image, for conditional generators
    info: dict[str, Any] = field(default_factory=dict)  # source, steps, loss weights, timings

    @property
    def psnr(self) -> Tensor | None:
        if self.target is None or self.reconstruction is None:
            return None
        return psnr(self.reconstruction, self.target)

    def check_generator(self, generator: Generator, source: str = "latent") -> None:
        if self.generator_hash and self.generator_hash != generator.weight_hash():
            raise GansteerError(
                f"{source} was found for generator {self.generator!r} (weights {self.generator_hash}); "
                f"got {generator.name!r} (weights {generator.weight_hash()})"
            )
        generator.check_latent(self.latent, self.space)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tensors = {"latent": self.latent}
        if self.target is not None:
            tensors["target"] = self.target
        if self.reconstruction is not None:
            tensors["reconstruction"] = self.reconstruction
        header = {"format_version": FORMAT_VERSION, "space": self.space, "generator": self.generator,
                  "generator_hash": self.generator_hash, "cond": self.cond, "info": self.info}
        return write_safetensors(path, {k: v.float() for k, v in tensors.items()}, {HEADER_KEY: json.dumps(header)})

    @classmethod
    def load(cls, path: str | Path) -> Inversion:
        path = Path(path)
        meta, tensors = read_safetensors(path, "latent file")
        if HEADER_KEY not in meta or "latent" not in tensors:
            raise GansteerError(f"{path}: not a gansteer latent file; expected the output of `gansteer invert`")
        info = json.loads(meta[HEADER_KEY])
        if info.get("format_version", 0) > FORMAT_VERSION:
            raise GansteerError(f"{path}: latent format {info['format_version']}; this gansteer reads {FORMAT_VERSION}")
        return cls(tensors["latent"], info["space"], info.get("generator", ""), info.get("generator_hash", ""),
                   tensors.get("target"), tensors.get("reconstruction"), info.get("cond"), info.get("info") or {})


def is_latent_file(path: str | Path) -> bool:
    """A safetensors file (by its suffix) is read as a saved latent; anything else as a photo."""
    return Path(path).suffix == ".safetensors"

