"""Generators: the contract, the adapter for user models, and one file per architecture."""

from __future__ import annotations

from .base import Generator, ModuleGenerator, wrap_generator
from .loading import load_generator

__all__ = ["Generator", "ModuleGenerator", "wrap_generator", "load_generator"]
