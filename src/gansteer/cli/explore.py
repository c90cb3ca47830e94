"""`gansteer explore`: the web explorer for a direction file, served on 127.0.0.1 (sliders, strips, labels)."""

from __future__ import annotations

from pathlib import Path

import click

from .main import main
from .options import generator_option, open_generator, threads_option


@main.command()
@click.argument("direction_file", type=click.Path(dir_okay=False, path_type=Path))
@generator_option()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The page can rewrite DIRECTION_FILE and has no login: keep it local.")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=7860, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--top", type=click.IntRange(min=1), default=8, show_default=True,
              help="Sliders shown at first; the page adds the others on demand.")
@click.option("--encoder", "-e", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Encoder from `gansteer train-encoder`: faster, closer inversion of photos uploaded in the page.")
@click.option("--photo-steps", type=click.IntRange(min=0), default=200, show_default=True,
              help="Optimisation steps when inverting an uploaded photo.")
@threads_option
def explore(direction_file: Path, generator: str, generator_format: str | None, host: str, port: int,
            top: int, encoder: Path | None, photo_steps: int) -> None:
    """Open DIRECTION_FILE in the browser: a live slider per direction, layer range, class, seed, strips of one
    direction over several seeds, download, and a label + 1-5 rating per direction saved back into the file
    (the previous version kept as DIRECTION_FILE.bak)."""
    from ..web.app import create_app
    from ..web.photo import photo_router
    from ..web.server import bind, serve, url_of

    G = open_generator(generator, generator_format)
    app = create_app(G, direction_file, top=top, routers=[photo_router(encoder, steps=photo_steps)])
    if app.state.explorer.warning:
        click.echo(f"Warning: {app.state.explorer.warning}", err=True)
    sock = bind(host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Warning: listening on {host}: anyone who can reach it can edit {direction_file}", err=True)
    click.echo(f"gansteer explorer: {url_of(sock)}  ({direction_file} on {G.name}; Ctrl+C to stop)")
    serve(app, sock)
