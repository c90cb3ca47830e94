"""`gansteer discover METHOD`: fit a method on a generator and write a direction file."""

from __future__ import annotations

from pathlib import Path

import click

from .main import GansteerGroup, main
from .options import LayerRange, generator_option, open_generator, threads_option


@main.group(cls=GansteerGroup)
def discover() -> None:
    """Discover directions with one method and save them as a .safetensors direction file."""


def output_option(f):  # type: ignore[no-untyped-def]
    return click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
                        help="Direction file to write (.safetensors).")(f)


@discover.command()
@generator_option()
@output_option
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of directions (top eigenvectors).")
@click.option("--no-normalize", is_flag=True, help="Skip the reference's per-unit weight normalisation.")
@click.option("--layers", type=LayerRange(), default=None,
              help="StyleGAN-like generators: style layers to factorise, inclusive (e.g. 0-3).")
@click.option("--shift", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True,
              help="Recommended |shift| stored with each direction.")
@threads_option
def sefa(generator: str, generator_format: str | None, output: Path, k: int, no_normalize: bool,
         layers: tuple[int, int] | None, shift: float) -> None:
    """SeFa: closed-form eigenvectors of the first-layer weight (seconds, no sampling, no training)."""
    from ..methods.sefa import SeFa

    G = open_generator(generator, generator_format)
    directions = SeFa(k=k, normalize=not no_normalize, layers=layers, shift=shift).fit(G).directions()
    directions.save(output)
    click.echo(f"wrote {output} ({directions.num_directions} directions in {directions.space} of {G.name})")
