from __future__ import annotations

import numpy as np
import pytest
import torch

from gansteer import GansteerError, SeFa, wrap_generator


def _planted(d=6, out=20, spectrum=(9.0, 5.0, 3.0, 2.0, 1.0, 0.5)):
    """A generator whose first layer A = U diag(s) V^T has known right singular vectors V and spectrum s."""
    g = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(out, d, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    A = U @ torch.diag(torch.tensor(spectrum, dtype=torch.float64)) @ V.T
    G = wrap_generator(lambda z: torch.tanh(z @ A.T.float())[:, :16].reshape(-1, 1, 4, 4), latent_dim=d,
                       first_layer_weight=lambda: A)
    return G, V, torch.tensor(spectrum, dtype=torch.float64)


def test_recovers_planted_eigenvectors():
    G, V, s = _planted()
    sefa = SeFa(k=4, normalize=False).fit(G)
    assert sefa.fit(G) is sefa  # estimator-shaped
    torch.testing.assert_close(sefa.eigenvalues_, s[:4] ** 2)
    cos = (sefa.components_ @ V[:, :4]).abs().diagonal()
    torch.testing.assert_close(cos, torch.ones(4, dtype=torch.float64))
    # sign rule: the largest-|x| entry of each direction is positive
    c = sefa.components_
    assert (c.gather(1, c.abs().argmax(1, keepdim=True)) > 0).all()


def test_normalisation_matches_reference_formula():
    G, _, _ = _planted()
    A = G.first_layer_weight().numpy()
    w = A.T / np.linalg.norm(A.T, axis=0, keepdims=True)  # the reference: columns of A^T to unit norm
    values, vectors = np.linalg.eigh(w @ w.T)
    order = np.argsort(values)[::-1][:3]
    sefa = SeFa(k=3).fit(G)
    np.testing.assert_allclose(sefa.eigenvalues_.numpy(), values[order], rtol=1e-9)
    np.testing.assert_allclose(np.abs(sefa.components_.numpy() @ vectors[:, order]), np.eye(3), atol=1e-9)


def test_dcgan_face_directions(face):
    ds = SeFa(k=5).fit(face).directions()
    assert ds.vectors.shape == (5, 100) and ds.space == "z" and ds.method == "sefa"
    torch.testing.assert_close(ds.vectors.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(ds.eigenvalues, torch.tensor([1001.1455, 609.3119, 455.1567, 396.3293, 350.0750]),
                               rtol=1e-5, atol=0)
    assert ds.generator == "dcgan-face" and ds.generator_hash == face.weight_hash()
    assert ds.shift_range[0].tolist() == [-3.0, 3.0]


def test_bad_parameters(tiny):
    with pytest.raises(GansteerError, match="k=0 is invalid"):
        SeFa(k=0)
    with pytest.raises(GansteerError, match="k=9 exceeds the latent dimension 8"):
        SeFa(k=9).fit(tiny)
    with pytest.raises(GansteerError, match="not fitted"):
        SeFa().directions()
    from gansteer import create_method

    with pytest.raises(GansteerError, match="unknown method 'nope'; expected one of: .*sefa"):
        create_method("nope")
    with pytest.raises(GansteerError, match="valid parameters: k, normalize, layers, shift"):
        create_method("sefa", kk=3)
