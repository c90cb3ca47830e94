"""SeFa (Shen & Zhou, CVPR 2021): closed-form factorisation of the generator's first projection.

The first layer computes y = A z + b, so a shift z + a n moves y by a A n whatever z is. The directions that move y
the most are the top eigenvectors of A^T A. As in the reference implementation, each output unit's weight vector
(each row of A) is first normalised to unit length, so that units with large weights do not dominate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..registry import METHODS
from .base import Method, check_positive, top_eigh


@dataclass
class SeFa(Method):
    """Closed form: top-k eigenvectors of A^T A for the first-layer weight A (or StyleGAN style weights)."""

    k: int = 10  # number of directions kept (the reference's UI shows the top 5-10)
    normalize: bool = True  # the reference's per-unit (column of A^T) normalisation
    layers: tuple[int, int] | None = None  # StyleGAN-like generators: style layers [start, stop) to factorise
    shift: float = 3.0  # recommended |shift|; the reference UI's distance range is [-3, 3]

    name = "sefa"

    def __post_init__(self) -> None:
        check_positive("k", self.k)

    def fit(self, generator: Generator, **_: Any) -> SeFa:
        if hasattr(generator, "style_weights"):  # StyleGAN: edits live in W, applied to the chosen layers
            weight, self.space_ = generator.style_weights(self.layers), "w"
        else:
            if self.layers is not None:
                raise GansteerError(f"layers apply to StyleGAN-like generators; {generator.name!r} has none")
            weight, self.space_ = generator.first_layer_weight(), "z"
        weight = weight.detach().double().cpu()  # (out_features, D)
        if self.k > weight.shape[1]:
            raise GansteerError(f"k={self.k} exceeds the latent dimension {weight.shape[1]}")
        if self.normalize:
            weight = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.eigenvalues_, self.components_ = top_eigh(weight.T @ weight, self.k)
        self.generator_, self.generator_hash_ = generator.name, generator.weight_hash()
        self.num_layers_ = generator.num_layers
        return self

    def directions(self) -> DirectionSet:
        components = self.check_fitted("components_")
        params = self.params()
        return DirectionSet(
            components.float(), space=self.space_, method=self.name, params=params, generator=self.generator_,
            generator_hash=self.generator_hash_, layers=self.layers,
            shift_range=torch.tensor([[-self.shift, self.shift]]).repeat(self.k, 1),
            tensors={"eigenvalues": self.eigenvalues_.float()},
        )


METHODS.register("sefa", help="closed-form factorisation of the first-layer weight (SeFa, seed 001)")(SeFa)
