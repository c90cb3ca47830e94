"""The ground-truth leaderboard: every registered method, fitted on a generator with known factors, scored.

Each method is fitted with the budget in `BUDGETS` (constructor parameters; a ``"fit"`` entry holds keyword arguments
for `fit`), so scoring a new method is one line there. A registered method without an entry is listed with a note
instead of being run with its defaults (a trained method's default budget is hours). Three reference rows are always
present: the true factor directions (the ceiling), random unit directions and the first coordinate axes (the floor).
"""

from __future__ import annotations

import importlib
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..io.checkpoints import atomic_path
from .disentanglement import alignment, disentanglement_scores, linear_directions
from .saliency import saliency_iou

K = 7  # directions asked of every method: the number of true factors

# method name -> constructor parameters (+ "fit": fit keyword arguments). One line per method.
BUDGETS: dict[str, dict[str, Any]] = {
    "sefa": dict(k=K),
    "ganspace": dict(k=K),
    "latentclr": dict(num_directions=K, steps=1000, batch_size=16),
    "warped": dict(num_warpings=K, steps=300, reconstructor="lenet"),
    "voynov": dict(k=K, steps=600),
}

METRIC_COLUMNS = ("alignment", "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "factorvae",
                  "saliency_iou")


@dataclass
class Row:
    name: str
    kind: str  # "reference" or "method"
    params: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    per_factor: dict[str, float] = field(default_factory=dict)  # matched |cos| with each true factor direction
    background_direction: int | None = None
    seconds: float | None = None  # fit time
    note: str = ""


def reference_sets(generator: Generator, k: int = K, seed: int = 0) -> dict[str, DirectionSet]:
    """The rows every leaderboard has: true directions, random unit directions, coordinate axes."""
    d = generator.latent_dim
    random = torch.randn(k, d, generator=torch.Generator().manual_seed(seed))
    return {
        "true directions": DirectionSet(generator.factor_directions().detach().cpu(), method="true"),
        "random directions": DirectionSet(random / random.norm(dim=1, keepdim=True), method="random"),
        "coordinate axes": DirectionSet(torch.eye(d)[: min(k, d)], method="axes"),
    }


def score(generator: Generator, directions: DirectionSet, *, samples: int,
          seed: int) -> tuple[dict[str, float], int, dict[str, float]]:
    """(metric scores, index of the background direction, matched |cos| per factor)."""
    vectors = linear_directions(directions, generator, seed=seed)  # non-linear models: linearised once
    scores = disentanglement_scores(generator, vectors, n=samples, seed=seed)
    sal = saliency_iou(generator, directions, seed=seed)
    match = alignment(vectors, generator.factor_directions())
    names = getattr(generator, "factor_names", [str(i) for i in range(len(match.per_factor))])
    return {**scores, "saliency_iou": sal.iou}, sal.direction, dict(zip(names, match.per_factor, strict=True))


def fit_method(name: str, generator: Generator, seed: int,
               steps_scale: float = 1.0) -> tuple[DirectionSet, dict[str, Any], float]:
    """Fit method `name` with its BUDGETS line (trained methods' steps times `steps_scale`) -> (directions, params,
    seconds)."""
    from ..methods import create_method

    budget = dict(BUDGETS[name])
    fit_kwargs = budget.pop("fit", {})
    if "steps" in budget:
        budget["steps"] = max(1, round(budget["steps"] * steps_scale))
    if "seed" in _param_names(name):
        budget.setdefault("seed", seed)
    method = create_method(name, **budget)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        start = time.perf_counter()
        method.fit(generator, **fit_kwargs)
        seconds = time.perf_counter() - start
    return method.directions(), budget, seconds


def _param_names(name: str) -> list[str]:
    from ..registry import METHODS

    return getattr(METHODS.get(name), "param_names", lambda: [])()


