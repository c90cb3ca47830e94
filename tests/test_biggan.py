from __future__ import annotations

import json

import pytest
import torch

from gansteer import DirectionSet, GansteerError, load_generator, traverse
from gansteer.generators import biggan

TINY = ["biggan-deep-tiny", "biggan-tiny"]
GOLDEN = {"biggan-deep-tiny": [-0.422263, -0.110490, -0.768635], "biggan-tiny": [-0.185568, -0.035829, -0.032547]}


def _sample(G, n=2, seed=0, cond=1, space="z"):
    z = G.sample_latent(n, generator=torch.Generator().manual_seed(seed), space=space)
    with torch.inference_mode():
        return z, G(z, space=space, cond=cond)


@pytest.mark.parametrize("name", TINY)
def test_tiny_golden_slices_and_contract(name):
    G = load_generator(name)
    z, x = _sample(G, n=16)
    assert G.num_classes == 5 and G.resolution == 16 and G.all_spaces() == ("z", "z+") and G.num_layers > 1
    assert x.shape == (16, 3, 16, 16)
    torch.testing.assert_close(x[0, :, 8, 8], torch.tensor(GOLDEN[name]), atol=1e-4, rtol=0)
    assert x.std(0).mean() > 0.2  # not a constant image: z matters
    first, *_, last = G.feature_layers
    assert G.features(z, last, cond=1).shape == x.shape and G.features(z, first, cond=1).shape[-1] == 4
    with pytest.raises(GansteerError, match=r"unknown layer 'nope'.*block0"):
        G.features(z, "nope", cond=1)


def test_release_layouts_round_trip(tmp_path):
    deep = biggan.write_tiny_deep_checkpoint(tmp_path / "biggan-deep-128")
    assert sorted(p.name for p in deep.iterdir()) == ["config.json", "pytorch_model.bin"]
    sd = torch.load(deep / "pytorch_model.bin", weights_only=True)
    for key in ("embeddings.weight", "generator.gen_z.weight_orig", "generator.gen_z.weight_u",
                "generator.layers.2.snconv1x1_theta.weight_v", "generator.layers.3.bn_1.running_means",
                "generator.layers.3.bn_1.scale.weight_orig", "generator.bn.weight", "generator.conv_to_rgb.bias"):
        assert key in sd
    assert sd["generator.layers.0.bn_0.running_means"].shape == (51, 64)
    ema = biggan.write_tiny_checkpoint(tmp_path / "G_ema.pth")
    sd = torch.load(ema, weights_only=True)
    assert sd["blocks.0.1.gamma"].shape == () and sd["blocks.0.0.bn1.gain.weight"].shape == (16, 6 + 4)
    for key in ("shared.weight", "linear.u0", "linear.sv0", "blocks.1.0.conv_sc.weight", "blocks.0.1.theta.u0",
                "output_layer.0.stored_var", "output_layer.2.weight"):
        assert key in sd
    for spec, name in ((deep, "biggan-deep-tiny"), (deep / "pytorch_model.bin", "biggan-deep-tiny"),
                       (ema, "biggan-tiny")):
        G = load_generator(str(spec))
        assert G.name == spec.stem if spec == ema else G.name == "biggan-deep-128"
        torch.testing.assert_close(_sample(G, cond=[0, 4])[1], _sample(load_generator(name), cond=[0, 4])[1],
                                   atol=0, rtol=0)


@pytest.mark.parametrize("name", TINY)
def test_class_stays_fixed_across_a_traversal(name, monkeypatch):
    G = load_generator(name)
    dirs = DirectionSet(torch.eye(G.latent_dim)[:2], space="z", method="test", generator=G.name)
    images = traverse(G, dirs, [0, 1], [-2.0, 0.0, 2.0], seeds=[0, 1], cond=3)
    seen = []
    original = G.synthesize
    monkeypatch.setattr(G, "synthesize", lambda latent, **kw: seen.append(kw["cond"]) or original(latent, **kw))
    assert torch.equal(traverse(G, dirs, [0, 1], [-2.0, 0.0, 2.0], seeds=[0, 1], cond=3), images)
    assert seen and all(torch.equal(c, torch.nn.functional.one_hot(torch.full((len(c),), 3), 5).float()) for c in seen)
    z = torch.cat([G.sample_latent(1, generator=torch.Generator().manual_seed(s)) for s in (0, 1)])
    with torch.inference_mode():
        torch.testing.assert_close(images[1, :, 2], G(z + 2 * dirs.vectors[1], cond=3))  # direction 1, shift +2
        torch.testing.assert_close(G(z, cond=torch.eye(5)[3]), G(z, cond=3))  # one-hot vector = class index
        assert not torch.allclose(images, traverse(G, dirs, [0, 1], [-2.0, 0.0, 2.0], seeds=[0, 1], cond=4))
    with pytest.raises(GansteerError, match="class-conditional"):
        G(z)
    with pytest.raises(GansteerError, match=r"class 5 is out of range; expected 0..4"):
        G(z, cond=5)


