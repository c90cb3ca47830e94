"""A differentiable procedural generator whose factors of variation are known: the ground truth for scoring methods.

One soft-edged object on a grey background. Seven factors: object x, y, scale (radius), rotation, hue, shape (a
superellipse exponent blending disc -> square) and background brightness. The latent z (D >= 7) reaches them through
a seeded random rotation R (D x D, orthogonal): factor k is driven by the coordinate r_k . z, so the true factor
directions are the rows r_k -- known, orthonormal, but not axis-aligned. Two of the D - 7 remaining directions add a
faint background gradient (a nuisance that changes little); the rest change nothing.

The first layer is a *population code*: factor k owns m_k units h_j = s_k (r_k . z) + b_j with per-factor scale s_k
and spread biases b_j, and the factor is the mean of tanh(h_j) over its units. Each factor thus occupies its own
share of the first layer, as in a trained GAN, which is what SeFa measures after its per-unit normalisation (with
one unit per factor, every normalised row would be a unit vector and the spectrum would be flat).

The foreground colour has constant channel mean (0) and constant chroma, so the mask and the hue can be read back from
the image exactly; `read_factors` does that from pixels only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import GansteerError
from ..registry import GENERATORS
from .base import Generator

FACTORS = ("x", "y", "scale", "rotation", "hue", "shape", "background")
UNITS = (8, 7, 6, 2, 4, 3, 5)  # first-layer units per factor (its share of the layer; distinct, so SeFa can tell)
SCALES = (1.0, 0.9, 0.8, 0.6, 0.7, 1.1, 1.2)  # how strongly a unit step of r_k . z moves factor k's units
NUISANCE_UNITS = 2  # latent directions after the factors that add a faint background gradient
FG_AMPLITUDE = 0.8  # foreground RGB = 0.8 cos(2 pi (hue - c/3)): channel mean 0, chroma norm 0.8 sqrt(3/2)
GRADIENT = 0.05  # peak amplitude of the nuisance background gradient


class SyntheticGenerator(Generator):
    """z (N, D) -> one object on a background, (N, 3, R, R) in [-1, 1]; factors, masks and factor directions known."""

    factor_names = FACTORS

    def __init__(self, latent_dim: int = 16, resolution: int = 64, seed: int = 0, name: str = "synthetic") -> None:
        super().__init__()
        k = len(FACTORS)
        if latent_dim < k + NUISANCE_UNITS:
            raise GansteerError(f"latent_dim={latent_dim} is too small; expected >= {k + NUISANCE_UNITS}")
        if resolution < 8:
            raise GansteerError(f"resolution={resolution} is too small; expected >= 8")
        self.name, self.latent_dim, self.resolution, self.channels = name, latent_dim, resolution, 3
        g = torch.Generator().manual_seed(seed)
        q, r = torch.linalg.qr(torch.randn(latent_dim, latent_dim, generator=g, dtype=torch.float64))
        rotation = (q * torch.sign(torch.diagonal(r))).T  # rows: a Haar-random orthonormal basis of z
        owner = torch.cat([torch.full((m,), i) for i, m in enumerate(UNITS + (1,) * NUISANCE_UNITS)])
        scale = torch.tensor(SCALES + (1.0,) * NUISANCE_UNITS, dtype=torch.float64)
        bias = torch.cat([torch.linspace(-0.5, 0.5, m) if m > 1 else torch.zeros(1) for m in UNITS]
                         + [torch.zeros(NUISANCE_UNITS)]).double()
        # Parameters (frozen) so that .to(), the weight hash and state_dict see them.
        self.rotation = nn.Parameter(rotation.float(), requires_grad=False)  # (D, D)
        self.weight = nn.Parameter((scale[owner, None] * rotation[owner]).float(), requires_grad=False)  # (U, D)
        self.bias = nn.Parameter(bias.float(), requires_grad=False)  # (U,)
        pool = torch.zeros(k + NUISANCE_UNITS, owner.numel(), dtype=torch.float64)
        pool[owner, torch.arange(owner.numel())] = 1.0
        self.pool = nn.Parameter((pool / pool.sum(1, keepdim=True)).float(), requires_grad=False)  # units -> means
        self.probe = nn.Parameter(torch.randn(8, 3, 4, 4, generator=g) / 6.0, requires_grad=False)  # "render" conv
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, resolution), torch.linspace(-1, 1, resolution), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys]), persistent=False)  # (2, R, R): x right, y down
        self.feature_layers = ("units", "factors", "render")

    # ---------------------------------------------------------------- latent -> factors
    def units(self, z: Tensor) -> Tensor:
        """First-layer activations tanh(A z + b), (N, U)."""
        return torch.tanh(z @ self.weight.T + self.bias)

    def codes(self, z: Tensor) -> Tensor:
        """Each factor's (and nuisance's) code in (-1, 1): the mean of its units, (N, 7 + NUISANCE_UNITS)."""
        return self.units(z) @ self.pool.T

    def factors(self, z: Tensor) -> Tensor:
        """The true factors of G(z) in their physical units, (N, 7), columns in `factor_names` order."""
        return self._physical(self.codes(z)[:, : len(FACTORS)])

    @staticmethod
    def _physical(t: Tensor) -> Tensor:
        x, y, scale, rot, hue, shape, bg = t.unbind(1)
        return torch.stack([
            0.5 * x, 0.5 * y,  # centre, image coordinates in [-1, 1] (y points down)
            0.235 + 0.115 * scale,  # radius in [0.12, 0.35]: the object never leaves the image
            (math.pi / 6) * rot,  # radians; a square is 90-degree symmetric, so stay within +-30 degrees
            0.4 + 0.35 * hue,  # hue in cycles [0.05, 0.75]: away from the wrap-around
            2.0 * 4.0 ** ((shape + 1) / 2),  # superellipse exponent in [2 (disc), 8 (rounded square)]
            FG_AMPLITUDE * bg,  # background grey level in [-0.8, 0.8]
        ], 1)

    def factor_directions(self) -> Tensor:
        """(7, D) unit rows: moving z along row k changes factor k only."""
        return self.rotation[: len(FACTORS)]

    def nuisance_directions(self) -> Tensor:
        """(D - 7, D) unit rows: the first NUISANCE_UNITS tilt the background slightly, the rest change nothing."""
        return self.rotation[len(FACTORS):]

    def first_layer_weight(self) -> Tensor:
        return self.weight  # (U, D)

    # ---------------------------------------------------------------- rendering
    def render(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Images (N, 3, R, R) in [-1, 1] and the soft foreground mask alpha (N, R, R) in [0, 1]."""
        codes = self.codes(z)
        x, y, radius, rot, hue, p, bg = self._physical(codes[:, : len(FACTORS)]).unbind(1)
        col = lambda v: v[:, None, None]  # noqa: E731  (N,) -> (N, 1, 1)
        gx, gy = self.grid[0] - col(x), self.grid[1] - col(y)  # (N, R, R)
        cos, sin = torch.cos(col(rot)), torch.sin(col(rot))
        u, v = cos * gx + sin * gy, cos * gy - sin * gx  # object frame
        # superellipse "radius": (|u|^p + |v|^p)^(1/p), in log space so it is stable and differentiable
        p = col(p)
        dist = torch.exp(torch.logaddexp(p * torch.log(u.abs() + 1e-6), p * torch.log(v.abs() + 1e-6)) / p)
        alpha = torch.sigmoid((col(radius) - dist) * self.resolution)  # 10-90% edge width ~2 pixels
        phase = 2 * math.pi * (hue[:, None] - torch.arange(3, device=z.device, dtype=z.dtype) / 3)
        fg = FG_AMPLITUDE * torch.cos(phase)[:, :, None, None]  # (N, 3, 1, 1)
        tilt = GRADIENT * codes[:, len(FACTORS):]  # (N, 2) nuisance
        back = col(bg) + col(tilt[:, 0]) * self.grid[0] + col(tilt[:, 1]) * self.grid[1]  # (N, R, R)
        image = alpha[:, None] * fg + (1 - alpha[:, None]) * back[:, None]
        return image, alpha

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        return self.render(latent)[0]

    def masks(self, z: Tensor) -> Tensor:
        """True foreground masks (N, R, R), bool: alpha > 1/2."""
        return self.render(z)[1] > 0.5

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """`units` (N, U) first-layer activations, `factors` (N, 7) codes in (-1, 1), `render` (N, 8, R/2, R/2) a
        fixed random convolution of the image."""
        self.check_layer(layer)
        self.check_latent(latent, space)
        if layer == "units":
            return self.units(latent)
        if layer == "factors":
            return self.codes(latent)[:, : len(FACTORS)]
        return torch.tanh(nn.functional.conv2d(self.render(latent)[0], self.probe, stride=2, padding=1))


