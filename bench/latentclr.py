"""LatentCLR training speed on dcgan-face (batch 32, K=32, global, 2 threads): gansteer's step vs a reference-like one.

    python bench/latentclr.py [--steps 4] [--warmup 1] [--threads 2] [--layer block2]

Prints one JSON line per variant: steps/s, step latency, peak RSS, speed ratio to `reference-like`, and the largest
difference between its loss trace and the reference-like one (same seed: the variants compute the same thing).

`reference-like` reproduces what catlab-team/latentclr's training step does differently, on the same generator,
direction model, loss value and loop (it is not the reference code): the generator's weights keep requires_grad
(colat's runner never freezes the generator; its optimiser holds only the direction model, so every backward also
computes generator weight gradients), the K x N edited latents go through the generator in K separate calls of N
(one per direction), each chunk's divergences are normalised on their own, and
the positive / negative masks are built in a Python loop and applied with masked_select (exp, sum, log instead of
logsumexp). `gansteer` is the library's step: one generator call for all K x N edits, on a private fast copy of the
generator (BatchNorm folded, channels-last weights). `gansteer-plain` is that step on the generator as given;
`gansteer-bf16` runs the fast copy in bfloat16 (precision="bfloat16"; the directions stay float32).
"""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from training_common import (  # noqa: E402
    VARIANTS,
    GeneratorGradients,
    child_peak_rss,
    interleaved,
    report,
    rss_child,
    variant_options,
)

from gansteer import load_generator  # noqa: E402
from gansteer.methods.latentclr import LatentCLR  # noqa: E402


@dataclass
class ReferenceLikeCLR(GeneratorGradients, LatentCLR):
    def training_step(self, generator, rng):  # type: ignore[no-untyped-def]
        k, n = self.num_directions, self.batch_size
        z = generator.sample_latent(n, generator=rng)
        with torch.no_grad():
            base = self.features(generator, z, None)
        edits = (z + self.alpha * self.modules_["directions"].all_fields(z)).reshape(k * n, -1)
        chunks = []
        for j in range(k):  # one generator call per direction
            f = self.features(generator, edits[j * n:(j + 1) * n], None) - base
            chunks.append(f / f.norm(dim=1, keepdim=True))
        out = torch.cat(chunks)
        sim = torch.exp(out @ out.T / self.temperature)
        mask = torch.zeros(k * n, k * n, dtype=torch.bool)
        for i in range(k):
            mask[i * n:(i + 1) * n, i * n:(i + 1) * n] = True
        off_diag = ~torch.eye(k * n, dtype=torch.bool)
        pos = sim.masked_select(mask & off_diag).view(k * n, -1).sum(-1)
        neg = sim.masked_select(~mask).view(k * n, -1).sum(-1)
        return {"loss": -torch.log(pos / neg).mean()}


def make(variant: str, layer: str = "block2") -> tuple[LatentCLR, object]:
    cls = ReferenceLikeCLR if variant == "reference-like" else LatentCLR
    method = cls(num_directions=32, batch_size=32, model="global", layer=layer, **variant_options(variant))
    return method, load_generator("dcgan-face")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--steps", type=int, default=4, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layer", default="block2", help="generator layer G_f (the default for dcgan-face)")
    ap.add_argument("--rss-child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    build = functools.partial(make, layer=a.layer)
    if a.rss_child:
        return rss_child(build, a.rss_child, 1)
    variants = a.variants.split(",")
    rss = {v: child_peak_rss(__file__, v, ["--threads", str(a.threads), "--layer", a.layer]) for v in variants}
    results = interleaved(build, variants, warmup=a.warmup, steps=a.steps)
    report(results, rss, "reference-like", {"bench": "latentclr", "generator": "dcgan-face", "batch": 32, "K": 32,
                                            "model": "global", "layer": a.layer, "threads": a.threads})


if __name__ == "__main__":
    main()
