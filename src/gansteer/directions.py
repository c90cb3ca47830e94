"""DirectionSet: K discovered directions in one latent space, their metadata, and a portable file format.

A file is one ``.safetensors``: tensors ``directions`` (K, D), ``shift_range`` (K, 2), any named per-direction or
extra tensors (``eigenvalues``, ``explained_variance_ratio``, ``mean`` ...), and for a non-linear direction model
its parameters under ``model.*``. Everything else (format version, method and hyper-parameters, generator id and
weight hash, space, layer range, labels, ratings, the model's registry name and config) is JSON in the header under
the key ``gansteer``. Nothing is pickled, so loading a direction file never runs code.
"""

from __future__ import annotations

import importlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import GansteerError
from .io.checkpoints import first_line, read_safetensors, write_safetensors
from .registry import DIRECTION_MODELS

FORMAT_VERSION = 1
DEFAULT_SHIFT = 3.0


@dataclass
class DirectionSet:
    """K directions (rows of `vectors`, or a non-linear `model`) in latent space `space` of one generator."""

    vectors: Tensor | None  # (K, D) linear directions; None when a non-linear model defines them
    space: str = "z"
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    generator: str = ""
    generator_hash: str = ""
    layers: tuple[int, int] | None = None  # default layer range [start, stop) for layered generators
    shift_range: Tensor | None = None  # (K, 2) recommended [low, high] shift per direction
    tensors: dict[str, Tensor] = field(default_factory=dict)  # eigenvalues, explained variance, mean, ...
    labels: list[str] = field(default_factory=list)
    ratings: list[int | None] = field(default_factory=list)
    model: nn.Module | None = None  # non-linear direction model: `shift(latent, k, eps) -> latent`
    model_name: str = ""
    model_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vectors is None and self.model is None:
            raise GansteerError("a DirectionSet needs linear vectors (K, D) or a non-linear direction model")
        if self.vectors is not None:
            if self.vectors.dim() != 2:
                raise GansteerError(f"directions have shape {tuple(self.vectors.shape)}; expected (K, D)")
            self.vectors = self.vectors.detach().float().contiguous()
        k = self.num_directions
        if self.shift_range is None:
            self.shift_range = torch.tensor([[-DEFAULT_SHIFT, DEFAULT_SHIFT]]).repeat(k, 1)
        self.shift_range = self.shift_range.detach().float().reshape(k, 2)
        self.labels = list(self.labels) + [""] * (k - len(self.labels))
        self.ratings = list(self.ratings) + [None] * (k - len(self.ratings))
        if self.layers is not None:
            self.layers = (int(self.layers[0]), int(self.layers[1]))

    # ----------------------------------------------------------------- access
    @property
    def num_directions(self) -> int:
        if self.vectors is not None:
            return int(self.vectors.shape[0])
        return int(self.model.num_directions)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return self.num_directions

    @property
    def linear(self) -> bool:
        return self.model is None

    @property
    def eigenvalues(self) -> Tensor | None:
        return self.tensors.get("eigenvalues")

    def check_index(self, k: int) -> int:
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < self.num_directions:
            raise GansteerError(f"direction index {k!r} is out of range; expected 0..{self.num_directions - 1}")
        return k

    def shift(self, latent: Tensor, k: int, eps: float | Tensor) -> Tensor:
        """latent moved by `eps` along direction k, in this set's space. `eps` is a scalar or one per sample."""
        self.check_index(k)
        eps_t = torch.as_tensor(eps, dtype=latent.dtype, device=latent.device)
        if not torch.isfinite(eps_t).all():
            raise GansteerError(f"shift {eps!r} is not finite; expected a real number")
        if self.model is not None:
            return self.model.shift(latent, k, eps_t)
        v = self.vectors[k].to(latent.device, latent.dtype)  # type: ignore[index]
        if v.shape[0] != latent.shape[-1]:
            raise GansteerError(f"direction has dimension {v.shape[0]} but the latent has {latent.shape[-1]}")
        eps_t = eps_t.reshape(-1, *([1] * (latent.dim() - 1))) if eps_t.dim() else eps_t
        return latent + eps_t * v

    def select(self, indices: list[int]) -> DirectionSet:
        """A new set holding only `indices` (linear sets only)."""
        if self.model is not None:
            raise GansteerError("select() applies to linear direction sets only")
        idx = [self.check_index(k) for k in indices]
        per_dir = {n: t[idx] for n, t in self.tensors.items() if t.dim() >= 1 and t.shape[0] == self.num_directions}
        return DirectionSet(
            self.vectors[idx], self.space, self.method, dict(self.params), self.generator, self.generator_hash,  # type: ignore[index]
            self.layers, self.shift_range[idx], {**self.tensors, **per_dir},  # type: ignore[index]
            [self.labels[i] for i in idx], [self.ratings[i] for i in idx],
        )

    # ------------------------------------------------------------------- file
    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION, "num_directions": self.num_directions, "space": self.space,
            "method": self.method, "params": self.params, "generator": self.generator,
            "generator_hash": self.generator_hash, "layers": list(self.layers) if self.layers else None,
            "labels": self.labels, "ratings": self.ratings, "model_name": self.model_name,
            "model_config": self.model_config, "tensors": sorted(self.tensors),
        }

    def save(self, path: str | Path, *, backup: bool = False) -> Path:
        """Write atomically (temp file + rename); with `backup`, keep the previous file as ``<path>.bak``."""
        path = Path(path)
        tensors = {"shift_range": self.shift_range}
        if self.vectors is not None:
            tensors["directions"] = self.vectors
        tensors.update({f"extra.{n}": t.detach().float() for n, t in self.tensors.items()})
        if self.model is not None:
            tensors.update({f"model.{n}": t.detach() for n, t in self.model.state_dict().items()})
        header = json.dumps(self.metadata(), default=_json_default)
        if backup and path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        return write_safetensors(path, tensors, {"gansteer": header})

    @classmethod
    def load(cls, path: str | Path) -> DirectionSet:
        """Read a direction file; a missing, truncated or foreign file fails with a one-line message."""
        path = Path(path)
        meta, tensors = read_safetensors(path, "direction file")
        if "gansteer" not in meta:
            raise GansteerError(f"{path}: a safetensors file but not a gansteer direction file (no 'gansteer' header)")
        try:
            info = json.loads(meta["gansteer"])
        except json.JSONDecodeError as e:
            raise GansteerError(f"{path}: corrupt gansteer header ({e})") from None
        version = info.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise GansteerError(
                f"{path}: direction format version {version!r}; this gansteer reads up to {FORMAT_VERSION}"
            )
        model = None
        if info.get("model_name"):
            model = build_direction_model(info["model_name"], info.get("model_config") or {})
            state = {n[len("model."):]: t for n, t in tensors.items() if n.startswith("model.")}
            try:
                model.load_state_dict(state)
            except RuntimeError as e:
                raise GansteerError(f"{path}: direction model does not match its config ({first_line(e)})") from None
        if "shift_range" not in tensors or (model is None and "directions" not in tensors):
            raise GansteerError(f"{path}: gansteer direction file is missing its 'directions' or 'shift_range' tensor")
        try:
            return cls(
                vectors=tensors.get("directions"), space=info.get("space", "z"), method=info.get("method", ""),
                params=info.get("params") or {}, generator=info.get("generator", ""),
                generator_hash=info.get("generator_hash", ""),
                layers=tuple(info["layers"]) if info.get("layers") else None,  # type: ignore[arg-type]
                shift_range=tensors["shift_range"],
                tensors={n[len("extra."):]: t for n, t in tensors.items() if n.startswith("extra.")},
                labels=info.get("labels") or [], ratings=info.get("ratings") or [], model=model,
                model_name=info.get("model_name", ""), model_config=info.get("model_config") or {},
            )
        except (RuntimeError, GansteerError) as e:
            raise GansteerError(f"{path}: inconsistent direction file ({first_line(e)})") from None

    def annotate(self, labels: dict[int, str] | None = None, ratings: dict[int, int | None] | None = None) -> None:
        """Set human labels and 1-5 interpretability ratings (validated)."""
        for k, label in (labels or {}).items():
            self.labels[self.check_index(k)] = str(label).strip()
        for k, rating in (ratings or {}).items():
            if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
                raise GansteerError(f"rating {rating!r} for direction {k} is invalid; expected an integer 1..5")
            self.ratings[self.check_index(k)] = rating


def build_direction_model(name: str, config: dict[str, Any]) -> nn.Module:
    importlib.import_module("gansteer.methods")  # methods register their direction models on import
    try:
        model = DIRECTION_MODELS.create(name, **config)
    except TypeError as e:
        raise GansteerError(f"direction model {name!r} does not accept config {config!r} ({first_line(e)})") from None
    return model.eval()  # a loaded model is used, not trained: fixed behaviour for any dropout / batch norm


def _json_default(o: object) -> object:
    if isinstance(o, Tensor):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, Path):
        return str(o)
    return repr(o)
