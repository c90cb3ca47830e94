from __future__ import annotations

import json

import pytest
import torch

from gansteer import GansteerError, load_generator
from gansteer.generators import sngan


def _sample(G, n=2, seed=0):
    z = G.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return z, G(z)


def test_tiny_golden_slice_and_contract():
    G = load_generator("sngan-tiny")
    z, x = _sample(G)
    assert (G.latent_dim, G.resolution, G.channels, G.num_layers, G.all_spaces()) == (8, 16, 1, 1, ("z",))
    assert x.shape == (2, 1, 16, 16)
    expected = torch.tensor([0.091370, -0.140855, -0.105149])
    torch.testing.assert_close(x[0, 0, 8, 8:11], expected, atol=1e-4, rtol=0)
    assert G.feature_layers == ("dense", "block0", "block1", "image")
    assert G.features(z, "dense").shape == (2, 16, 4, 4) and G.features(z, "block1").shape == (2, 8, 16, 16)
    torch.testing.assert_close(G.features(z, "image"), x)
    A = G.first_layer_weight()
    torch.testing.assert_close(G.features(z, "dense").flatten(1), z @ A.T + G.model[0].bias, atol=1e-5, rtol=0)


def test_release_directory_round_trip(tmp_path):
    release = sngan.write_tiny_checkpoint(tmp_path / "SN_MNIST")
    assert sorted(p.name for p in release.iterdir()) == ["args.json", "generator.pt"]
    sd = torch.load(release / "generator.pt", weights_only=True)
    # the official names, including both names of each ResBlock conv and the bypass conv on a width change
    for key in ("model.0.weight", "model.2.conv1.weight", "model.2.model.3.weight", "model.3.bypass.1.weight",
                "model.4.running_var", "model.6.weight"):
        assert key in sd
    z, x = _sample(load_generator("sngan-tiny"))
    for spec in (release, release / "generator.pt"):
        G = load_generator(str(spec))
        assert G.resolution == 16 and G.channels == 1
        torch.testing.assert_close(_sample(G)[1], x, atol=0, rtol=0)


def test_older_saves_without_aliases_or_batch_counters_load(tmp_path):
    release = sngan.write_tiny_checkpoint(tmp_path / "old")
    sd = torch.load(release / "generator.pt", weights_only=True)
    sd = {k: v for k, v in sd.items() if ".conv1." not in k and ".conv2." not in k and "num_batches" not in k}
    (release / "generator.pt").unlink()
    torch.save(sd, release / "generator_42000.pt")
    torch.testing.assert_close(_sample(load_generator(str(release)))[1], _sample(load_generator("sngan-tiny"))[1])


def test_bad_releases_are_rejected(tmp_path):
    release = sngan.write_tiny_checkpoint(tmp_path / "bad")
    sd = torch.load(release / "generator.pt", weights_only=True)
    sd["model.2.model.3.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(sd, release / "generator.pt")
    with pytest.raises(GansteerError, match=r"generator.pt: not a SN-GAN .* mis-shaped keys: model.2.model.3.weight"):
        load_generator(str(release))

    release = sngan.write_tiny_checkpoint(tmp_path / "args")
    args = json.loads((release / "args.json").read_text())
    (release / "args.json").write_text(json.dumps({**args, "latent_dim": 128}))
    with pytest.raises(GansteerError, match=r"args.json: latent_dim=128 does not match the weights"):
        load_generator(str(release))
    (release / "args.json").write_text(json.dumps({**args, "model": "sn_resnet64"}))
    with pytest.raises(GansteerError, match=r"model='sn_resnet64' does not match"):
        load_generator(str(release))
    (release / "args.json").write_text("{not json")
    with pytest.raises(GansteerError, match=r"args.json: not a readable JSON file"):
        load_generator(str(release))

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "args.json").write_text("{}")
    with pytest.raises(GansteerError, match="no known generator checkpoint format matches"):
        load_generator(str(empty))
    with pytest.raises(GansteerError, match=r"no generator.pt"):
        load_generator(str(empty), format="sngan")
