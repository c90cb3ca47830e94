"""`gansteer demo`: SeFa on the embedded face DCGAN, a traversal grid and GIFs under out/ (what `make demo` runs)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .main import main
from .options import generator_option, open_generator


@main.command()
@generator_option()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="out", show_default=True,
              help="Folder for the direction file, grid PNG and GIFs.")
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=8, show_default=True, help="Directions to find.")
def demo(generator: str, generator_format: str | None, out_dir: Path, k: int) -> None:
    """Discover directions with SeFa and render them: the quickest look at what gansteer does."""
    from ..methods.sefa import SeFa
    from ..traversal import save_traversal_gif, save_traversal_grid, traverse

    start = time.perf_counter()
    G = open_generator(generator, generator_format)
    directions = SeFa(k=k).fit(G).directions()
    click.echo(f"wrote {directions.save(out_dir / 'sefa.safetensors')}")
    shifts = [-3 + i for i in range(7)]
    images = traverse(G, directions, range(k), shifts, seeds=[0, 1, 2])
    click.echo(f"wrote {save_traversal_grid(images, out_dir / 'sefa.png', row_labels=[str(i) for i in range(k)])}")
    for i in range(k):
        click.echo(f"wrote {save_traversal_gif(images[i], out_dir / f'sefa_dir{i}.gif')}")
    click.echo(f"done in {time.perf_counter() - start:.1f} s")
