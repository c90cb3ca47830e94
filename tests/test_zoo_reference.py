"""Independent functional forwards, written from the official code's description and computed straight from the
checkpoint tensors (no gansteer module involved), compared with what our loaders build from the same files."""

from __future__ import annotations

import json
import math

import torch
import torch.nn.functional as F

from gansteer import load_generator
from gansteer.generators import biggan, progan, sngan
from gansteer.io.checkpoints import torch_load


def _z(n, d, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _upscale2d(x):  # pytorch_GAN_zoo's Upscale2d, by view/expand
    n, c, h, w = x.shape
    return x.view(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


def test_sngan_matches_reference_forward(tmp_path):
    release = sngan.write_tiny_checkpoint(tmp_path / "sn")
    sd = torch.load(release / "generator.pt", weights_only=True)

    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-5)

    def conv(x, p):
        return F.conv2d(x, sd[p + ".weight"], sd[p + ".bias"], padding=1)

    z = _z(3, 8)
    x = F.linear(z, sd["model.0.weight"], sd["model.0.bias"]).view(3, -1, 4, 4)
    for i in range(2):
        p = f"model.{2 + i}"
        h = conv(F.interpolate(F.relu(bn(x, p + ".model.0")), scale_factor=2), p + ".conv1")
        h = conv(F.relu(bn(h, p + ".model.4")), p + ".conv2")
        skip = F.interpolate(x, scale_factor=2)
        x = h + (conv(skip, p + ".bypass.1") if p + ".bypass.1.weight" in sd else skip)
    expected = torch.tanh(conv(F.relu(bn(x, "model.4")), "model.6"))
    torch.testing.assert_close(load_generator(str(release))(z), expected, atol=1e-5, rtol=0)


def test_progan_matches_reference_forward(tmp_path):
    ckpt = torch_load(progan.write_tiny_checkpoint(tmp_path / "pgan.pth"))
    sd, cfg = ckpt["avgG"], ckpt["config"].values

    def eq(x, p, op, **kw):  # equalized layer: (op(x, W) + b) * sqrt(2 / fan_in)
        w = sd[p + ".module.weight"]
        return op(x, w, sd[p + ".module.bias"], **kw) * math.sqrt(2 / w[0].numel())

    def norm(x):
        return x / torch.sqrt((x**2).mean(1, keepdim=True) + 1e-8)

    z = _z(3, cfg["noiseVectorDim"])
    x = norm(F.leaky_relu(eq(norm(z), "formatLayer", F.linear), 0.2).view(3, -1, 4, 4))
    x = norm(F.leaky_relu(eq(x, "groupScale0.0", F.conv2d, padding=1), 0.2))
    for i in range(len(cfg["depthOtherScales"])):
        x = _upscale2d(x)
        for j in range(2):
            x = norm(F.leaky_relu(eq(x, f"scaleLayers.{i}.{j}", F.conv2d, padding=1), 0.2))
    expected = eq(x, f"toRGBLayers.{len(cfg['depthOtherScales'])}", F.conv2d)  # WGAN-GP: no output activation
    torch.testing.assert_close(load_generator(str(tmp_path / "pgan.pth"))(z), expected, atol=1e-5, rtol=0)


def test_biggan_deep_matches_reference_forward(tmp_path):
    root = biggan.write_tiny_deep_checkpoint(tmp_path / "deep")
    sd = torch.load(root / "pytorch_model.bin", weights_only=True)
    cfg = json.loads((root / "config.json").read_text())
    t, eps = 0.305, cfg["eps"]  # between two stored statistics: the release weights the lower one by the fraction

    def w(p):  # torch spectral norm in eval: W / (u . W v)
        weight = sd[p + ".weight_orig"]
        return weight / (sd[p + ".weight_u"] @ weight.flatten(1) @ sd[p + ".weight_v"])

    def stats(p):
        pos = t * (cfg["n_stats"] - 1)
        lo, coef = int(pos), pos - int(pos)
        m, v = sd[p + ".running_means"], sd[p + ".running_vars"]
        if coef == 0:
            return m[lo], v[lo]
        return m[lo] * coef + m[lo + 1] * (1 - coef), v[lo] * coef + v[lo + 1] * (1 - coef)

    def cbn(x, p, c):
        m, v = stats(p)
        gain, off = (1 + c @ w(p + ".scale").T)[..., None, None], (c @ w(p + ".offset").T)[..., None, None]
        return (x - m[:, None, None]) / torch.sqrt(v[:, None, None] + eps) * gain + off

    def conv(x, p, pad=0, bias=True):
        return F.conv2d(x, w(p), sd[p + ".bias"] if bias else None, padding=pad)

    z, y = _z(2, 8), torch.tensor([1, 3])
    c = torch.cat([z, sd["embeddings.weight"].T[y]], 1)
    x = (c @ w("generator.gen_z").T + sd["generator.gen_z.bias"]).view(2, 4, 4, -1).permute(0, 3, 1, 2)
    index = 0
    for i, (up, c_in, c_out) in enumerate(cfg["layers"]):
        if i == cfg["attention_layer_position"]:
            p = f"generator.layers.{index}"
            n, ch, hh, ww = x.shape
            theta = conv(x, p + ".snconv1x1_theta", bias=False).view(n, ch // 8, -1)
            phi = F.max_pool2d(conv(x, p + ".snconv1x1_phi", bias=False), 2).view(n, ch // 8, -1)
            g = F.max_pool2d(conv(x, p + ".snconv1x1_g", bias=False), 2).view(n, ch // 2, -1)
            attn = torch.softmax(theta.transpose(1, 2) @ phi, -1)
            x = x + sd[p + ".gamma"] * conv((g @ attn.transpose(1, 2)).view(n, ch // 2, hh, ww),
                                            p + ".snconv1x1_o_conv", bias=False)
            index += 1
        p = f"generator.layers.{index}"
        h = conv(F.relu(cbn(x, p + ".bn_0", c)), p + ".conv_0")
        h = F.relu(cbn(h, p + ".bn_1", c))
        if up:
            h, x = F.interpolate(h, scale_factor=2), F.interpolate(x, scale_factor=2)
        h = conv(F.relu(cbn(conv(h, p + ".conv_1", 1), p + ".bn_2", c)), p + ".conv_2", 1)
        h = conv(F.relu(cbn(h, p + ".bn_3", c)), p + ".conv_3")
        x = h + (x[:, : x.shape[1] // 2] if c_in != c_out else x)
        index += 1
    m, v = stats("generator.bn")
    x = F.batch_norm(x, m, v, sd["generator.bn.weight"], sd["generator.bn.bias"], False, 0.0, eps)
    expected = torch.tanh(conv(F.relu(x), "generator.conv_to_rgb", 1)[:, :3])
    G = load_generator(str(root), truncation=t)
    torch.testing.assert_close(G(z, cond=y), expected, atol=1e-5, rtol=0)


def test_biggan_pytorch_matches_reference_forward(tmp_path):
    sd = torch.load(biggan.write_tiny_checkpoint(tmp_path / "G_ema.pth"), weights_only=True)
    sn_eps, bn_eps = 1e-6, 1e-5

    def w(p):  # ajbrock's power step from the stored u0, in eval
        weight = sd[p + ".weight"]
        mat = weight.flatten(1)
        v = F.normalize(sd[p + ".u0"] @ mat, eps=sn_eps)
        u = F.normalize(v @ mat.T, eps=sn_eps)
        return weight / (v @ mat.T @ u.T).squeeze()

    def conv(x, p, pad=1):
        return F.conv2d(x, w(p), sd.get(p + ".bias"), padding=pad)

    def ccbn(x, p, yy):
        out = F.batch_norm(x, sd[p + ".stored_mean"], sd[p + ".stored_var"], None, None, False, 0.1, bn_eps)
        return out * (1 + yy @ w(p + ".gain").T)[..., None, None] + (yy @ w(p + ".bias").T)[..., None, None]

    z, y = _z(2, 12), torch.tensor([4, 0])
    chunks = z.split(4, 1)
    emb = sd["shared.weight"][y]
    x = (chunks[0] @ w("linear").T + sd["linear.bias"]).view(2, -1, 4, 4)
    for i in range(2):
        p, yy = f"blocks.{i}.0", torch.cat([emb, chunks[1 + i]], 1)
        h = conv(F.interpolate(F.relu(ccbn(x, p + ".bn1", yy)), scale_factor=2), p + ".conv1")
        h = conv(F.relu(ccbn(h, p + ".bn2", yy)), p + ".conv2")
        x = h + conv(F.interpolate(x, scale_factor=2), p + ".conv_sc", 0)
        if f"blocks.{i}.1.gamma" in sd:
            a, (n, ch, hh, ww) = f"blocks.{i}.1", x.shape
            theta = conv(x, a + ".theta", 0).view(n, ch // 8, -1)
            phi = F.max_pool2d(conv(x, a + ".phi", 0), 2).view(n, ch // 8, -1)
            g = F.max_pool2d(conv(x, a + ".g", 0), 2).view(n, ch // 2, -1)
            beta = torch.softmax(theta.transpose(1, 2) @ phi, -1)
            x = sd[a + ".gamma"] * conv((g @ beta.transpose(1, 2)).view(n, ch // 2, hh, ww), a + ".o", 0) + x
    x = F.batch_norm(x, sd["output_layer.0.stored_mean"], sd["output_layer.0.stored_var"],
                     sd["output_layer.0.gain"], sd["output_layer.0.bias"], False, 0.1, bn_eps)
    expected = torch.tanh(conv(F.relu(x), "output_layer.2"))
    torch.testing.assert_close(load_generator(str(tmp_path / "G_ema.pth"))(z, cond=y), expected, atol=1e-5, rtol=0)


def test_progan_karras_matches_reference_forward(tmp_path):
    sd = torch.load(progan.write_tiny_karras_checkpoint(tmp_path / "snapshot.pth"), weights_only=True)

    def block(x, p, pad, up=False):  # pixel norm, [nearest 2x], conv without bias, x * scale + b
        x = x / torch.sqrt((x**2).mean(1, keepdim=True) + 1e-8)
        x = _upscale2d(x) if up else x
        return F.conv2d(x, sd[p + ".conv.weight"], padding=pad) * sd[p + ".wscale.scale"] \
            + sd[p + ".wscale.b"][:, None, None]

    z = _z(3, 8)
    x = F.leaky_relu(block(z[:, :, None, None], "features.0", 3), 0.2)
    for i in range(1, 6):
        x = F.leaky_relu(block(x, f"features.{i}", 1, up=i % 2 == 0), 0.2)
    expected = block(x, "output", 0)
    torch.testing.assert_close(load_generator(str(tmp_path / "snapshot.pth"))(z), expected, atol=1e-5, rtol=0)
