"""Direction-discovery methods; importing this package registers them all."""

from __future__ import annotations

import importlib

from ..errors import GansteerError
from ..registry import METHODS
from .base import Method

# One module per method; each registers itself (and its direction models) on import.
MODULES = ["sefa", "latentclr", "warped", "voynov", "ganspace"]
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")


def create_method(name: str, **params: object) -> Method:
    """`create_method("sefa", k=10)`; unknown names and parameters give one-line errors."""
    factory = METHODS.get(name)
    try:
        return factory(**params)
    except TypeError as e:
        valid = getattr(factory, "param_names", lambda: [])()
        raise GansteerError(f"method {name!r}: {e}; valid parameters: {', '.join(valid)}") from None


__all__ = ["Method", "create_method"]
