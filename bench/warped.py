"""WarpedGANSpace training speed on dcgan-face (batch 32, LeNet, 2 threads): gansteer's step vs a reference-like step.

    python bench/warped.py [--steps 8] [--warmup 2] [--threads 2]

Prints one JSON line per variant: steps/s, step latency, peak RSS, speed ratio to `reference-like`, and the largest
difference between its loss trace and the reference-like one (same seed: the variants compute the same thing).

`reference-like` reproduces what chi0tzp/WarpedGANSpace's training step does differently from ours, on the same
generator, reconstructor, warpings, loss and loop (it is not the reference code, which cannot be fetched or run here):
  * the generator's weights keep requires_grad=True (the reference never turns it off), so every backward also
    computes the generator's weight gradients, which are then thrown away (generator.zero_grad() each step);
  * the unshifted image G(z) is computed with autograd recording, so the backward also runs through it;
  * support sets, weights and scales are gathered with a one-hot mask matmul built in a Python loop, and the RBF
    differences with z.repeat(...) (the reference's formulation).
`gansteer` is the library's step: frozen generator (by default a private fast copy with BatchNorm folded into the
convolutions and channels-last weights, generators.fusion.fast_copy), G(z) under no_grad, indexed support sets.
`gansteer-plain` is the same step on the generator as given (fast=False); `gansteer-bf16` is the fast step with
precision="bfloat16" (the frozen generator runs in bfloat16; warpings and reconstructor stay float32).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

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
from gansteer.methods.sampling import sample_indices, sample_shifts  # noqa: E402
from gansteer.methods.warped import WarpedGANSpace  # noqa: E402


@dataclass
class ReferenceLikeWarped(GeneratorGradients, WarpedGANSpace):
    def training_step(self, generator, rng):  # type: ignore[no-untyped-def]
        generator.zero_grad()
        b, k_sets = self.batch_size, self.num_warpings
        w = self.modules_["warpings"]
        m, d = 2 * w.num_dipoles, w.latent_dim
        z = generator.sample_latent(b, generator=rng)
        k = sample_indices(b, k_sets, rng)
        eps = sample_shifts(b, self.min_shift, self.max_shift, rng)
        mask = torch.zeros(b, k_sets)
        for i, index in enumerate(k):
            mask[i][index] += 1.0
        centres = (mask @ w.centres.reshape(k_sets, -1)).reshape(b, m, d)
        alphas = (mask @ w.alphas).unsqueeze(2)
        gammas = torch.exp(mask @ w.log_gammas).repeat_interleave(2, dim=1).unsqueeze(2)
        diff = z.unsqueeze(1).repeat(1, m, 1) - centres
        grad = -2 * (alphas * gammas * torch.exp(-gammas * (torch.norm(diff, dim=2) ** 2).unsqueeze(2)) * diff).sum(1)
        shift = eps.reshape(-1, 1) * grad / torch.norm(grad, dim=1, keepdim=True)
        image = generator(z)
        shifted = generator(z + shift)
        logits, predicted = self.modules_["reconstructor"](image, shifted)
        classification = F.cross_entropy(logits, k)
        regression = torch.mean(torch.abs(predicted - eps))
        return {"loss": self.lambda_cls * classification + self.lambda_reg * regression}


def make(variant: str) -> tuple[WarpedGANSpace, object]:
    cls = ReferenceLikeWarped if variant == "reference-like" else WarpedGANSpace
    method = cls.preset("dcgan-face", batch_size=32, reconstructor="lenet", **variant_options(variant))
    return method, load_generator("dcgan-face")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rss-child", choices=VARIANTS, help=argparse.SUPPRESS)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.rss_child:
        return rss_child(make, a.rss_child, 2)
    variants = a.variants.split(",")
    rss = {v: child_peak_rss(__file__, v, ["--threads", str(a.threads)]) for v in variants}
    results = interleaved(make, variants, warmup=a.warmup, steps=a.steps)
    report(results, rss, "reference-like", {"bench": "warped", "generator": "dcgan-face", "batch": 32,
                                            "reconstructor": "lenet", "threads": a.threads})


if __name__ == "__main__":
    main()
