"""What the explorer page talks to: the generator (loaded once) and one direction file, behind thread-safe calls.

Everything here is free of HTTP: the FastAPI layer (`app.py`) only parses requests and calls these methods, so every
check that depends on the generator or the file (direction index, shift size, layer range, class) lives here and
raises a one-line `GansteerError`.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import LAYERED, Generator
from ..generators.loading import load_generator
from ..traversal import apply_shifts, check_layer_range, latents_for_seeds, row_label, traverse
from ..viz.grid import image_grid, to_uint8

MAX_SEED = 2**32 - 1
MIN_MAX_SHIFT = 100.0  # shifts beyond max(this, 4 x the file's largest recommended shift) are refused
MAX_LATENT_ABS = 1e3
_CACHE = 256  # seed latents and client sequence numbers remembered


class Explorer:
    """A generator and the DirectionSet in `direction_file`; renders edits and writes labels/ratings back."""

    def __init__(self, generator: Generator | str, direction_file: str | Path) -> None:
        self.generator = load_generator(generator)
        self.path = Path(direction_file)
        self.directions = DirectionSet.load(self.path)
        G, ds = self.generator, self.directions
        G.check_space(ds.space)
        if ds.vectors is not None and ds.vectors.shape[1] != G.latent_dim:
            raise GansteerError(
                f"{self.path}: directions have dimension {ds.vectors.shape[1]} but generator {G.name!r} has a "
                f"latent of dimension {G.latent_dim}; expected a file discovered on this generator"
            )
        self.warning = None
        if ds.generator_hash and ds.generator_hash != G.weight_hash():
            self.warning = (f"{self.path.name} was discovered on generator {ds.generator or '?'} "
                            f"(weights {ds.generator_hash}), not on these weights ({G.weight_hash()})")
        self.max_shift = max(MIN_MAX_SHIFT, 4 * float(ds.shift_range.abs().max()))  # type: ignore[union-attr]
        self._render_lock = threading.Lock()  # one forward pass at a time: 2 requests would only share the cores
        self._save_lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._seeds: OrderedDict[tuple[int, int | None], Tensor] = OrderedDict()
        self._latest: OrderedDict[str, int] = OrderedDict()
        self.render(self.base_latent(0), {})  # warm-up, so the first slider move is as fast as the rest

    # ------------------------------------------------------------------ checks
    def check_shifts(self, shifts: Mapping[int, float]) -> dict[int, float]:
        for k, eps in shifts.items():
            self.directions.check_index(k)
            if not abs(eps) <= self.max_shift:  # also false for NaN
                raise GansteerError(f"shift {eps!r} for direction {k} is out of range; expected a finite number "
                                    f"with |shift| <= {self.max_shift:g}")
        return {k: float(eps) for k, eps in shifts.items() if eps != 0}

    def check_layers(self, layers: Sequence[int] | None) -> tuple[int, int] | None:
        if layers is None:
            return None
        if len(layers) != 2:
            raise GansteerError(f"layer range {list(layers)} is invalid; expected [start, stop)")
        return check_layer_range(self.generator, (int(layers[0]), int(layers[1])))

    def check_class(self, cls: int | None) -> int | None:
        n = self.generator.num_classes
        if n == 0:
            if cls is not None:
                raise GansteerError(f"generator {self.generator.name!r} is unconditional; got class {cls}")
            return None
        cls = 0 if cls is None else cls
        if not 0 <= cls < n:
            raise GansteerError(f"class {cls} is out of range; expected 0..{n - 1}")
        return cls

    # ----------------------------------------------------------------- latents
    def base_latent(self, seed: int, cls: int | None = None) -> Tensor:
        """(1, D) latent of `seed` in the direction set's space (cached: mapping z -> w costs a pass).

        A class-conditional mapping (conditional StyleGAN) makes w depend on the class as well as the seed."""
        if not 0 <= seed <= MAX_SEED:
            raise GansteerError(f"seed {seed} is out of range; expected 0..{MAX_SEED}")
        cls, space, G = self.check_class(cls), self.directions.space, self.generator
        with self._render_lock:
            if (seed, cls) not in self._seeds:
                with torch.inference_mode():
                    latent = latents_for_seeds(G, [seed], space, cls)
                self._seeds[(seed, cls)] = latent
                if len(self._seeds) > _CACHE:
                    self._seeds.popitem(last=False)
            return self._seeds[(seed, cls)]

    def latent_from_values(self, values: Sequence[float]) -> Tensor:
        """A latent supplied by the client (e.g. an inverted photo) in the direction set's space: D values -> (1, D),
        or num_layers x D values of its layered form (w+ for w directions) -> (1, num_layers, D)."""
        G, space = self.generator, self.directions.space
        d, layered = G.latent_dim, G.num_layers > 1 and space in LAYERED
        t = torch.tensor(list(values), dtype=torch.float64)
        if t.numel() not in (d, G.num_layers * d if layered else d):
            more = f" or {G.num_layers} x {d} (space {LAYERED[space]!r})" if layered else ""
            raise GansteerError(f"latent has {t.numel()} values; expected {d} (space {space!r}){more}")
        if not torch.isfinite(t).all() or t.abs().max() > MAX_LATENT_ABS:
            raise GansteerError(f"latent values must be finite with |x| <= {MAX_LATENT_ABS:g}")
        shape = (1, d) if t.numel() == d else (1, G.num_layers, d)
        return t.reshape(shape).to(G.device, G.dtype)

    # --------------------------------------------------------------- rendering
    def render(self, latent: Tensor, shifts: Mapping[int, float], *, layers: Sequence[int] | None = None,
               cls: int | None = None, superseded: Callable[[], bool] | None = None) -> Tensor | None:
        """(1, C, H, W) image in [-1, 1] of `latent` edited by every shift at once.

        `superseded` is asked once the generator is free: True means a newer request replaced this one (-> None)."""
        shifts, span, cond = self.check_shifts(shifts), self.check_layers(layers), self.check_class(cls)
        with self._render_lock, torch.inference_mode():
            if superseded is not None and superseded():
                return None
            edited, space = apply_shifts(self.generator, latent, self.directions, shifts, layers=span)
            return self.generator(edited, space=space, cond=cond)

    def strip(self, k: int, seeds: Sequence[int], shifts: Sequence[float], *, layers: Sequence[int] | None = None,
              cls: int | None = None) -> Tensor:
        """Direction k alone across `shifts` for each seed -> (len(seeds), len(shifts), C, H, W)."""
        self.directions.check_index(k)
        for eps in shifts:
            self.check_shifts({k: eps})
        span, cond = self.check_layers(layers), self.check_class(cls)
        latents = torch.cat([self.base_latent(seed, cond) for seed in seeds])
        with self._render_lock:
            return traverse(self.generator, self.directions, [k], list(shifts), latents=latents, layers=span,
                            cond=cond)[0]

    @staticmethod
    def encode(images: Tensor, fmt: str = "png", *, nrow: int | None = None) -> bytes:
        """PNG (lossless, fast zlib level) or JPEG bytes of one image or a grid of images."""
        pixels = to_uint8(images)[0] if images.shape[0] == 1 else image_grid(images, nrow=nrow or images.shape[0])
        buf = io.BytesIO()
        if fmt == "jpeg":
            Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
        else:
            Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    # ------------------------------------------------------------ stale requests
    def is_superseded(self, client: str, seq: int, *, register: bool = False) -> bool:
        """True when `client` already sent a request with a higher sequence number (its slider moved on)."""
        with self._seq_lock:
            latest = self._latest.get(client, -1)
            if register and seq > latest:
                self._latest[client] = seq
                self._latest.move_to_end(client)
                if len(self._latest) > _CACHE:
                    self._latest.popitem(last=False)
            return latest > seq

    # -------------------------------------------------------------- annotating
    def annotate(self, k: int, **changes: Any) -> dict[str, Any]:
        """Set `label` and/or `rating` of direction k and write the file atomically, keeping `<file>.bak`."""
        self.directions.check_index(k)
        with self._save_lock:
            self.directions.annotate(labels={k: changes["label"]} if "label" in changes else None,
                                     ratings={k: changes["rating"]} if "rating" in changes else None)
            self.directions.save(self.path, backup=True)
        return self.direction_info(k)

    # ------------------------------------------------------------------- info
    def direction_info(self, k: int) -> dict[str, Any]:
        ds = self.directions
        lo, hi = (float(x) for x in ds.shift_range[k])  # type: ignore[index]
        return {"index": k, "label": ds.labels[k], "rating": ds.ratings[k], "range": [lo, hi],
                "title": row_label(ds, k)}

    def info(self) -> dict[str, Any]:
        G, ds = self.generator, self.directions
        return {
            "file": self.path.name, "generator": G.describe(), "method": ds.method, "space": ds.space,
            "layers": list(ds.layers) if ds.layers else ([0, G.num_layers] if G.num_layers > 1 else None),
            "directions": [self.direction_info(k) for k in range(len(ds))], "warning": self.warning,
            "limits": {"max_shift": self.max_shift, "max_seed": MAX_SEED},
        }
