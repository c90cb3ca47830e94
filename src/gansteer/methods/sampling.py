"""Random draws shared by trained methods (Voynov & Babenko, WarpedGANSpace, LatentCLR): which direction, how far,
which class.

Every draw takes the training loop's `torch.Generator`, so runs are reproducible and resume exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import GansteerError


def sample_indices(n: int, num_directions: int, rng: torch.Generator) -> Tensor:
    """(n,) direction indices, uniform over 0..num_directions-1."""
    return torch.randint(0, num_directions, (n,), generator=rng)


def sample_shifts(n: int, low: float, high: float, rng: torch.Generator) -> Tensor:
    """(n,) shifts with |eps| uniform in [low, high] and a random sign (low = 0: uniform in [-high, high])."""
    magnitude = low + (high - low) * torch.rand(n, generator=rng)
    sign = torch.randint(0, 2, (n,), generator=rng) * 2 - 1
    return magnitude * sign


def sample_classes(n: int, num_classes: int, classes: Sequence[int] | None, rng: torch.Generator) -> Tensor | None:
    """(n,) class indices for a class-conditional generator: uniform over `classes` (default: all); None when
    the generator is unconditional."""
    if num_classes == 0:
        if classes:
            raise GansteerError(f"classes {list(classes)} given, but the generator is unconditional")
        return None
    pool = torch.tensor(list(classes) if classes else range(num_classes))
    if pool.min() < 0 or pool.max() >= num_classes:
        raise GansteerError(f"classes {pool.tolist()} are out of range; expected 0..{num_classes - 1}")
    return pool[torch.randint(0, len(pool), (n,), generator=rng)]
