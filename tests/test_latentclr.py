from __future__ import annotations

import math

import pytest
import torch
from click.testing import CliRunner

from gansteer import DirectionSet, GansteerError, traverse
from gansteer.cli import main
from gansteer.methods.latentclr import Gram, LatentCLR, LinearDirections, NonlinearDirections, contrastive_loss


def test_gram_backward_is_the_gradient_of_f_ft():
    f = torch.randn(6, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(Gram.apply, (f,))
    torch.testing.assert_close(Gram.apply(f), f @ f.T)


def test_contrastive_loss_matches_hand_computed_values():
    # K=2 directions x N=2 latents; tau = 0.5 turns a cosine c into the logit 2c.
    orthogonal = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])  # (K, N, F)
    # every positive has cos 1, every negative cos 0: l = -log(e^2 / (2 e^0)) for all four
    assert contrastive_loss(orthogonal, 0.5).item() == pytest.approx(math.log(2) - 2, abs=1e-6)
    a, b, c, d = [0.0, 1.0], [0.6, 0.8], [1.0, 0.0], [0.0, -1.0]  # f_1^1, f_2^1, f_1^2, f_2^2
    f = torch.tensor([[a, b], [c, d]])
    # cosines: ab=0.8 ac=0 ad=-1 bc=0.6 bd=-0.8 cd=0
    e = math.exp
    hand = [-math.log(e(1.6) / (e(0) + e(-2))), -math.log(e(1.6) / (e(1.2) + e(-1.6))),
            -math.log(e(0) / (e(0) + e(1.2))), -math.log(e(0) / (e(-2) + e(-1.6)))]
    assert contrastive_loss(f, 0.5).item() == pytest.approx(sum(hand) / 4, abs=1e-6)
    assert contrastive_loss(7.0 * f, 0.5).item() == pytest.approx(sum(hand) / 4, abs=1e-6)  # cosine: scale-free
    with pytest.raises(GansteerError, match="needs >= 2 directions"):
        contrastive_loss(f[:1], 0.5)


def test_direction_models_give_unit_vectors_and_the_trained_edit():
    torch.manual_seed(0)
    z = torch.randn(5, 6)
    lin = LinearDirections(3, 6, step=2.0)
    torch.testing.assert_close(lin.field(z, 1), (z @ lin.weight[1].T) / (z @ lin.weight[1].T).norm(dim=1, keepdim=True))
    torch.testing.assert_close(lin.field(3.0 * z, 1), lin.field(z, 1))  # M z / |M z| ignores the scale of z
    mlp = NonlinearDirections(3, 6, hidden=4, step=2.0)
    for model in (lin, mlp):
        fields = model.all_fields(z)  # (K, N, D)
        assert fields.shape == (3, 5, 6)
        torch.testing.assert_close(fields.norm(dim=2), torch.ones(3, 5))
        for k in range(3):
            torch.testing.assert_close(model.field(z, k), fields[k])
            torch.testing.assert_close(model.shift(z, k, 2.0), z + 2.0 * fields[k])  # eps = alpha: one trained edit
        torch.testing.assert_close(model.field(z, torch.tensor([2, 0, 1, 1, 0])),
                                   fields[torch.tensor([2, 0, 1, 1, 0]), torch.arange(5)])


def _clr(model, **kw):
    return LatentCLR(**{**dict(num_directions=4, model=model, batch_size=8, steps=40, lr=1e-2), **kw})


@pytest.mark.parametrize("model", ["global", "linear", "nonlinear"])
def test_loss_goes_down_on_the_tiny_generator(tiny, model):
    m = _clr(model).fit(tiny, progress=False)
    loss = m.history_["loss"]
    assert sum(loss[-5:]) / 5 < sum(loss[:5]) / 5 - 0.2
    assert m.layer_ == "block1"  # the middle of dcgan-tiny's block0, block1, image


@pytest.mark.parametrize("model", ["global", "linear", "nonlinear"])
def test_save_load_traverse_round_trip_is_exact(tiny, tmp_path, model):
    dirs = _clr(model, steps=2, layer="image").fit(tiny, progress=False).directions()
    assert dirs.linear == (model == "global") and dirs.params["layer"] == "image"
    loaded = DirectionSet.load(dirs.save(tmp_path / "d.safetensors"))
    if model == "global":
        assert torch.equal(loaded.vectors, dirs.vectors)
        torch.testing.assert_close(loaded.vectors.norm(dim=1), torch.ones(4))
    else:
        assert type(loaded.model) is type(dirs.model) and loaded.model_config == dirs.model_config
    z = tiny.sample_latent(3, generator=torch.Generator().manual_seed(5))
    for k in range(4):
        assert torch.equal(loaded.shift(z, k, -4.5), dirs.shift(z, k, -4.5))
    a = traverse(tiny, dirs, [0, 3], [-6.0, 0.0, 2.0], seeds=[0, 1])
    assert torch.equal(a, traverse(tiny, loaded, [0, 3], [-6.0, 0.0, 2.0], seeds=[0, 1]))
    assert not torch.equal(a[1, :, 0], a[1, :, 1])


def test_resume_is_exact(tiny, tmp_path):
    full = _clr("nonlinear", steps=6).fit(tiny, progress=False)
    ckpt = tmp_path / "c.pt"
    _clr("nonlinear", steps=6).fit(tiny, steps=4, checkpoint=ckpt, progress=False)
    resumed = _clr("nonlinear", steps=6).fit(tiny, checkpoint=ckpt, resume=True, progress=False)
    for (name, a), b in zip(full.modules_.state_dict().items(), resumed.modules_.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert resumed.history_ == full.history_


def test_bad_parameters_give_one_line_errors(tiny):
    with pytest.raises(GansteerError, match="unknown LatentCLR direction model 'radial'"):
        LatentCLR(model="radial")
    with pytest.raises(GansteerError, match="temperature=0"):
        LatentCLR(temperature=0)
    with pytest.raises(GansteerError, match="unknown layer 'block9'"):
        LatentCLR(layer="block9", steps=1).fit(tiny, progress=False)


def test_cli_discover_latentclr(tmp_path):
    out = tmp_path / "l.safetensors"
    r = CliRunner().invoke(main, ["discover", "latentclr", "-g", "dcgan-tiny", "-o", str(out), "--model", "linear",
                                  "-k", "3", "--steps", "2", "--batch-size", "4", "--alpha", "2", "--layer", "block0",
                                  "--log-dir", str(tmp_path / "tb"), "--no-fast", "--precision", "bfloat16"])
    assert r.exit_code == 0, r.output
    dirs = DirectionSet.load(out)
    assert (dirs.model_name, dirs.params["layer"], dirs.params["alpha"], dirs.model.step) == (
        "latentclr-linear", "block0", 2.0, 2.0)
    assert dirs.params["fast"] is False and dirs.params["precision"] == "bfloat16"
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
