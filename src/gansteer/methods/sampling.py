"""Random draws shared by the reconstructor-based methods (Voynov & Babenko, WarpedGANSpace): which direction, how far.

Every draw takes the training loop's `torch.Generator`, so runs are reproducible and resume exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_indices(n: int, num_directions: int, rng: torch.Generator) -> Tensor:
    """(n,) direction indices, uniform over 0..num_directions-1."""
    return torch.randint(0, num_directions, (n,), generator=rng)


def sample_shifts(n: int, low: float, high: float, rng: torch.Generator) -> Tensor:
    """(n,) shifts with |eps| uniform in [low, high] and a random sign (low = 0: uniform in [-high, high])."""
    magnitude = low + (high - low) * torch.rand(n, generator=rng)
    sign = torch.randint(0, 2, (n,), generator=rng) * 2 - 1
    return magnitude * sign
