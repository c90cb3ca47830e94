"""Edit a real photo: invert it (or read its saved latent), move the latent along a discovered direction, render."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..generators.loading import load_generator
from ..traversal import apply_direction
from .images import ImageSource
from .optimize import invert
from .result import Inversion, is_latent_file


def edit(
    source: Inversion | ImageSource | Sequence[ImageSource] | Tensor,
    generator: Generator | str,
    directions: DirectionSet | str | Path,
    direction: int,
    shifts: float | Sequence[float],
    *,
    layers: tuple[int, int] | None = None,
    batch_size: int = 64,
    **invert_kwargs: Any,
) -> Tensor:
    """Images (N, S, C, H, W) in [-1, 1]: each photo's latent moved by each of the S `shifts` along `direction`.

    `source` is an `Inversion`, a latent file written by `invert` (``.safetensors``), or photos, which are inverted
    first with `invert_kwargs` (encoder=..., steps=..., crop=...). Shift 0 is the reconstruction itself.
    """
    G = load_generator(generator)
    dirs = directions if isinstance(directions, DirectionSet) else DirectionSet.load(directions)
    dirs.check_index(direction)
    inv = load_inversion(source, G, **invert_kwargs)
    shift_list = [float(shifts)] if isinstance(shifts, (int, float)) else [float(s) for s in shifts]
    latent = inv.latent.to(G.device, G.dtype)
    n, s = latent.shape[0], len(shift_list)
    moved = [shift_latent(G, latent, inv.space, dirs, direction, eps, layers=layers) for eps in shift_list]
    space = moved[0][1]
    stacked = torch.stack([m for m, _ in moved], 1).flatten(0, 1)  # (N * S, ...)
    cond = None if inv.cond is None else torch.tensor(inv.cond).repeat_interleave(s)
    with torch.inference_mode():
        images = torch.cat([G(chunk, space=space, cond=None if cond is None else cond[i : i + len(chunk)])
                            for i, chunk in zip(range(0, len(stacked), batch_size), stacked.split(batch_size),
                                                strict=True)])
    return images.reshape(n, s, *images.shape[1:])


def load_inversion(source: Inversion | ImageSource | Sequence[ImageSource] | Tensor, generator: Generator,
                   **invert_kwargs: Any) -> Inversion:
    """An `Inversion` as given, read from a latent file, or computed by inverting photos."""
    if isinstance(source, Inversion):
        inv = source
    elif isinstance(source, (str, Path)) and is_latent_file(source):
        inv = Inversion.load(source)
    else:
        return invert(source, generator, **invert_kwargs)
    inv.check_generator(generator, str(source) if not isinstance(source, Inversion) else "latent")
    return inv


def shift_latent(generator: Generator, latent: Tensor, space: str, directions: DirectionSet, k: int, eps: float,
                 *, layers: tuple[int, int] | None = None) -> tuple[Tensor, str]:
    """Move a latent of `space` along direction k of a set that may live in a related space -> (latent, space).

    z latents are mapped into w for w directions; a w+ latent (what StyleGAN inversion gives) moves on the layers
    `layers` (default: the set's range, else all) of a w direction.
    """
    dspace = directions.space
    if space == "z" and dspace != "z" and dspace in generator.all_spaces():
        latent, space = generator.map_latent(latent, dspace), dspace
    if space == dspace:
        return apply_direction(generator, latent, directions, k, eps, layers=layers)
    if space.endswith("+") and space == generator.layered_space(dspace):
        start, stop = layers or directions.layers or (0, generator.num_layers)
        if not 0 <= start < stop <= generator.num_layers:
            raise GansteerError(
                f"layer range {start}-{stop - 1} is invalid; expected within 0-{generator.num_layers - 1}"
            )
        out = latent.clone()
        rows = out[:, start:stop]
        out[:, start:stop] = directions.shift(rows.reshape(-1, rows.shape[-1]), k, eps).reshape(rows.shape)
        return out, space
    raise GansteerError(
        f"directions live in space {dspace!r} but the latent is in {space!r}; invert with --space {dspace} "
        "(or z) to use them"
    )
