"""`gansteer discover warped`: WarpedGANSpace, non-linear paths from RBF warpings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .discover import discover, output_option
from .options import generator_option, open_generator, threads_option
from .training import fit_and_save, method_params, training_options

PRESET_NAMES = ["dcgan-face", "sngan-mnist", "sngan-anime", "biggan", "proggan"]


@discover.command()
@generator_option()
@output_option
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="dcgan-face", show_default=True,
              help="Reference-spirited settings (K, dipoles, shift range, reconstructor, batch, steps); the options "
                   "below override them.")
@click.option("--num-warpings", "-k", type=click.IntRange(min=1), default=None, help="Number of warpings (paths) K.")
@click.option("--num-dipoles", type=click.IntRange(min=1), default=None, help="RBF dipoles per warping.")
@click.option("--gamma", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Initial RBF scale (smaller = more linear) [default: 1 / latent dimension].")
@click.option("--fixed-gammas", "learn_gammas", flag_value=False, default=None, help="Do not learn the RBF scales.")
@click.option("--learn-alphas", "learn_alphas", flag_value=True, default=None, help="Also learn the RBF weights.")
@click.option("--min-shift", type=click.FloatRange(min=0), default=None, help="Smallest |eps| of a training step.")
@click.option("--max-shift", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest |eps| of a training step.")
@click.option("--reconstructor", default=None, metavar="NAME",
              help="Reconstructor network: lenet, resnet18 (or lenet-tiny, resnet-tiny).")
@click.option("--lambda-cls", type=click.FloatRange(min=0), default=None, help="Weight of the warping-index loss.")
@click.option("--lambda-reg", type=click.FloatRange(min=0), default=None, help="Weight of the shift-magnitude loss.")
@click.option("--warping-lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Adam learning rate of the support sets (--lr is the reconstructor's).")
@click.option("--path-step", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Step length when a traversal follows a path [default: 0.1].")
@training_options
@threads_option
def warped(generator: str, generator_format: str | None, output: Path, preset: str, **options: Any) -> None:
    """WarpedGANSpace: K RBF warpings whose gradient paths a reconstructor can tell apart (seed 003)."""
    from ..methods.warped import WarpedGANSpace

    G = open_generator(generator, generator_format)
    params = method_params(options, ("num_warpings", "num_dipoles", "gamma", "learn_gammas", "learn_alphas",
                                     "min_shift", "max_shift", "reconstructor", "lambda_cls", "lambda_reg",
                                     "warping_lr", "path_step"))
    fit_and_save(WarpedGANSpace.preset(preset, **params), G, output, options)
