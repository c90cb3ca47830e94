from __future__ import annotations

import pytest
import torch

from gansteer import GansteerError, load_generator
from gansteer.generators.synthetic import FACTORS, read_factors, superellipse_area


@pytest.fixture(scope="module")
def G():
    return load_generator("synthetic-tiny")


def _z(G, n=8, seed=0):
    return G.sample_latent(n, generator=torch.Generator().manual_seed(seed))


def test_contract_shapes_and_golden_slice(G):
    z = _z(G, 2)
    x = G(z)
    assert (G.latent_dim, G.resolution, G.feature_layers) == (10, 32, ("units", "factors", "render"))
    assert x.shape == (2, 3, 32, 32) and x.abs().max() <= 1
    torch.testing.assert_close(x[0, :, 16, 14:16], torch.tensor([[-0.629582, -0.518340], [0.326908, -0.201203],
                                                                 [-0.129768, -0.352620]]), atol=1e-5, rtol=0)
    torch.testing.assert_close(G.factors(z)[0], torch.tensor([-0.337760, 0.013369, 0.256464, -0.215379, 0.420810,
                                                              7.871170, -0.462245]), atol=1e-5, rtol=0)
    assert G.weight_hash() == "0fa943260e563344" != load_generator("synthetic-tiny", seed=1).weight_hash()
    assert G.features(z, "units").shape == (2, 37) and G.features(z, "factors").shape == (2, 7)
    assert G.features(z, "render").shape == (2, 8, 16, 16)
    # the first layer is linear in z: units = tanh(A z + b), and SeFa's A is exactly that map
    A = G.first_layer_weight()
    torch.testing.assert_close(G.features(z, "units"), torch.tanh(z @ A.T + G.bias))
    with pytest.raises(GansteerError, match="latent_dim=8 is too small"):
        type(G)(latent_dim=8)


def test_factor_directions_move_only_their_factor(G):
    z, F = _z(G), G.factor_directions()
    torch.testing.assert_close(F @ F.T, torch.eye(len(FACTORS)), atol=1e-6, rtol=0)
    assert (F.abs() < 0.9).all()  # not axis-aligned
    f0 = G.factors(z)
    for k in range(len(FACTORS)):
        delta = (G.factors(z + 0.7 * F[k]) - f0).abs().amax(0)
        assert delta[k] > 1e-2 and torch.cat([delta[:k], delta[k + 1:]]).max() < 1e-5, (k, delta)
    x0 = G(z)
    for j, n in enumerate(G.nuisance_directions()):
        assert (G.factors(z + 2 * n) - f0).abs().max() < 1e-5
        change = (G(z + 2 * n) - x0).abs().max()
        assert (0.01 < change < 0.1) if j < 2 else change < 1e-5  # a faint background tilt, or nothing


def test_read_back_matches_true_factors():
    G = load_generator("synthetic")  # 64x64: the soft edge is thin relative to the object
    z = _z(G, 16)
    with torch.inference_mode():
        images, alpha = G.render(z)
    f, read = G.factors(z), read_factors(images)
    torch.testing.assert_close(read[:, :2], f[:, :2], atol=2e-3, rtol=0)  # x, y
    torch.testing.assert_close(read[:, 3], f[:, 4], atol=1e-4, rtol=0)  # hue
    torch.testing.assert_close(read[:, 4], f[:, 6], atol=0.03, rtol=0)  # background (plus the nuisance tilt)
    # area: the soft edge adds ~ pi^3 / (3 R^2) (a curvature term), a few % for the smallest objects
    torch.testing.assert_close(read[:, 2], superellipse_area(f[:, 2], f[:, 5]), atol=0, rtol=0.05)
    assert torch.equal(G.masks(z), alpha > 0.5)


def test_differentiable(G):
    z = _z(G, 2).requires_grad_(True)
    G(z).square().sum().backward()
    assert torch.isfinite(z.grad).all() and (z.grad.abs() > 0).all()
