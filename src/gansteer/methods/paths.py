"""Non-linear direction models: K unit vector fields d_k(z), followed in small steps.

A shift by eps along field k is a path: n = ceil(|eps| / step) equal steps z <- z + (eps / n) d_k(z). Each sample
takes its own number of steps, so a sample's result never depends on the other samples in the batch. Subclasses
implement `field(z, k)`; `shift` is what `DirectionSet.shift` (and so `traverse`) calls.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import GansteerError


class PathDirections(nn.Module):
    """Base class: `num_directions`, `latent_dim`, `step` and `field(z, k) -> (N, D) unit vectors`."""

    def __init__(self, num_directions: int, latent_dim: int, step: float) -> None:
        super().__init__()
        if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
            raise GansteerError(f"path step {step!r} is invalid; expected a positive number")
        self.num_directions, self.latent_dim, self.step = int(num_directions), int(latent_dim), float(step)

    def field(self, z: Tensor, k: int | Tensor) -> Tensor:
        """Unit direction of field k at each row of z (N, D); k an int or one index per row (N,)."""
        raise NotImplementedError

    def shift(self, latent: Tensor, k: int, eps: float | Tensor) -> Tensor:
        """Follow field k from `latent` (N, D) for a path length eps (a scalar or one per sample)."""
        if latent.dim() != 2 or latent.shape[1] != self.latent_dim:
            raise GansteerError(f"latent has shape {tuple(latent.shape)}; expected (N, {self.latent_dim})")
        eps_t = torch.as_tensor(eps, dtype=latent.dtype, device=latent.device).reshape(-1)
        eps_t = eps_t.expand(latent.shape[0]) if eps_t.numel() == 1 else eps_t
        if eps_t.numel() != latent.shape[0]:
            raise GansteerError(f"{eps_t.numel()} shifts for {latent.shape[0]} latents; expected one or one each")
        n = torch.ceil(eps_t.abs().double() / self.step - 1e-9).clamp_min(1).long()  # steps per sample
        h = (eps_t / n.to(eps_t.dtype)).unsqueeze(1)  # (N, 1) step length
        z = latent
        for i in range(int(n.max())):
            moving = (n > i).unsqueeze(1)
            z = torch.where(moving, z + h * self.field(z, k), z)
        return z

    def extra_repr(self) -> str:
        return f"num_directions={self.num_directions}, latent_dim={self.latent_dim}, step={self.step}"


def normalize(v: Tensor) -> Tensor:
    """Rows scaled to unit length (a zero row stays zero instead of becoming NaN)."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
