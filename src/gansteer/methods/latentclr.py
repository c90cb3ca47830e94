"""LatentCLR (Yüksel, Simsar, Er & Yanardag, ICCV 2021): directions that are told apart by a contrastive loss.

For N latents z_i and K edits z_i + alpha d_k(z_i), the feature divergences f_i^k = G_f(z_i + alpha d_k(z_i)) - G_f(z_i)
at a generator layer f should agree for the same k and differ across k:

    l(z_i^k) = -log( sum_{j != i} exp(sim(f_i^k, f_j^k) / tau) / sum_j sum_{l != k} exp(sim(f_i^k, f_j^l) / tau) )

with cosine similarity sim; the loss is the mean over i, k. Edits d_k(z) are unit vectors from one of three models:
Global (K learned vectors), Linear (M_k z) and Nonlinear (a two-layer MLP per direction). Global directions are
saved as plain vectors; Linear and Nonlinear ones as a non-linear direction model followed in steps of alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..registry import DIRECTION_MODELS, METHODS
from .base import check_positive
from .paths import PathDirections, normalize
from .sampling import sample_classes
from .training import TrainedMethod


class GlobalDirections(nn.Module):
    """K learned vectors, the same direction at every z."""

    def __init__(self, num_directions: int, latent_dim: int) -> None:
        super().__init__()
        self.num_directions, self.latent_dim = num_directions, latent_dim
        self.vectors = nn.Parameter(torch.randn(num_directions, latent_dim))

    def all_fields(self, z: Tensor) -> Tensor:
        """(K, N, D) unit directions for every k at every row of z."""
        return normalize(self.vectors).unsqueeze(1).expand(-1, z.shape[0], -1)


@DIRECTION_MODELS.register("latentclr-linear", help="LatentCLR Linear: d_k(z) = M_k z / |M_k z|")
class LinearDirections(PathDirections):
    """d_k(z) = M_k z, normalised; weight (K, D, D)."""

    def __init__(self, num_directions: int, latent_dim: int, *, step: float = 3.0) -> None:
        super().__init__(num_directions, latent_dim, step)
        bound = latent_dim ** -0.5  # nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(num_directions, latent_dim, latent_dim).uniform_(-bound, bound))

    def config(self) -> dict[str, Any]:
        return {"num_directions": self.num_directions, "latent_dim": self.latent_dim, "step": self.step}

    def all_fields(self, z: Tensor) -> Tensor:
        return normalize(torch.einsum("kij,nj->kni", self.weight.to(z), z))

    def field(self, z: Tensor, k: int | Tensor) -> Tensor:
        if isinstance(k, int):
            return normalize(z @ self.weight[k].to(z).T)
        return normalize(torch.einsum("nij,nj->ni", self.weight[k].to(z), z))


@DIRECTION_MODELS.register("latentclr-nonlinear", help="LatentCLR Nonlinear: a two-layer MLP per direction")
class NonlinearDirections(PathDirections):
    """d_k(z) = W2_k relu(W1_k z + b1_k) + b2_k, normalised."""

    def __init__(self, num_directions: int, latent_dim: int, *, hidden: int | None = None, step: float = 3.0) -> None:
        super().__init__(num_directions, latent_dim, step)
        k, d = num_directions, latent_dim
        self.hidden = h = int(hidden or d)
        self.w1 = nn.Parameter(torch.empty(k, h, d).uniform_(-(d ** -0.5), d ** -0.5))
        self.b1 = nn.Parameter(torch.empty(k, h).uniform_(-(d ** -0.5), d ** -0.5))
        self.w2 = nn.Parameter(torch.empty(k, d, h).uniform_(-(h ** -0.5), h ** -0.5))
        self.b2 = nn.Parameter(torch.empty(k, d).uniform_(-(h ** -0.5), h ** -0.5))

    def config(self) -> dict[str, Any]:
        return {"num_directions": self.num_directions, "latent_dim": self.latent_dim, "hidden": self.hidden,
                "step": self.step}

    def all_fields(self, z: Tensor) -> Tensor:
        w1, b1, w2, b2 = (p.to(z) for p in (self.w1, self.b1, self.w2, self.b2))
        hid = torch.relu(torch.einsum("khd,nd->knh", w1, z) + b1.unsqueeze(1))  # (K, N, H)
        return normalize(torch.einsum("kdh,knh->knd", w2, hid) + b2.unsqueeze(1))  # (K, N, D)

    def field(self, z: Tensor, k: int | Tensor) -> Tensor:
        if isinstance(k, int):
            hid = torch.relu(z @ self.w1[k].to(z).T + self.b1[k].to(z))
            return normalize(hid @ self.w2[k].to(z).T + self.b2[k].to(z))
        hid = torch.relu(torch.einsum("nhd,nd->nh", self.w1[k].to(z), z) + self.b1[k].to(z))
        return normalize(torch.einsum("ndh,nh->nd", self.w2[k].to(z), hid) + self.b2[k].to(z))


class Gram(torch.autograd.Function):
    """f @ f.T whose backward is one matrix product, (g + g.T) @ f, instead of autograd's two (one per operand):
    with K x N = 1024 feature vectors of 32,768 values, a dcgan-face step takes 2.47 s instead of 2.96 s."""

    @staticmethod
    def forward(ctx: Any, f: Tensor) -> Tensor:
        ctx.save_for_backward(f)
        return f @ f.T

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (f,) = ctx.saved_tensors
        return (grad + grad.T) @ f


def contrastive_loss(divergences: Tensor, temperature: float) -> Tensor:
    """The LatentCLR loss of (K, N, ...) feature divergences: positives share k, negatives have another k."""
    k, n = divergences.shape[:2]
    if k < 2 or n < 2:
        raise GansteerError(f"contrastive loss needs >= 2 directions and >= 2 latents; got K={k}, N={n}")
    f = normalize(divergences.reshape(k * n, -1))
    logits = Gram.apply(f) / temperature  # (KN, KN) cosine similarity / tau, applied once
    group = torch.arange(k, device=f.device).repeat_interleave(n)
    same = group.unsqueeze(0) == group.unsqueeze(1)
    eye = torch.eye(k * n, dtype=torch.bool, device=f.device)
    positives = logits.masked_fill(~same | eye, float("-inf")).logsumexp(1)
    negatives = logits.masked_fill(same, float("-inf")).logsumexp(1)
    return (negatives - positives).mean()


MODELS = ("global", "linear", "nonlinear")


@dataclass
class LatentCLR(TrainedMethod):
    """Directions whose feature divergences at one generator layer are mutually distinguishable (contrastive loss)."""

    num_directions: int = 32  # K (the reference's BigGAN example; 100 for StyleGAN2)
    model: str = "global"  # direction model: "global", "linear" or "nonlinear"
    alpha: float = 3.0  # edit magnitude z + alpha d_k(z) (the paper's BigGAN setting edits with |alpha| <= 3)
    temperature: float = 0.5  # tau of the paper (and of the reference config)
    layer: str | None = None  # generator layer of G_f; None = the middle of generator.feature_layers
    hidden: int | None = None  # Nonlinear MLP width; None = latent_dim
    lr: float = 1e-3  # Adam learning rate (paper)
    weight_decay: float = 1e-3  # Adam weight decay (reference config)
    batch_size: int = 16  # N latents per step (the reference's BigGAN example; 8 for StyleGAN2)
    steps: int = 10_000
    classes: tuple[int, ...] | None = None  # class-conditional generators: classes drawn per latent (None = all)
    fast: bool = True  # train on generators.fusion.fast_copy (BatchNorm folded, channels-last weights)
    precision: str = "float32"  # or "bfloat16": G runs in bfloat16, about 2x faster on CPUs that have it

    name = "latentclr"

    def __post_init__(self) -> None:
        self.classes = tuple(int(c) for c in self.classes) if self.classes else None
        check_positive("num_directions", self.num_directions)
        if self.num_directions < 2:
            raise GansteerError("num_directions=1 is invalid: the contrastive loss needs >= 2 directions")
        if self.model not in MODELS:
            raise GansteerError(f"unknown LatentCLR direction model {self.model!r}; expected one of: "
                                f"{', '.join(MODELS)}")
        for name in ("alpha", "temperature"):
            if not getattr(self, name) > 0:
                raise GansteerError(f"{name}={getattr(self, name)!r} is invalid; expected a positive number")

    def feature_layer(self, generator: Generator) -> str | None:
        """The layer G_f reads (None: the image itself, for generators that expose no features)."""
        if self.layer is not None:
            generator.check_layer(self.layer)
            return self.layer
        inner = [name for name in generator.feature_layers if name != "image"]
        return inner[len(inner) // 2] if inner else None

    def features(self, generator: Generator, z: Tensor, cond: Tensor | None) -> Tensor:
        layer = self.layer_
        return (generator(z, cond=cond) if layer is None else generator.features(z, layer, cond=cond)).flatten(1)

    def build(self, generator: Generator) -> nn.ModuleDict:
        sample_classes(1, generator.num_classes, self.classes, torch.Generator())  # validates `classes` early
        self.layer_ = self.feature_layer(generator)
        k, d = self.num_directions, generator.latent_dim
        directions: nn.Module = {
            "global": lambda: GlobalDirections(k, d),
            "linear": lambda: LinearDirections(k, d, step=self.alpha),
            "nonlinear": lambda: NonlinearDirections(k, d, hidden=self.hidden, step=self.alpha),
        }[self.model]()
        return nn.ModuleDict({"directions": directions})

    def make_optimizers(self, modules: nn.ModuleDict) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(modules.parameters(), lr=self.lr, weight_decay=self.weight_decay)]

    def training_step(self, generator: Generator, rng: torch.Generator) -> dict[str, Tensor]:
        z = generator.sample_latent(self.batch_size, generator=rng)  # (N, D)
        cond = sample_classes(self.batch_size, generator.num_classes, self.classes, rng)  # None if unconditional
        with torch.no_grad():
            base = self.features(generator, z, cond)  # (N, F)
        edits = z + self.alpha * self.modules_["directions"].all_fields(z)  # (K, N, D)
        k_cond = None if cond is None else cond.repeat(self.num_directions)
        moved = self.features(generator, edits.flatten(0, 1), k_cond)  # one generator call for all K x N edits
        divergences = moved.reshape(self.num_directions, self.batch_size, -1) - base  # (K, N, F)
        return {"loss": contrastive_loss(divergences, self.temperature)}

    def directions(self) -> DirectionSet:
        modules = self.check_fitted("modules_")
        model = modules["directions"]
        common: dict[str, Any] = dict(
            space="z", method=self.name, params={**self.params(), "layer": self.layer_},
            generator=self.generator_, generator_hash=self.generator_hash_,
            shift_range=torch.tensor([[-self.alpha, self.alpha]]).repeat(self.num_directions, 1),
        )
        if isinstance(model, GlobalDirections):
            return DirectionSet(normalize(model.vectors.detach()), **common)
        return DirectionSet(None, model=model, model_name=f"latentclr-{self.model}", model_config=model.config(),
                            **common)


METHODS.register("latentclr", help="LatentCLR: contrastive global / linear / nonlinear directions (seed 001)")(
    LatentCLR)
