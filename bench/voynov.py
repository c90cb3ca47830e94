"""Voynov & Babenko training speed: gansteer's step vs a reference-like step, in one run, as a ratio.

Setting of issue 4: dcgan-face, batch 32, K=100, LeNet, orthonormal A, 2 threads. Each variant runs in its own
subprocess (so peak RSS is its own), and the variants alternate for several rounds (so load from other users of the
machine hits all alike). One JSON line per measurement, a summary line with the median steps/s and the ratios,
then (robust when the load varies) both steps alternated one by one in a single process: median ms per step each.
"gansteer-no-fast" is our step on G itself (no BatchNorm folding, NCHW generator): what the fast copy of G adds.
"gansteer-bf16" is our step with `precision="bfloat16"`: the frozen G runs in bfloat16 (A and R stay float32).

"reference-like" reproduces what GanLatentDiscovery's trainer does per step and we avoid (the reference itself
cannot be fetched or run here): the generator's weights keep requires_grad (it is never frozen, and `G.zero_grad()`
runs every step), so backward also computes G's weight gradients; the unshifted image G(z) is computed with autograd
and back-propagated through; NCHW convolutions; the orthonormal A is a K x K matrix exponential (torch's, which is
faster than the reference's Python Pade code, so this favours the reference); the one-hot shift batch is built with a
Python loop over samples and pushed through the deformator; gradients are zeroed (not freed) each step; and the
statistics are read with .item() each step. Reconstructor, optimiser, sampling and sizes are the same.

    .venv/bin/python bench/voynov.py                 # 3 rounds x 40 timed steps per variant, 4 variants
    .venv/bin/python bench/voynov.py --rounds 1 --steps 20 --interleaved 30
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("gansteer", "gansteer-bf16", "gansteer-no-fast", "reference-like")
WARMUP = 5


def measure(variant: str, steps: int, threads: int) -> dict[str, object]:
    import torch

    torch.set_num_threads(threads)
    from gansteer import load_generator
    from gansteer.methods.voynov import Voynov

    G = load_generator("dcgan-face")
    total = WARMUP + steps
    stamps: list[float] = []
    if variant.startswith("gansteer"):
        method = Voynov(k=100, reconstructor="lenet", batch_size=32, steps=total, fast=variant != "gansteer-no-fast",
                        precision="bfloat16" if variant == "gansteer-bf16" else "float32")
        method.fit(G, progress=False, callbacks=[lambda step, scalars: stamps.append(time.perf_counter())])
    else:
        reference_like(G, total, stamps)
    seconds = stamps[-1] - stamps[WARMUP - 1]
    return {"variant": variant, "steps_per_s": round(steps / seconds, 3),
            "ms_per_step": round(1000 * seconds / steps, 1), "threads": threads,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def interleaved(steps: int, threads: int) -> dict[str, object]:
    """Both steps in one process, alternating step by step: load changes hit both alike (robust on a busy box)."""
    import torch

    torch.set_num_threads(threads)
    from gansteer import load_generator
    from gansteer.methods.voynov import Voynov

    sys.path.insert(0, str(Path(__file__).parent))
    from training_common import step as training_step

    G, G_ref = load_generator("dcgan-face"), load_generator("dcgan-face")
    steps_of: dict[str, object] = {}
    for name, precision in (("gansteer", "float32"), ("gansteer-bf16", "bfloat16")):
        method = Voynov(k=100, reconstructor="lenet", batch_size=32, steps=1, precision=precision)
        method.fit(G, progress=False)
        method.modules_.train()
        G_step = method.training_generator(G)  # what the loop hands each step: the fast copy
        rng = torch.Generator().manual_seed(0)
        steps_of[name] = lambda m=method, g=G_step, r=rng: training_step(m, g, r)  # the body of the loop's step
    steps_of["reference-like"] = reference_like(G_ref, None, [])
    times: dict[str, list[float]] = {name: [] for name in steps_of}
    for i in range(WARMUP + steps):
        for name, step in list(steps_of.items())[:: 1 if i % 2 else -1]:
            start = time.perf_counter()
            step()  # type: ignore[operator]
            if i >= WARMUP:
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["reference-like"]
    return {"mode": "interleaved", "steps": steps, "threads": threads,
            **{f"{k.replace('-', '_')}_ms": round(1000 * v, 1) for k, v in med.items()},
            **{f"{k.replace('-', '_')}_steps_per_s": round(1 / v, 3) for k, v in med.items()},
            "ratio": round(ref / med["gansteer"], 2), "ratio_bf16": round(ref / med["gansteer-bf16"], 2),
            "load_avg_1m": os.getloadavg()[0]}


def reference_like(G, total: int | None, stamps: list[float]):  # type: ignore[no-untyped-def]
    """Run `total` reference-like steps; with total=None, return a function doing one step instead."""
    import torch
    import torch.nn.functional as F

    from gansteer.nets import create_reconstructor

    k, batch, dim = 100, 32, G.latent_dim
    for p in G.parameters():  # the reference never freezes G
        p.requires_grad_(True)
    rng = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    log_mat_half = torch.nn.Parameter(torch.randn(k, k))  # ortho deformator: expm(M - M^T), K x K
    R = create_reconstructor("lenet", channels=G.channels, num_directions=k)
    opt_a = torch.optim.Adam([log_mat_half], lr=1e-4)
    opt_r = torch.optim.Adam(R.parameters(), lr=1e-4)
    def step() -> None:
        G.zero_grad(set_to_none=False)
        opt_a.zero_grad(set_to_none=False)
        opt_r.zero_grad(set_to_none=False)
        z = torch.randn(batch, dim, generator=rng)
        target = torch.randint(0, k, (batch,), generator=rng)
        shifts = 6.0 * (2.0 * torch.rand(batch, generator=rng) - 1.0)
        shifts[(shifts < 0.5) & (shifts > 0)] = 0.5
        shifts[(shifts > -0.5) & (shifts < 0)] = -0.5
        basis_shift = torch.zeros(batch, k)
        for i, (index, val) in enumerate(zip(target, shifts, strict=True)):
            basis_shift[i][index] += val
        mat = torch.linalg.matrix_exp(log_mat_half - log_mat_half.T)
        shift = F.linear(basis_shift, mat)  # (N, K) -> (N, K); K = D here, so no padding
        images = G(z)
        shifted = G(z + shift)
        logits, shift_hat = R(images, shifted)
        logit_loss = F.cross_entropy(logits, target)
        shift_loss = 0.25 * (shift_hat - shifts).abs().mean()
        loss = logit_loss + shift_loss
        loss.backward()
        opt_a.step()
        opt_r.step()
        _ = (logits.argmax(1) == target).float().mean().item(), loss.item(), logit_loss.item(), shift_loss.item()

    if total is None:
        return step
    for _ in range(total):
        step()
        stamps.append(time.perf_counter())
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement (after 5 warm-up steps)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # internal: one measurement
    parser.add_argument("--interleaved", type=int, default=30, metavar="STEPS",
                        help="then alternate both steps in one process for STEPS steps each (0: skip)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.steps, args.threads)), flush=True)
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": str(Path(__file__).parents[1] / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        shift = r % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:  # rotate the order from round to round
            out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps),
                                  "--threads", str(args.threads)], capture_output=True, text=True, env=env, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[variant].append(row["steps_per_s"])
            print(json.dumps({"round": r, **row}), flush=True)
    if args.rounds:
        med = {v: statistics.median(results[v]) for v in VARIANTS}
        ref = med["reference-like"]
        print(json.dumps({"summary": "voynov dcgan-face batch 32 K=100 lenet orthonormal", "threads": args.threads,
                          **{f"{v.replace('-', '_')}_steps_per_s": s for v, s in med.items()},
                          **{f"ratio_{v.replace('-', '_')}": round(s / ref, 2) for v, s in med.items() if s != ref},
                          "load_avg_1m": os.getloadavg()[0]}), flush=True)
    if args.interleaved:
        print(json.dumps(interleaved(args.interleaved, args.threads)), flush=True)


if __name__ == "__main__":
    main()
