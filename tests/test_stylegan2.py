from __future__ import annotations

import math
import os
import pickle
import pickletools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gansteer import DirectionSet, GansteerError, SeFa, apply_direction, load_generator, traverse
from gansteer.cli import main
from gansteer.generators.stylegan2 import StyleGAN2
from gansteer.generators.stylegan2_formats import (
    nvlabs_record,
    rosinality_state,
    save_nvlabs_pkl,
    save_rosinality,
)
from gansteer.io.checkpoints import torch_load
from gansteer.io.nvlabs_pkl import PersistentRecord, dump_nvlabs_pkl, load_nvlabs_pkl


@pytest.fixture(scope="module")
def G():
    return load_generator("stylegan2-tiny")


def _z(G, n=3, seed=0):
    return G.sample_latent(n, generator=torch.Generator().manual_seed(seed))


def _img(G, latent, space="z"):
    with torch.inference_mode():
        return G(latent, space=space)


# ------------------------------------------------------------------ independent reference forwards (test oracles)
def _fir(x, k, up=1, pad=(0, 0)):
    """upfirdn2d as both reference code bases define it: zero insertion, pad, convolve with the flipped kernel."""
    if up > 1:
        y = x.new_zeros(*x.shape[:2], x.shape[2] * up, x.shape[3] * up)
        y[:, :, ::up, ::up] = x
        x = y
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    c = x.shape[1]
    return F.conv2d(x, torch.flip(k, [0, 1]).expand(c, 1, *k.shape), groups=c)


def _lrelu(x, b):
    return F.leaky_relu(x + b.reshape(1, -1, *[1] * (x.dim() - 2)), 0.2) * math.sqrt(2)


