"""WarpedGANSpace (Tzelepis, Tzimiropoulos & Patras, ICCV 2021): non-linear paths from RBF warpings of the latent space.

Warping k is a sum of Gaussian RBFs over its support set of 2N vectors (N dipoles):

    f_k(z) = sum_i a_ki exp(-g_ki |z - c_ki|^2),   grad f_k(z) = -2 sum_i a_ki g_ki exp(-g_ki |z - c_ki|^2) (z - c_ki)

Each dipole is a pair of support vectors initialised at +v and -v, with weights +1 and -1 and one shared scale g.
The edit direction at z is grad f_k(z) / |grad f_k(z)|; a path is a sequence of small steps along it. As g -> 0 the
exponentials tend to 1 and, the weights summing to zero, the direction tends to the constant sum_i a_ki c_ki
(normalised): a linear direction is the wide-RBF limit. Training follows Voynov & Babenko: a reconstructor sees
G(z) and G(z + eps d_k(z)) and must tell k (cross-entropy) and eps (L1); only those two losses are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..nets import create_reconstructor
from ..registry import DIRECTION_MODELS, METHODS
from .base import check_positive
from .paths import PathDirections, normalize
from .sampling import sample_classes, sample_indices, sample_shifts
from .training import TrainedMethod


@DIRECTION_MODELS.register("warped-rbf", help="WarpedGANSpace: K RBF warpings, paths along their normalised gradients")
class RBFWarpings(PathDirections):
    """K warping functions over support sets of N dipoles each: centres (K, 2N, D), weights (K, 2N), scales (K, N)."""

    def __init__(self, num_directions: int, latent_dim: int, num_dipoles: int = 32, *, step: float = 0.1,
                 gamma: float | None = None, radius: float | None = None, learn_gammas: bool = True,
                 learn_alphas: bool = False) -> None:
        super().__init__(num_directions, latent_dim, step)
        k, n, d = num_directions, num_dipoles, latent_dim
        self.num_dipoles = int(n)
        gamma = 1.0 / d if gamma is None else gamma  # the reference's default: 1 / latent dimension
        if not gamma > 0:
            raise GansteerError(f"gamma={gamma!r} is invalid; expected a positive RBF scale")
        # Dipoles +v, -v on spheres of radius 0.8..0.9 x the expected latent norm (sqrt(D) for N(0, I)), one per set.
        norm = d ** 0.5 if radius is None else radius
        radii = torch.linspace(0.8 * norm, 0.9 * norm, k).reshape(k, 1, 1)
        v = normalize(torch.randn(k, n, d)) * radii
        self.centres = nn.Parameter(torch.stack([v, -v], 2).reshape(k, 2 * n, d))  # (K, 2N, D): +v0, -v0, +v1 ...
        self.alphas = nn.Parameter(torch.tensor([1.0, -1.0]).repeat(k, n), requires_grad=learn_alphas)  # (K, 2N)
        self.log_gammas = nn.Parameter(torch.full((k, n), math.log(gamma)),
                                       requires_grad=learn_gammas)  # (K, N): one scale per dipole

    def config(self) -> dict[str, Any]:
        """What `DIRECTION_MODELS.create` needs to rebuild this module before loading its state dict."""
        return {"num_directions": self.num_directions, "latent_dim": self.latent_dim,
                "num_dipoles": self.num_dipoles, "step": self.step}

    def _support(self, k: int | Tensor, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Centres (·, 2N, D), weights (·, 2N), scales (·, 2N) of warping k (an int or one index per row)."""
        if isinstance(k, int):
            k = torch.tensor([k])
        k = k.to(self.centres.device)
        gammas = self.log_gammas.exp().repeat_interleave(2, dim=1)  # the two poles of a dipole share a scale
        return (self.centres[k].to(like), self.alphas[k].to(like), gammas[k].to(like))

    def potential(self, z: Tensor, k: int | Tensor) -> Tensor:
        """f_k(z) for each row of z -> (N,)."""
        c, a, g = self._support(k, z)
        sq = (z.unsqueeze(1) - c).pow(2).sum(-1)  # (N, 2N)
        return (a * torch.exp(-g * sq)).sum(1)

    def gradient(self, z: Tensor, k: int | Tensor) -> Tensor:
        """grad f_k(z) in closed form -> (N, D)."""
        c, a, g = self._support(k, z)
        diff = z.unsqueeze(1) - c  # (N, 2N, D)
        w = a * g * torch.exp(-g * diff.pow(2).sum(-1))  # (N, 2N)
        return -2 * torch.einsum("nm,nmd->nd", w, diff)

    def field(self, z: Tensor, k: int | Tensor) -> Tensor:
        return normalize(self.gradient(z, k))


