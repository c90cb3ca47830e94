"""Scores for discovered directions; importing this package registers every metric in METRICS."""

from __future__ import annotations

import importlib

# One module per metric family; each registers itself on import.
MODULES = ["disentanglement", "saliency", "rca"]
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
