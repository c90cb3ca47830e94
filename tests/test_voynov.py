from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from click.testing import CliRunner
from PIL import Image

from gansteer import DirectionSet, GansteerError, create_method
from gansteer.cli import main
from gansteer.io.deformator import load_deformator
from gansteer.methods.voynov import PRESETS, DirectionMatrix, Voynov

TINY = {"k": 8, "reconstructor": "lenet-tiny", "batch_size": 16, "lr": 1e-3}


def _a(m):
    return m.direction_matrix()


def _weights(m):
    return torch.cat([t.detach().reshape(-1).double() for t in m.modules_.state_dict().values()])


@pytest.fixture(scope="module")
def trained():
    from gansteer import load_generator

    return Voynov(steps=150, **TINY).fit(load_generator("dcgan-tiny"), progress=False)


def test_loss_goes_down_and_accuracy_rises_above_chance(trained):
    h = trained.history_
    assert np.mean(h["loss"][-20:]) < 0.6 * np.mean(h["loss"][:20])
    assert np.mean(h["ce"][-20:]) < np.mean(h["ce"][:20])
    assert np.mean(h["mae"][-20:]) < np.mean(h["mae"][:20])
    assert np.mean(h["accuracy"][-30:]) > 3 / 8  # chance is 1/8
    acc = trained.direction_accuracy()
    assert acc.shape == (8,) and 0.3 < float(acc.mean()) <= 1


def test_orthonormal_directions_stay_orthonormal(trained):
    A = _a(trained)
    assert A.shape == (8, 8)
    assert torch.allclose(A @ A.T, torch.eye(8), atol=1e-5)
    assert not torch.allclose(A, trained.modules_["A"].base.T)  # training moved A away from its random start


def test_same_seed_same_directions(tiny):
    a = Voynov(steps=4, **TINY).fit(tiny, progress=False)
    b = Voynov(steps=4, **TINY).fit(tiny, progress=False)
    c = Voynov(steps=4, seed=1, **TINY).fit(tiny, progress=False)
    assert torch.equal(_a(a), _a(b)) and torch.equal(_weights(a), _weights(b))
    assert not torch.allclose(_a(a), _a(c))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_kill_and_resume_is_bit_exact(tiny, tmp_path, precision):
    full = Voynov(steps=20, precision=precision, **TINY).fit(tiny, progress=False)
    ckpt = tmp_path / "v.pt"
    Voynov(steps=20, precision=precision, **TINY).fit(tiny, steps=10, checkpoint=ckpt, progress=False)  # "killed"
    resumed = Voynov(steps=20, precision=precision, **TINY).fit(tiny, checkpoint=ckpt, resume=True, progress=False)
    assert torch.equal(_a(full), _a(resumed))
    assert torch.equal(_weights(full), _weights(resumed))  # A, R, the per-direction accuracy buffers
    assert resumed.history_ == full.history_
    other = "float32" if precision == "bfloat16" else "bfloat16"
    with pytest.raises(GansteerError, match=r"checkpoint was made with different parameters \(precision\)"):
        Voynov(steps=30, precision=other, **TINY).fit(tiny, checkpoint=ckpt, resume=True, progress=False)


@pytest.mark.parametrize("kind", ["unit-norm", "linear", "random", "identity"])
def test_direction_types(tiny, kind):
    m = Voynov(steps=3, directions_type=kind, **TINY)
    before = DirectionMatrix(8, 8, kind)
    m.fit(tiny, progress=False)
    A = _a(m)
    if kind == "unit-norm":
        assert torch.allclose(A.norm(dim=1), torch.ones(8), atol=1e-6)
    if kind == "identity":
        assert torch.equal(A, torch.eye(8))
    if kind == "random":  # fixed: only R is trained
        assert torch.allclose(A @ A.T, torch.eye(8), atol=1e-5)
        assert not any(p.requires_grad for p in m.modules_["A"].parameters())
    assert before.trainable == (kind in ("unit-norm", "linear"))


