from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file
from torch import nn

import gansteer
from gansteer import DirectionSet, GansteerError
from gansteer.cli import main
from gansteer.generators.base import Generator
from gansteer.inversion import EncoderTraining, Inversion, edit, invert, load_encoder, load_image

TINY_NET = {"widths": (8, 16, 32, 64), "blocks": (1, 1, 1, 1)}


@pytest.fixture(scope="module")
def trained():
    G = gansteer.load_generator("dcgan-tiny")
    return EncoderTraining(steps=150, batch_size=32, lr=2e-3, **TINY_NET).fit(G, progress=False)


def generated(G, seed=123, n=6):
    z = G.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return z, G(z)


def save_rgb(path, array):
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return path


# ---------------------------------------------------------------- recovery
def test_inverting_generated_images_recovers_their_latents(tiny, trained):
    z, x = generated(tiny)
    random_pairs = torch.pdist(tiny.sample_latent(200, generator=torch.Generator().manual_seed(5))).mean()
    assert random_pairs > 3.5  # what "far" means for this 8-d z
    enc = invert(x, tiny, encoder=trained.encoder(), steps=0)
    opt = invert(x, tiny, steps=150)
    hybrid = invert(x, tiny, encoder=trained.encoder(), steps=150)
    dist = {k: (v.latent - z).norm(dim=1) for k, v in {"enc": enc, "opt": opt, "hybrid": hybrid}.items()}
    # measured (seed 123, 6 images; random pairs 3.7 apart): encoder 1.19 mean, optimisation-only 0.10 mean /
    # 0.24 max, hybrid 0.05 mean / 0.17 max, hybrid PSNR >= 43.5 dB
    assert dist["enc"].mean() < 0.5 * random_pairs
    assert dist["opt"].max() < 0.4 and dist["hybrid"].max() < 0.25
    assert dist["hybrid"].mean() < dist["enc"].mean() / 4
    assert (hybrid.psnr > 40).all() and (hybrid.psnr > enc.psnr).all()
    assert hybrid.info["init"] == "best" and opt.info["init"] == "random"


def test_best_start_is_the_closer_of_encoder_guess_and_random_candidates(tiny, trained):
    _, x = generated(tiny, seed=9, n=8)
    starts = {init: invert(x, tiny, encoder=trained.encoder(), steps=0, init=init)
              for init in ("encoder", "random", "best")}
    err = {k: (v.reconstruction - x).pow(2).flatten(1).mean(1) for k, v in starts.items()}
    assert torch.equal(err["best"], torch.minimum(err["encoder"], err["random"]))
    assert set(starts["best"].info["start"]) <= {"encoder", "random"}
    with pytest.raises(GansteerError, match="init='best' needs an encoder"):
        invert(x, tiny, init="best")


def test_prior_keeps_latent_on_the_gaussian_shell(tiny):
    x = torch.zeros(1, 3, 16, 16)  # a flat grey image: no latent makes it exactly
    free = invert(x, tiny, steps=100, prior_weight=0.0)
    held = invert(x, tiny, steps=100, prior_weight=1.0)
    shell = tiny.latent_dim ** 0.5
    assert abs(held.latent.norm() - shell) < abs(free.latent.norm() - shell)
    assert abs(held.latent.norm() - shell) < 0.1 * shell


# ----------------------------------------------------------------- encoder
def test_encoder_loss_goes_down_and_file_round_trips(tiny, trained, tmp_path):
    loss = trained.history_["loss"]
    assert np.mean(loss[-15:]) < 0.5 * np.mean(loss[:15])
    path = trained.save(tmp_path / "enc.safetensors")
    loaded = load_encoder(path, tiny)
    _, x = generated(tiny)
    assert torch.equal(loaded(x), trained.encoder()(x))
    assert load_file(path)["head.weight"].shape == (8, 64)
    other = gansteer.load_generator("dcgan-tiny", seed=1)
    with pytest.raises(GansteerError, match="encoder was trained for generator 'dcgan-tiny'"):
        load_encoder(path, other)
    with pytest.raises(GansteerError, match="not a gansteer encoder file"):
        load_encoder(DirectionSet(torch.eye(8)).save(tmp_path / "d.safetensors"))