# Reference-spirited settings (chi0tzp/WarpedGANSpace train.py defaults and its released models' names
# <gan>-<reconstructor>-K<warpings>-D<dipoles>-LearnGammas-eps<min>_<max>); dcgan-face is ours (a 64x64 DCGAN,
# like the SN-GAN Anime setting; fewer warpings and larger steps, so that a LeNet tells the warpings apart within a
# few hundred CPU steps: with the reference's eps in [0.25, 0.45] accuracy was still at chance after 300 steps).
PRESETS: dict[str, dict[str, Any]] = {
    "sngan-mnist": dict(num_warpings=64, num_dipoles=128, min_shift=0.15, max_shift=0.25, reconstructor="lenet",
                        batch_size=128, steps=200_000),
    "sngan-anime": dict(num_warpings=64, num_dipoles=128, min_shift=0.25, max_shift=0.35, reconstructor="lenet",
                        batch_size=128, steps=150_000),
    "biggan": dict(num_warpings=120, num_dipoles=256, min_shift=0.15, max_shift=0.25, reconstructor="resnet18",
                   batch_size=32, steps=150_000, classes=(239,)),
    "proggan": dict(num_warpings=200, num_dipoles=512, min_shift=0.1, max_shift=0.2, reconstructor="resnet18",
                    batch_size=8, steps=200_000),
    "dcgan-face": dict(num_warpings=32, num_dipoles=32, min_shift=1.0, max_shift=2.0, reconstructor="lenet",
                       batch_size=32, steps=10_000),
}


