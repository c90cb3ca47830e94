"""Reconstructor classification accuracy (RCA, seed 000): how well a fresh reconstructor can tell directions apart.

Train a new reconstructor R against a *fixed* direction matrix (learned, random or coordinate axes) and report R's
accuracy at naming the direction k on held-out samples. Interpretable, disentangled directions are easy to tell
apart, so a learned A should score far above random or coordinate directions (chance is 1/K).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..methods.voynov import Voynov
from ..registry import METRICS

HELD_OUT_SEED = 7_919_000  # evaluation samples come from a stream training never draws from


@torch.no_grad()
def reconstructor_accuracy(method: Voynov, generator: Generator, *, batches: int = 20, seed: int = 0) -> float:
    """Accuracy of a fitted Voynov model's reconstructor at naming k, over `batches` held-out batches."""
    A, R = method.check_fitted("modules_")["A"], method.modules_["R"]
    rng = torch.Generator().manual_seed(HELD_OUT_SEED + seed)
    was_training = R.training
    R.eval()
    directions = A().T  # (K, D)
    correct = total = 0
    for _ in range(batches):
        z, k, eps, cond = method.sample(generator, rng, method.batch_size)
        image = generator(z, space=method.space, cond=cond)
        shifted = generator(z + eps[:, None] * directions[k], space=method.space, cond=cond)
        logits, _ = R(image, shifted)
        correct += int((logits.argmax(1) == k).sum())
        total += k.numel()
    R.train(was_training)
    return correct / total


def baseline_directions(kind: str, k: int, dim: int, *, seed: int = 0) -> Tensor:
    """(K, D) baselines of seed 000: "random" (orthonormal when K <= D, else unit Gaussian) or "identity" (axes)."""
    if kind == "identity":
        if k > dim:
            raise GansteerError(f"identity directions need k <= latent dimension; got k={k} > {dim}")
        return torch.eye(k, dim)
    if kind == "random":
        g = torch.randn(dim, k, generator=torch.Generator().manual_seed(seed))
        vectors = torch.linalg.qr(g).Q if k <= dim else g / g.norm(dim=0, keepdim=True)
        return vectors.T.contiguous()
    raise GansteerError(f"unknown baseline {kind!r}; expected random or identity")


def rca(generator: Generator, directions: DirectionSet | Tensor, *, steps: int = 2000, eval_batches: int = 20,
        progress: bool = False, **params: Any) -> float:
    """Train a fresh reconstructor for `steps` against fixed `directions` (K, D); its held-out accuracy.

    `params` are Voynov's (reconstructor, batch_size, lr, shift_scale, space, seed, ...)."""
    vectors = directions.vectors if isinstance(directions, DirectionSet) else directions
    if vectors is None:
        raise GansteerError("RCA needs linear directions (a DirectionSet with vectors)")
    if isinstance(directions, DirectionSet):
        params.setdefault("space", directions.space)
    method = Voynov.fixed(vectors, steps=steps, **params).fit(generator, progress=progress)
    return reconstructor_accuracy(method, generator, batches=eval_batches, seed=method.seed)


def rca_table(generator: Generator, learned: DirectionSet, *, seed: int = 0, **kwargs: Any) -> dict[str, float]:
    """Seed 000's comparison: RCA of the learned directions, random directions and coordinate axes (same K)."""
    vectors = learned.vectors
    if vectors is None:
        raise GansteerError("RCA needs linear directions (a DirectionSet with vectors)")
    k, dim = vectors.shape
    rows = {"learned": vectors, "random": baseline_directions("random", k, dim, seed=seed)}
    if k <= dim:
        rows["identity"] = baseline_directions("identity", k, dim)
    return {name: rca(generator, v, seed=seed, space=learned.space, **kwargs) for name, v in rows.items()}


METRICS.register("rca", help="reconstructor classification accuracy against fixed directions (seed 000)")(rca)
