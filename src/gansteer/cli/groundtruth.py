"""`gansteer evaluate groundtruth`: the leaderboard of every method on the synthetic generator with known factors."""

from __future__ import annotations

from pathlib import Path

import click

from .evaluate import evaluate
from .options import generator_option, open_generator, threads_option


@evaluate.command()
@generator_option(default="synthetic")
@click.option("--out", "-o", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/groundtruth"),
              show_default=True, help="Directory for leaderboard.md, leaderboard.json and each method's directions.")
@click.option("--methods", "-m", default=None, metavar="NAMES",
              help="Comma-separated methods to run (default: every registered method).")
@click.option("--samples", type=click.IntRange(min=200), default=3000, show_default=True,
              help="Prior samples for MIG and DCI.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for fitting, sampling and baselines.")
@click.option("--steps-scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiply every trained method's steps in BUDGETS (e.g. 10 for a longer, fairer run).")
@threads_option
def groundtruth(generator: str, generator_format: str | None, out: Path, methods: str | None, samples: int,
                seed: int, steps_scale: float) -> None:
    """Fit every method with a fixed budget on a generator with known factors and score it.

    \b
    Columns: alignment (Hungarian-matched |cos| with the true factor directions), MIG, DCI disentanglement /
    completeness / informativeness, FactorVAE score, saliency IoU (background direction found without labels,
    masks [G(z + h) < theta] against the true masks) and fit time. Reference rows: true directions (the
    ceiling), random directions and coordinate axes (the floor). Budgets: BUDGETS in gansteer/metrics/leaderboard.py.
    """
    from ..metrics.leaderboard import run_leaderboard, to_markdown, write_leaderboard

    G = open_generator(generator, generator_format)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    rows = run_leaderboard(G, methods=names, samples=samples, seed=seed, save_dir=out / "directions",
                           steps_scale=steps_scale)
    md, js = write_leaderboard(rows, out, generator=G, samples=samples, seed=seed, steps_scale=steps_scale)
    click.echo(to_markdown(rows))
    click.echo(f"wrote {md} and {js}")
