"""The generator contract every method relies on, and an adapter that wraps any user module or callable.

A `Generator` is a frozen `nn.Module` in eval mode. Latents live in named *spaces*: every generator has ``"z"``
(the sampled input); StyleGAN-like ones add ``"w"`` and the layered ``"w+"``. A generator with several edit
layers (``num_layers > 1``) offers a layered form of each space, shape ``(N, num_layers, D)``, so that a
direction can be applied to a range of layers only. The library never picks a device or dtype: it follows the
generator's parameters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..errors import GansteerError

LAYERED = {"z": "z+", "w": "w+"}


class Generator(nn.Module):
    """Base class: subclasses set the attributes below and implement `synthesize` (and optionally more)."""

    name: str = "generator"
    latent_dim: int = 0
    spaces: tuple[str, ...] = ("z",)
    num_layers: int = 1
    resolution: int = 0
    channels: int = 3
    num_classes: int = 0  # > 0: class-conditional, `cond` is a class index (or one-hot / soft vector)

    # ----------------------------------------------------------------- latents
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for p in self.parameters():
            return p.dtype
        return torch.float32

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None, space: str = "z",
                      cond: Tensor | int | None = None) -> Tensor:
        """n latents drawn on the CPU (same seed, same latents on every device), mapped into `space` (with the class
        `cond` where the mapping depends on it: conditional StyleGAN)."""
        self.check_space(space)
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device, self.dtype)
        return mapped(self, z, space, cond)

    def map_latent(self, z: Tensor, space: str, cond: Tensor | int | None = None) -> Tensor:
        """Map z into another space (``"w"``, ``"w+"``, ...). Only generators with such spaces override this; `cond`
        matters only to a class-conditional mapping."""
        self.check_space(space)
        if space == "z":
            return z
        if space == "z+":
            return self.expand_layers(z, "z")
        raise GansteerError(f"generator {self.name!r} cannot map z into space {space!r}")

    def check_space(self, space: str) -> None:
        valid = self.all_spaces()
        if space not in valid:
            raise GansteerError(f"space {space!r} is not offered by generator {self.name!r}; expected one of {valid}")

    def all_spaces(self) -> tuple[str, ...]:
        layered = tuple(LAYERED[s] for s in self.spaces if s in LAYERED and self.num_layers > 1)
        return tuple(dict.fromkeys(self.spaces + layered))

    def expand_layers(self, latent: Tensor, space: str) -> Tensor:
        """(N, D) latent of `space` -> (N, num_layers, D), the same vector on every layer."""
        if self.num_layers <= 1:
            raise GansteerError(f"generator {self.name!r} has a single layer: layer ranges do not apply")
        if space in LAYERED.values():
            return latent
        return latent.unsqueeze(1).expand(-1, self.num_layers, -1).clone()

    def layered_space(self, space: str) -> str:
        if space in LAYERED.values():
            return space
        if space not in LAYERED or self.num_layers <= 1:
            raise GansteerError(f"generator {self.name!r} has no layered form of space {space!r}")
        return LAYERED[space]

    # --------------------------------------------------------------- synthesis
    def forward(self, latent: Tensor, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """Images in [-1, 1], NCHW, from latents of `space` (and a class for conditional generators)."""
        self.check_latent(latent, space)
        return self.synthesize(latent, space=space, cond=self.prepare_cond(cond, latent.shape[0]))

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        raise NotImplementedError

    def check_latent(self, latent: Tensor, space: str) -> None:
        self.check_space(space)
        layered = space.endswith("+")
        want = (self.num_layers, self.latent_dim) if layered else (self.latent_dim,)
        if not isinstance(latent, Tensor) or latent.dim() != len(want) + 1 or tuple(latent.shape[1:]) != want:
            got = tuple(latent.shape) if isinstance(latent, Tensor) else type(latent).__name__
            raise GansteerError(f"latent of space {space!r} has shape {got}; expected (N, {', '.join(map(str, want))})")

    def prepare_cond(self, cond: Tensor | int | Sequence[int] | None, n: int) -> Tensor | None:
        """Class index / indices / one-hot -> (n, num_classes) float tensor; None for unconditional generators."""
        if self.num_classes == 0:
            if cond is not None:
                raise GansteerError(f"generator {self.name!r} is unconditional; got a class {cond!r}")
            return None
        if cond is None:
            raise GansteerError(
                f"generator {self.name!r} is class-conditional: give a class in 0..{self.num_classes - 1}"
            )
        c = torch.as_tensor(cond, device=self.device)
        if c.dim() <= 1 and not c.is_floating_point():
            idx = c.reshape(-1).expand(n) if c.numel() == 1 else c.reshape(-1)
            if idx.numel() != n or idx.min() < 0 or idx.max() >= self.num_classes:
                raise GansteerError(f"class {cond!r} is out of range; expected 0..{self.num_classes - 1}")
            return nn.functional.one_hot(idx.long(), self.num_classes).to(self.dtype)
        c = c.to(self.dtype).reshape(-1, self.num_classes)
        return c.expand(n, -1) if c.shape[0] == 1 else c

    # ------------------------------------------------- what methods can ask for
    feature_layers: tuple[str, ...] = ()

    def features(self, latent: Tensor, layer: str, *, space: str = "z", cond: Tensor | int | None = None) -> Tensor:
        """Activations at a named intermediate layer (see `feature_layers`)."""
        raise GansteerError(f"generator {self.name!r} exposes no intermediate features")

    def check_layer(self, layer: str) -> None:
        if layer not in self.feature_layers:
            raise GansteerError(
                f"unknown layer {layer!r} of generator {self.name!r}; expected one of: {', '.join(self.feature_layers)}"
            )

    def first_layer_weight(self) -> Tensor:
        """The (out_features, latent_dim) matrix A of the first projection y = A z + b (what SeFa factorises)."""
        raise GansteerError(f"generator {self.name!r} does not expose its first-layer weight (needed by SeFa)")

    # ------------------------------------------------------------------ utility
    def freeze(self) -> Generator:
        """Eval mode, no weight gradients: every method treats the generator as a fixed function."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def weight_hash(self) -> str:
        """A short sha256 of the weights, stored in direction files so they can tell which generator made them."""
        if getattr(self, "_weight_hash", None) is None:
            h = hashlib.sha256()
            for key, value in sorted(self.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._weight_hash = h.hexdigest()[:16]
        return self._weight_hash

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name, "latent_dim": self.latent_dim, "spaces": list(self.all_spaces()),
            "num_layers": self.num_layers, "resolution": self.resolution, "channels": self.channels,
            "num_classes": self.num_classes, "feature_layers": list(self.feature_layers),
        }


