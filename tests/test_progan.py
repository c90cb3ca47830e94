from __future__ import annotations

import zipfile

import pytest
import torch
import torch.nn.functional as F

from gansteer import GansteerError, load_generator
from gansteer.generators import progan
from gansteer.io.checkpoints import torch_load


def _sample(G, n=2, seed=0, cond=None):
    z = G.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return z, G(z, cond=cond)


def test_tiny_golden_slice_and_contract():
    G = load_generator("progan-tiny")
    z, x = _sample(G)
    assert (G.latent_dim, G.resolution, G.channels, G.num_layers, G.all_spaces()) == (8, 16, 3, 1, ("z",))
    expected = torch.tensor([0.592193, -0.163540, -1.187958])
    torch.testing.assert_close(x[0, :, 8, 8], expected, atol=1e-4, rtol=0)
    assert G.feature_layers == ("format", "scale0", "scale1", "scale2", "image")
    assert G.features(z, "scale1").shape == (2, 16, 8, 8)
    torch.testing.assert_close(G.features(z, "image"), x)
    A, layer = G.first_layer_weight(), G.formatLayer
    normed = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    torch.testing.assert_close(layer(normed), normed @ A.T + layer.module.bias * layer.scale, atol=1e-5, rtol=0)


def test_checkpoint_round_trip_with_pickled_config(tmp_path):
    path = progan.write_tiny_checkpoint(tmp_path / "celebaHQ_s2_i80000.pth")
    with zipfile.ZipFile(path) as zf:  # the official container: the config is a pickled BaseConfig object
        pickled = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    assert b"models.utils.config" in pickled and b"BaseConfig" in pickled
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(path, weights_only=True)  # plain weights-only loading refuses it; our allow-list reads it
    _, x = _sample(load_generator("progan-tiny"))
    G = load_generator(str(path))
    assert G.name == "celebaHQ_s2_i80000" and G.resolution == 16
    torch.testing.assert_close(_sample(G)[1], x, atol=0, rtol=0)  # avgG, the reference's sampling network
    assert not torch.equal(_sample(load_generator(str(path), average=False))[1], x)  # netG


def test_legacy_keys_and_mid_growth_blend(tmp_path):
    ckpt = torch_load(progan.write_tiny_checkpoint(tmp_path / "a.pth"))
    ckpt["avgG"] = {k.replace(".module.", "."): v for k, v in ckpt["avgG"].items()}  # pre-`module.` saves
    config = dict(ckpt["config"].values, alpha=0.25)
    with progan.fake_config_module():
        torch.save({**ckpt, "config": progan.config_object(config)}, tmp_path / "b.pth")
    G, tiny = load_generator(str(tmp_path / "b.pth")), load_generator("progan-tiny")
    assert G.alpha == 0.25
    z, x = _sample(G)
    low = F.interpolate(G.toRGBLayers[-2](tiny.features(z, "scale1")), scale_factor=2, mode="nearest")
    torch.testing.assert_close(x, 0.25 * low + 0.75 * _sample(tiny)[1], atol=1e-5, rtol=0)


def test_tanh_losses_and_conditional_config(tmp_path):
    config = dict(progan.TINY_CONFIG, lossCriterion="DCGAN", categoryVectorDim=3, latentVectorDim=11)
    G = load_generator(str(progan.write_tiny_checkpoint(tmp_path / "ac.pth", config=config)))
    assert G.num_classes == 3 and G.latent_dim == 8 and G.formatLayer.module.weight.shape[1] == 11
    _, x = _sample(G, cond=1)
    assert x.abs().max() < 1 and not torch.equal(x, _sample(G, cond=2)[1])
    with pytest.raises(GansteerError, match="class-conditional"):
        _sample(G)


def test_bad_checkpoints_are_rejected(tmp_path):
    ckpt = torch_load(progan.write_tiny_checkpoint(tmp_path / "a.pth"))
    ckpt["avgG"]["toRGBLayers.2.module.weight"] = torch.zeros(3, 5, 1, 1)
    with progan.fake_config_module():
        torch.save({**ckpt, "config": progan.config_object(ckpt["config"].values)}, tmp_path / "bad.pth")
    with pytest.raises(GansteerError, match=r"bad.pth \[avgG\]: not a pytorch_GAN_zoo PGAN .* mis-shaped keys: "
                                            r"toRGBLayers.2.module.weight \(3, 5, 1, 1\)"):
        load_generator(str(tmp_path / "bad.pth"))
    torch.save({"config": [1, 2], "netG": ckpt["netG"]}, tmp_path / "cfg.pth")
    with pytest.raises(GansteerError, match="'config' is a list; expected the PGAN config object"):
        load_generator(str(tmp_path / "cfg.pth"))
    with pytest.raises(GansteerError, match=r"cfg.pth: not a .*PGAN .* with 'config' and 'netG'"):
        load_generator(str(tmp_path / "cfg.pth"), format="pgan", state={"netG": {}})


def test_karras_layout_tiny_round_trip_and_contract(tmp_path):
    tiny = load_generator("progan-karras-tiny")
    z, x = _sample(tiny)
    torch.testing.assert_close(x[0, :, 8, 8], torch.tensor([0.223026, 0.445336, -0.707526]), atol=1e-4, rtol=0)
    assert tiny.feature_layers == ("scale0", "scale1", "scale2", "image") and tiny.resolution == 16
    assert tiny.features(z, "scale1").shape == (2, 16, 8, 8)
    path = progan.write_tiny_karras_checkpoint(tmp_path / "100_celeb_hq_network-snapshot-010403.pth")
    sd = torch.load(path, weights_only=True)
    assert {"features.0.conv.weight", "features.0.wscale.scale", "features.5.wscale.b", "output.conv.weight",
            "output.wscale.b"} <= set(sd) and sd["features.0.conv.weight"].shape == (16, 8, 4, 4)
    G = load_generator(str(path))
    assert G.name == "100_celeb_hq_network-snapshot-010403"
    torch.testing.assert_close(_sample(G)[1], x, atol=0, rtol=0)
    A, first = G.first_layer_weight(), G.trunk[0]  # the 4x4 conv on the 1x1 pixel-normed z is linear in it
    normed = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    torch.testing.assert_close((first.conv(normed[:, :, None, None]) * first.wscale.scale).flatten(1), normed @ A.T,
                               atol=1e-5, rtol=0)
    del sd["features.3.wscale.b"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(GansteerError, match=r"bad.pth: not a ProgGAN, tkarras .* missing keys: features.3.wscale.b"):
        load_generator(str(tmp_path / "bad.pth"))