READ_BACK = ("x", "y", "area", "hue", "background")


def read_factors(images: Tensor) -> Tensor:
    """Estimate x, y, area, hue and background grey level from rendered images alone, (N, 5) in `READ_BACK` order.

    The foreground has chroma of norm 0.8 sqrt(3/2) and the background none, so chroma gives the mask alpha; x, y are
    the mask's centroid, area its sum (in [-1, 1]^2 units), hue the angle of the mean chroma, background the mean grey
    level outside the mask.
    """
    n, _, h, w = images.shape
    grey = images.mean(1)  # (N, R, R)
    chroma = images - grey[:, None]
    alpha = (chroma.norm(dim=1) / (FG_AMPLITUDE * math.sqrt(1.5))).clamp(0, 1)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    mass = alpha.sum((1, 2)).clamp_min(1e-6)
    x = (alpha * xs).sum((1, 2)) / mass
    y = (alpha * ys).sum((1, 2)) / mass
    area = mass * (2 / (w - 1)) * (2 / (h - 1))
    c = (chroma * alpha[:, None]).sum((2, 3))  # (N, 3) mean chroma direction
    # chroma = A cos(2 pi (hue - c/3)): project on the two axes of the chroma plane
    angles = 2 * math.pi * torch.arange(3) / 3
    re, im = (c * torch.cos(angles)).sum(1), (c * torch.sin(angles)).sum(1)
    hue = torch.remainder(torch.atan2(im, re) / (2 * math.pi), 1.0)
    back = ((1 - alpha) * grey).sum((1, 2)) / (1 - alpha).sum((1, 2)).clamp_min(1e-6)
    return torch.stack([x, y, area, hue, back], 1)


def superellipse_area(radius: Tensor, exponent: Tensor) -> Tensor:
    """Area of |u|^p + |v|^p <= r^p: 4 r^2 Gamma(1 + 1/p)^2 / Gamma(1 + 2/p) (pi r^2 for p = 2, 4 r^2 as p -> inf)."""
    lg = torch.lgamma
    return 4 * radius**2 * torch.exp(2 * lg(1 + 1 / exponent) - lg(1 + 2 / exponent))


@GENERATORS.register("synthetic", help="procedural 64x64 object with 7 known factors (ground truth); z (16)")
def synthetic(seed: int = 0) -> SyntheticGenerator:
    return SyntheticGenerator(latent_dim=16, resolution=64, seed=seed, name="synthetic").freeze()


@GENERATORS.register("synthetic-tiny", tiny=True, help="procedural 32x32 object with 7 known factors; z (10)")
def synthetic_tiny(seed: int = 0) -> SyntheticGenerator:
    return SyntheticGenerator(latent_dim=10, resolution=32, seed=seed, name="synthetic-tiny").freeze()
