"""The `gansteer` command line: one module per command (group); importing this package registers them all."""

from __future__ import annotations

import importlib

from .main import main

COMMAND_MODULES = [
    "info", "discover", "traverse", "demo", "evaluate", "convert", "latentclr", "warped", "explore",
    "inversion", "voynov", "ganspace",
    "groundtruth",
]
for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["main"]