def mapped(generator: Generator, z: Tensor, space: str, cond: Tensor | int | None = None) -> Tensor:
    """z mapped into `space` by `generator.map_latent`, given the class only when there is one: generators written
    against the two-argument `map_latent(z, space)` keep working."""
    if space == "z":
        return z
    return generator.map_latent(z, space) if cond is None else generator.map_latent(z, space, cond=cond)


class ModuleGenerator(Generator):
    """Adapter: any `nn.Module` or callable mapping z (N, D) [and a class (N,) long] to images in [-1, 1]."""

    def __init__(
        self,
        fn: nn.Module | Callable[..., Tensor],
        *,
        latent_dim: int,
        num_classes: int = 0,
        name: str = "user",
        resolution: int | None = None,
        channels: int | None = None,
        first_layer_weight: Callable[[], Tensor] | None = None,
        latent_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.fn = fn  # an nn.Module is registered as a submodule, so .to()/.eval() reach it
        self.name, self.latent_dim, self.num_classes = name, int(latent_dim), int(num_classes)
        self._first_layer_weight = first_layer_weight
        self._latent_shape = latent_shape  # e.g. (D, 1, 1) for DCGAN-style modules
        self.freeze()
        if resolution is None or channels is None:
            with torch.inference_mode():
                probe = self(self.sample_latent(1, generator=torch.Generator().manual_seed(0)),
                             cond=0 if self.num_classes else None)
            if probe.dim() != 4 or probe.shape[2] != probe.shape[3]:
                raise GansteerError(f"user generator returned shape {tuple(probe.shape)}; expected (N, C, H, H) images")
            channels, resolution = int(probe.shape[1]), int(probe.shape[2])
        self.channels, self.resolution = channels, resolution

    def synthesize(self, latent: Tensor, *, space: str, cond: Tensor | None) -> Tensor:
        z = latent.reshape(latent.shape[0], *self._latent_shape) if self._latent_shape else latent
        return self.fn(z) if cond is None else self.fn(z, cond.argmax(1))

    def first_layer_weight(self) -> Tensor:
        if self._first_layer_weight is None:
            return super().first_layer_weight()
        return self._first_layer_weight()


def wrap_generator(fn: nn.Module | Callable[..., Tensor], *, latent_dim: int, **kwargs: object) -> Generator:
    """Bring your own generator: `wrap_generator(my_G, latent_dim=128)`; see `ModuleGenerator` for options."""
    if isinstance(fn, Generator):
        return fn.freeze()
    return ModuleGenerator(fn, latent_dim=latent_dim, **kwargs)  # type: ignore[arg-type]