# ------------------------------------------------------------------ edits
def test_edit_with_shift_zero_is_the_reconstruction(tiny, tmp_path):
    _, x = generated(tiny, n=2)
    inv = invert(x, tiny, steps=30)
    dirs = DirectionSet(torch.eye(8)[:3])
    images = edit(inv, tiny, dirs, 1, [0.0, 2.0])
    assert images.shape == (2, 2, 3, 16, 16)
    assert torch.allclose(images[:, 0], inv.reconstruction, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(images[:, 1], tiny(inv.latent + 2 * torch.eye(8)[1]), atol=1e-6)
    inv.save(tmp_path / "x.latent.safetensors")
    again = edit(str(tmp_path / "x.latent.safetensors"), tiny, dirs, 1, 0.0)
    assert torch.allclose(again[:, 0], inv.reconstruction, atol=1e-6)
    with pytest.raises(GansteerError, match="was found for generator 'dcgan-tiny'"):
        edit(inv, gansteer.load_generator("dcgan-tiny", seed=1), dirs, 0, 1.0)
    with pytest.raises(GansteerError, match="shift nan is not finite"):
        edit(inv, tiny, dirs, 0, float("nan"))


class ToyStyle(Generator):
    """StyleGAN-shaped toy: z -> MLP -> w; layer l of w+ modulates its own half of a fixed basis."""

    def __init__(self):
        super().__init__()
        self.name, self.latent_dim, self.spaces, self.num_layers, self.resolution = "toy-style", 4, ("z", "w"), 2, 8
        torch.manual_seed(0)
        self.mapping = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(0.2), nn.Linear(4, 4))
        self.basis = nn.Parameter(torch.randn(2, 4, 3 * 8 * 8) * 0.3)
        self.freeze()

    def map_latent(self, z, space):
        if space in ("w", "w+"):
            w = self.mapping(z)
            return self.expand_layers(w, "w") if space == "w+" else w
        return super().map_latent(z, space)

    def synthesize(self, latent, *, space, cond):
        if space == "z":
            latent = self.mapping(latent)
        wp = latent if space.endswith("+") else self.expand_layers(latent, "w")
        return torch.tanh(torch.einsum("nld,ldp->np", wp, self.basis)).reshape(-1, 3, 8, 8)


def test_stylegan_like_generators_are_inverted_in_w_plus_and_edited_per_layer():
    G = ToyStyle()
    w = G.sample_latent(2, generator=torch.Generator().manual_seed(3), space="w+")
    w[:, 1] += 0.5  # not reachable from a single w
    with torch.no_grad():
        x = G(w, space="w+")
    inv = invert(x, G, steps=200, lr=0.05)
    assert inv.space == "w+" and inv.latent.shape == (2, 2, 4)
    assert (inv.psnr > 35).all()
    dirs = DirectionSet(torch.eye(4)[:2], space="w", layers=(1, 2))
    images = edit(inv, G, dirs, 0, [0.0, 1.0])
    assert torch.allclose(images[:, 0], inv.reconstruction, atol=1e-6)
    moved = inv.latent.clone()
    moved[:, 1, 0] += 1.0  # only layer 1 moves
    with torch.no_grad():
        assert torch.allclose(images[:, 1], G(moved, space="w+"), atol=1e-6)
    with pytest.raises(GansteerError, match="directions live in space 'z' but the latent is in 'w\\+'"):
        edit(inv, G, DirectionSet(torch.eye(4)[:1], space="z"), 0, 1.0)


# ------------------------------------------------------------------ images
def test_load_image_crops_the_centre_square_or_a_box(tmp_path):
    columns = np.tile(np.arange(40, dtype=np.uint8)[None, :, None] * 6, (16, 1, 3))  # 16 x 40, value = 6 * x
    path = save_rgb(tmp_path / "wide.png", columns)
    x = load_image(path, 16)
    assert x.shape == (1, 3, 16, 16)
    assert torch.allclose((x[0, 0, 0] + 1) * 127.5, torch.arange(12, 28, dtype=torch.float32) * 6)  # centre
    boxed = load_image(path, 8, crop=(0, 0, 16, 16))
    assert boxed.shape == (1, 3, 8, 8) and boxed[0, 0, 0, 0] < boxed[0, 0, 0, -1]  # resized, left part
    grey = load_image(Image.fromarray(columns[:, :16, 0]), 16)
    assert torch.equal(grey, load_image(path, 16, crop=(0, 0, 16, 16)))  # grey replicated to RGB
    assert load_image(path, 16, channels=1).shape == (1, 1, 16, 16)


