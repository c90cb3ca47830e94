"""StyleGAN2 checkpoint layouts, read and written: rosinality/stylegan2-pytorch `.pt` and NVlabs StyleGAN2-ADA `.pkl`.

Both code bases store the same numbers (raw equalised-lr weights; gains applied at run time), so each layout is a
table from its parameter names to ours plus reshapes:

=====================================  =========================================  ===============================
ours                                   rosinality (``g_ema``)                     NVlabs (``G_ema``)
=====================================  =========================================  ===============================
mapping.fc.{i}                         style.{i+1}                                mapping.fc{i}
w_avg                                  ``latent_avg`` (top level; else estimated)  mapping.w_avg
synthesis.const (C, 4, 4)              input.input (1, C, 4, 4)                    synthesis.b4.const
synthesis.convs.{j}.weight (O,I,3,3)   conv1 / convs.{j-1} .conv.weight (1,O,I,3,3) synthesis.b{res}.conv{0,1}.weight
  .affine                              .conv.modulation                           .affine
  .bias / .noise_strength ()           .activate.bias / .noise.weight (1,)        .bias / .noise_strength
  .noise_const (r, r)                  noises.noise_{j} (1, 1, r, r)              .noise_const
synthesis.torgbs.{b} weight, bias (3,)  to_rgb1 / to_rgbs.{b-1} (1,3,I,1,1), (1,3,1,1)  synthesis.b{res}.torgb
synthesis.resample_filter              each blur / upsample kernel (x4)           each resample_filter
=====================================  =========================================  ===============================

Real differences between the two: NVlabs may clamp activations (``conv_clamp``, 256 in its configs; kept when read)
and demodulates with eps 1e-8 on the raw weight where rosinality adds it after the 1/sqrt(fan_in) scale (relative
effect ~1e-8·fan_in / |W s|², far below float32 noise for real weights). Rosinality has no conditional models and
always 3 colour channels. NVlabs' fp16 layers run in float32 here (as NVlabs runs them on a CPU).

Supported: StyleGAN2-ADA pickles (and StyleGAN2 ports re-pickled by its `legacy.py`), 'skip' synthesis, with or
without class conditioning. The same unpickler reads StyleGAN3 pickles, but their synthesis network (Fourier
input, filtered lrelu) is a different architecture and is refused with a one-line error; so are 'orig'/'resnet'
synthesis and TensorFlow-era pickles (dnnlib.tflib).
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import GansteerError
from ..io.checkpoints import atomic_torch_save, torch_load
from ..io.nvlabs_pkl import EasyDict, PersistentRecord, dump_nvlabs_pkl, load_nvlabs_pkl, module_state
from .stylegan2 import StyleGAN2, build_stylegan2, make_filter

ROSINALITY = "rosinality StyleGAN2 (.pt with g_ema)"
NVLABS = "NVlabs StyleGAN2-ADA network pickle"


def _count(keys: Any, pattern: str) -> int:
    return sum(1 for k in keys if re.fullmatch(pattern, k))


def _widths(ours: dict[str, Tensor], n_blocks: int) -> list[int]:
    # the last conv of block b is conv 2b; its weight's output-channel axis is -4 in either layout
    return [int(ours[f"synthesis.convs.{2 * b}.weight"].shape[-4]) for b in range(n_blocks)]


def _check_filters(filters: list[Tensor], source: str) -> Tensor:
    if not filters:
        return make_filter()
    if any(f.shape != filters[0].shape or not torch.allclose(f, filters[0]) for f in filters):
        raise GansteerError(f"{source}: resampling filters differ between layers; expected one shared filter")
    return filters[0]


# ------------------------------------------------------------------------------------------------------ rosinality
def rosinality_names(n_mlp: int, n_blocks: int) -> dict[str, str]:
    """Their parameter / buffer names -> ours (the kernels of the resampling filters are handled apart)."""
    names = {}
    for i in range(n_mlp):
        for p in ("weight", "bias"):
            names[f"style.{i + 1}.{p}"] = f"mapping.fc.{i}.{p}"
    names["input.input"] = "synthesis.const"
    for j in range(2 * n_blocks - 1):
        theirs, ours = ("conv1" if j == 0 else f"convs.{j - 1}"), f"synthesis.convs.{j}"
        names.update({f"{theirs}.conv.weight": f"{ours}.weight", f"{theirs}.activate.bias": f"{ours}.bias",
                      f"{theirs}.conv.modulation.weight": f"{ours}.affine.weight",
                      f"{theirs}.conv.modulation.bias": f"{ours}.affine.bias",
                      f"{theirs}.noise.weight": f"{ours}.noise_strength", f"noises.noise_{j}": f"{ours}.noise_const"})
    for b in range(n_blocks):
        theirs, ours = ("to_rgb1" if b == 0 else f"to_rgbs.{b - 1}"), f"synthesis.torgbs.{b}"
        names.update({f"{theirs}.conv.weight": f"{ours}.weight", f"{theirs}.bias": f"{ours}.bias",
                      f"{theirs}.conv.modulation.weight": f"{ours}.affine.weight",
                      f"{theirs}.conv.modulation.bias": f"{ours}.affine.bias"})
    return names


def rosinality_filter_keys(n_blocks: int) -> list[str]:
    """Up-sampling convs (convs.0, convs.2 ...) and upsampling toRGBs each store the filter times 4."""
    return [f"convs.{2 * b}.conv.blur.kernel" for b in range(n_blocks - 1)] + [
        f"to_rgbs.{b}.upsample.kernel" for b in range(n_blocks - 1)]


def is_rosinality(state: object) -> bool:
    sd = state.get("g_ema", state) if isinstance(state, dict) else None
    return isinstance(sd, dict) and "style.1.weight" in sd and "input.input" in sd


def load_rosinality(path: str | Path, state: object = None, *, lr_mapping: float = 0.01, **settings: Any) -> StyleGAN2:
    """A StyleGAN2 from a rosinality checkpoint: size, widths and mapping depth come from the weight shapes.

    `lr_mapping` (the mapping's lr multiplier, not stored in the file) is rosinality's default 0.01. Without a
    stored ``latent_avg`` (training snapshots), w_avg is the mean of 4096 mapped fixed-seed z (as its generate.py).
    """
    source = str(path)
    state = torch_load(path) if state is None else state
    if not is_rosinality(state):
        raise GansteerError(f"{source}: not a {ROSINALITY} checkpoint; expected 'g_ema' with 'style.1.weight'")
    sd: dict[str, Tensor] = state.get("g_ema", state)  # type: ignore[union-attr]
    n_mlp = _count(sd, r"style\.\d+\.weight")
    n_blocks = (_count(sd, r"convs\.\d+\.conv\.weight") + 2) // 2
    names, filter_keys = rosinality_names(n_mlp, n_blocks), set(rosinality_filter_keys(n_blocks))
    ours = {names.get(k, k): v for k, v in sd.items() if k not in filter_keys}
    ours["synthesis.resample_filter"] = _check_filters([sd[k] / 4 for k in filter_keys if k in sd], source)
    latent_avg = state.get("latent_avg") if "g_ema" in state else None  # type: ignore[operator,union-attr]
    w_dim = sd["style.1.weight"].shape[0]
    ours["w_avg"] = latent_avg.reshape(-1) if isinstance(latent_avg, Tensor) else torch.zeros(w_dim)
    if "synthesis.convs.0.weight" not in ours or "synthesis.torgbs.0.weight" not in ours:
        raise GansteerError(f"{source}: not a {ROSINALITY} checkpoint; 'conv1' or 'to_rgb1' is missing")
    config = dict(resolution=2 ** (n_blocks + 1), latent_dim=int(sd["style.1.weight"].shape[1]),
                  mapping_layers=n_mlp, widths=_widths(ours, n_blocks),
                  img_channels=int(ours["synthesis.torgbs.0.weight"].shape[-4]), lr_mapping=lr_mapping)
    settings.setdefault("name", Path(path).stem)
    G = build_stylegan2(config, ours, source=source, format_name=ROSINALITY, **settings)
    if not isinstance(latent_avg, Tensor):
        G.estimate_w_avg(4096)
    return G


def rosinality_state(G: StyleGAN2) -> dict[str, Tensor]:
    """Our weights in rosinality's `g_ema` names and shapes."""
    if G.channels != 3 or G.num_classes or G.config["conv_clamp"] is not None:
        raise GansteerError(f"generator {G.name!r} has no rosinality layout (needs 3 channels, no classes, no clamp)")
    n_blocks = len(G.config["widths"])
    ours = G.state_dict()
    sd = {}
    for theirs, name in rosinality_names(G.config["mapping_layers"], n_blocks).items():
        t = ours[name]
        if name == "synthesis.const" or re.fullmatch(r"synthesis\.(convs|torgbs)\.\d+\.weight", name):
            t = t[None]  # (1, O, I, k, k) modulated-conv weights, (1, C, 4, 4) constant
        elif name.endswith("noise_strength"):
            t = t.reshape(1)
        elif name.endswith("noise_const"):
            t = t[None, None]
        elif re.fullmatch(r"synthesis\.torgbs\.\d+\.bias", name):
            t = t.reshape(1, -1, 1, 1)
        sd[theirs] = t.detach().clone()
    for key in rosinality_filter_keys(n_blocks):
        sd[key] = ours["synthesis.resample_filter"] * 4
    return sd


def save_rosinality(G: StyleGAN2, path: str | Path, *, snapshot: bool = False) -> Path:
    """Write `G` as rosinality does: its convert_weight.py layout ``{g_ema, latent_avg}``, or with `snapshot` its
    train.py layout ``{g, d, g_ema, g_optim, d_optim, args (argparse.Namespace), ada_aug_p}`` (no latent_avg)."""
    sd = rosinality_state(G)
    if snapshot:
        args = argparse.Namespace(size=G.resolution, n_mlp=G.config["mapping_layers"], latent=G.latent_dim,
                                  channel_multiplier=2, iter=800000, batch=16, r1=10.0, path="lmdb", arch="stylegan2")
        obj: dict[str, Any] = {"g": sd, "d": {}, "g_ema": sd, "g_optim": {}, "d_optim": {}, "args": args,
                               "ada_aug_p": 0.0}
    else:
        obj = {"g_ema": sd, "latent_avg": G.w_avg.detach().clone()}
    atomic_torch_save(obj, path)
    return Path(path)


# ---------------------------------------------------------------------------------------------------------- NVlabs
def nvlabs_names(n_mapping: int, n_blocks: int, conditional: bool) -> dict[str, str]:
    names = {"mapping.w_avg": "w_avg", "synthesis.b4.const": "synthesis.const"}
    for i in range(n_mapping):
        names.update({f"mapping.fc{i}.{p}": f"mapping.fc.{i}.{p}" for p in ("weight", "bias")})
    if conditional:
        names.update({f"mapping.embed.{p}": f"mapping.embed.{p}" for p in ("weight", "bias")})
    for b in range(n_blocks):
        res = 4 * 2**b
        convs = {f"b{res}.conv1": 2 * b} | ({f"b{res}.conv0": 2 * b - 1} if b else {})
        for theirs, j in convs.items():
            for p in ("weight", "bias", "noise_strength", "noise_const", "affine.weight", "affine.bias"):
                names[f"synthesis.{theirs}.{p}"] = f"synthesis.convs.{j}.{p}"
        for p in ("weight", "bias", "affine.weight", "affine.bias"):
            names[f"synthesis.b{res}.torgb.{p}"] = f"synthesis.torgbs.{b}.{p}"
    return names


def load_nvlabs(path: str | Path, **settings: Any) -> StyleGAN2:
    """A StyleGAN2 from an NVlabs snapshot pickle's ``G_ema`` (read by the restricted unpickler, nothing runs)."""
    source = str(path)
    data = load_nvlabs_pkl(path)
    G = data.get("G_ema") if isinstance(data, dict) else None
    if not isinstance(G, PersistentRecord):
        raise GansteerError(f"{source}: no 'G_ema' network inside; expected an NVlabs StyleGAN2-ADA snapshot pickle")
    if G.find("synthesis.input") is not None:
        raise GansteerError(f"{source}: a StyleGAN3 generator (Fourier-feature synthesis); only StyleGAN2 is supported")
    arch = G.attr("synthesis.b4.architecture", "skip")
    if arch != "skip":
        raise GansteerError(f"{source}: synthesis architecture {arch!r} is not supported; expected 'skip' (config F)")
    sd = G.state_dict()
    n_mapping = _count(sd, r"mapping\.fc\d+\.weight")
    n_blocks = _count(sd, r"synthesis\.b\d+\.conv1\.weight")
    conditional = "mapping.embed.weight" in sd
    names = nvlabs_names(n_mapping, n_blocks, conditional)
    filters = [v for k, v in sd.items() if k.endswith("resample_filter")]
    ours = {names.get(k, k): v for k, v in sd.items() if not k.endswith("resample_filter")}
    ours["synthesis.resample_filter"] = _check_filters(filters, source)
    for j in range(2 * n_blocks - 1):  # layers built with use_noise=False have no noise: give them zero noise
        if f"synthesis.convs.{j}.noise_const" not in ours and f"synthesis.convs.{j}.weight" in ours:
            res = 4 * 2 ** ((j + 1) // 2)
            ours[f"synthesis.convs.{j}.noise_const"] = torch.zeros(res, res)
            ours[f"synthesis.convs.{j}.noise_strength"] = torch.zeros(())
    if "synthesis.convs.0.weight" not in ours or "mapping.fc.0.weight" not in ours:
        raise GansteerError(f"{source}: 'G_ema' is not a StyleGAN2 generator (no mapping.fc0 / synthesis.b4.conv1)")
    has_w_avg = "w_avg" in ours  # absent when trained with w_avg_beta=None: estimated below
    if not has_w_avg:
        ours["w_avg"] = torch.zeros(ours["mapping.fc.0.weight"].shape[0])
    lr = G.attr("mapping.fc0.bias_gain", 0.01)
    config = dict(resolution=2 ** (n_blocks + 1), latent_dim=int(G.state.get("z_dim", ours["w_avg"].shape[0])),
                  mapping_layers=n_mapping, widths=_widths(ours, n_blocks),
                  img_channels=int(ours["synthesis.torgbs.0.weight"].shape[0]),
                  num_classes=int(sd["mapping.embed.weight"].shape[1]) if conditional else 0,
                  lr_mapping=float(lr), conv_clamp=G.attr("synthesis.b4.conv1.conv_clamp"))
    if config["latent_dim"] != ours["w_avg"].shape[0]:
        raise GansteerError(f"{source}: z_dim {config['latent_dim']} differs from w_dim {ours['w_avg'].shape[0]}; "
                            "expected equal dimensions")
    settings.setdefault("name", Path(path).stem)
    model = build_stylegan2(config, ours, source=source, format_name=NVLABS, **settings)
    if not has_w_avg:
        model.estimate_w_avg(4096)
    return model


FAKE_SOURCE = ("# Stand-in for NVlabs training/networks.py, written by gansteer's test writer. Loaders must treat\n"
               "# this string as data: it is never compiled or executed.\n"
               "raise RuntimeError('persistence source executed')\n")


def _fc(weight: Tensor, bias: Tensor, *, lr: float = 1.0, activation: str = "linear") -> PersistentRecord:
    return PersistentRecord("FullyConnectedLayer", module_state(
        parameters={"weight": weight, "bias": bias}, activation=activation,
        weight_gain=np.float64(lr / np.sqrt(weight.shape[1])), bias_gain=lr,
        _init_args=(int(weight.shape[1]), int(weight.shape[0])), _init_kwargs={"activation": activation}),
        FAKE_SOURCE)


def nvlabs_record(G: StyleGAN2) -> PersistentRecord:
    """Our weights as the record tree NVlabs pickles for a `training.networks.Generator`."""
    sd, cfg = G.state_dict(), G.config
    lr, clamp, widths = cfg["lr_mapping"], cfg["conv_clamp"], cfg["widths"]
    f = sd["synthesis.resample_filter"]
    fcs = {f"fc{i}": _fc(sd[f"mapping.fc.{i}.weight"], sd[f"mapping.fc.{i}.bias"], lr=lr, activation="lrelu")
           for i in range(cfg["mapping_layers"])}
    if G.num_classes:
        fcs = {"embed": _fc(sd["mapping.embed.weight"], sd["mapping.embed.bias"])} | fcs
    mapping = PersistentRecord("MappingNetwork", module_state(
        buffers={"w_avg": sd["w_avg"]}, modules=fcs, z_dim=G.latent_dim, c_dim=G.num_classes, w_dim=G.latent_dim,
        num_ws=G.num_layers, num_layers=cfg["mapping_layers"], w_avg_beta=0.995), FAKE_SOURCE)

    def layer(j: int, res: int, up: int) -> PersistentRecord:
        p = f"synthesis.convs.{j}."
        return PersistentRecord("SynthesisLayer", module_state(
            parameters={"weight": sd[p + "weight"], "noise_strength": sd[p + "noise_strength"], "bias": sd[p + "bias"]},
            buffers={"resample_filter": f, "noise_const": sd[p + "noise_const"]},
            modules={"affine": _fc(sd[p + "affine.weight"], sd[p + "affine.bias"])},
            resolution=res, up=up, use_noise=True, activation="lrelu", conv_clamp=clamp, padding=1,
            act_gain=np.float64(math.sqrt(2))), FAKE_SOURCE)

    blocks = {}
    for b, width in enumerate(widths):
        res, p = 4 * 2**b, f"synthesis.torgbs.{b}."
        torgb = PersistentRecord("ToRGBLayer", module_state(
            parameters={"weight": sd[p + "weight"], "bias": sd[p + "bias"]},
            modules={"affine": _fc(sd[p + "affine.weight"], sd[p + "affine.bias"])},
            conv_clamp=clamp, weight_gain=np.float64(1 / np.sqrt(width))), FAKE_SOURCE)
        convs = {"conv0": layer(2 * b - 1, res, 2)} if b else {}
        convs["conv1"] = layer(2 * b, res, 1)
        blocks[f"b{res}"] = PersistentRecord("SynthesisBlock", module_state(
            parameters={"const": sd["synthesis.const"]} if b == 0 else {}, buffers={"resample_filter": f},
            modules={**convs, "torgb": torgb}, in_channels=widths[b - 1] if b else 0, w_dim=G.latent_dim,
            resolution=res, img_channels=G.channels, is_last=b == len(widths) - 1, architecture="skip",
            use_fp16=False, channels_last=False, num_conv=len(convs), num_torgb=1), FAKE_SOURCE)
    synthesis = PersistentRecord("SynthesisNetwork", module_state(
        modules=blocks, w_dim=G.latent_dim, img_resolution=G.resolution,
        img_resolution_log2=int(math.log2(G.resolution)), img_channels=G.channels,
        block_resolutions=[4 * 2**b for b in range(len(widths))], num_ws=G.num_layers), FAKE_SOURCE)
    kwargs = EasyDict(z_dim=G.latent_dim, w_dim=G.latent_dim, mapping_kwargs=EasyDict(num_layers=cfg["mapping_layers"]),
                      synthesis_kwargs=EasyDict(channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=clamp),
                      c_dim=G.num_classes, img_resolution=G.resolution, img_channels=G.channels)
    return PersistentRecord("Generator", module_state(
        modules={"synthesis": synthesis, "mapping": mapping}, z_dim=G.latent_dim, c_dim=G.num_classes,
        w_dim=G.latent_dim, img_resolution=G.resolution, img_channels=G.channels, num_ws=G.num_layers,
        _init_args=(), _init_kwargs=kwargs), FAKE_SOURCE)


def save_nvlabs_pkl(G: StyleGAN2, path: str | Path) -> Path:
    """Write `G` as a StyleGAN2-ADA training snapshot: ``{training_set_kwargs, G, D, G_ema, augment_pipe}``."""
    data = {"training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "path": "data.zip",
                                    "use_labels": bool(G.num_classes), "max_size": 1000, "xflip": False,
                                    "resolution": G.resolution},
            "G": nvlabs_record(G), "D": None, "G_ema": nvlabs_record(G), "augment_pipe": None}
    return dump_nvlabs_pkl(data, path)