def rosinality_forward(sd, z, truncation=1.0, latent_avg=None):
    """rosinality's Generator.forward (fused grouped convs, randomize_noise=False) on its own state dict."""
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        w_, b_ = sd[f"style.{i}.weight"], sd[f"style.{i}.bias"]
        x = _lrelu(F.linear(x, w_ * 0.01 / math.sqrt(w_.shape[1])), b_ * 0.01)
    if truncation < 1:
        x = latent_avg + truncation * (x - latent_avg)

    def modconv(h, s, p, demod=True, up=False):
        weight, b = sd[p + ".conv.weight"], h.shape[0]
        _, o, i, k, _ = weight.shape
        s = F.linear(s, sd[p + ".conv.modulation.weight"] / math.sqrt(s.shape[1]), sd[p + ".conv.modulation.bias"])
        w = weight / math.sqrt(i * k * k) * s.view(b, 1, i, 1, 1)
        if demod:
            w = w * torch.rsqrt(w.pow(2).sum([2, 3, 4]) + 1e-8).view(b, o, 1, 1, 1)
        if up:
            w = w.transpose(1, 2).reshape(b * i, o, k, k)
            out = F.conv_transpose2d(h.reshape(1, b * i, *h.shape[2:]), w, stride=2, groups=b)
            return _fir(out.view(b, o, *out.shape[2:]), sd[p + ".conv.blur.kernel"], pad=(1, 1))
        out = F.conv2d(h.reshape(1, b * i, *h.shape[2:]), w.reshape(b * o, i, k, k), padding=k // 2, groups=b)
        return out.view(b, o, *out.shape[2:])

    def styled(h, s, p, noise, up=False):
        return _lrelu(modconv(h, s, p, up=up) + sd[p + ".noise.weight"] * noise, sd[p + ".activate.bias"])

    def torgb(h, s, p, skip=None):
        out = modconv(h, s, p, demod=False) + sd[p + ".bias"]
        return out if skip is None else out + _fir(skip, sd[p + ".upsample.kernel"], up=2, pad=(2, 1))

    n_convs = 1 + sum(1 for k in sd if k.startswith("convs.") and k.endswith(".conv.weight"))
    h = sd["input.input"].repeat(z.shape[0], 1, 1, 1)
    h = styled(h, x, "conv1", sd["noises.noise_0"])
    img = torgb(h, x, "to_rgb1")
    for b in range((n_convs - 1) // 2):
        h = styled(h, x, f"convs.{2 * b}", sd[f"noises.noise_{2 * b + 1}"], up=True)
        h = styled(h, x, f"convs.{2 * b + 1}", sd[f"noises.noise_{2 * b + 2}"])
        img = torgb(h, x, f"to_rgbs.{b}", img)
    return img


def nvlabs_forward(sd, z, psi=1.0, clamp=None):
    """NVlabs' Generator.forward (non-fused modconv, noise_mode='const') on the G_ema record's state dict."""
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    i = 0
    while f"mapping.fc{i}.weight" in sd:
        w_, b_ = sd[f"mapping.fc{i}.weight"], sd[f"mapping.fc{i}.bias"]
        x = _lrelu(x.matmul((w_ * (0.01 / np.sqrt(w_.shape[1]))).t()), b_ * 0.01)
        i += 1
    x = sd["mapping.w_avg"].lerp(x, psi)

    def affine(p, w):
        return F.linear(w, sd[p + ".affine.weight"] / math.sqrt(w.shape[1]), sd[p + ".affine.bias"])

    def layer(h, w, p, up=1):
        weight, styles = sd[p + ".weight"], affine(p, w)
        dcoefs = ((weight[None] * styles[:, None, :, None, None]).square().sum([2, 3, 4]) + 1e-8).rsqrt()
        h = h * styles[:, :, None, None]
        if up == 2:
            h = F.conv_transpose2d(h, weight.transpose(0, 1), stride=2)
            h = _fir(h, sd[p + ".resample_filter"] * 4, pad=(1, 1))
        else:
            h = F.conv2d(h, weight, padding=1)
        h = h * dcoefs[:, :, None, None] + sd[p + ".noise_const"] * sd[p + ".noise_strength"]
        h = _lrelu(h, sd[p + ".bias"])
        return h.clamp(-clamp, clamp) if clamp is not None else h

    def torgb(h, w, p):
        weight = sd[p + ".weight"]
        styles = affine(p, w) / math.sqrt(weight.shape[1])
        return F.conv2d(h * styles[:, :, None, None], weight) + sd[p + ".bias"][None, :, None, None]

    res, img = 4, None
    h = sd["synthesis.b4.const"][None].repeat(z.shape[0], 1, 1, 1)
    h = layer(h, x, "synthesis.b4.conv1")
    img = torgb(h, x, "synthesis.b4.torgb")
    while f"synthesis.b{res * 2}.conv0.weight" in sd:
        res *= 2
        h = layer(h, x, f"synthesis.b{res}.conv0", up=2)
        h = layer(h, x, f"synthesis.b{res}.conv1")
        img = _fir(img, sd[f"synthesis.b{res}.resample_filter"] * 4, up=2, pad=(2, 1))
        img = img + torgb(h, x, f"synthesis.b{res}.torgb")
    return img


# -------------------------------------------------------------------------------------------------------- tests
def test_tiny_golden_slice_spaces_and_features(G):
    assert (G.latent_dim, G.num_layers, G.resolution) == (16, 6, 16)
    assert G.all_spaces() == ("z", "w", "z+", "w+")
    z = _z(G)
    x = _img(G, z)
    assert x.shape == (3, 3, 16, 16)
    expected = torch.tensor([[0.755352, 0.714126, 0.748286, 0.497939],
                             [0.482600, 0.625493, 0.109124, -0.096441],
                             [-0.310790, -0.084646, -0.013847, 0.207371]])
    torch.testing.assert_close(x[0, :, 8, 4:8], expected, atol=1e-5, rtol=0)
    assert G.weight_hash() == load_generator("stylegan2-tiny").weight_hash()
    # the same image from every space
    w = G.map_latent(z, "w")
    for latent, space in ((w, "w"), (G.expand_layers(w, "w"), "w+"), (G.expand_layers(z, "z"), "z+")):
        torch.testing.assert_close(_img(G, latent, space), x, atol=1e-5, rtol=0)
    assert G.sample_latent(2, space="w+").shape == (2, 6, 16)
    shapes = {name: tuple(G.features(z, name).shape) for name in G.feature_layers}
    assert shapes == {"b4.conv1": (3, 32, 4, 4), "b8.conv0": (3, 16, 8, 8), "b8.conv1": (3, 16, 8, 8),
                      "b16.conv0": (3, 8, 16, 16), "b16.conv1": (3, 8, 16, 16), "image": (3, 3, 16, 16)}
    torch.testing.assert_close(G.features(z, "image"), x)


def test_noise_modes(G):
    z = _z(G, 2)
    const = _img(G, z)
    torch.testing.assert_close(_img(G, z), const, atol=0, rtol=0)  # const noise: reproducible
    try:
        G.noise_mode = "random"
        torch.manual_seed(1)
        a = _img(G, z)
        assert not torch.allclose(a, _img(G, z))
        G.noise_mode = "none"
        assert not torch.allclose(_img(G, z), const)
    finally:
        G.noise_mode = "const"
    with pytest.raises(GansteerError, match="noise mode 'loud' is unknown"):
        G.noise_mode = "loud"


def test_truncation_zero_gives_the_average_image_for_every_z(G):
    try:
        G.truncation = 0.0
        x = _img(G, _z(G, 4, seed=3))
        assert (x - x[:1]).abs().max() < 1e-6
        torch.testing.assert_close(x[:1], _img(G, G.w_avg[None], "w"), atol=1e-6, rtol=0)
        G.truncation = 0.5
        w = G.sample_latent(2, space="w", generator=torch.Generator().manual_seed(0))
        G.truncation = 1.0
        w1 = G.sample_latent(2, space="w", generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(w, G.w_avg + 0.5 * (w1 - G.w_avg))
    finally:
        G.truncation = 1.0
    with pytest.raises(GansteerError, match="truncation psi nan is invalid"):
        G.truncation = float("nan")


def test_rosinality_roundtrip_and_reference_forward(G, tmp_path):
    path = save_rosinality(G, tmp_path / "g.pt")
    state = torch_load(path)
    assert sorted(state) == ["g_ema", "latent_avg"]
    sd = state["g_ema"]
    assert sd["conv1.conv.weight"].shape == (1, 32, 32, 3, 3) and sd["to_rgb1.bias"].shape == (1, 3, 1, 1)
    assert sd["convs.0.conv.blur.kernel"].sum() == pytest.approx(4.0) and sd["noises.noise_4"].shape == (1, 1, 16, 16)
    H = load_generator(path)
    assert H.name == "g" and H.config == G.config and H.weight_hash() == G.weight_hash()
    z = _z(G)
    torch.testing.assert_close(_img(H, z), _img(G, z), atol=0, rtol=0)
    # an independent re-implementation of rosinality's forward on the file's own tensors gives the same image
    with torch.inference_mode():
        ref = rosinality_forward(sd, z, truncation=0.7, latent_avg=state["latent_avg"])
    H.truncation = 0.7
    torch.testing.assert_close(_img(H, z), ref, atol=2e-5, rtol=0)


def test_rosinality_training_snapshot_with_namespace_args(G, tmp_path):
    path = save_rosinality(G, tmp_path / "snap.pt", snapshot=True)
    with pytest.raises(pickle.UnpicklingError):  # plain weights_only refuses the Namespace ...
        torch.load(path, weights_only=True)
    state = torch_load(path)  # ... our allow-list reads exactly argparse.Namespace, as an inert record
    assert state["args"].values["n_mlp"] == 2 and "latent_avg" not in state
    H = load_generator(str(path))
    z = _z(G)
    torch.testing.assert_close(_img(H, z), _img(G, z), atol=0, rtol=0)
    torch.testing.assert_close(H.w_avg, G.w_avg, atol=0.15, rtol=0)  # estimated from 4096 samples


def test_nvlabs_pickle_layout_and_roundtrip(G, tmp_path):
    path = save_nvlabs_pkl(G, tmp_path / "network-snapshot-000100.pkl")
    globals_used = {arg for op, arg, _ in pickletools.genops(path.read_bytes()) if op.name == "GLOBAL"}
    assert globals_used == {"torch_utils.persistence _reconstruct_persistent_obj", "collections OrderedDict",
                            "torch._utils _rebuild_parameter", "torch._utils _rebuild_tensor_v2",
                            "torch.storage _load_from_bytes", "builtins set", "numpy.core.multiarray scalar",
                            "numpy dtype", "dnnlib.util EasyDict"}
    data = load_nvlabs_pkl(path)
    assert sorted(data) == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    rec = data["G_ema"]
    assert rec.class_name == "Generator" and rec.find("synthesis.b16.conv0").class_name == "SynthesisLayer"
    assert rec.attr("mapping.fc1.weight_gain") == pytest.approx(0.01 / 4) and rec.attr("synthesis.b8.conv0.up") == 2
    assert rec.state["_init_kwargs"]["mapping_kwargs"] == {"num_layers": 2}
    sd = rec.state_dict()
    assert sd["synthesis.b4.const"].shape == (32, 4, 4) and sd["synthesis.b16.conv1.noise_const"].shape == (16, 16)
    assert sd["synthesis.b8.conv0.noise_strength"].shape == () and sd["mapping.w_avg"].shape == (16,)
    H = load_generator(path)
    assert H.name == "network-snapshot-000100" and H.weight_hash() == G.weight_hash()
    z = _z(G)
    torch.testing.assert_close(_img(H, z), _img(G, z), atol=0, rtol=0)


def test_same_weights_in_both_layouts_give_the_same_images(G, tmp_path):
    """Two independent reference forwards (rosinality's fused path, NVlabs' non-fused path) on the two files."""
    ros = torch_load(save_rosinality(G, tmp_path / "g.pt"))
    nv = load_nvlabs_pkl(save_nvlabs_pkl(G, tmp_path / "g.pkl"))["G_ema"].state_dict()
    z = _z(G, 4, seed=7)
    with torch.inference_mode():
        a = rosinality_forward(ros["g_ema"], z, truncation=0.6, latent_avg=ros["latent_avg"])
        b = nvlabs_forward(nv, z, psi=0.6)
    torch.testing.assert_close(a, b, atol=2e-5, rtol=0)
    H1, H2 = load_generator(str(tmp_path / "g.pt"), truncation=0.6), load_generator(str(tmp_path / "g.pkl"),
                                                                                  truncation=0.6)
    torch.testing.assert_close(_img(H1, z), _img(H2, z), atol=0, rtol=0)
    torch.testing.assert_close(_img(H2, z), b, atol=2e-5, rtol=0)


def test_nvlabs_conditional_and_conv_clamp(tmp_path):
    torch.manual_seed(0)
    C = StyleGAN2(8, latent_dim=8, mapping_layers=1, widths=[8, 4], num_classes=3, conv_clamp=0.5).freeze()
    C.estimate_w_avg(64)
    H = load_generator(save_nvlabs_pkl(C, tmp_path / "cond.pkl"))
    assert H.num_classes == 3 and H.config["conv_clamp"] == 0.5
    z = _z(C, 2)
    with torch.inference_mode():
        x = H(z, cond=2)
        torch.testing.assert_close(x, C(z, cond=2), atol=0, rtol=0)
        assert not torch.allclose(x, H(z, cond=0))
        assert H.features(z, "b4.conv1", cond=1).abs().max() <= 0.5  # clamped
    with pytest.raises(GansteerError, match="class-conditional"):
        H.sample_latent(1, space="w")
    with pytest.raises(GansteerError, match="no rosinality layout"):
        save_rosinality(C, tmp_path / "c.pt")


def test_conditional_w_space_sampling_traversal_and_training(tmp_path):
    from click.testing import CliRunner

    from gansteer.methods.voynov import Voynov
    from gansteer.traversal import latents_for_seeds

    torch.manual_seed(0)
    C = StyleGAN2(16, latent_dim=8, mapping_layers=1, widths=[8, 4, 4], num_classes=3).freeze()
    C.estimate_w_avg(64)
    H = load_generator(save_nvlabs_pkl(C, tmp_path / "cond.pkl"))
    w1, w2 = latents_for_seeds(H, [0], "w", 1), latents_for_seeds(H, [0], "w", 2)
    assert w1.shape == (1, 8) and not torch.allclose(w1, w2)  # the class enters the mapping
    torch.testing.assert_close(w1, H.map_latent(latents_for_seeds(H, [0]), "w", cond=1))
    d = DirectionSet(torch.eye(2, 8), space="w", method="test")
    grid = traverse(H, d, [0], [-1.0, 0.0, 1.0], seeds=[0], cond=1)
    with torch.inference_mode():
        torch.testing.assert_close(grid[0, 0, 1], H(w1, space="w", cond=1)[0])
    path = tmp_path / "d.safetensors"
    d.save(path)
    r = CliRunner().invoke(main, ["traverse", str(path), "-g", str(tmp_path / "cond.pkl"), "-d", "0-1", "--seeds", "0",
                                  "--class", "2", "-o", str(tmp_path / "t.png")])
    assert r.exit_code == 0 and (tmp_path / "t.png").is_file(), r.output
    m = Voynov(k=2, space="w", classes=(0, 2), reconstructor="lenet-tiny", batch_size=4, steps=2).fit(H, progress=False)
    assert m.direction_matrix().shape == (2, 8) and np.isfinite(m.history_["loss"]).all()
    from gansteer.methods.ganspace import GANSpace

    pcs = [GANSpace(k=2, n=256, space="w", layer="latent", cond=c).fit(H).directions().vectors for c in (0, 2)]
    assert pcs[0].shape == (2, 8) and not torch.allclose(pcs[0], pcs[1])  # w of class 0 vs class 2


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_malicious_pickles_are_refused_and_nothing_runs(G, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": _System(f"touch {marker}")}, protocol=3))
    with pytest.raises(GansteerError, match=r"evil.pkl: refused to unpickle global posix.system \(") as e:
        load_generator(str(evil))
    assert "\n" not in str(e.value) and not marker.exists()
    for name, obj in (("eval", (eval, (f"open({str(marker)!r}, 'w')",))), ("exec", (exec, ("import os",)))):
        class Reduce:
            def __reduce__(self, obj=obj):
                return obj
        (tmp_path / "b.pkl").write_bytes(pickle.dumps([Reduce()], protocol=2))
        with pytest.raises(GansteerError, match=f"refused to unpickle global (__builtin__|builtins).{name}"):
            load_generator(str(tmp_path / "b.pkl"))
    assert not marker.exists()
    # the persistence records carry module source code: it is kept as an inert string, never executed
    record = nvlabs_record(G)
    record.module_src = f"open({str(marker)!r}, 'w').write('ran')\n"
    dump_nvlabs_pkl({"G_ema": record}, tmp_path / "src.pkl")
    H = load_generator(str(tmp_path / "src.pkl"))
    assert not marker.exists() and H.weight_hash() == G.weight_hash()
    assert load_nvlabs_pkl(tmp_path / "src.pkl")["G_ema"].module_src.startswith("open(")


def test_nvlabs_unsupported_and_broken_files(G, tmp_path):
    record = nvlabs_record(G)
    synthesis = record.find("synthesis")
    synthesis.state["_modules"]["input"] = PersistentRecord("SynthesisInput", {"_parameters": {}, "_modules": {}})
    dump_nvlabs_pkl({"G_ema": record}, tmp_path / "sg3.pkl")
    with pytest.raises(GansteerError, match="sg3.pkl: a StyleGAN3 generator"):
        load_generator(str(tmp_path / "sg3.pkl"))
    record = nvlabs_record(G)
    del record.find("mapping").state["_buffers"]["w_avg"]  # trained with w_avg_beta=None: estimated on load
    dump_nvlabs_pkl({"G_ema": record}, tmp_path / "noavg.pkl")
    torch.testing.assert_close(load_generator(str(tmp_path / "noavg.pkl")).w_avg, G.w_avg, atol=0.15, rtol=0)
    dump_nvlabs_pkl({"D": None}, tmp_path / "nog.pkl")
    with pytest.raises(GansteerError, match="no 'G_ema' network inside"):
        load_generator(str(tmp_path / "nog.pkl"))
    (tmp_path / "cut.pkl").write_bytes(save_nvlabs_pkl(G, tmp_path / "ok.pkl").read_bytes()[:5000])
    with pytest.raises(GansteerError, match="cut.pkl: not a readable network pickle"):
        load_generator(str(tmp_path / "cut.pkl"))
    sd = rosinality_state(G)
    del sd["conv1.activate.bias"]
    sd["to_rgb1.bias"] = torch.zeros(1, 4, 1, 1)
    torch.save({"g_ema": sd}, tmp_path / "bad.pt")
    with pytest.raises(GansteerError, match=r"bad.pt: not a rosinality .* missing keys: synthesis.convs.0.bias; "
                                            r"mis-shaped keys: synthesis.torgbs.0.bias \(1, 4, 1, 1\) vs \(3,\)"):
        load_generator(str(tmp_path / "bad.pt"))


def test_layerwise_edit_changes_only_chosen_rows(G):
    ds = SeFa(k=3, layers=(2, 4)).fit(G).directions()
    assert ds.space == "w" and ds.layers == (2, 4)
    w = G.sample_latent(2, space="w", generator=torch.Generator().manual_seed(0))
    moved, space = apply_direction(G, w, ds, 0, 3.0)
    assert space == "w+" and moved.shape == (2, 6, 16)
    changed = (moved - G.expand_layers(w, "w")).abs().amax(dim=(0, 2))
    assert changed.tolist()[:2] == [0, 0] and changed.tolist()[4:] == [0, 0] and (changed[2:4] > 1).all()
    with torch.inference_mode():  # layers before row 2 see the same input: their features do not move
        before = G.features(G.expand_layers(w, "w"), "b8.conv0", space="w+")
        torch.testing.assert_close(G.features(moved, "b8.conv0", space="w+"), before, atol=0, rtol=0)
        assert not torch.allclose(G.features(moved, "b8.conv1", space="w+"),
                                  G.features(G.expand_layers(w, "w"), "b8.conv1", space="w+"))
    images = traverse(G, ds, [0], [-3.0, 0.0, 3.0], seeds=[0])
    torch.testing.assert_close(images[0, 0, 1], _img(G, G.sample_latent(
        1, space="w", generator=torch.Generator().manual_seed(0)), "w")[0])
    assert (images[0, 0, 0] - images[0, 0, 1]).abs().max() > 0.05


def test_sefa_on_style_weights(G):
    assert G.style_weights().shape == (32 + 32 + 16 + 16 + 8, 16)  # every conv (rows 0-4)
    assert G.style_weights((5, 6)).shape == (8, 16)  # the last row: the final toRGB's affine
    A = G.style_weights((0, 3)).double()
    sefa = SeFa(k=4, layers=(0, 3)).fit(G)
    dirs = sefa.directions().vectors
    torch.testing.assert_close(dirs.norm(dim=1), torch.ones(4))
    assert (dirs.gather(1, dirs.abs().argmax(1, keepdim=True)) > 0).all()  # sign rule
    An = A / A.norm(dim=1, keepdim=True)
    values, vectors = np.linalg.eigh((An.T @ An).numpy())  # the SeFa reference's formula
    np.testing.assert_allclose(sefa.eigenvalues_.numpy(), values[::-1][:4], rtol=1e-9)
    np.testing.assert_allclose(np.abs(sefa.components_.numpy() @ vectors[:, ::-1][:, :4]), np.eye(4), atol=1e-7)
    torch.testing.assert_close(sefa.eigenvalues_.float(), torch.tensor([8.8804, 8.0523, 7.2665, 6.9890]),
                               atol=1e-3, rtol=0)
    with pytest.raises(GansteerError, match="layer range 4-6 is invalid; expected within 0-5"):
        G.style_weights((4, 7))


def test_cli_sefa_layers_on_a_pickle_then_traverse_the_pt(G, tmp_path):
    from click.testing import CliRunner

    save_nvlabs_pkl(G, tmp_path / "g.pkl")
    save_rosinality(G, tmp_path / "g.pt")
    out = tmp_path / "sefa.safetensors"
    r = CliRunner().invoke(main, ["discover", "sefa", "-g", str(tmp_path / "g.pkl"), "--layers", "1-2", "-k", "3",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    ds = DirectionSet.load(out)
    assert ds.space == "w" and ds.layers == (1, 3) and ds.generator_hash == G.weight_hash()
    r = CliRunner().invoke(main, ["traverse", str(out), "-g", str(tmp_path / "g.pt"), "-d", "0-1", "-s", "-3:3:3",
                                  "--seeds", "0", "-o", str(tmp_path / "t.png")])
    assert r.exit_code == 0 and (tmp_path / "t.png").is_file(), r.output
    r = CliRunner().invoke(main, ["discover", "sefa", "-g", "stylegan2-tiny", "--layers", "3-9", "-o", str(out)])
    assert r.exit_code == 1 and r.output.strip() == "Error: layer range 3-9 is invalid; expected within 0-5"


def test_ganspace_in_w_with_layers_and_voynov_in_w(G, tmp_path, monkeypatch):
    """The contract the other methods rely on: sample_latent(space="w"), forward in w / w+, features."""
    from gansteer import create_method

    monkeypatch.chdir(tmp_path)
    ds = create_method("ganspace", k=3, n=2000, space="w", layer="latent", layers=(0, 3)).fit(
        G, progress=False).directions()
    assert ds.space == "w" and ds.layers == (0, 3) and ds.vectors.shape == (3, 16)
    w = G.sample_latent(2, space="w", generator=torch.Generator().manual_seed(1))
    moved, space = apply_direction(G, w, ds, 0, 2.0)
    changed = (moved - G.expand_layers(w, "w")).abs().amax(dim=(0, 2))
    assert space == "w+" and (changed[:3] > 0).all() and (changed[3:] == 0).all()
    act = create_method("ganspace", k=2, n=300, space="w", layer="b8.conv1").fit(G, progress=False).directions()
    assert act.space == "w" and torch.isfinite(act.vectors).all()
    voynov = create_method("voynov", k=2, steps=2, batch_size=4, space="w").fit(G, progress=False).directions()
    assert voynov.space == "w" and torch.isfinite(voynov.vectors).all()