def test_bad_images_are_rejected_with_one_line(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    save_rgb(tmp_path / "small.png", np.zeros((10, 30, 3)))
    rgba = np.full((20, 20, 4), 255, np.uint8)
    opaque = tmp_path / "opaque.png"
    Image.fromarray(rgba, "RGBA").save(opaque)
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    la = np.full((20, 20, 2), 255, np.uint8)
    la[..., 1] = 0
    cases = [
        (tmp_path / "text.png", "text.png: not a readable image"),
        (tmp_path / "missing.png", "missing.png does not exist"),
        (tmp_path / "small.png", "the cropped image is 10x10 pixels; expected at least 16x16"),
        (tmp_path / "clear.png", "image has 4 channels with transparent pixels"),
        (la, "image has 2 channels with transparent pixels"),
        (np.zeros((20, 20, 5), np.uint8), "array of shape (20, 20, 5); expected (H, W) or (H, W, C) with C in 1..4"),
    ]
    for source, message in cases:
        with pytest.raises(GansteerError) as e:
            load_image(source, 16)
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    with pytest.raises(GansteerError, match="crop box 0,0,30,30 is not inside the 20x20 image"):
        load_image(opaque, 16, crop=(0, 0, 30, 30))
    assert torch.equal(load_image(opaque, 16), torch.ones(1, 3, 16, 16))  # opaque alpha is dropped


# --------------------------------------------------------------------- CLI
def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_train_encoder_invert_edit(tiny, tmp_path):
    enc = tmp_path / "enc.safetensors"
    net = ["--widths", "8,16,32,64", "--blocks", "1,1,1,1", "--log-dir", tmp_path / "tb"]
    r = run("train-encoder", "-g", "dcgan-tiny", "-o", enc, "--steps", "6", "--checkpoint-every", "3", *net)
    assert r.exit_code == 0, r.output
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    half = tmp_path / "half.safetensors"  # 3 steps, then resumed to 6: the same weights as 6 in one go
    run("train-encoder", "-g", "dcgan-tiny", "-o", half, "--steps", "3", *net)
    r = run("train-encoder", "-g", "dcgan-tiny", "-o", half, "--steps", "6", "--resume", *net)
    assert r.exit_code == 0, r.output
    assert all(torch.equal(a, b) for a, b in zip(load_file(enc).values(), load_file(half).values(), strict=True))

    _, x = generated(tiny, n=1)
    photo = save_rgb(tmp_path / "photo.png", ((x[0].permute(1, 2, 0) + 1) * 127.5).round().numpy())
    latent = tmp_path / "photo.latent.safetensors"
    r = run("invert", photo, "-g", "dcgan-tiny", "-o", latent, "--steps", "40", "--encoder", enc,
            "--preview", tmp_path / "preview.png")
    assert r.exit_code == 0, r.output
    assert "PSNR" in r.output and Inversion.load(latent).latent.shape == (1, 8)
    assert Image.open(tmp_path / "preview.png").size == (2 * 18 + 2, 20)

    dirs = tmp_path / "sefa.safetensors"
    run("discover", "sefa", "-g", "dcgan-tiny", "-k", "3", "-o", dirs)
    r = run("edit", latent, "-g", "dcgan-tiny", "-d", dirs, "-k", "1", "--shifts", "-2:2:5", "-o", tmp_path / "s.png")
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "s.png").size == (6 * 18 + 2, 20)  # the photo, then 5 shifts
    r = run("edit", photo, "-g", "dcgan-tiny", "-d", dirs, "-k", "1", "--shift", "2", "--steps", "5",
            "-o", tmp_path / "one.png", "--save-latent", tmp_path / "again.safetensors")
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "one.png").size == (16, 16) and (tmp_path / "again.safetensors").exists()

    bad = [
        (["invert", tmp_path / "preview.png", "-g", "dcgan-tiny", "-o", latent, "--crop", "1,2,3"],
         "is not a crop box"),
        (["invert", dirs, "-g", "dcgan-tiny", "-o", latent], "not a readable image"),
        (["edit", latent, "-g", "dcgan-tiny", "-d", dirs, "-k", "1", "-o", tmp_path / "x.png"], "exactly one of"),
        (["edit", latent, "-g", "dcgan-tiny", "-d", dirs, "-k", "7", "--shift", "1", "-o", tmp_path / "x.png"],
         "direction index 7 is out of range"),
        (["invert", photo, "-g", "dcgan-tiny", "-o", latent, "--encoder", dirs], "not a gansteer encoder file"),
    ]
    for args, message in bad:
        r = run(*args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
        assert len([line for line in r.output.splitlines() if line.startswith("Error")]) == 1, r.output


def test_cli_defaults_match_the_api():
    import inspect

    api = inspect.signature(invert).parameters
    cli = {p.name: p.default for p in main.commands["invert"].params}
    for name in ("steps", "init", "lr", "feature_weight", "prior_weight", "candidates", "seed", "space", "crop",
                 "encoder"):
        assert cli[name] == api[name].default, name


def test_exif_orientation_is_applied(tmp_path):
    tall = np.zeros((32, 16, 3), np.uint8)
    tall[:16] = 255  # top half white
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    x = load_image(tmp_path / "rotated.jpg", 16)
    # shown upright it is 32 wide x 16 high, white on the right; the centre square straddles both halves
    assert x[0, 0, 8, 1] < -0.9 and x[0, 0, 8, 14] > 0.9


@pytest.mark.parametrize("name, cond", [("stylegan2-tiny", None), ("biggan-tiny", 2)])
def test_registered_layered_and_conditional_generators(name, cond):
    G = gansteer.load_generator(name)
    z = G.sample_latent(2, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = G(z, cond=cond)
    start = invert(x, G, steps=0, cond=cond)
    inv = invert(x, G, steps=100, cond=cond)
    assert inv.space == ("w+" if name == "stylegan2-tiny" else "z") and inv.cond == (None if cond is None else [2, 2])
    # measured (seed 4, 100 steps): stylegan2-tiny 15.3/14.7 dB at w_avg -> 31.5/33.2; biggan-tiny 10.8/9.4 -> 25.7/27.9
    assert (inv.psnr > start.psnr + 8).all() and (inv.psnr > 24).all()
    dirs = gansteer.SeFa(k=3).fit(G).directions()
    images = edit(inv, G, dirs, 0, [0.0, 2.0])
    assert torch.allclose(images[:, 0], inv.reconstruction, atol=1e-5)
    assert not torch.allclose(images[:, 1], inv.reconstruction, atol=1e-2)
