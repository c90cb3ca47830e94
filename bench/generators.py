"""Forward latency of the zoo generators at their release sizes (random weights), NCHW vs channels-last, in one run.

Each architecture runs in its own subprocess (its own peak RSS); inside it the two memory formats alternate for
several rounds, so load from other users of the machine hits both alike. One JSON line per (architecture, format,
batch): latency percentiles (ms), images/s, peak RSS; then one summary line per architecture with the ratio
channels-last / NCHW of the median latency (< 1: channels-last pays).

    .venv/bin/python bench/generators.py                          # all architectures, batch 1 and 8
    .venv/bin/python bench/generators.py --arch sngan-anime64 --batches 1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

ARCHS = ("sngan-mnist", "sngan-anime64", "pgan-celebahq256", "biggan-pytorch128", "biggan-deep128")


def build(arch: str):  # type: ignore[no-untyped-def]
    from gansteer.generators import biggan, progan, sngan

    if arch == "sngan-mnist":
        return sngan.SNGAN(128, (256, 256, 256, 256), channels=1).freeze()
    if arch == "sngan-anime64":
        return sngan.SNGAN(128, (1024, 512, 256, 128, 64)).freeze()
    if arch == "pgan-celebahq256":
        return progan.ProgGAN(512, (512, 512, 512, 512, 256, 128, 64)).freeze()
    if arch == "biggan-pytorch128":
        widths = [96 * m for m in (16, 16, 8, 4, 2, 1)]
        return biggan.BigGANPyTorch(widths=widths, chunk=20, dim_z=120, n_classes=1000, shared_dim=128,
                                    attention=[3]).freeze()
    return biggan.BigGANDeep(biggan.DEEP_DEFAULTS).freeze()


def measure(arch: str, batches: list[int], repeats: int, rounds: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    G = build(arch)
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for fmt in ("nchw", "channels_last"):
            G.to(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)
            for b in batches:
                z = G.sample_latent(b, generator=torch.Generator().manual_seed(0))
                cond = 0 if G.num_classes else None
                with torch.inference_mode():
                    G(z, cond=cond)  # warm-up
                    for _ in range(repeats):
                        start = time.perf_counter()
                        G(z, cond=cond)
                        times.setdefault((fmt, b), []).append(time.perf_counter() - start)
    rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    params = sum(p.numel() for p in G.parameters())
    for (fmt, b), ts in times.items():
        q = statistics.quantiles(ts, n=10) if len(ts) > 1 else ts * 9
        print(json.dumps({"arch": arch, "format": fmt, "batch": b, "resolution": G.resolution, "params_m":
                          round(params / 1e6, 1), "p50_ms": round(1000 * statistics.median(ts), 1),
                          "p90_ms": round(1000 * q[8], 1), "images_per_s": round(b / statistics.median(ts), 2),
                          "threads": threads, "peak_rss_mb": rss}), flush=True)
    for b in batches:
        ratio = statistics.median(times[("channels_last", b)]) / statistics.median(times[("nchw", b)])
        print(json.dumps({"arch": arch, "batch": b, "channels_last_over_nchw": round(ratio, 3)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=ARCHS, action="append", help="architecture(s) to run (default: all)")
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per round, format and batch")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two memory formats")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        measure(args.child, batches, args.repeats, args.rounds, args.threads)
        return
    for arch in args.arch or ARCHS:
        subprocess.run([sys.executable, __file__, "--child", arch, "--batches", args.batches, "--repeats",
                        str(args.repeats), "--rounds", str(args.rounds), "--threads", str(args.threads)], check=True)


if __name__ == "__main__":
    main()
