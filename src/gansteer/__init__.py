"""gansteer: unsupervised discovery of interpretable directions in the latent space of pretrained GANs.

    import gansteer
    G = gansteer.load_generator("dcgan-face")
    dirs = gansteer.SeFa(k=8).fit(G).directions()
    images = gansteer.traverse(G, dirs, range(8), [-3, 0, 3], seeds=[0, 1])

Heavy submodules are imported lazily; importing gansteer never downloads anything or touches CUDA.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GansteerError": "gansteer.errors",
    "Generator": "gansteer.generators.base",
    "ModuleGenerator": "gansteer.generators.base",
    "wrap_generator": "gansteer.generators.base",
    "load_generator": "gansteer.generators.loading",
    "DirectionSet": "gansteer.directions",
    "traverse": "gansteer.traversal",
    "apply_direction": "gansteer.traversal",
    "latents_for_seeds": "gansteer.traversal",
    "save_traversal_grid": "gansteer.traversal",
    "save_traversal_gif": "gansteer.traversal",
    "Method": "gansteer.methods.base",
    "create_method": "gansteer.methods",
    "SeFa": "gansteer.methods.sefa",
    "LatentCLR": "gansteer.methods.latentclr",
    "WarpedGANSpace": "gansteer.methods.warped",
    "invert": "gansteer.inversion", "edit": "gansteer.inversion", "Inversion": "gansteer.inversion",
    "EncoderTraining": "gansteer.inversion", "load_encoder": "gansteer.inversion", "load_image": "gansteer.inversion",
    "GANSpace": "gansteer.methods.ganspace",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from .directions import DirectionSet
    from .errors import GansteerError
    from .generators.base import Generator, ModuleGenerator, wrap_generator
    from .generators.loading import load_generator
    from .inversion import EncoderTraining, Inversion, edit, invert, load_encoder, load_image
    from .methods import create_method
    from .methods.base import Method
    from .methods.ganspace import GANSpace
    from .methods.latentclr import LatentCLR
    from .methods.sefa import SeFa
    from .methods.warped import WarpedGANSpace
    from .traversal import (
        apply_direction,
        latents_for_seeds,
        save_traversal_gif,
        save_traversal_grid,
        traverse,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gansteer' has no attribute {name!r}")
