"""Checkpoint I/O that never runs code, and writes that never leave a half-written file."""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..errors import GansteerError


class PickledConfig:
    """Inert stand-in for a plain configuration object an official checkpoint pickles (see `allow_config_class`).

    Unpickling only creates this empty object and hands it the pickled attribute dict, which weights-only loading
    has already restricted to plain data (numbers, strings, lists, dicts, tensors). No code from the file runs.
    """

    def __setstate__(self, state: Any) -> None:
        self.values = dict(state) if isinstance(state, dict) else {}


_CONFIG_CLASSES: dict[str, type] = {}


def allow_config_class(qualified_name: str) -> None:
    """Let `torch_load` read pickled instances of `qualified_name` (e.g. "models.utils.config.BaseConfig") as
    `PickledConfig` objects. Only for classes that are attribute bags in the official code."""
    _CONFIG_CLASSES[qualified_name] = PickledConfig


def torch_load(path: str | Path) -> Any:
    """`torch.load(weights_only=True)` on the CPU, with one-line errors for missing, foreign or unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise GansteerError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals([(cls, name) for name, cls in _CONFIG_CLASSES.items()]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if refused:
            raise GansteerError(f"{path}: refused to load (it pickles {refused.group(1)}, not only tensors)") from None
        raise GansteerError(f"{path}: not a readable PyTorch checkpoint ({first_line(e)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise GansteerError(f"{path}: not a readable PyTorch checkpoint ({first_line(e)})") from None


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON object stored beside some weights (args.json, config.json), with one-line errors."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise GansteerError(f"{path}: not a readable JSON file ({first_line(e)})") from None
    if not isinstance(data, dict):
        raise GansteerError(f"{path}: expected a JSON object")
    return data


def state_shape(state: Mapping[str, Any], key: str, *, source: str, format_name: str) -> tuple[int, ...]:
    """The shape of state[key], for reading an architecture off a state dict; a one-line error when it is absent."""
    value = state.get(key)
    if not isinstance(value, torch.Tensor):
        raise GansteerError(f"{source}: not a {format_name} checkpoint; missing keys: {key}")
    return tuple(value.shape)


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (library errors can span pages)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_state_dict_strict(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str, format_name: str
) -> None:
    """Load `state` into `model`, naming the first few missing / unexpected / mis-shaped keys in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and isinstance(state[k], torch.Tensor) and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            problems.append(f"{label} keys: {', '.join(keys[:3])}{more}")
    if problems:
        raise GansteerError(f"{source}: not a {format_name} checkpoint; {'; '.join(problems)}")
    model.load_state_dict({k: state[k] for k in own}, strict=True)


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` in one rename (no torn files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def read_safetensors(path: str | Path, what: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(header metadata, tensors) of a `.safetensors` file; a missing or unreadable `what` file fails in one line."""
    path = Path(path)
    if not path.is_file():
        raise GansteerError(f"{what} {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}, {n: f.get_tensor(n) for n in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as e:
        raise GansteerError(f"{path}: not a readable safetensors file ({first_line(e)})") from None


def write_safetensors(path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Atomically write CPU-contiguous copies of `tensors` with string `metadata` in the header."""
    path = Path(path)
    plain = {n: t.detach().cpu().contiguous() for n, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=metadata)
    return path
