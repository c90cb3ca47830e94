from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from gansteer import DirectionSet, GansteerError, traverse
from gansteer.cli import main
from gansteer.cli.warped import PRESET_NAMES
from gansteer.methods.paths import normalize
from gansteer.methods.warped import PRESETS, RBFWarpings, WarpedGANSpace


def _warpings(gamma=None, seed=0, k=3, d=6, n=4):
    torch.manual_seed(seed)
    return RBFWarpings(k, d, n, gamma=gamma, step=0.05).double()


def test_direction_is_the_normalised_finite_difference_gradient_of_the_warping():
    w = _warpings()
    with torch.no_grad():
        w.log_gammas.uniform_(-2.5, -1.0)  # unequal scales per dipole
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    h = 1e-6
    for k in range(3):
        fd = torch.stack([(w.potential(z + h * e, k) - w.potential(z - h * e, k)) / (2 * h)
                          for e in torch.eye(6, dtype=torch.float64)], 1)  # (5, 6) central differences
        assert fd.abs().max() > 1e-3  # a real gradient, not zero
        torch.testing.assert_close(w.gradient(z, k), fd, rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(w.field(z, k), normalize(fd), rtol=1e-6, atol=1e-8)
    per_row = torch.tensor([2, 0, 1, 1, 2])  # one warping per sample gives the same rows
    expected = torch.stack([w.field(z[i:i + 1], int(k))[0] for i, k in enumerate(per_row)])
    torch.testing.assert_close(w.field(z, per_row), expected)


def test_wide_rbfs_reduce_to_a_linear_direction():
    """gamma -> 0: exp(-g|z-c|^2) -> 1 and the weights sum to 0, so grad f / |grad f| -> normalise(sum_i a_i c_i)."""
    z = torch.randn(8, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    wide = _warpings(gamma=1e-9)
    for k in range(3):
        linear = normalize((wide.alphas[k].unsqueeze(1) * wide.centres[k]).sum(0))
        torch.testing.assert_close(wide.field(z, k), linear.expand(8, -1), atol=1e-6, rtol=0)
        # a long path is then a straight line z + eps u
        torch.testing.assert_close(wide.shift(z, k, 2.5), z + 2.5 * linear, atol=1e-5, rtol=0)
    # at the reference scale 1 / D the same centres give a direction that changes with z (the test can fail)
    narrow = _warpings(gamma=1 / 6)
    spread = (narrow.field(z, 0) - narrow.field(z, 0).mean(0)).norm(dim=1).max()
    assert spread > 0.3


def test_a_path_is_a_sequence_of_small_normalised_gradient_steps():
    w = _warpings()
    z0 = torch.randn(3, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z = z0.clone()
    for _ in range(7):  # eps 0.33 with step 0.05 -> 7 steps of 0.33 / 7
        z = z + (0.33 / 7) * w.field(z, 1)
    torch.testing.assert_close(w.shift(z0, 1, 0.33), z)
    assert not torch.allclose(w.shift(z0, 1, 0.33), z0 + 0.33 * w.field(z0, 1), atol=1e-6)  # curved, not one step
    # one shift per sample: each row as if alone (its own number of steps)
    eps = torch.tensor([0.33, -0.12, 0.0], dtype=torch.float64)
    rows = torch.cat([w.shift(z0[i:i + 1], 1, float(e)) for i, e in enumerate(eps)])
    torch.testing.assert_close(w.shift(z0, 1, eps), rows)
    assert torch.equal(w.shift(z0, 1, eps)[2], z0[2])
    with pytest.raises(GansteerError, match="expected \\(N, 6\\)"):
        w.shift(torch.zeros(2, 5, dtype=torch.float64), 0, 1.0)


def _small(**kw):
    args = dict(num_warpings=3, num_dipoles=2, reconstructor="lenet-tiny", batch_size=32, steps=150, lr=3e-3,
                warping_lr=3e-3, min_shift=1.0, max_shift=2.0)
    return WarpedGANSpace(**{**args, **kw})


def test_loss_goes_down_on_the_tiny_generator(tiny):
    m = _small(steps=100).fit(tiny, progress=False)
    loss, acc = m.history_["loss"], m.history_["accuracy"]
    assert sum(loss[-20:]) / 20 < 0.6 * sum(loss[:20]) / 20
    assert sum(acc[-20:]) / 20 > 0.75  # chance is 1/3
    assert set(m.history_) == {"loss", "classification", "regression", "accuracy"}


def test_save_load_traverse_round_trip_is_exact(tiny, tmp_path):
    m = _small(steps=3).fit(tiny, progress=False)
    dirs = m.directions()
    assert not dirs.linear and dirs.num_directions == 3 and dirs.model_name == "warped-rbf"
    loaded = DirectionSet.load(dirs.save(tmp_path / "w.safetensors"))
    assert isinstance(loaded.model, RBFWarpings) and loaded.model_config == dirs.model_config
    for name, t in dirs.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], t), name
    z = tiny.sample_latent(4, generator=torch.Generator().manual_seed(0))
    for k in range(3):
        assert torch.equal(loaded.shift(z, k, 1.7), dirs.shift(z, k, 1.7))
    a = traverse(tiny, dirs, [0, 2], [-1.0, 0.0, 1.3], seeds=[0, 1])
    b = traverse(tiny, loaded, [0, 2], [-1.0, 0.0, 1.3], seeds=[0, 1])
    assert a.shape == (2, 2, 3, 3, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a[0, :, 0], a[0, :, 1])  # the path moves the image


def test_resume_is_exact(tiny, tmp_path):
    full = _small(steps=6).fit(tiny, progress=False)
    ckpt = tmp_path / "w.pt"
    _small(steps=6).fit(tiny, steps=3, checkpoint=ckpt, progress=False)
    resumed = _small(steps=6).fit(tiny, checkpoint=ckpt, resume=True, progress=False)
    for (name, a), b in zip(full.modules_.state_dict().items(), resumed.modules_.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert resumed.history_ == full.history_


def test_presets_and_bad_parameters():
    assert sorted(PRESETS) == sorted(PRESET_NAMES)
    assert WarpedGANSpace.preset("dcgan-face") == WarpedGANSpace()  # the defaults are the dcgan-face preset
    m = WarpedGANSpace.preset("biggan", steps=7)
    assert (m.num_warpings, m.num_dipoles, m.reconstructor, m.steps) == (120, 256, "resnet18", 7)
    with pytest.raises(GansteerError, match="unknown WarpedGANSpace preset 'nope'"):
        WarpedGANSpace.preset("nope")
    with pytest.raises(GansteerError, match="shift range"):
        WarpedGANSpace(min_shift=2.0, max_shift=1.0)


def test_cli_discover_warped_then_traverse(tmp_path):
    out, png = tmp_path / "w.safetensors", tmp_path / "w.png"
    r = CliRunner().invoke(main, ["discover", "warped", "-g", "dcgan-tiny", "-o", str(out), "--steps", "2", "-k", "3",
                                  "--num-dipoles", "2", "--reconstructor", "lenet-tiny", "--batch-size", "8",
                                  "--fixed-gammas", "--checkpoint", str(tmp_path / "c.pt"), "--precision", "bfloat16"])
    assert r.exit_code == 0, r.output
    dirs = DirectionSet.load(out)
    assert dirs.params["learn_gammas"] is False and dirs.params["num_warpings"] == 3
    assert dirs.params["precision"] == "bfloat16"
    r = CliRunner().invoke(main, ["traverse", str(out), "-g", "dcgan-tiny", "--directions", "0-2", "-o", str(png)])
    assert r.exit_code == 0 and png.exists(), r.output
    r = CliRunner().invoke(main, ["discover", "warped", "-g", "dcgan-tiny", "-o", str(out), "--steps", "1",
                                  "--reconstructor", "vgg"])
    assert r.exit_code != 0 and "unknown reconstructor 'vgg'" in r.output


def test_class_conditional_generators_draw_from_the_given_classes(monkeypatch):
    from gansteer import load_generator
    from gansteer.methods.latentclr import LatentCLR
    from gansteer.methods.sampling import sample_classes

    G = load_generator("biggan-tiny")
    seen: list[int] = []
    prepare = G.prepare_cond

    def spy(cond, n):  # every image or feature request passes its classes through prepare_cond
        one_hot = prepare(cond, n)
        seen.extend(one_hot.argmax(1).tolist())
        return one_hot

    monkeypatch.setattr(G, "prepare_cond", spy)
    _small(steps=2, batch_size=8, classes=[1, 3], fast=False).fit(G, progress=False)  # no probe call
    assert set(seen) == {1, 3} and len(seen) == 2 * 2 * 8  # two images per sample, two steps
    seen.clear()
    LatentCLR(num_directions=2, batch_size=4, steps=1, layer="image", classes=(4,), fast=False).fit(G, progress=False)
    assert set(seen) == {4} and len(seen) == 4 + 2 * 4
    with pytest.raises(GansteerError, match=r"out of range; expected 0\.\.9"):
        sample_classes(4, 10, [3, 12], torch.Generator())
    with pytest.raises(GansteerError, match="generator is unconditional"):
        sample_classes(4, 0, [3], torch.Generator())


def test_training_on_the_fast_generator_copy_matches_the_generator(tiny):
    fast, plain = _small(steps=4).fit(tiny, progress=False), _small(steps=4, fast=False).fit(tiny, progress=False)
    assert fast.history_["loss"] == pytest.approx(plain.history_["loss"], rel=1e-4)
    assert fast.history_["loss"] != plain.history_["loss"]  # it did run on the BatchNorm-folded copy
    assert all(p.is_contiguous() for p in tiny.parameters())  # the caller's generator is untouched
