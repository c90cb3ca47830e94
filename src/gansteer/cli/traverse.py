"""`gansteer traverse`: render directions x shifts for fixed seeds as a PNG grid (and GIFs)."""

from __future__ import annotations

from pathlib import Path

import click

from .main import main
from .options import IndexList, LayerRange, Shifts, generator_option, open_generator, threads_option


@main.command()
@click.argument("direction_file", type=click.Path(dir_okay=False, path_type=Path))
@generator_option()
@click.option("--directions", "-d", "indices", type=IndexList(), default="0-7", show_default=True,
              help="Directions to show, e.g. 0-7 or 0,3,5 (rows of the grid).")
@click.option("--shifts", "-s", type=Shifts(), default=None,
              help="Shifts as START:STOP:COUNT or a comma list [default: each direction's recommended range, 7 steps].")
@click.option("--seeds", type=IndexList(), default="0-3", show_default=True, help="Latent seeds (one row each).")
@click.option("--layers", type=LayerRange(), default=None, help="Edit only these layers (inclusive, e.g. 0-5).")
@click.option("--class", "cond", type=click.IntRange(min=0), default=None,
              help="Class index for conditional generators (fixed across the traversal).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write.")
@click.option("--gif", is_flag=True, help="Also write one animated GIF per direction next to the PNG.")
@threads_option
def traverse(direction_file: Path, generator: str, generator_format: str | None, indices: list[int],
             shifts: list[float] | None, seeds: list[int], layers: tuple[int, int] | None, cond: int | None,
             output: Path, gif: bool) -> None:
    """Render DIRECTION_FILE: one row per (direction, seed), one column per shift; labels and ratings on the left."""
    from ..directions import DirectionSet
    from ..traversal import row_label, save_traversal_gif, save_traversal_grid
    from ..traversal import traverse as run_traverse

    directions = DirectionSet.load(direction_file)
    G = open_generator(generator, generator_format)
    for k in indices:
        directions.check_index(k)
    if shifts is None:
        lo, hi = directions.shift_range[indices].min().item(), directions.shift_range[indices].max().item()  # type: ignore[index]
        shifts = [lo + (hi - lo) * i / 6 for i in range(7)]
    images = run_traverse(G, directions, indices, shifts, seeds=seeds, layers=layers, cond=cond)
    labels = [row_label(directions, k) for k in indices]
    click.echo(f"wrote {save_traversal_grid(images, output, row_labels=labels)}")
    if gif:
        for i, k in enumerate(indices):
            click.echo(f"wrote {save_traversal_gif(images[i], output.with_name(f'{output.stem}_dir{k}.gif'))}")
