"""`gansteer generators` and `gansteer methods`: what this installation can load and run."""

from __future__ import annotations

import click

from .main import main


@main.command()
def generators() -> None:
    """List registered generators (names usable with --generator) and checkpoint formats (for paths)."""
    from ..generators.loading import import_architectures
    from ..registry import GENERATOR_FORMATS, GENERATORS

    import_architectures()
    click.echo("generators (--generator NAME):")
    for e in GENERATORS:
        click.echo(f"  {e.name:<24}{'[tiny] ' if e.tiny else ''}{e.help}")
    click.echo("checkpoint formats (--generator PATH, detected; force with --format NAME):")
    for e in GENERATOR_FORMATS:
        click.echo(f"  {e.name:<24}{e.help}")


@main.command()
def methods() -> None:
    """List direction-discovery methods (use with `gansteer discover NAME`)."""
    import gansteer.methods  # noqa: F401  (registers the methods)

    from ..registry import METHODS

    for e in METHODS:
        click.echo(f"  {e.name:<12}{e.help}")
