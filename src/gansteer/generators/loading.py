"""`load_generator(name_or_path)`: a registered name, a checkpoint path (format auto-detected), or module:factory."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import GansteerError
from ..io.checkpoints import first_line, torch_load
from ..registry import GENERATOR_FORMATS, GENERATORS
from .base import Generator

# Architecture modules register their names and checkpoint formats when imported.
ARCHITECTURES = ["dcgan", "sngan", "progan", "stylegan2", "synthetic", "biggan"]


def import_architectures() -> None:
    for module in ARCHITECTURES:
        importlib.import_module(f"{__package__}.{module}")


def load_generator(name_or_path: str | Path | Generator, *, format: str | None = None, **kwargs: Any) -> Generator:
    """A frozen, eval-mode generator.

    - a registered name (`gansteer generators` lists them), e.g. ``"dcgan-face"`` or ``"dcgan-tiny"``;
    - a checkpoint path; its format is detected from the contents, or forced with `format`;
    - ``"package.module:factory"``: your own code returning a `Generator` or an `nn.Module` (then pass
      ``latent_dim=...`` for the adapter).
    """
    if isinstance(name_or_path, Generator):
        return name_or_path.freeze()
    try:
        return _load(name_or_path, format, **kwargs)
    except TypeError as e:
        if "unexpected keyword argument" not in str(e):
            raise
        raise GansteerError(f"generator {str(name_or_path)!r}: {first_line(e)}") from None


def _load(name_or_path: str | Path, format: str | None, **kwargs: Any) -> Generator:
    import_architectures()
    spec = str(name_or_path)
    if spec in GENERATORS:
        return GENERATORS.create(spec, **kwargs).freeze()
    path = Path(spec)
    if path.exists():
        return _load_checkpoint(path, format, **kwargs).freeze()
    if ":" in spec and not spec.startswith(("/", ".")) and Path(spec.split(":")[0]).suffix == "":
        return _load_user_factory(spec, **kwargs)
    raise GansteerError(
        f"generator {spec!r} is neither a registered name ({', '.join(GENERATORS.names())}), "
        "an existing checkpoint path, nor package.module:factory"
    )


def _load_checkpoint(path: Path, format: str | None, **kwargs: Any) -> Generator:
    if format is not None:
        return GENERATOR_FORMATS.create(format, path=path, **kwargs)
    state = None if path.suffix == ".pkl" or path.is_dir() else torch_load(path)
    for entry in GENERATOR_FORMATS:
        if entry.tags["detect"](path, state):
            return entry.factory(path=path, state=state, **kwargs)
    raise GansteerError(
        f"{path}: no known generator checkpoint format matches; expected one of: {', '.join(GENERATOR_FORMATS.names())}"
    )


def _load_user_factory(spec: str, **kwargs: Any) -> Generator:
    from .base import wrap_generator

    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise GansteerError(f"generator {spec!r}: cannot import {attr!r} from {module_name!r} ({e})") from None
    latent_dim = kwargs.pop("latent_dim", None)
    obj = factory(**kwargs)
    if isinstance(obj, Generator):
        return obj.freeze()
    if latent_dim is None:
        raise GansteerError(f"generator {spec!r} returned a plain module; pass latent_dim so it can be wrapped")
    return wrap_generator(obj, latent_dim=latent_dim)
