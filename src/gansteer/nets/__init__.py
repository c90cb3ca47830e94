"""Reconstructor networks (LeNet, ResNet-18 written here since torchvision cannot be installed)."""

from __future__ import annotations

from . import lenet, resnet  # noqa: F401  (register in RECONSTRUCTORS)
from .reconstructor import Reconstructor, create_reconstructor

__all__ = ["Reconstructor", "create_reconstructor"]
