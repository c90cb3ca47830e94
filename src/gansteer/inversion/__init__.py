"""Real-image editing: photo -> latent (encoder guess + optimisation) -> move along a discovered direction."""

from __future__ import annotations

from .editing import edit, shift_latent
from .encoder import Encoder, EncoderTraining, load_encoder, save_encoder
from .images import load_image
from .optimize import invert
from .result import Inversion, psnr

__all__ = ["Encoder", "EncoderTraining", "Inversion", "edit", "invert", "load_encoder", "load_image", "psnr",
           "save_encoder", "shift_latent"]
