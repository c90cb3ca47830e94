"""Options every trained method's `discover` command shares (steps, batch, lr, seed, checkpoints, TensorBoard,
classes, --no-fast, --precision), and the fit-then-save they end with. Unset options keep the method's (or preset's)
default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .options import IndexList

TRAINING_KEYS = ("steps", "batch_size", "lr", "seed", "classes", "fast", "precision")


precision_option = click.option(
    "--precision", type=click.Choice(["float32", "bfloat16"]), default=None,
    help="Arithmetic of the frozen generator: bfloat16 makes a step ~1.5x faster on CPUs with native bfloat16 "
         "(AVX512-BF16, AMX) and slower on others, at ~1% image error; what is trained stays float32.  "
         "[default: float32]")


def training_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps in total."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Latents per step."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate."),
        click.option("--seed", type=int, default=None, help="Seed of every random draw (default 0)."),
        click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Training checkpoint written every --checkpoint-every steps and at the end."),
        click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True,
                     help="Steps between checkpoints."),
        click.option("--resume", is_flag=True, help="Continue exactly from --checkpoint if it exists."),
        click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="TensorBoard directory for the training scalars."),
        click.option("--classes", type=IndexList(), default=None,
                     help="Class-conditional generators: classes to draw from, e.g. 239 or 1,5-7 [default: all]."),
        click.option("--no-fast", "fast", flag_value=False, default=None,
                     help="Train on the generator as given, not on a private copy with BatchNorm folded and "
                          "channels-last weights (same function up to rounding)."),
        precision_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def method_params(options: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The given (not None) options among `keys` and the shared training keys, as method parameters."""
    return {k: options[k] for k in (*keys, *TRAINING_KEYS) if options.get(k) is not None}


def fit_and_save(method: Any, generator: Any, output: Path, options: dict[str, Any]) -> None:
    method.fit(generator, checkpoint=options["checkpoint"], checkpoint_every=options["checkpoint_every"],
               resume=options["resume"], log_dir=options["log_dir"])
    directions = method.directions()
    directions.save(output)
    last = {k: round(v[-1], 4) for k, v in method.history_.items()}
    click.echo(f"wrote {output} ({directions.num_directions} directions in {directions.space} of {generator.name}; "
               f"last step: {last})")