@pytest.mark.parametrize("name", TINY)
def test_layered_z_plus_edits_only_the_chosen_blocks(name):
    G = load_generator(name)
    z, x = _sample(G)
    zp = G.expand_layers(z, "z")
    with torch.inference_mode():
        torch.testing.assert_close(G(zp, space="z+", cond=1), x)  # the same z on every layer: the usual image
        edited = zp.clone()
        edited[:, 2] += 3.0  # layer 2 = block 1's copy of z
        before = {layer: G.features(zp, layer, space="z+", cond=1) for layer in G.feature_layers}
        after = {layer: G.features(edited, layer, space="z+", cond=1) for layer in G.feature_layers}
    first = G.feature_layers[0]
    assert torch.equal(before[first], after[first]) and torch.equal(before["block0"], after["block0"])
    assert not torch.allclose(before["block1"], after["block1"])
    dirs = DirectionSet(torch.eye(G.latent_dim)[:1], space="z", method="test", generator=G.name)
    one = traverse(G, dirs, [0], [2.0], seeds=[0], cond=1, layers=(2, 3))
    every = traverse(G, dirs, [0], [2.0], seeds=[0], cond=1)
    assert not torch.allclose(one, every)


@pytest.mark.parametrize("name", TINY)
def test_truncation_and_first_layer_weight(name):
    G = load_generator(name, truncation=0.5)
    z = G.sample_latent(64, generator=torch.Generator().manual_seed(0))
    assert z.abs().max() <= 1.0 and torch.equal(z, G.sample_latent(64, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(GansteerError, match=r"truncation=1.5 is invalid"):
        G.truncation = 1.5
    A = G.first_layer_weight()
    assert A.shape[1] == G.latent_dim
    first = G.feature_layers[0]
    with torch.inference_mode():
        moved = G.features(z[:2] + z[2:4], first, cond=1) - G.features(z[:2], first, cond=1)
    if name == "biggan-deep-tiny":  # gen_z's output is stored in TF's NHWC order
        moved = moved.permute(0, 2, 3, 1)
    torch.testing.assert_close(moved.flatten(1), z[2:4] @ A.T, atol=1e-5, rtol=0)  # first layer: linear in z
    deep = load_generator("biggan-deep-tiny")
    with torch.inference_mode():  # BigGAN-deep: truncation also picks the BatchNorm statistics
        assert not torch.allclose(deep(z[:2, :8], cond=1), load_generator("biggan-deep-tiny", truncation=0.5)(
            z[:2, :8], cond=1))


def test_bad_checkpoints_are_rejected(tmp_path):
    deep = biggan.write_tiny_deep_checkpoint(tmp_path / "deep")
    config = json.loads((deep / "config.json").read_text())
    (deep / "config.json").write_text(json.dumps({**config, "channel_width": 8}))
    with pytest.raises(GansteerError, match=r"pytorch_model.bin: not a BigGAN-deep .* mis-shaped keys: "
                                            r"generator.gen_z.bias \(1024,\) vs \(2048,\)"):
        load_generator(str(deep))
    (deep / "config.json").unlink()
    with pytest.raises(GansteerError, match="with config.json beside"):
        load_generator(str(deep / "pytorch_model.bin"))
    ema = biggan.write_tiny_checkpoint(tmp_path / "G_ema.pth")
    sd = torch.load(ema, weights_only=True)
    del sd["blocks.1.0.bn2.stored_mean"]
    torch.save(sd, ema)
    with pytest.raises(GansteerError, match=r"G_ema.pth: not a BigGAN-PyTorch .* missing keys: blocks.1.0.bn2.stored"):
        load_generator(str(ema))
