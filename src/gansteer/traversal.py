"""Apply discovered directions to latents and render what they do: grids of directions x shifts, and GIFs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .directions import DirectionSet
from .errors import GansteerError
from .generators.base import LAYERED, Generator
from .viz.grid import image_grid, save_gif, save_png, to_uint8


def latents_for_seeds(generator: Generator, seeds: Sequence[int], space: str = "z",
                      cond: int | Tensor | None = None) -> Tensor:
    """One latent per seed, each from its own `torch.Generator`, so a seed's image never depends on the others
    (`cond`: the class, for a class-conditional mapping into w)."""
    rows = [generator.sample_latent(1, generator=torch.Generator().manual_seed(int(s)), space=space, cond=cond)
            for s in seeds]
    return torch.cat(rows)


def apply_direction(
    generator: Generator,
    latent: Tensor,
    directions: DirectionSet,
    k: int,
    eps: float | Tensor,
    *,
    layers: tuple[int, int] | None = None,
) -> tuple[Tensor, str]:
    """Shift `latent` (in `directions.space`) by eps along direction k -> (new latent, its space).

    With a layer range [start, stop) (or the set's own), the latent is expanded to the layered space (w -> w+) and
    only those layers move; the others keep the unedited latent.
    """
    layers = layers if layers is not None else directions.layers
    space = directions.space
    if layers is None:
        return directions.shift(latent, k, eps), space
    start, stop = check_layer_range(generator, layers)
    layered = generator.layered_space(space)
    out = generator.expand_layers(latent, space).clone()
    n, rows = out.shape[0], out[:, start:stop]
    eps_t = torch.as_tensor(eps)
    eps_rows = eps_t.repeat_interleave(stop - start) if eps_t.dim() else eps_t
    moved = directions.shift(rows.reshape(-1, out.shape[-1]), k, eps_rows)
    out[:, start:stop] = moved.reshape(n, stop - start, -1)
    return out, layered


def check_layer_range(generator: Generator, layers: tuple[int, int]) -> tuple[int, int]:
    """A half-open layer range [start, stop) that fits the generator, or a one-line error."""
    if generator.num_layers <= 1:
        raise GansteerError(f"generator {generator.name!r} has a single layer: layer ranges do not apply")
    start, stop = layers
    if not 0 <= start < stop <= generator.num_layers:
        raise GansteerError(f"layer range {start}-{stop - 1} is invalid; expected within 0-{generator.num_layers - 1}")
    return start, stop


def apply_shifts(
    generator: Generator,
    latent: Tensor,
    directions: DirectionSet,
    shifts: Mapping[int, float],
    *,
    layers: tuple[int, int] | None = None,
) -> tuple[Tensor, str]:
    """Several edits at once: `latent` moved along each direction k by shifts[k] in turn -> (new latent, its space).

    `latent` is (N, D) in the set's space or already its layered form (N, L, D), e.g. a w+ inversion of a photo. With
    a layer range, the latent is expanded to the layered space once and every edit moves only those layers.
    """
    layers = layers if layers is not None else directions.layers
    if layers is None and latent.dim() == 3 and directions.space in LAYERED:
        layers = (0, generator.num_layers)
    if layers is None:
        for k, eps in shifts.items():
            latent = directions.shift(latent, k, eps)
        return latent, directions.space
    start, stop = check_layer_range(generator, layers)
    out = (latent if latent.dim() == 3 else generator.expand_layers(latent, directions.space)).clone()  # (N, L, D)
    rows = out[:, start:stop].reshape(-1, out.shape[-1])  # (N * (stop - start), D)
    for k, eps in shifts.items():
        rows = directions.shift(rows, k, eps)
    out[:, start:stop] = rows.reshape(out.shape[0], stop - start, -1)
    return out, generator.layered_space(directions.space)


def row_label(directions: DirectionSet, k: int) -> str:
    """ "3", "3: smile" or "3: smile (4/5)": a direction's index, human label and rating, for grids and pages."""
    text = f"{k}: {directions.labels[k]}" if directions.labels[k] else str(k)
    rating = directions.ratings[k]
    return f"{text} ({rating}/5)" if rating is not None else text


@torch.inference_mode()
def traverse(
    generator: Generator,
    directions: DirectionSet,
    indices: Sequence[int],
    shifts: Sequence[float],
    *,
    seeds: Sequence[int] = (0,),
    latents: Tensor | None = None,
    cond: int | Tensor | None = None,
    layers: tuple[int, int] | None = None,
    batch_size: int = 64,
) -> Tensor:
    """Images of shape (len(indices), n_latents, len(shifts), C, H, W) in [-1, 1].

    `latents` (in the set's space) override `seeds`; a conditional generator keeps `cond` fixed for every image.
    """
    base = latents if latents is not None else latents_for_seeds(generator, seeds, directions.space, cond)
    base = base.to(generator.device, generator.dtype)
    frames = []
    for k in indices:
        k = directions.check_index(int(k))
        edited = [apply_direction(generator, base, directions, k, float(eps), layers=layers) for eps in shifts]
        space = edited[0][1]
        stacked = torch.stack([lat for lat, _ in edited], 1).flatten(0, 1)  # (n * len(shifts), ...)
        images = torch.cat([generator(chunk, space=space, cond=cond) for chunk in stacked.split(batch_size)])
        frames.append(images.reshape(base.shape[0], len(shifts), *images.shape[1:]))
    return torch.stack(frames)


def save_traversal_grid(
    images: Tensor, path: str | Path, *, row_labels: Sequence[str] | None = None, padding: int = 2
) -> Path:
    """PNG grid: one row per (direction, latent), one column per shift; optional labels in a left margin."""
    k, n, s = images.shape[:3]
    grid = image_grid(images.reshape(k * n * s, *images.shape[3:]), nrow=s, padding=padding)
    if row_labels:
        labels = [row_labels[i] if j == 0 else "" for i in range(k) for j in range(n)]
        grid = _label_rows(grid, labels, row_height=images.shape[-2] + padding, padding=padding)
    return save_png(grid, path)


def save_traversal_gif(images: Tensor, path: str | Path, *, duration: float = 0.12) -> Path:
    """Animated GIF for one direction: frames are the shifts (there and back), each frame the latents side by side.

    `images`: (n_latents, n_shifts, C, H, W)."""
    n, s = images.shape[:2]
    frames = [image_grid(images[:, i], nrow=n) for i in range(s)]
    frames = frames + frames[-2:0:-1]
    return save_gif(frames, path, duration=duration)


def _label_rows(grid: np.ndarray, labels: Sequence[str], *, row_height: int, padding: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    width = 8 + 7 * max((len(t) for t in labels), default=0)
    canvas = Image.new("RGB", (grid.shape[1] + width, grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (width, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(labels):
        if text:
            draw.text((4, padding + i * row_height + row_height // 2 - 6), text, fill="black")
    return np.asarray(canvas)


__all__ = [
    "apply_direction", "apply_shifts", "check_layer_range", "latents_for_seeds", "row_label", "save_traversal_gif",
    "save_traversal_grid", "to_uint8", "traverse",
]
