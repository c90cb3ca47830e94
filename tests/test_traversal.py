from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from gansteer import DirectionSet, GansteerError, Generator, SeFa, apply_direction, traverse
from gansteer.traversal import save_traversal_gif, save_traversal_grid
from gansteer.viz.grid import image_grid


def test_zero_shift_returns_unedited_image(tiny):
    ds = SeFa(k=3).fit(tiny).directions()
    images = traverse(tiny, ds, [0, 2], [-2.0, 0.0, 2.0], seeds=[0, 5])
    assert images.shape == (2, 2, 3, 3, 16, 16)
    z = torch.cat([tiny.sample_latent(1, generator=torch.Generator().manual_seed(s)) for s in (0, 5)])
    with torch.inference_mode():
        plain = tiny(z)
    torch.testing.assert_close(images[0, :, 1], plain)
    torch.testing.assert_close(images[1, :, 1], plain)
    assert (images[0, :, 0] - plain).abs().max() > 0.05  # a real shift changes the picture


def test_grid_and_gif_files(tiny, tmp_path):
    ds = SeFa(k=2).fit(tiny).directions()
    images = traverse(tiny, ds, [0, 1], [-1.0, 0.0, 1.0], seeds=[0, 1])
    png = save_traversal_grid(images, tmp_path / "g.png", padding=2)
    assert Image.open(png).size == (3 * 18 + 2, 4 * 18 + 2)
    labelled = save_traversal_grid(images, tmp_path / "l.png", row_labels=["0: smile", "1"])
    assert Image.open(labelled).size[0] > 3 * 18 + 2
    gif = save_traversal_gif(images[0], tmp_path / "d.gif")
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 4 and frames.shape[1:3] == (18 + 2, 2 * 18 + 2)  # there and back: 3 + 1


def test_image_grid_layout():
    x = torch.stack([torch.full((3, 2, 2), v) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(x, nrow=2, padding=1)
    assert grid.shape == (7, 7, 3)
    assert grid[1, 1, 0] == 0 and grid[1, 4, 0] == 128 and grid[4, 1, 0] == 255 and grid[4, 4, 0] == 255


class _Layered(Generator):
    """Three layers, each reading its own row of a z+ latent: lets us see which rows an edit touched."""

    name, latent_dim, num_layers, resolution, channels = "layered", 4, 3, 3, 1

    def synthesize(self, latent, *, space, cond):
        rows = latent if space == "z+" else self.expand_layers(latent, "z")  # (N, 3, 4)
        return rows.sum(-1)[:, None, :, None].expand(-1, 1, 3, 3)  # image row i shows layer i


def test_layer_range_edits_only_chosen_layers():
    G = _Layered()
    ds = DirectionSet(torch.eye(4)[:2])
    z = torch.zeros(2, 4)
    moved, space = apply_direction(G, z, ds, 1, 5.0, layers=(1, 3))
    assert space == "z+" and moved.shape == (2, 3, 4)
    assert moved[:, 0].abs().sum() == 0 and (moved[:, 1:, 1] == 5).all()
    with pytest.raises(GansteerError, match="layer range 2-4 is invalid"):
        apply_direction(G, z, ds, 1, 5.0, layers=(2, 5))
    images = traverse(G, ds, [1], [0.0, 1.0], latents=z, layers=(2, 3))
    assert images[0, 0, 1, 0, :, 0].tolist() == [0.0, 0.0, 1.0]  # only layer 2 of 3 moved


def test_single_layer_generator_rejects_layer_range(tiny):
    ds = SeFa(k=2).fit(tiny).directions()
    with pytest.raises(GansteerError, match="single layer"):
        apply_direction(tiny, torch.zeros(1, 8), ds, 0, 1.0, layers=(0, 1))


def test_same_seed_same_images(tiny):
    ds = SeFa(k=2).fit(tiny).directions()
    a = traverse(tiny, ds, [1], [1.5], seeds=[3])
    b = traverse(tiny, ds, [1], [1.5], seeds=[3])
    assert torch.equal(a, b) and np.isfinite(a.numpy()).all()
