"""Weakly supervised saliency from a background direction (seed 000, Voynov & Babenko, sec. "saliency detection").

A direction h_bg that brightens the background while leaving the object alone turns every image into a mask:
``Mask(G(z)) = [G(z + h_bg) < theta]`` on the grey level (the channel mean). `saliency_masks` computes that for any
generator and direction. `find_background_direction` picks h_bg among discovered directions without labels, and
`saliency_iou` scores the masks against the true foreground of a generator that knows it (the synthetic one).

Unsupervised criterion (ours; the paper picks the direction by eye): for each direction k and sign, shift a batch of
latents and score ``bright_gain * (1 - kept_change)``, where ``bright_gain`` is the fraction of pixels that cross
from below theta to above it, and ``kept_change`` the mean |change| (in units of the [-1, 1] range, so in [0, 1]) of
the pixels that stay below theta -- the would-be foreground. A background direction turns much of the image bright and
leaves the rest as it was; a global brightness edit leaves no foreground (kept_change = 1), a geometry or colour edit
brightens little.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..registry import METRICS
from ..traversal import apply_direction


def _as_set(direction: Tensor | DirectionSet) -> DirectionSet:
    if isinstance(direction, DirectionSet):
        return direction
    if not isinstance(direction, Tensor) or direction.dim() != 1:
        raise GansteerError("direction must be a (D,) latent vector or a DirectionSet (then pick one with k=...)")
    return DirectionSet(direction[None])


def _grey(images: Tensor) -> Tensor:
    return images.mean(1)  # (N, H, W)


@torch.inference_mode()
def shifted_images(
    generator: Generator, direction: Tensor | DirectionSet, shift: float, *, latents: Tensor, k: int = 0,
    cond: int | Tensor | None = None, batch_size: int = 64,
) -> Tensor:
    """G(z + shift * direction) for `latents` (in the direction set's space), (N, C, H, W)."""
    dirs = _as_set(direction)
    out = []
    for chunk in latents.split(batch_size):
        moved, space = apply_direction(generator, chunk.to(generator.device, generator.dtype), dirs, k, float(shift))
        out.append(generator(moved, space=space, cond=cond))
    return torch.cat(out)


def saliency_masks(
    generator: Generator, direction: Tensor | DirectionSet, shift: float, threshold: float, *,
    latents: Tensor | None = None, n: int = 16, seed: int = 0, k: int = 0, cond: int | Tensor | None = None,
    batch_size: int = 64,
) -> Tensor:
    """Foreground masks ``[grey(G(z + shift * direction)) < threshold]``, (N, H, W) bool.

    `direction` is a (D,) vector in z or a DirectionSet (direction `k`, its space and layer range). The latents are
    `latents`, or `n` drawn with `seed`. Images are in [-1, 1]; the grey level is the channel mean. Use a negative
    `shift` if the direction darkens the background as it grows.
    """
    if latents is None:
        space = direction.space if isinstance(direction, DirectionSet) else "z"
        latents = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed), space=space)
    images = shifted_images(generator, direction, shift, latents=latents, k=k, cond=cond, batch_size=batch_size)
    return _grey(images) < threshold


def iou(pred: Tensor, true: Tensor) -> Tensor:
    """Per-image intersection over union of boolean masks (N, H, W) -> (N,); two empty masks score 1."""
    inter = (pred & true).flatten(1).sum(1).float()
    union = (pred | true).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


@torch.inference_mode()
def background_scores(
    generator: Generator, directions: DirectionSet, shift: float, threshold: float, *, latents: Tensor,
    cond: int | Tensor | None = None,
) -> Tensor:
    """(K, 2) unsupervised background score of each direction with sign (+shift, -shift); see the module doc.

    `latents` are in the set's space."""
    before = generator(latents, space=directions.space, cond=cond)
    grey0 = _grey(before)
    scores = torch.zeros(directions.num_directions, 2)
    for k in range(directions.num_directions):
        for j, sign in enumerate((1.0, -1.0)):
            after = shifted_images(generator, directions, sign * shift, latents=latents, k=k, cond=cond)
            grey1 = _grey(after)
            gain = ((grey1 >= threshold) & (grey0 < threshold)).float().mean()
            kept = grey1 < threshold
            change = ((after - before).abs().mean(1) / 2)[kept].mean() if kept.any() else torch.tensor(1.0)
            scores[k, j] = gain * (1 - change)
    return scores


@dataclass
class SaliencyResult:
    iou: float  # mean per-image IoU of the masks of the chosen direction against the true masks
    direction: int  # index of the direction chosen as background
    sign: float  # +1 or -1: the shift that brightens the background
    score: float  # its background score


def saliency_iou(
    generator: Generator, directions: DirectionSet, *, shift: float = 4.0, threshold: float = 0.4, n: int = 64,
    seed: int = 0,
) -> SaliencyResult:
    """Pick the background direction without labels, threshold its shifted images, IoU against the true masks.

    `generator` must know its foreground (`masks(z)`, e.g. the synthetic generator). The defaults fit `synthetic`:
    theta = 0.4 is halfway between its foreground grey (0) and its brightest background (0.8), and shift 4 is the
    smallest at which the true background direction's masks saturate (IoU 0.997); a larger shift only amplifies what
    an almost-right direction leaks into the other factors (GANSpace's, |cos| 0.9995: IoU 0.86 at 4, 0.80 at 6)."""
    if not hasattr(generator, "masks"):
        raise GansteerError(f"generator {generator.name!r} has no true masks; saliency IoU needs e.g. 'synthetic'")
    z = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    scores = background_scores(generator, directions, shift, threshold, latents=z)
    best = int(scores.argmax())
    k, sign = best // 2, (1.0, -1.0)[best % 2]
    pred = saliency_masks(generator, directions, sign * shift, threshold, latents=z, k=k)
    with torch.inference_mode():
        true = generator.masks(z)
    return SaliencyResult(float(iou(pred, true).mean()), k, sign, float(scores.flatten()[best]))


METRICS.register("saliency-iou", help="IoU of background-direction masks [G(z+h) < theta] vs true masks (seed 000)")(
    saliency_iou)
