"""Shared by the training benchmarks: time one variant in a child process, alternate variants over rounds.

Each (round, variant) runs in its own process so that peak RSS (resource.getrusage) belongs to that variant alone;
alternating the variants round by round spreads any change in machine load over all of them equally.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any


def time_fit(method: Any, generator: Any, *, warmup: int, steps: int) -> dict[str, Any]:
    """Fit for warmup + steps steps; steps/s and latency percentiles over the last `steps` only."""
    stamps: list[float] = []
    start = time.perf_counter()
    method.fit(generator, steps=warmup + steps, progress=False,
               callbacks=[lambda *_: stamps.append(time.perf_counter())])
    stamps = [start, *stamps][warmup:]
    lat = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    return {
        "steps_per_s": round(steps / (stamps[-1] - stamps[0]), 4),
        "step_ms_p50": round(1000 * lat[len(lat) // 2], 1),
        "step_ms_p90": round(1000 * lat[int(0.9 * (len(lat) - 1))], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "final_loss": round(method.history_["loss"][-1], 4),
    }


def run_rounds(script: str, variants: Sequence[str], rounds: int, args: Sequence[str]) -> dict[str, list[dict]]:
    """Run `script --variant V *args` for each variant, `rounds` times, alternating; a child prints one JSON line."""
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants:
            out = subprocess.run([sys.executable, script, "--variant", v, *args], capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"variant {v} failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[v].append(row)
            print(json.dumps({"round": r, **row}), flush=True)
    return results


def summarise(results: dict[str, list[dict]], baseline: str, context: dict[str, Any]) -> None:
    """One summary line per variant (median steps/s over rounds, max peak RSS) and its speed ratio to `baseline`."""
    base = statistics.median(r["steps_per_s"] for r in results[baseline])
    for v, rows in results.items():
        sps = statistics.median(r["steps_per_s"] for r in rows)
        print(json.dumps({
            "summary": v, **context, "steps_per_s": round(sps, 4),
            "step_ms_p50": statistics.median(r["step_ms_p50"] for r in rows),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rows), "speedup_vs_" + baseline: round(sps / base, 2),
            "rounds": len(rows),
        }), flush=True)
