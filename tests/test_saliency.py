from __future__ import annotations

import pytest
import torch

from gansteer import DirectionSet, GansteerError, load_generator
from gansteer.metrics.saliency import iou, saliency_iou, saliency_masks


@pytest.fixture(scope="module")
def G():
    return load_generator("synthetic-tiny")


def test_true_background_direction_is_found_and_segments(G):
    F = G.factor_directions()
    result = saliency_iou(G, DirectionSet(F), n=32)
    assert (result.direction, result.sign) == (6, 1.0)  # the background factor, brightening
    assert result.iou >= 0.9
    # with the factors in another order and signs flipped, the same direction is found, with the other sign
    result = saliency_iou(G, DirectionSet(-F.flip(0)), n=32)
    assert (result.direction, result.sign) == (0, -1.0) and result.iou >= 0.9


def test_random_directions_segment_poorly(G):
    V = torch.randn(7, G.latent_dim, generator=torch.Generator().manual_seed(0))
    assert saliency_iou(G, DirectionSet(V / V.norm(dim=1, keepdim=True)), n=32).iou < 0.5


def test_saliency_masks_vector_or_set(G):
    z = G.sample_latent(4, generator=torch.Generator().manual_seed(3))
    bg = G.factor_directions()[6]
    a = saliency_masks(G, bg, 8.0, 0.4, latents=z)
    b = saliency_masks(G, DirectionSet(G.factor_directions()), 8.0, 0.4, latents=z, k=6)
    assert a.shape == (4, 32, 32) and a.dtype == torch.bool and torch.equal(a, b)
    assert iou(a, G.masks(z)).min() > 0.85
    assert saliency_masks(G, bg, -8.0, 0.4, latents=z).float().mean() > 0.99  # a dark background: all "foreground"
    assert torch.equal(saliency_masks(G, bg, 8.0, 0.4, n=4, seed=3), a)


def test_bad_inputs(G, tiny):
    with pytest.raises(GansteerError, match="direction must be a"):
        saliency_masks(G, torch.zeros(2, 10), 1.0, 0.0)
    with pytest.raises(GansteerError, match="has no true masks"):
        saliency_iou(tiny, DirectionSet(torch.eye(8)[:2]))
    torch.testing.assert_close(iou(torch.zeros(1, 2, 2, dtype=torch.bool), torch.zeros(1, 2, 2, dtype=torch.bool)),
                               torch.ones(1))