@dataclass
class WarpedGANSpace(TrainedMethod):
    """K RBF warpings and a reconstructor trained to tell which warping moved G(z), and how far."""

    num_warpings: int = 32  # K: warping functions = paths (dcgan-face preset; reference: 64 for SN-GAN, 120 BigGAN)
    num_dipoles: int = 32  # N: dipoles (pairs of RBFs) per support set
    gamma: float | None = None  # initial RBF scale; None = 1 / latent_dim (reference default)
    learn_gammas: bool = True  # every reference script learns the scales
    learn_alphas: bool = False  # the reference keeps the +1 / -1 weights fixed
    min_shift: float = 1.0  # |eps| of the training step ~ U[min_shift, max_shift], random sign (dcgan-face preset;
    max_shift: float = 2.0  # the reference's train.py defaults are 0.25 and 0.45)
    reconstructor: str = "lenet"  # "lenet" (SN-GAN settings) or "resnet18" (BigGAN, ProgGAN); tiny variants for tests
    lambda_cls: float = 1.0  # weight of the cross-entropy on the warping index (reference)
    lambda_reg: float = 0.25  # weight of the L1 on the shift magnitude (reference)
    lr: float = 1e-4  # reconstructor Adam learning rate (reference)
    warping_lr: float = 1e-4  # support-set Adam learning rate (reference --support-set-lr)
    path_step: float = 0.1  # step length when following a path at traversal time
    shift: float = 8.0  # recommended |path length| (the reference traverses 16 steps of 0.5 each way)
    classes: tuple[int, ...] | None = None  # class-conditional generators: classes drawn per sample (None = all)
    fast: bool = True  # train on generators.fusion.fast_copy (BatchNorm folded, channels-last weights); R's first
    # convolution channels-last (nets.reconstructor.channels_last_input_conv)
    precision: str = "float32"  # or "bfloat16": G runs in bfloat16, about 2x faster on CPUs that have it
    steps: int = 10_000
    batch_size: int = 32

    name = "warped"

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> WarpedGANSpace:
        """`WarpedGANSpace.preset("sngan-anime", steps=1000)`: a reference-spirited configuration, then overrides."""
        if name not in PRESETS:
            raise GansteerError(f"unknown WarpedGANSpace preset {name!r}; expected one of: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def __post_init__(self) -> None:
        self.classes = tuple(int(c) for c in self.classes) if self.classes else None
        check_positive("num_warpings", self.num_warpings)
        check_positive("num_dipoles", self.num_dipoles)
        if not 0 <= self.min_shift <= self.max_shift or self.max_shift <= 0:
            raise GansteerError(f"shift range [{self.min_shift}, {self.max_shift}] is invalid; "
                                "expected 0 <= min_shift <= max_shift, max_shift > 0")

    def build(self, generator: Generator) -> nn.ModuleDict:
        sample_classes(1, generator.num_classes, self.classes, torch.Generator())  # validates `classes` early
        warpings = RBFWarpings(self.num_warpings, generator.latent_dim, self.num_dipoles, step=self.path_step,
                               gamma=self.gamma, learn_gammas=self.learn_gammas, learn_alphas=self.learn_alphas)
        recon = create_reconstructor(self.reconstructor, channels=generator.channels, num_directions=self.num_warpings,
                                     fast=self.fast)
        return nn.ModuleDict({"warpings": warpings, "reconstructor": recon})

    def make_optimizers(self, modules: nn.ModuleDict) -> list[torch.optim.Optimizer]:
        warp = [p for p in modules["warpings"].parameters() if p.requires_grad]
        return [torch.optim.Adam(warp, lr=self.warping_lr),
                torch.optim.Adam(modules["reconstructor"].parameters(), lr=self.lr)]

    def training_step(self, generator: Generator, rng: torch.Generator) -> dict[str, Tensor]:
        z = generator.sample_latent(self.batch_size, generator=rng)  # (B, D)
        k = sample_indices(self.batch_size, self.num_warpings, rng).to(z.device)  # (B,)
        eps = sample_shifts(self.batch_size, self.min_shift, self.max_shift, rng).to(z)  # (B,)
        cond = sample_classes(self.batch_size, generator.num_classes, self.classes, rng)  # None if unconditional
        shifted_z = z + eps.unsqueeze(1) * self.modules_["warpings"].field(z, k)  # one step along the path
        with torch.no_grad():  # nothing to learn through the unshifted image
            image = generator(z, cond=cond)
        shifted = generator(shifted_z, cond=cond)
        logits, predicted = self.modules_["reconstructor"](image, shifted)  # fast: its first conv takes channels-last
        classification = F.cross_entropy(logits, k)
        regression = (predicted - eps).abs().mean()
        return {
            "loss": self.lambda_cls * classification + self.lambda_reg * regression,
            "classification": classification.detach(), "regression": regression.detach(),
            "accuracy": (logits.argmax(1) == k).float().mean(),
        }

    def directions(self) -> DirectionSet:
        modules = self.check_fitted("modules_")
        warpings: RBFWarpings = modules["warpings"]
        k = self.num_warpings
        return DirectionSet(
            None, space="z", method=self.name, params=self.params(), generator=self.generator_,
            generator_hash=self.generator_hash_, shift_range=torch.tensor([[-self.shift, self.shift]]).repeat(k, 1),
            model=warpings, model_name="warped-rbf", model_config=warpings.config(),
        )


METHODS.register("warped", help="WarpedGANSpace: non-linear RBF-warping paths + reconstructor (seed 003)")(
    WarpedGANSpace)