def test_directions_file(trained, tmp_path):
    d = trained.directions()
    assert d.vectors.shape == (8, 8) and d.method == "voynov" and d.space == "z"
    assert torch.equal(d.shift_range, torch.tensor([[-6.0, 6.0]]).repeat(8, 1))
    assert d.params["k"] == 8 and d.params["shift_weight"] == 0.25 and d.params["directions_type"] == "orthonormal"
    loaded = DirectionSet.load(d.save(tmp_path / "v.safetensors"))
    assert torch.equal(loaded.vectors, d.vectors) and loaded.params == d.params
    assert torch.equal(loaded.tensors["accuracy"], trained.direction_accuracy())


def test_presets_and_overrides():
    assert PRESETS["proggan"] == {"k": 200, "reconstructor": "resnet18", "batch_size": 10, "steps": 200_000}
    m = Voynov.from_preset("biggan", k=60, shift_weight=None)
    assert (m.k, m.reconstructor, m.batch_size, m.steps, m.shift_weight) == (60, "resnet18", 32, 100_000, 0.25)
    d = Voynov()
    assert (d.k, d.reconstructor, d.batch_size, d.lr, d.directions_type) == (100, "lenet", 32, 1e-4, "orthonormal")
    assert create_method("voynov", k=5).k == 5


def test_bad_options_give_one_line_errors(tiny):
    with pytest.raises(GansteerError, match=r"orthonormal directions need k <= latent dimension; got k=9 > 8"):
        Voynov(k=9, steps=1, reconstructor="lenet-tiny").fit(tiny, progress=False)
    with pytest.raises(GansteerError, match=r"unknown reconstructor 'vgg'; expected one of: lenet"):
        Voynov(reconstructor="vgg")
    with pytest.raises(GansteerError, match=r"unknown directions type 'ortho'; expected one of: orthonormal"):
        Voynov(directions_type="ortho")
    with pytest.raises(GansteerError, match=r"unknown preset 'stylegan'"):
        Voynov.from_preset("stylegan")
    with pytest.raises(GansteerError, match=r"space 'w' is not offered by generator 'dcgan-tiny'"):
        Voynov(space="w", steps=1, **TINY).fit(tiny, progress=False)
    with pytest.raises(GansteerError, match=r"unknown precision 'float16'; expected one of: float32, bfloat16"):
        Voynov(precision="float16", steps=1, **TINY).fit(tiny, progress=False)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_discover_and_errors(tmp_path):
    out = tmp_path / "v.safetensors"
    r = run("discover", "voynov", "-g", "dcgan-tiny", "-o", out, "--k", 4, "--lambda", 0.5, "--reconstructor",
            "lenet-tiny", "--batch-size", 8, "--steps", 3, "--directions-type", "unit-norm", "--seed", 3,
            "--checkpoint", tmp_path / "c.pt", "--checkpoint-every", 2, "--log-dir", tmp_path / "tb",
            "--precision", "bfloat16")
    assert r.exit_code == 0, r.output
    d = DirectionSet.load(out)
    assert d.vectors.shape == (4, 8)
    assert (d.params["shift_weight"], d.params["directions_type"], d.params["seed"]) == (0.5, "unit-norm", 3)
    assert d.params["precision"] == "bfloat16"
    assert (tmp_path / "c.pt").is_file() and list((tmp_path / "tb").glob("events.*"))
    for args, message in [
        (["--k", 9], "Error: orthonormal directions need k <= latent dimension; got k=9 > 8"),
        (["--reconstructor", "vgg"], "Error: unknown reconstructor 'vgg'; expected one of:"),
    ]:
        r = run("discover", "voynov", "-g", "dcgan-tiny", "-o", tmp_path / "x.safetensors", "--steps", 1, *args)
        assert r.exit_code == 1 and r.output.startswith(message) and r.output.count("\n") == 1, r.output


