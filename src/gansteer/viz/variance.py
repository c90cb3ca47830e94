"""Explained-variance plot of a PCA (GANSpace): per-component bars and the cumulative curve, written as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..io.checkpoints import atomic_path


def plot_explained_variance(ratio: Sequence[float] | np.ndarray, path: str | Path, *, title: str = "") -> Path:
    """Bars: explained variance ratio of each component (%); line: cumulative (%, right axis)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg without switching pyplot's global backend
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    ratio = np.asarray(ratio, dtype=np.float64).reshape(-1) * 100
    index = np.arange(len(ratio))
    fig = Figure(figsize=(7, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(index, ratio, color="#4c72b0", width=0.85)
    ax.set_xlabel("component")
    ax.set_ylabel("explained variance (%)")
    ax.set_xlim(-0.8, len(ratio) - 0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    cumulative = ax.twinx()
    cumulative.plot(index, np.cumsum(ratio), color="#dd8452", marker=".", markersize=3)
    cumulative.set_ylabel("cumulative (%)", color="#dd8452")
    cumulative.set_ylim(0, max(100.0, float(np.cumsum(ratio)[-1]) if len(ratio) else 100.0))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