def run_leaderboard(generator: Generator, *, methods: list[str] | None = None, samples: int = 3000, seed: int = 0,
                    save_dir: Path | None = None, steps_scale: float = 1.0) -> list[Row]:
    """Score the reference rows and every method (all registered ones, or `methods`) on `generator`."""
    from ..registry import METHODS

    if not hasattr(generator, "factor_directions"):
        raise GansteerError(f"generator {generator.name!r} has no known factors; expected e.g. 'synthetic'")
    importlib.import_module("gansteer.methods")  # methods register on import
    names = methods if methods is not None else METHODS.names()
    for name in names:
        METHODS.entry(name)  # unknown names fail here, with the list
    rows = []
    for name, dirs in reference_sets(generator, seed=seed).items():
        scores, bg, per = score(generator, dirs, samples=samples, seed=seed)
        rows.append(Row(name, "reference", scores=scores, per_factor=per, background_direction=bg))
    for name in names:
        if name not in BUDGETS:
            rows.append(Row(name, "method", note="no ground-truth budget: add a line to BUDGETS in "
                                                 "gansteer/metrics/leaderboard.py"))
            continue
        try:
            dirs, params, seconds = fit_method(name, generator, seed, steps_scale)
            if save_dir is not None:
                dirs.save(Path(save_dir) / f"{name}.safetensors")
            scores, bg, per = score(generator, dirs, samples=samples, seed=seed)
        except GansteerError as e:
            rows.append(Row(name, "method", params=dict(BUDGETS[name]), note=f"failed: {e}"))
            continue
        rows.append(Row(name, "method", params=params, scores=scores, per_factor=per, background_direction=bg,
                        seconds=seconds))
    return rows


def to_markdown(rows: list[Row]) -> str:
    head = ["method", "alignment", "MIG", "DCI-D", "DCI-C", "DCI-I", "FactorVAE", "saliency IoU", "fit s", "budget"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        name = _label(r)
        if not r.scores:
            lines.append(f"| {name} | " + " | ".join(["–"] * (len(head) - 2)) + f" | {r.note} |")
            continue
        cells = [f"{r.scores[c]:.3f}" for c in METRIC_COLUMNS]
        seconds = "–" if r.seconds is None else f"{r.seconds:.1f}"
        budget = ", ".join(f"{k}={v}" for k, v in r.params.items() if k != "seed")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds} | {budget} |")
    return "\n".join(lines) + "\n"


def _label(row: Row) -> str:
    return f"*{row.name}*" if row.kind == "reference" else f"`{row.name}`"


def per_factor_markdown(rows: list[Row]) -> str:
    """Matched |cos| of each row's directions with each true factor direction: which factors a method found."""
    scored = [r for r in rows if r.per_factor]
    if not scored:
        return ""
    names = list(scored[0].per_factor)
    lines = ["| method | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for r in scored:
        lines.append(f"| {_label(r)} | " + " | ".join(f"{r.per_factor[n]:.2f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_leaderboard(rows: list[Row], out_dir: str | Path, *, generator: Generator, samples: int, seed: int,
                      steps_scale: float = 1.0) -> tuple[Path, Path]:
    """leaderboard.md (the table) and leaderboard.json (rows + settings) in `out_dir`, written atomically."""
    md, js = Path(out_dir) / "leaderboard.md", Path(out_dir) / "leaderboard.json"
    header = (f"Ground truth on `{generator.name}` (z {generator.latent_dim}, {K} factors), seed {seed}, "
              f"{samples} samples; fit times on {platform.machine()} CPU.\n\n")
    with atomic_path(md) as tmp:
        tmp.write_text(header + to_markdown(rows) + "\nMatched |cos| per true factor:\n\n" + per_factor_markdown(rows))
    payload = {"generator": generator.name, "generator_hash": generator.weight_hash(), "seed": seed,
               "samples": samples, "k": K, "steps_scale": steps_scale, "rows": [asdict(r) for r in rows]}
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=_plain))
    return md, js


def _plain(o: object) -> object:
    return o.tolist() if isinstance(o, Tensor) else list(o) if isinstance(o, tuple) else str(o)
