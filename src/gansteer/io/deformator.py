"""Import GanLatentDiscovery (Voynov & Babenko's reference code) deformators as a DirectionSet.

Its `LatentDeformator` maps a one-hot shift eps * e_k (input_dim = K directions) to a latent shift, then zero-pads
(or truncates) the result to the generator's latent size. What its state dict holds, by type:

- ``linear``: ``linear.weight`` (out_dim, K) [+ ``linear.bias`` (out_dim)]; direction k = column k.
- ``proj``: the same keys; the output is rescaled to the input's norm, so direction k = column k / |column k|.
- ``ortho``: ``log_mat_half`` (K, K); the matrix expm(M - M^T) maps e_k to its column k.
- ``id``, ``random`` and ``fc`` keep no usable weights (``random`` does not save its matrix; ``fc`` is non-linear).

Files: ``models/deformator_<step>.pt`` (a bare state dict), ``checkpoint.pt`` (``{"step", "deformator",
"shift_predictor"}``), or a run folder with ``args.json`` (``deformator``, ``directions_count``), ``models/`` and
``human_annotation.txt`` (lines ``<index>: <label>``), whose labels are kept. A linear bias is a constant offset
added whatever k and eps are, not part of any direction; it is kept as the extra tensor ``deformator_bias``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from .checkpoints import torch_load

TYPES = ("linear", "proj", "ortho")


def deformator_directions(state: dict[str, Tensor], kind: str = "auto") -> tuple[Tensor, str]:
    """(K, out_dim) directions of a deformator state dict, and its type."""
    if kind == "auto":
        kind = "ortho" if "log_mat_half" in state else "linear" if "linear.weight" in state else "unknown"
    if kind == "ortho":
        if "log_mat_half" not in state:
            raise GansteerError("deformator: type ortho needs the key 'log_mat_half'; " + _keys(state))
        m = state["log_mat_half"].double()
        if m.dim() != 2 or m.shape[0] != m.shape[1]:
            raise GansteerError(f"deformator: log_mat_half has shape {tuple(m.shape)}; expected (K, K)")
        return torch.linalg.matrix_exp(m - m.T).T.float(), kind  # row k = column k of expm
    if kind in ("linear", "proj"):
        if "linear.weight" not in state:
            raise GansteerError(f"deformator: type {kind} needs the key 'linear.weight'; " + _keys(state))
        w = state["linear.weight"].float()  # (out_dim, K)
        if w.dim() != 2:
            raise GansteerError(f"deformator: linear.weight has shape {tuple(w.shape)}; expected (out_dim, K)")
        vectors = w.T
        if kind == "proj":
            vectors = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return vectors.contiguous(), kind
    if any(k.startswith("fc1.") or k.startswith("net.") for k in state):
        raise GansteerError("deformator: an 'fc' (non-linear) deformator; only linear, proj and ortho import")
    raise GansteerError("deformator: no 'linear.weight' or 'log_mat_half' (id / random deformators save no "
                        "directions); " + _keys(state))


def load_deformator(path: str | Path, *, kind: str = "auto", generator: Generator | None = None,
                    space: str | None = None, shift: float = 6.0) -> DirectionSet:
    """A DirectionSet from a deformator file, a `checkpoint.pt`, or a GanLatentDiscovery run folder."""
    path = Path(path)
    args: dict[str, Any] = {}
    labels: dict[int, str] = {}
    if path.is_dir():
        args = _read_json(path / "args.json")
        labels = read_annotation(path / "human_annotation.txt")
        path = _latest_deformator(path)
    state = torch_load(path)
    if isinstance(state, dict) and isinstance(state.get("deformator"), dict):  # checkpoint.pt
        state = state["deformator"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise GansteerError(f"{path}: not a GanLatentDiscovery deformator (expected a state dict of tensors)")
    if kind == "auto" and args.get("deformator") in TYPES:
        kind = str(args["deformator"])
    try:
        vectors, kind = deformator_directions(state, kind)
    except GansteerError as e:
        raise GansteerError(f"{path}: {e}") from None
    if generator is not None:  # the reference zero-pads (or truncates) its output to the latent size
        dim = generator.latent_dim
        vectors = torch.nn.functional.pad(vectors, (0, max(dim - vectors.shape[1], 0)))[:, :dim]
    k = vectors.shape[0]
    extra = {"deformator_bias": state["linear.bias"].float()} if "linear.bias" in state else {}
    bad = [i for i in labels if not 0 <= i < k]
    if bad:
        raise GansteerError(f"{path}: human annotation names direction {bad[0]}; the deformator has {k}")
    return DirectionSet(
        vectors, space=space or ("w" if args.get("w_shift") and "StyleGAN" in str(args.get("gan_type")) else "z"),
        method="voynov", params={"deformator": kind, "source": str(path), "gan_type": args.get("gan_type")},
        generator=generator.name if generator else str(args.get("gan_type") or ""),
        generator_hash=generator.weight_hash() if generator else "",
        shift_range=torch.tensor([[-shift, shift]]).repeat(k, 1), tensors=extra,
        labels=[labels.get(i, "") for i in range(k)],
    )


def read_annotation(path: Path) -> dict[int, str]:
    """``human_annotation.txt``: lines ``<index>: <label>`` -> {index: label}; a missing file gives {}."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(\d+)\s*:\s*(.*\S)?\s*$", line)
        if m and m.group(2):
            out[int(m.group(1))] = m.group(2)
    return out


def _latest_deformator(run: Path) -> Path:
    files = sorted(run.glob("models/deformator_*.pt"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not files:
        raise GansteerError(f"{run}: a folder without models/deformator_<step>.pt; give the deformator file instead")
    return files[-1]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise GansteerError(f"{path}: not valid JSON ({e})") from None
    return data if isinstance(data, dict) else {}


def _keys(state: dict[str, Any]) -> str:
    names = list(state)[:4]
    return f"found keys: {', '.join(names) or 'none'}" + (" ..." if len(state) > 4 else "")
