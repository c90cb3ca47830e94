"""Image grids and GIFs from NCHW tensors in [-1, 1] (our replacement for torchvision.utils.make_grid)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..io.checkpoints import atomic_path


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, 3) uint8; grayscale is repeated to RGB."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.permute(0, 2, 3, 1).numpy()


def image_grid(images: Tensor, nrow: int = 8, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile N images into rows of `nrow` with `padding` pixels between them -> (H, W, 3) uint8."""
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    cols, rows = min(nrow, n), -(-n // nrow)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = tile
    return grid


def save_png(grid: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path


def save_gif(frames: Sequence[np.ndarray], path: str | Path, *, duration: float = 0.12) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=int(duration * 1000), loop=0)
    return path