# ------------------------------------------------------------ deformator import (GanLatentDiscovery key layout)
def test_import_deformators(tmp_path):
    g = torch.Generator().manual_seed(0)
    m = torch.randn(6, 6, generator=g)
    torch.save({"log_mat_half": m}, tmp_path / "ortho.pt")
    expm = scipy.linalg.expm((m - m.T).double().numpy())  # an independent matrix exponential
    d = load_deformator(tmp_path / "ortho.pt")
    assert d.params["deformator"] == "ortho" and d.vectors.shape == (6, 6)
    np.testing.assert_allclose(d.vectors.numpy(), expm.T, atol=1e-5)  # direction k = column k of expm
    w, b = torch.randn(10, 4, generator=g), torch.randn(10, generator=g)
    torch.save({"step": 5, "deformator": {"linear.weight": w, "linear.bias": b}, "shift_predictor": {}},
               tmp_path / "checkpoint.pt")
    d = load_deformator(tmp_path / "checkpoint.pt")
    assert d.params["deformator"] == "linear" and torch.equal(d.vectors, w.T)
    assert torch.equal(d.tensors["deformator_bias"], b)
    assert torch.equal(d.shift_range, torch.tensor([[-6.0, 6.0]]).repeat(4, 1))
    # a run folder: args.json names the type, the latest deformator is used, annotations become labels
    run_dir = tmp_path / "run"
    (run_dir / "models").mkdir(parents=True)
    torch.save({"linear.weight": torch.zeros(10, 4)}, run_dir / "models" / "deformator_100.pt")
    torch.save({"linear.weight": w}, run_dir / "models" / "deformator_2000.pt")
    (run_dir / "args.json").write_text('{"deformator": "proj", "gan_type": "SN_MNIST", "directions_count": 4}')
    (run_dir / "human_annotation.txt").write_text("1: thickness\n3: rotation\n")
    d = load_deformator(run_dir)
    assert d.params["deformator"] == "proj" and d.labels == ["", "thickness", "", "rotation"]
    assert torch.allclose(d.vectors, (w / w.norm(dim=0)).T)


def test_import_pads_to_the_generator_and_cli(tmp_path, tiny):
    m = torch.randn(5, 5, generator=torch.Generator().manual_seed(1))
    torch.save({"log_mat_half": m}, tmp_path / "deformator_0.pt")
    out = tmp_path / "d.safetensors"
    r = run("convert", "voynov-deformator", tmp_path / "deformator_0.pt", "-g", "dcgan-tiny", "-o", out)
    assert r.exit_code == 0, r.output
    d = DirectionSet.load(out)
    assert d.vectors.shape == (5, 8) and torch.equal(d.vectors[:, 5:], torch.zeros(5, 3))  # zero-padded like the ref
    assert d.generator_hash == tiny.weight_hash()
    assert torch.allclose(d.vectors @ d.vectors.T, torch.eye(5), atol=1e-5)
    torch.save({"fc1.weight": torch.zeros(3, 3)}, tmp_path / "fc.pt")
    torch.save({"x": torch.zeros(3)}, tmp_path / "other.pt")
    for name, message in [("fc.pt", "an 'fc' (non-linear) deformator"), ("other.pt", "found keys: x")]:
        r = run("convert", "voynov-deformator", tmp_path / name, "-o", out)
        assert r.exit_code == 1 and message in r.output and r.output.count("\n") == 1, r.output


# ------------------------------------------------------------------------------------- torchrun, 2 processes
DDP_SCRIPT = textwrap.dedent("""
    from gansteer import load_generator
    from gansteer.methods.voynov import Voynov
    m = Voynov(k=8, reconstructor="lenet-tiny", batch_size=8, lr=1e-3, steps=6).fit(load_generator("dcgan-tiny"),
                                                                                   progress=False)
    w = torch.cat([m.direction_matrix().reshape(-1)] + [p.detach().reshape(-1) for p in m.modules_.parameters()])
""")


@pytest.mark.slow
def test_torchrun_two_processes(torchrun):
    losses = torchrun(DDP_SCRIPT)
    assert len(losses) == 2 and losses[0] != losses[1]  # same A and R; each rank drew its own samples
    assert all(np.isfinite(float(x)) for x in losses)


