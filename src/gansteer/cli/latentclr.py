"""`gansteer discover latentclr`: contrastive directions (global, linear or nonlinear)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .discover import discover, output_option
from .options import generator_option, open_generator, threads_option
from .training import fit_and_save, method_params, training_options


@discover.command()
@generator_option()
@output_option
@click.option("--model", type=click.Choice(["global", "linear", "nonlinear"]), default="global", show_default=True,
              help="Direction model: one vector per direction, M_k z, or an MLP per direction.")
@click.option("--num-directions", "-k", type=click.IntRange(min=2), default=None,
              help="Number of directions K [default: 32].")
@click.option("--alpha", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Edit magnitude z + alpha d_k(z) during training; also the path step of linear/nonlinear "
                   "models [default: 3].")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Contrastive temperature tau [default: 0.5].")
@click.option("--layer", default=None, metavar="NAME",
              help="Generator layer whose features are contrasted (see `gansteer info`) [default: a middle layer].")
@click.option("--hidden", type=click.IntRange(min=1), default=None,
              help="Width of the nonlinear model's MLP [default: latent dimension].")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="Adam weight decay [default: 1e-3].")
@training_options
@threads_option
def latentclr(generator: str, generator_format: str | None, output: Path, **options: Any) -> None:
    """LatentCLR: directions whose feature changes are told apart by a contrastive loss (seed 001).

    Defaults: K=32, alpha=3, tau=0.5, Adam lr 1e-3, batch 16, 10000 steps."""
    from ..methods.latentclr import LatentCLR

    G = open_generator(generator, generator_format)
    params = method_params(options, ("model", "num_directions", "alpha", "temperature", "layer", "hidden",
                                     "weight_decay"))
    fit_and_save(LatentCLR(**params), G, output, options)
