"""Shared by the training benchmarks: compare training-step variants fairly on a shared, noisy machine.

Speed: all variants live in one process (each with its own generator copy) and take their steps in turn (A, B, C,
A, B, C, ...), so a change in machine load hits every variant alike; steps/s = 1 / mean step time after warm-up.
Memory: peak RSS (resource.getrusage) needs a process per variant, so each variant also runs a few steps alone in a
child process. A step is exactly the training loop's body (training_step, zero_grad, backward, optimiser steps).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

VARIANTS = ["gansteer", "gansteer-bf16", "gansteer-plain", "reference-like"]


def variant_options(variant: str) -> dict[str, Any]:
    """Method options of a variant: the fast generator copy for gansteer and gansteer-bf16, bfloat16 for the latter;
    gansteer-plain and reference-like run on the generator as given."""
    return {"fast": variant in ("gansteer", "gansteer-bf16"),
            "precision": "bfloat16" if variant == "gansteer-bf16" else "float32"}


class GeneratorGradients:
    """Mixin for reference-like methods: the generator's weights keep requires_grad, as the reference trainers never
    freeze it, so every backward also computes generator weight gradients."""

    def build(self, generator: Any) -> Any:
        modules = super().build(generator)  # type: ignore[misc]
        for p in generator.parameters():
            p.requires_grad_(True)
        return modules


def prepare(method: Any, generator: Any) -> tuple[Any, torch.Generator]:
    """What `TrainedMethod.fit` does before its loop: freeze G, build the modules, make the optimisers.

    Returns what the steps run (the method's training generator: the fast copy by default) and the sample rng."""
    generator.freeze()
    method.generator_, method.generator_hash_ = generator.name, ""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(method.seed)
        method.modules_ = method.build(generator).to(generator.device)
    method.modules_.train()
    method.optimizers_ = method.make_optimizers(method.modules_)
    return method.training_generator(generator), torch.Generator().manual_seed(method.seed)


def step(method: Any, generator: Any, rng: torch.Generator) -> float:
    """One training step, as the loop takes it; returns the loss."""
    losses = method.training_step(generator, rng)
    for opt in method.optimizers_:
        opt.zero_grad(set_to_none=True)
    losses["loss"].backward()
    for opt in method.optimizers_:
        opt.step()
    return float(losses["loss"].detach())


def interleaved(make: Callable[[str], tuple[Any, Any]], variants: Sequence[str], *, warmup: int,
                steps: int) -> dict[str, dict[str, Any]]:
    """Time `steps` steps per variant, taken in turn, after `warmup` untimed turns."""
    runs = {}
    for v in variants:
        method, generator = make(v)
        runs[v] = (method, *prepare(method, generator))
    times: dict[str, list[float]] = {v: [] for v in variants}
    losses: dict[str, list[float]] = {v: [] for v in variants}
    for i in range(warmup + steps):
        for v in variants:
            method, generator, rng = runs[v]
            start = time.perf_counter()
            losses[v].append(step(method, generator, rng))
            if i >= warmup:
                times[v].append(time.perf_counter() - start)
    out = {}
    for v in variants:
        lat = sorted(times[v])
        out[v] = {"steps_per_s": round(len(lat) / sum(lat), 4), "step_ms_p50": round(1000 * statistics.median(lat), 1),
                  "step_ms_p90": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1), "losses": losses[v]}
    return out


def child_peak_rss(script: str, variant: str, args: Sequence[str]) -> float:
    """Peak RSS (MB) of `script --rss-child VARIANT *args`, a process that only builds and steps that variant."""
    out = subprocess.run([sys.executable, script, "--rss-child", variant, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{out.stderr[-3000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def rss_child(make: Callable[[str], tuple[Any, Any]], variant: str, steps: int) -> None:
    method, generator = make(variant)
    generator, rng = prepare(method, generator)
    for _ in range(steps):
        step(method, generator, rng)
    print(json.dumps({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def report(results: dict[str, dict[str, Any]], rss: dict[str, float], baseline: str, context: dict[str, Any]) -> None:
    """One JSON line per variant: speed, latency, peak RSS, speed-up over `baseline`, and whether its loss trace
    equals the baseline's (same seed and same mathematics give the same losses)."""
    base = results[baseline]
    for v, r in results.items():
        same = max(abs(a - b) for a, b in zip(r["losses"], base["losses"], strict=True))
        print(json.dumps({
            **context, "variant": v, "steps_per_s": r["steps_per_s"], "step_ms_p50": r["step_ms_p50"],
            "step_ms_p90": r["step_ms_p90"], "peak_rss_mb": rss.get(v), f"speedup_vs_{baseline}":
            round(r["steps_per_s"] / base["steps_per_s"], 2), "max_loss_diff_vs_baseline": float(f"{same:.2g}"),
            "steps": len(r["losses"]),
        }), flush=True)
