"""Hybrid GAN inversion: an encoder's one-pass guess, then optimisation of the latent against the photo.

The objective, per image, is

    pixel   mean squared error between G(latent) and the photo, in [-1, 1]
  + feature mean over the encoder's stages of ||f(G(latent)) - f(photo)||^2 / ||f(photo)||^2 (needs an encoder)
  + prior   keeps the latent where the generator was trained, so edits still behave. Each term is ~1 for a
            typical sample, so `prior_weight` reads as "the pixel MSE an atypical latent must buy":
            z: 2 (||z|| - sqrt(D))^2, the squared z-score of the radius; Gaussian samples live on that shell (the
               chi distribution: mean ~sqrt(D), std ~1/sqrt(2)), while the origin is a bad, over-smooth place;
            w: ||w - w_avg||^2 / (D var(w)), and in w+ also the spread of the layers around their mean (a w+
               far from any single w edits badly).

StyleGAN-like generators ("w" in `spaces`, `num_layers` > 1) are optimised in w+ by default (one w per layer fits
much better); everything else in z. The start is the encoder's guess or the best of a few seeded random latents,
whichever renders closer (on real photos, far from the generated images it was trained on, the encoder can lose);
without an encoder, the random candidates (z) or w_avg (w).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..errors import GansteerError
from ..generators.base import Generator
from ..generators.loading import load_generator
from .encoder import Encoder, load_encoder
from .images import Box, ImageSource, load_image
from .result import Inversion, psnr

INITS = ("auto", "best", "encoder", "random", "mean")


def default_space(generator: Generator) -> str:
    if "w" in generator.spaces:
        return "w+" if generator.num_layers > 1 else "w"
    return "z"


def load_images(images: ImageSource | Sequence[ImageSource] | Tensor, generator: Generator,
                crop: Box | None = None) -> tuple[Tensor, list[str]]:
    """Photos (paths, PIL images, arrays) or an (N, C, R, R) tensor in [-1, 1] -> (N, C, R, R), their names."""
    if isinstance(images, Tensor):
        want = (generator.channels, generator.resolution, generator.resolution)
        if images.dim() != 4 or tuple(images.shape[1:]) != want:
            shape = ", ".join(map(str, want))
            raise GansteerError(f"image tensor has shape {tuple(images.shape)}; expected (N, {shape})")
        return images, ["<tensor>"] * images.shape[0]
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    loaded = [load_image(x, generator.resolution, channels=generator.channels, crop=crop) for x in items]
    names = [str(x) if isinstance(x, (str, Path)) else f"<{type(x).__name__}>" for x in items]
    return torch.cat(loaded), names


def invert(
    images: ImageSource | Sequence[ImageSource] | Tensor,
    generator: Generator | str,
    *,
    encoder: Encoder | str | Path | None = None,
    steps: int = 300,
    lr: float = 0.05,
    space: str | None = None,
    init: str = "auto",
    pixel_weight: float = 1.0,
    feature_weight: float = 0.1,
    prior_weight: float = 1e-3,
    crop: Box | None = None,
    cond: int | Sequence[int] | None = None,
    candidates: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> Inversion:
    """Find latents whose images match `images` (photos, or an (N, C, R, R) tensor in [-1, 1]).

    `encoder` (a trained `Encoder` or its file) gives the start and the feature loss. `init`: "encoder" (its
    guess), "random" (the best of `candidates` seeded random latents by pixel error), "best" (whichever of those two
    renders closer, per image), "mean" (w_avg, or z = 0), or "auto": "best" with an encoder, else "random" for z
    and "mean" for w. `steps=0` returns the start.
    """
    G = load_generator(generator)
    if init not in INITS:
        raise GansteerError(f"init {init!r} is unknown; expected one of {', '.join(INITS)}")
    if steps < 0 or not math.isfinite(lr) or lr <= 0:
        raise GansteerError(f"steps={steps}, lr={lr}; expected steps >= 0 and lr > 0")
    enc = load_encoder(encoder, G) if isinstance(encoder, (str, Path)) else encoder
    if init in ("encoder", "best") and enc is None:
        raise GansteerError(f"init={init!r} needs an encoder (train one with `gansteer train-encoder`)")
    if enc is not None and (enc.config["latent_dim"], enc.config["channels"]) != (G.latent_dim, G.channels):
        raise GansteerError(f"encoder predicts {enc.config['latent_dim']}-d latents from {enc.config['channels']}-"
                            f"channel images; generator {G.name!r} has {G.latent_dim} and {G.channels}")
    space = space or default_space(G)
    G.check_space(space)
    init = _auto(enc, space) if init == "auto" else init
    start_time = time.perf_counter()
    target, names = load_images(images, G, crop)
    target = target.to(G.device, G.dtype)
    n = target.shape[0]
    cond_t = G.prepare_cond(cond, n)
    prior = LatentPrior(G, space, seed)

    latent, origin = _start(G, target, cond_t, space, enc, init, prior, candidates, seed)  # (N, D) or (N, L, D)
    latent = latent.detach().clone().requires_grad_(steps > 0)
    history: list[float] = []
    if steps > 0:
        target_features = None
        if enc is not None and feature_weight > 0:
            with torch.no_grad():
                target_features = enc.features(target)
        opt = torch.optim.Adam([latent], lr=lr)
        for step in tqdm(range(steps), disable=not progress, desc="invert", dynamic_ncols=True):
            for group in opt.param_groups:
                group["lr"] = lr * _schedule(step / steps)
            with torch.enable_grad():
                image = G(latent, space=space, cond=cond_t)
                loss = pixel_weight * (image - target).pow(2).flatten(1).mean(1)  # (N,)
                if target_features is not None:
                    loss = loss + feature_weight * _feature_loss(enc.features(image), target_features)  # type: ignore[union-attr]
                if prior_weight > 0:
                    loss = loss + prior_weight * prior(latent)
                total = loss.sum()  # images do not interact: Adam is element-wise
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            history.append(float(total.detach()) / n)
    latent = latent.detach()
    with torch.no_grad():
        reconstruction = G(latent, space=space, cond=cond_t)
    seconds = time.perf_counter() - start_time
    return Inversion(
        latent, space, G.name, G.weight_hash(), target.detach(), reconstruction,
        cond=cond_t.argmax(1).tolist() if cond_t is not None else None,
        info={"sources": names, "steps": steps, "lr": lr, "init": init, "start": origin,
              "encoder": enc is not None,
              "weights": {"pixel": pixel_weight, "feature": feature_weight if enc is not None else 0.0,
                          "prior": prior_weight},
              "psnr": psnr(reconstruction, target).tolist(), "seconds": seconds,
              "final_loss": history[-1] if history else None},
    )


class LatentPrior:
    """Per-image prior penalty (see the module docstring); w statistics are estimated from seeded samples."""

    def __init__(self, generator: Generator, space: str, seed: int = 0, samples: int = 4096) -> None:
        self.base = space.rstrip("+")
        self.dim = generator.latent_dim
        if self.base == "w":
            with torch.no_grad():
                w = generator.sample_latent(samples, generator=torch.Generator().manual_seed(seed), space="w")
            self.w_avg = w.mean(0)
            self.w_var = w.var(0).mean().clamp_min(1e-8)

    def __call__(self, latent: Tensor) -> Tensor:
        if self.base == "z":  # squared z-score of the radius (chi: mean ~sqrt(D), std ~1/sqrt(2)), mean over rows
            penalty = 2 * (latent.norm(dim=-1) - math.sqrt(self.dim)).pow(2)
            return penalty.mean(-1) if penalty.dim() > 1 else penalty
        penalty = (latent - self.w_avg).pow(2).sum(-1) / (self.dim * self.w_var)
        if latent.dim() == 3:  # w+: distance from w_avg plus the spread of the layers around their mean
            spread = (latent - latent.mean(1, keepdim=True)).pow(2).sum(-1) / (self.dim * self.w_var)
            penalty = penalty + spread
            return penalty.mean(-1)
        return penalty

    def mean_latent(self, generator: Generator, space: str, n: int) -> Tensor:
        if self.base == "z":
            return torch.zeros(n, self.dim, device=generator.device, dtype=generator.dtype)
        w = self.w_avg.to(generator.device, generator.dtype).expand(n, -1)
        return generator.expand_layers(w, "w") if space.endswith("+") else w.clone()


def _auto(enc: Encoder | None, space: str) -> str:
    return "best" if enc is not None else ("random" if space.startswith("z") else "mean")


@torch.no_grad()
def _start(G: Generator, target: Tensor, cond: Tensor | None, space: str, enc: Encoder | None, init: str,
           prior: LatentPrior, candidates: int, seed: int) -> tuple[Tensor, list[str]]:
    """Starting latents in `space` and, per image, where each came from."""
    n, base = target.shape[0], space.rstrip("+")
    if init == "mean":
        return prior.mean_latent(G, space, n), ["mean"] * n
    if init in ("encoder", "best"):
        guess = _into_space(G, enc(target), enc.space, base)  # type: ignore[misc, union-attr]  # (N, D)
        if init == "encoder":
            return _into_space(G, guess, base, space), ["encoder"] * n
    # best of `candidates` seeded random latents, by pixel error, for each image
    pool = G.sample_latent(candidates, generator=torch.Generator().manual_seed(seed), space=base)  # (P, D)

    def render(c: Tensor | None) -> Tensor:  # (P, C, R, R)
        return torch.cat([G(chunk, space=base, cond=None if c is None else c.expand(len(chunk), -1))
                          for chunk in pool.split(64)])

    if cond is None:
        errors = (render(None)[None] - target[:, None]).pow(2).flatten(2).mean(2)  # (N, P)
    else:  # each image against candidates of its own class
        errors = torch.stack([(render(cond[i : i + 1]) - target[i]).pow(2).flatten(1).mean(1) for i in range(n)])
    best_error, best = errors.min(1)
    latent, origin = pool[best], ["random"] * n
    if init == "best":  # the encoder's guess competes: out of distribution (real photos) it can lose
        guess_error = (G(guess, space=base, cond=cond) - target).pow(2).flatten(1).mean(1)  # (N,)
        wins = guess_error <= best_error
        latent = torch.where(wins[:, None], guess, latent)
        origin = ["encoder" if w else "random" for w in wins.tolist()]
    return _into_space(G, latent, base, space), origin


def _into_space(G: Generator, latent: Tensor, have: str, want: str) -> Tensor:
    if have == want:
        return latent
    if want == have + "+":
        return G.expand_layers(latent, have)
    if have == "z":
        return G.map_latent(latent, want)
    raise GansteerError(f"an encoder predicting {have!r} cannot start an inversion in space {want!r}")


def _feature_loss(features: list[Tensor], targets: list[Tensor]) -> Tensor:
    """Mean over stages of the relative squared feature error, per image -> (N,)."""
    terms = [(f - t).pow(2).flatten(1).sum(1) / t.pow(2).flatten(1).sum(1).clamp_min(1e-8)
             for f, t in zip(features, targets, strict=True)]
    return torch.stack(terms).mean(0)


def _schedule(t: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """Learning-rate factor at progress t in [0, 1): short warm-up, cosine decay over the last quarter."""
    down = min(1.0, (1.0 - t) / rampdown)
    return (0.5 - 0.5 * math.cos(math.pi * down)) * min(1.0, (t + 1e-3) / rampup)
