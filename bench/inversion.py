"""Inversion benchmark (JSON lines): generated images with known latents, and a real photo (scikit-image astronaut).

    PYTHONPATH=src python bench/inversion.py --encoder out/inv/face-encoder.safetensors

Generated images: PSNR of the reconstruction and distance of the found latent from the true one, for encoder-only,
optimisation-only (best of 32 random starts), hybrid (start: the better of the encoder's guess and those candidates)
and hybrid without the feature loss; all images of a mode are inverted as one batch and
time per image = batch time / n. Real photo: the astronaut's face (crop box below), inverted alone (latency), PSNR,
and a strip picture (photo, then shifts along a few SeFa directions) for the README.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gansteer
from gansteer.inversion import edit, invert, load_encoder
from gansteer.viz.grid import image_grid, save_png

ASTRONAUT_FACE = (165, 65, 285, 185)  # x0, y0, x1, y1 in the 512x512 skimage.data.astronaut()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(**record: object) -> None:
    print(json.dumps({"bench": "inversion", **record, "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", default="dcgan-face")
    p.add_argument("--encoder", required=True, help="from `gansteer train-encoder --generator ...`")
    p.add_argument("--n", type=int, default=16, help="generated images")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--directions", type=int, nargs="+", default=[0, 1, 2], help="SeFa directions in the strip")
    p.add_argument("--shifts", type=float, nargs="+", default=[-3, -2, -1, 0, 1, 2, 3])
    p.add_argument("--picture", default="docs/images/inversion-astronaut.png")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    G = gansteer.load_generator(args.generator)
    encoder = load_encoder(args.encoder, G)
    z = G.sample_latent(args.n, generator=torch.Generator().manual_seed(1000))
    with torch.no_grad():
        x = G(z)
    random_pairs = torch.pdist(G.sample_latent(512, generator=torch.Generator().manual_seed(1))).mean().item()
    modes = {
        "encoder-only": {"encoder": encoder, "steps": 0, "init": "encoder"},
        "optimisation-only": {"steps": args.steps},
        "hybrid": {"encoder": encoder, "steps": args.steps},
        "hybrid-no-feature-loss": {"encoder": encoder, "steps": args.steps, "feature_weight": 0.0},
    }
    for mode, kw in modes.items():
        start = time.perf_counter()
        inv = invert(x, G, **kw)
        seconds = time.perf_counter() - start
        dist = (inv.latent - z).norm(dim=1)
        emit(set="generated", generator=G.name, mode=mode, n=args.n, steps=kw["steps"],
             psnr_mean=round(inv.psnr.mean().item(), 2), psnr_min=round(inv.psnr.min().item(), 2),
             latent_dist_mean=round(dist.mean().item(), 3), latent_dist_median=round(dist.median().item(), 3),
             random_pair_dist=round(random_pairs, 3), latent_norm_mean=round(inv.latent.norm(dim=1).mean().item(), 2),
             seconds_per_image=round(seconds / args.n, 3), batched=args.n, threads=args.threads)

    from skimage import data

    photo = data.astronaut()
    results = {}
    for mode, kw in modes.items():
        start = time.perf_counter()
        inv = invert(photo, G, crop=ASTRONAUT_FACE, **kw)
        results[mode] = inv
        emit(set="astronaut", generator=G.name, mode=mode, crop=ASTRONAUT_FACE, steps=kw["steps"],
             psnr=round(inv.psnr.item(), 2), start=inv.info["start"][0],
             latent_norm=round(inv.latent.norm().item(), 2),
             sqrt_latent_dim=round(G.latent_dim ** 0.5, 2), seconds=round(time.perf_counter() - start, 2))

    inv = results["hybrid"]
    dirs = gansteer.SeFa(k=max(args.directions) + 1).fit(G).directions()
    rows = [torch.cat([inv.target, edit(inv, G, dirs, k, args.shifts)[0]]) for k in args.directions]
    grid = image_grid(torch.cat(rows), nrow=len(args.shifts) + 1)
    big = np.asarray(Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.Resampling.NEAREST))
    path = save_png(big, Path(args.picture))
    emit(set="astronaut", picture=str(path), directions=args.directions, shifts=args.shifts)


if __name__ == "__main__":
    main()
