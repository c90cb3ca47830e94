"""The method contract (scikit-learn style) and the linear-algebra helpers closed-form methods share."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator


class Method:
    """Constructed with its hyper-parameters (defaults = the paper's); `fit(generator) -> self`; `directions()`.

    Learned state lives in attributes ending in ``_``. Subclasses are dataclasses, so `params()` is their fields.
    """

    name: str = "method"

    def fit(self, generator: Generator, **kwargs: Any) -> Method:
        raise NotImplementedError

    def directions(self) -> DirectionSet:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return asdict(self) if hasattr(self, "__dataclass_fields__") else {}  # type: ignore[call-overload]

    def check_fitted(self, attr: str) -> Any:
        value = getattr(self, attr, None)
        if value is None:
            raise GansteerError(f"{type(self).__name__} is not fitted yet: call fit(generator) first")
        return value

    @classmethod
    def param_names(cls) -> list[str]:
        return [f.name for f in fields(cls)] if hasattr(cls, "__dataclass_fields__") else []  # type: ignore[arg-type]


def sign_flip(vectors: Tensor) -> Tensor:
    """Fixed sign rule for rows (like scikit-learn's svd_flip): each row's largest-|x| entry is positive."""
    idx = vectors.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(torch.gather(vectors, 1, idx))
    signs[signs == 0] = 1
    return vectors * signs


def top_eigh(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k eigenpairs of a symmetric matrix: eigenvalues descending, eigenvectors as sign-fixed rows (k, D)."""
    values, vectors = torch.linalg.eigh(matrix)
    order = torch.argsort(values, descending=True)[:k]
    return values[order], sign_flip(vectors[:, order].T)


def check_positive(name: str, value: Any, *, kind: type = int) -> None:
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise GansteerError(f"{name}={value!r} is invalid; expected a positive {kind.__name__}")

