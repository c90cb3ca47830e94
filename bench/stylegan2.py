"""StyleGAN2 on the CPU: images/s of a config-F-sized generator (random weights, 256x256 by default) per batch
size and memory format, and the load time of the same weights from rosinality `.pt` vs
NVlabs `.pkl` (restricted unpickler).

    .venv/bin/python bench/stylegan2.py [--resolution 256] [--repeats 5] [--threads 2]

One JSON object per line. Compare rows of one run as ratios (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gansteer import load_generator
from gansteer.generators.stylegan2 import StyleGAN2
from gansteer.generators.stylegan2_formats import save_nvlabs_pkl, save_rosinality


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def post_conv_case(repeats: int) -> None:
    """After each modulated conv: demodulate, add noise and bias, lrelu, gain - one op each vs one multiply-add."""
    s2 = 2**0.5

    def separate(x, dco, noise, bias):
        return F.leaky_relu(x * dco[:, :, None, None] + noise + bias[None, :, None, None], 0.2) * s2

    def folded(x, dco, noise, bias):  # what StyledConv does
        return F.leaky_relu(torch.addcmul((noise + bias[:, None, None]) * s2, x, (dco * s2)[:, :, None, None]), 0.2)

    for c, r, n in ((64, 256, 1), (128, 128, 1), (64, 256, 4)):
        x, dco, noise, bias = torch.randn(n, c, r, r), torch.rand(n, c), torch.randn(r, r), torch.randn(c)
        times: dict[str, list[float]] = {"separate": [], "folded": []}
        with torch.inference_mode():
            for _ in range(3 * repeats):  # interleaved
                for name, fn in (("separate", separate), ("folded", folded)):
                    t = time.perf_counter()
                    fn(x, dco, noise, bias)
                    times[name].append(time.perf_counter() - t)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(json.dumps({"bench": "stylegan2", "case": "post_conv", "channels": c, "resolution": r, "batch": n,
                          "separate_ms": round(med["separate"] * 1e3, 2), "folded_ms": round(med["folded"] * 1e3, 2),
                          "folded_over_separate": round(med["folded"] / med["separate"], 2)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    post_conv_case(args.repeats)
    torch.manual_seed(0)
    G = StyleGAN2(args.resolution, channel_base=16384, name=f"bench-{args.resolution}").freeze()
    base = {"bench": "stylegan2", "resolution": args.resolution, "threads": args.threads,
            "params_m": round(sum(p.numel() for p in G.parameters()) / 1e6, 2), "num_ws": G.num_layers}

    variants = ["contiguous", "channels_last"]
    for batch in (1, 4):
        w = G.sample_latent(batch, generator=torch.Generator().manual_seed(0), space="w")
        times: dict[str, list[float]] = {v: [] for v in variants}
        for repeat in range(args.repeats + 1):  # variants interleaved, so drifting load hits them all alike
            for fmt in variants:
                G.to(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)
                with torch.inference_mode():
                    t = time.perf_counter()
                    G(w, space="w")
                    if repeat:  # the first round warms up
                        times[fmt].append(time.perf_counter() - t)
        for fmt, ts in times.items():
            med = statistics.median(ts)
            print(json.dumps({**base, "case": "forward_w", "batch": batch, "memory_format": fmt,
                              "images_per_s": round(batch / med, 3), "p50_ms": round(med * 1e3, 1),
                              "p90_ms": round(sorted(ts)[int(0.9 * (len(ts) - 1))] * 1e3, 1),
                              "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)
    G.to(memory_format=torch.contiguous_format)

    with tempfile.TemporaryDirectory() as tmp:
        paths = {"rosinality_pt": save_rosinality(G, Path(tmp) / "g.pt"),
                 "nvlabs_pkl": save_nvlabs_pkl(G, Path(tmp) / "g.pkl")}
        for name, path in paths.items():
            times = timed(lambda path=path: load_generator(str(path)), max(2, args.repeats // 2))
            print(json.dumps({**base, "case": "load", "format": name, "mb": round(path.stat().st_size / 2**20, 1),
                              "p50_s": round(statistics.median(times), 3),
                              "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)


if __name__ == "__main__":
    main()
