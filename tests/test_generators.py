from __future__ import annotations

import pytest
import torch
from torch import nn

import gansteer
from gansteer import GansteerError, load_generator, wrap_generator
from gansteer.generators import dcgan


def _sample(G, n=2, seed=0):
    z = G.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return z, G(z)


def test_dcgan_face_golden_slice(face):
    z, x = _sample(face)
    assert face.latent_dim == 100 and face.resolution == 64 and face.spaces == ("z",)
    assert x.shape == (2, 3, 64, 64)
    expected = torch.tensor([[-0.378303, -0.185150, -0.034282, 0.075659],
                             [-0.645431, -0.499388, -0.360008, -0.244694],
                             [-0.640801, -0.472568, -0.305822, -0.185450]])
    torch.testing.assert_close(x[0, :, 30, 30:34], expected, atol=1e-4, rtol=0)
    assert face.weight_hash() == "93d0160c87fb4106"
    assert not any(p.requires_grad for p in face.parameters()) and not face.training


def test_dcgan_tiny_golden_slice_and_determinism(tiny):
    z, x = _sample(tiny)
    expected = torch.tensor([[0.546238, -0.052730, 0.461664], [0.535669, 0.106356, 0.068553],
                             [-0.154984, -0.065108, 0.344494]])
    torch.testing.assert_close(x[0, :, 8, 8:11], expected, atol=1e-5, rtol=0)
    z2, x2 = _sample(load_generator("dcgan-tiny"))
    assert torch.equal(z, z2) and torch.equal(x, x2)
    assert not torch.equal(x, _sample(tiny, seed=1)[1])


def test_features_and_first_layer_weight(tiny):
    z, _ = _sample(tiny)
    assert tiny.feature_layers == ("block0", "block1", "image")
    assert tiny.features(z, "block0").shape == (2, 16, 4, 4)
    with pytest.raises(GansteerError, match=r"unknown layer 'nope'.*block0, block1, image"):
        tiny.features(z, "nope")
    A = tiny.first_layer_weight()
    assert A.shape == (16 * 16, 8)
    first = tiny.main[0](z[:, :, None, None]).flatten(1)  # the first layer is linear in z: y = A z
    torch.testing.assert_close(first, z @ A.T, atol=1e-5, rtol=0)


def test_wrong_latent_shape_is_one_line_error(tiny):
    with pytest.raises(GansteerError, match=r"shape \(2, 5\); expected \(N, 8\)"):
        tiny(torch.zeros(2, 5))
    with pytest.raises(GansteerError, match="space 'w' is not offered"):
        tiny.sample_latent(1, space="w")


def test_load_from_checkpoint_path_roundtrip(tiny, tmp_path):
    path = tmp_path / "netG.tar"
    torch.save({"netG_state_dict": tiny.state_dict()}, path)
    loaded = load_generator(str(path))
    assert (loaded.latent_dim, loaded.resolution) == (8, 16)
    assert torch.equal(_sample(loaded)[1], _sample(tiny)[1])


def test_bad_checkpoints_are_rejected(tiny, tmp_path):
    sd = tiny.state_dict()
    sd["main.3.weight"] = torch.zeros(3, 3, 4, 4)
    path = tmp_path / "bad.pt"
    torch.save({"netG_state_dict": sd}, path)
    with pytest.raises(GansteerError, match=r"bad.pt: not a DCGAN .* mis-shaped keys: main.3.weight"):
        load_generator(str(path))
    foreign = tmp_path / "foreign.pt"
    torch.save({"something": torch.zeros(1)}, foreign)
    with pytest.raises(GansteerError, match="no known generator checkpoint format matches"):
        load_generator(str(foreign))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(GansteerError, match="garbage.pt: "):
        load_generator(str(garbage))
    with pytest.raises(GansteerError, match="neither a registered name"):
        load_generator("no-such-generator")
    with pytest.raises(GansteerError, match="'dcgan-tiny': .*unexpected keyword argument 'truncation'"):
        load_generator("dcgan-tiny", truncation=0.5)
    json_file = tmp_path / "config.json"
    json_file.write_text('{"a": 1}')
    with pytest.raises(GansteerError, match="config.json: not a readable PyTorch checkpoint"):
        load_generator(str(json_file))


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"netG_state_dict": _Evil()}, path)
    with pytest.raises(GansteerError, match=r"evil.pt: refused to load \(it pickles print, not only tensors\)"):
        load_generator(str(path))


def test_missing_face_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(dcgan.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GansteerError, match="pip install --no-deps gan-face-generate"):
        load_generator("dcgan-face")


def test_adapter_wraps_module_and_callable():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3 * 8 * 8), nn.Tanh(), nn.Unflatten(1, (3, 8, 8)))
    G = wrap_generator(net, latent_dim=6, name="mine")
    assert (G.resolution, G.channels, G.latent_dim) == (8, 3, 6)
    assert not any(p.requires_grad for p in G.parameters())
    z = G.sample_latent(4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(G(z), net(z))
    G2 = wrap_generator(lambda z: torch.tanh(z[:, :1, None, None].expand(-1, 1, 4, 4)), latent_dim=3)
    assert G2(torch.zeros(2, 3)).shape == (2, 1, 4, 4)


def test_adapter_conditional_keeps_class():
    seen = []

    def fn(z, c):
        seen.append(c.clone())
        return torch.tanh(z[:, :3, None, None] + c[:, None, None, None].float()).expand(-1, 3, 4, 4)

    G = gansteer.wrap_generator(fn, latent_dim=5, num_classes=10)
    x = G(torch.zeros(3, 5), cond=7)
    assert x.shape == (3, 3, 4, 4) and seen[-1].tolist() == [7, 7, 7]
    with pytest.raises(GansteerError, match=r"class 12 is out of range; expected 0..9"):
        G(torch.zeros(3, 5), cond=12)
    with pytest.raises(GansteerError, match="class-conditional"):
        G(torch.zeros(3, 5))


@pytest.mark.parametrize("bias", [False, True])
def test_transposed_convolution_rewrites_are_the_same_function(bias):
    from gansteer.generators.fusion import ProjectionConvTranspose, SubPixelConvTranspose

    torch.manual_seed(0)
    for conv, rewrite, size in [(nn.ConvTranspose2d(6, 5, 4, 1, 0, bias=bias), ProjectionConvTranspose, 1),
                                (nn.ConvTranspose2d(6, 5, 3, 1, 0, bias=bias), ProjectionConvTranspose, 3),
                                (nn.ConvTranspose2d(6, 3, 4, 2, 1, bias=bias), SubPixelConvTranspose, 5)]:
        fast = rewrite(conv)
        x = torch.randn(2, 6, size, size, requires_grad=True)
        y = x.detach().clone().requires_grad_(True)
        out, expected = fast(x), conv(y)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)  # a 3x3 input falls back to the conv
        weights = torch.randn_like(out)
        (out * weights).sum().backward()
        (expected * weights).sum().backward()
        torch.testing.assert_close(x.grad, y.grad, atol=1e-5, rtol=1e-5)