def test_cli_saliency_masks(tmp_path, tiny):
    from gansteer.metrics.saliency import saliency_masks
    from gansteer.traversal import latents_for_seeds

    d = DirectionSet(torch.eye(3, 8), method="voynov")
    path = d.save(tmp_path / "d.safetensors")
    r = run("evaluate", "masks", path, "-g", "dcgan-tiny", "-d", 1, "--shift", 4, "--threshold", 0.1, "--seeds", "0-2",
            "--out", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "m").glob("*.png")) == ["mask_0.png", "mask_1.png", "mask_2.png",
                                                                       "masks.png"]
    expected = saliency_masks(tiny, d, 4.0, 0.1, latents=latents_for_seeds(tiny, [0, 1, 2]), k=1)
    written = np.stack([np.asarray(Image.open(tmp_path / "m" / f"mask_{s}.png"))[..., 0] for s in range(3)]) > 127
    assert written.shape == (3, 16, 16) and np.array_equal(written, expected.numpy())
    assert 0 < expected.float().mean() < 1  # a mask with both foreground and background
    r = run("evaluate", "masks", path, "-g", "dcgan-tiny", "-d", 5, "--out", tmp_path / "m")
    assert r.exit_code == 1 and "direction index 5 is out of range; expected 0..2" in r.output


def test_fast_copy_folds_batchnorm_and_leaves_g_alone(tiny):
    from gansteer.generators.fusion import fast_copy

    z = tiny.sample_latent(4, generator=torch.Generator().manual_seed(0))
    fast = fast_copy(tiny, z)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules()) == 0
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in tiny.modules()) == 2  # the original keeps its layers
    assert fast.main[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert tiny.main[3].weight.is_contiguous()
    assert [type(fast.main[i]).__name__ for i in (0, -2)] == ["ProjectionConvTranspose", "SubPixelConvTranspose"]
    with torch.no_grad():
        assert torch.allclose(fast(z), tiny(z), atol=1e-5)
    a = Voynov(steps=3, **TINY).fit(tiny, progress=False)
    b = Voynov(steps=3, fast=False, **TINY).fit(tiny, progress=False)
    assert torch.allclose(_a(a), _a(b), atol=1e-4)  # the same training, up to float rounding
    assert "fast" not in a.directions().params


def test_bfloat16_copy_speaks_float32_and_passes_gradients(tiny):
    from gansteer.generators.fusion import fast_copy

    z = tiny.sample_latent(4, generator=torch.Generator().manual_seed(0))
    low = fast_copy(tiny, z, precision="bfloat16")
    assert low.inner.main[3].weight.dtype == torch.bfloat16 and tiny.main[3].weight.dtype == torch.float32
    assert low.sample_latent(2).dtype == torch.float32 and low.describe() == tiny.describe()
    grads = []
    for g in (tiny, low):
        x = z.clone().requires_grad_(True)
        image = g(x)
        assert image.dtype == torch.float32
        (image * torch.linspace(-1, 1, image.numel()).reshape(image.shape)).sum().backward()
        grads.append(x.grad.flatten())
    with torch.no_grad():
        err = (low(z) - tiny(z)).abs().max().item()
        assert 0 < err < 0.05  # bfloat16 rounding: close, not equal
        assert low.features(z, "block0").dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.99
    plain = fast_copy(tiny, z, fold=False, precision="bfloat16")  # --no-fast: the layers as given, in bfloat16
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules()) == 2


def test_bfloat16_warns_where_it_is_emulated(tiny, monkeypatch):
    from gansteer.generators import fusion

    z = tiny.sample_latent(2)
    monkeypatch.setattr(fusion, "native_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        fusion.fast_copy(tiny, z, precision="bfloat16")
    monkeypatch.setattr(fusion, "native_bfloat16", lambda: None)  # unknown (no /proc/cpuinfo): no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fusion.fast_copy(tiny, z, precision="bfloat16")


def test_w_space_on_stylegan2():
    from gansteer import load_generator

    G = load_generator("stylegan2-tiny")
    m = Voynov(space="w", k=4, reconstructor="lenet-tiny", batch_size=4, steps=2).fit(G, progress=False)
    d = m.directions()
    assert d.space == "w" and d.vectors.shape == (4, G.latent_dim)
    assert torch.allclose(d.vectors @ d.vectors.T, torch.eye(4), atol=1e-5)
    with pytest.raises(GansteerError, match="flat space"):
        Voynov(space="w+")
