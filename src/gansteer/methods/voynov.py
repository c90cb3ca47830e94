"""Voynov & Babenko (ICML 2020, seeds 000 / 004): learn a direction matrix A with a reconstructor R.

A random column k of A, scaled by a random shift eps, moves a latent: z' = z + eps * A[:, k]. R sees the image pair
(G(z), G(z')) and must tell which direction moved it (cross-entropy on k) and how far (lambda * MAE on eps). A and R
are trained jointly with Adam while G stays frozen, so A ends up holding directions whose effects are easy to tell
apart -- in practice, interpretable and disentangled ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator, mapped
from ..nets import create_reconstructor
from ..registry import METHODS, RECONSTRUCTORS
from .base import check_positive
from .training import TrainedMethod

DIRECTION_TYPES = ("orthonormal", "unit-norm", "linear", "random", "identity", "fixed")
# fmt: off
PRESETS: dict[str, dict[str, Any]] = {  # seed 004 ("training details"); dcgan-face is ours (see the README)
    "sngan-mnist": {"k": 64, "reconstructor": "lenet", "batch_size": 128, "steps": 100_000},
    "sngan-anime": {"k": 128, "reconstructor": "lenet", "batch_size": 128, "steps": 100_000},
    "biggan":      {"k": 120, "reconstructor": "resnet18", "batch_size": 32, "steps": 100_000},
    "proggan":     {"k": 200, "reconstructor": "resnet18", "batch_size": 10, "steps": 200_000},
    "dcgan-face":  {"k": 100, "reconstructor": "lenet", "batch_size": 32, "steps": 100_000},
}
# fmt: on
ACCURACY_DECAY = 0.99  # per-direction running accuracy, weighted toward about the last 100 steps


class DirectionMatrix(nn.Module):
    """A (D, K): column k is direction k. The kinds of seed 000 plus the two RCA baselines and a given matrix."""

    def __init__(self, dim: int, k: int, kind: str = "orthonormal", matrix: Tensor | None = None) -> None:
        super().__init__()
        if kind not in DIRECTION_TYPES:
            raise GansteerError(f"unknown directions type {kind!r}; expected one of: {', '.join(DIRECTION_TYPES)}")
        if kind in ("orthonormal", "identity") and k > dim:
            raise GansteerError(f"{kind} directions need k <= latent dimension; got k={k} > {dim}")
        self.dim, self.k, self.kind = dim, k, kind
        if kind == "orthonormal":
            # A = Q0 cayley(S - S^T)[:, :K]: the Cayley map of a skew-symmetric matrix is orthogonal whatever S is,
            # so A stays orthonormal exactly (the paper uses expm; Cayley costs one solve instead of a Pade
            # expansion and its backward is 40x cheaper). S starts at 0 (well-conditioned, dA = 2 Q0 dW at S = 0)
            # and a fixed random rotation Q0 makes the first frame random, like the reference's random start.
            self.skew_half = nn.Parameter(torch.zeros(dim, dim))
            self.register_buffer("base", nn.init.orthogonal_(torch.empty(dim, dim)))
        elif kind in ("unit-norm", "linear"):
            self.weight = nn.Parameter(0.1 * torch.randn(dim, k))
        elif kind == "random":
            self.register_buffer("matrix", nn.init.orthogonal_(torch.empty(dim, k)))
        elif kind == "identity":
            self.register_buffer("matrix", torch.eye(dim, k))
        else:  # fixed: a given (K, D) set of directions, e.g. a learned A under RCA
            if matrix is None or tuple(matrix.shape) != (k, dim):
                got = None if matrix is None else tuple(matrix.shape)
                raise GansteerError(f"fixed directions have shape {got}; expected ({k}, {dim})")
            self.register_buffer("matrix", matrix.detach().float().T.contiguous())

    @property
    def trainable(self) -> bool:
        return self.kind in ("orthonormal", "unit-norm", "linear")

    def forward(self) -> Tensor:
        if self.kind == "orthonormal":
            s = self.skew_half.double()  # float64: orthonormal to ~1e-15 before the cast back, at negligible cost
            w = s - s.T
            eye = torch.eye(self.dim, dtype=w.dtype, device=w.device)
            cayley = torch.linalg.solve(eye - w, (eye + w)[:, : self.k])  # (D, K) = (I - W)^-1 (I + W) [:, :K]
            return (self.base.double() @ cayley).to(self.skew_half.dtype)
        if self.kind == "unit-norm":
            return self.weight / self.weight.norm(dim=0, keepdim=True).clamp_min(1e-12)
        if self.kind == "linear":
            return self.weight
        return self.matrix


@dataclass
class Voynov(TrainedMethod):
    """Directions A (D x K) and a reconstructor R trained so that R recovers (k, eps) from (G(z), G(z + eps A_k))."""

    k: int = 100  # number of directions K (dcgan-face preset: a full basis of its 100-d latent)
    directions_type: str = "orthonormal"  # orthonormal | unit-norm | linear | random | identity (| fixed, for RCA)
    reconstructor: str = "lenet"  # any name in RECONSTRUCTORS: lenet, resnet18 (+ -tiny variants)
    shift_weight: float = 0.25  # lambda: weight of the MAE on eps
    shift_scale: float = 6.0  # eps ~ U[-shift_scale, shift_scale]
    min_shift: float = 0.5  # ... then sign(eps) * max(|eps|, min_shift)
    space: str = "z"  # "z", or "w" for StyleGAN-like generators
    classes: tuple[int, ...] | None = None  # conditional generators: classes to draw from (default: all)
    fast: bool = True  # train on a private copy of G (BatchNorm folded, channels-last) and R's first conv channels-last
    precision: str = "float32"  # or "bfloat16": G runs in bfloat16, about 2x faster on CPUs that have it
    steps: int = 100_000
    batch_size: int = 32
    lr: float = 1e-4

    name = "voynov"

    def __post_init__(self) -> None:
        check_positive("k", self.k)
        if self.directions_type not in DIRECTION_TYPES:
            raise GansteerError(
                f"unknown directions type {self.directions_type!r}; expected one of: {', '.join(DIRECTION_TYPES)}"
            )
        RECONSTRUCTORS.entry(self.reconstructor)  # unknown name -> one-line error listing the valid ones
        for name in ("shift_scale", "min_shift"):
            if not getattr(self, name) > 0:
                raise GansteerError(f"{name}={getattr(self, name)!r} is invalid; expected a positive number")
        if not self.shift_weight >= 0:
            raise GansteerError(f"lambda={self.shift_weight!r} is invalid; expected a number >= 0")
        if self.space.endswith("+"):
            raise GansteerError(f"space {self.space!r}: Voynov directions live in a flat space (z or w)")
        if self.classes is not None:
            self.classes = tuple(int(c) for c in self.classes)
        self.fixed_directions: Tensor | None = None

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> Voynov:
        """`Voynov.from_preset("biggan", k=60)`: the seed's settings, any of them overridden (None = keep)."""
        if preset not in PRESETS:
            raise GansteerError(f"unknown preset {preset!r}; expected one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def fixed(cls, directions: Tensor, **params: Any) -> Voynov:
        """Train only R against given, frozen directions (K, D): what the RCA metric needs."""
        method = cls(k=int(directions.shape[0]), directions_type="fixed", **params)
        method.fixed_directions = directions
        return method

    # ------------------------------------------------------------------ model
    def build(self, generator: Generator) -> nn.ModuleDict:
        probe = generator.sample_latent(2, generator=torch.Generator().manual_seed(0), space=self.space,
                                        cond=0 if generator.num_classes else None)
        dim = int(probe.shape[-1])
        if generator.num_classes and self.classes and not all(0 <= c < generator.num_classes for c in self.classes):
            raise GansteerError(f"classes {list(self.classes)} out of range; expected 0..{generator.num_classes - 1}")
        R = create_reconstructor(self.reconstructor, channels=generator.channels, num_directions=self.k, fast=self.fast)
        stats = nn.Module()
        stats.register_buffer("hits", torch.zeros(self.k, dtype=torch.float64))
        stats.register_buffer("draws", torch.zeros(self.k, dtype=torch.float64))
        return nn.ModuleDict({"A": DirectionMatrix(dim, self.k, self.directions_type, self.fixed_directions),
                              "R": R, "stats": stats})

    def sample(self, generator: Generator, rng: torch.Generator, n: int) -> tuple[Tensor, Tensor, Tensor, Any]:
        """Latents (N, D) of `space`, direction indices k (N,), shifts eps (N,), classes (or None), all drawn from
        `rng`; z is mapped into `space` after the classes are drawn (a conditional mapping needs them)."""
        z = generator.sample_latent(n, generator=rng)
        k = torch.randint(0, self.k, (n,), generator=rng)
        eps = (2 * torch.rand(n, generator=rng) - 1) * self.shift_scale
        eps = torch.sign(eps) * eps.abs().clamp_min(self.min_shift)
        cond = None
        if generator.num_classes:
            pool = torch.tensor(self.classes) if self.classes else torch.arange(generator.num_classes)
            cond = pool[torch.randint(0, len(pool), (n,), generator=rng)].to(generator.device)
        return mapped(generator, z, self.space, cond), k.to(z.device), eps.to(z.device, z.dtype), cond

    def training_step(self, generator: Generator, rng: torch.Generator) -> dict[str, Tensor]:
        A, R = self.modules_["A"], self.modules_["R"]
        z, k, eps, cond = self.sample(generator, rng, self.batch_size)
        with torch.no_grad():  # no graph for the unshifted image (inference-mode tensors cannot enter R's graph)
            image = generator(z, space=self.space, cond=cond)
        shift = eps[:, None] * A().T[k]  # (N, D): gradients reach only the K columns drawn
        shifted = generator(z + shift, space=self.space, cond=cond)
        logits, eps_hat = R(image, shifted)  # (N, K), (N,); with fast=True, R's first convolution takes channels-last
        ce = F.cross_entropy(logits, k)
        mae = (eps_hat - eps).abs().mean()
        correct = logits.detach().argmax(1) == k
        self._track(k, correct)
        return {"loss": ce + self.shift_weight * mae, "ce": ce, "mae": mae, "accuracy": correct.float().mean()}

    def _track(self, k: Tensor, correct: Tensor) -> None:
        stats = self.modules_["stats"]
        stats.hits.mul_(ACCURACY_DECAY).index_add_(0, k, correct.double())
        stats.draws.mul_(ACCURACY_DECAY).index_add_(0, k, torch.ones_like(k, dtype=torch.float64))

    # ----------------------------------------------------------------- output
    def direction_matrix(self) -> Tensor:
        """The learned directions as rows (K, D)."""
        modules = self.check_fitted("modules_")
        with torch.no_grad():
            return modules["A"]().detach().float().T.cpu()

    def direction_accuracy(self) -> Tensor:
        """R's running accuracy per direction (K,): how recognisable each direction's effect is."""
        stats = self.check_fitted("modules_")["stats"]
        return (stats.hits / stats.draws.clamp_min(1e-9)).float().cpu()

    def directions(self) -> DirectionSet:
        vectors = self.direction_matrix()
        params = {k: v for k, v in self.params().items() if k != "fast"}
        return DirectionSet(
            vectors, space=self.space, method=self.name, params=params, generator=self.generator_,
            generator_hash=self.generator_hash_,
            shift_range=torch.tensor([[-self.shift_scale, self.shift_scale]]).repeat(self.k, 1),
            tensors={"accuracy": self.direction_accuracy()},
        )


METHODS.register("voynov", help="learned direction matrix + reconstructor (Voynov & Babenko, seeds 000/004)")(Voynov)
