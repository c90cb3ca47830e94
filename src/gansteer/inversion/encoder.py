"""The encoder: a ResNet that maps an image to the latent that made it, trained on generated (image, latent) pairs.

It gives inversion a first guess in one forward pass, and its intermediate activations are the feature loss of the
optimisation that follows (no pretrained perceptual network exists here; this one was trained on exactly the
images the generator can make, so its features separate what the latent controls). Saved as one ``.safetensors``
file: the weights, and JSON in the header naming the architecture and the generator it was trained for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import GansteerError
from ..generators.base import Generator
from ..io.checkpoints import first_line, read_safetensors, write_safetensors
from ..methods.training import TrainedMethod
from ..nets.resnet import ResNet

FORMAT_VERSION = 1
HEADER_KEY = "gansteer_encoder"


class Encoder(nn.Module):
    """(N, C, R, R) images in [-1, 1] -> (N, D) latents of `space` ("z", or "w" for StyleGAN-like generators)."""

    def __init__(self, channels: int, latent_dim: int, *, space: str = "z",
                 widths: tuple[int, ...] = (32, 64, 128, 256), blocks: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        self.config = {"channels": channels, "latent_dim": latent_dim, "space": space, "widths": list(widths),
                       "blocks": list(blocks)}
        self.space = space
        self.backbone = ResNet(channels, tuple(blocks), tuple(widths))
        self.head = nn.Linear(widths[-1], latent_dim)
        # The head predicts standardised latents; w is not centred, so its mean and spread are kept here.
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))

    def forward(self, images: Tensor) -> Tensor:
        return self.mean + self.scale * self.head(self.backbone(images))

    def features(self, images: Tensor) -> list[Tensor]:
        """Activations after the stem and after each ResNet stage (resolution R/4, R/4, R/8, ...)."""
        h = self.backbone.stem(images)
        out = [h]
        for stage in self.backbone.layers:
            h = stage(h)
            out.append(h)
        return out

    def freeze(self) -> Encoder:
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


def encoder_space(generator: Generator) -> str:
    """What the encoder predicts: w when the generator has it (better conditioned than z), else z."""
    return "w" if "w" in generator.spaces else "z"


@dataclass
class EncoderTraining(TrainedMethod):
    """Regress the latent from G(latent) on fresh samples each step (shared loop: seeded, checkpoints, resume)."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: tuple[int, ...] = (2, 2, 2, 2)

    name = "encoder"

    def build(self, generator: Generator) -> nn.ModuleDict:
        space = encoder_space(generator)
        encoder = Encoder(generator.channels, generator.latent_dim, space=space, widths=self.widths,
                          blocks=self.blocks)
        if space != "z":
            with torch.no_grad():
                w = generator.sample_latent(4096, generator=torch.Generator().manual_seed(self.seed), space=space)
            encoder.mean.copy_(w.mean(0))
            encoder.scale.copy_(w.std(0).clamp_min(1e-6))
        self.space_ = space
        return nn.ModuleDict({"encoder": encoder})

    def training_step(self, generator: Generator, rng: torch.Generator) -> dict[str, Tensor]:
        encoder: Encoder = self.modules_["encoder"]  # type: ignore[assignment]
        with torch.no_grad():
            latent = generator.sample_latent(self.batch_size, generator=rng, space=self.space_)  # (B, D)
            cond = (torch.randint(generator.num_classes, (self.batch_size,), generator=rng)
                    if generator.num_classes else None)
            images = generator(latent, space=self.space_, cond=cond)  # (B, C, R, R)
        error = (encoder(images) - latent) / encoder.scale
        return {"loss": error.pow(2).mean()}

    def encoder(self) -> Encoder:
        modules = self.check_fitted("modules_")
        return modules["encoder"].freeze()

    def save(self, path: str | Path) -> Path:
        """Write the trained encoder (weights + header naming its generator) as one safetensors file."""
        encoder = self.encoder()
        return save_encoder(encoder, path, generator=self.generator_, generator_hash=self.generator_hash_,
                            steps=self.steps_done_, params=self.params())


def save_encoder(encoder: Encoder, path: str | Path, *, generator: str, generator_hash: str,
                 **extra: Any) -> Path:
    path = Path(path)
    header = {"format_version": FORMAT_VERSION, **encoder.config, "generator": generator,
              "generator_hash": generator_hash, **extra}
    return write_safetensors(path, encoder.state_dict(), {HEADER_KEY: json.dumps(header, default=list)})


def load_encoder(path: str | Path, generator: Generator | None = None) -> Encoder:
    """Read an encoder file; with `generator`, refuse an encoder trained for different weights or shapes."""
    path = Path(path)
    meta, tensors = read_safetensors(path, "encoder file")
    if HEADER_KEY not in meta:
        raise GansteerError(f"{path}: not a gansteer encoder file (no {HEADER_KEY!r} header); "
                            "train one with `gansteer train-encoder`")
    info = json.loads(meta[HEADER_KEY])
    if generator is not None and info.get("generator_hash") != generator.weight_hash():
        raise GansteerError(
            f"{path}: encoder was trained for generator {info.get('generator')!r} "
            f"(weights {info.get('generator_hash')}); got {generator.name!r} (weights {generator.weight_hash()}); "
            "train one with `gansteer train-encoder`"
        )
    encoder = Encoder(info["channels"], info["latent_dim"], space=info["space"], widths=tuple(info["widths"]),
                      blocks=tuple(info["blocks"]))
    try:
        encoder.load_state_dict(tensors)
    except RuntimeError as e:
        raise GansteerError(f"{path}: encoder weights do not match its header ({first_line(e)})") from None
    encoder.meta = info  # type: ignore[attr-defined]
    if generator is not None:
        encoder.to(generator.device, generator.dtype)
    return encoder.freeze()
