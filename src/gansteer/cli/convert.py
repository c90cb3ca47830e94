"""`gansteer convert ...`: import direction files of the reference implementations into gansteer's format."""

from __future__ import annotations

from .main import GansteerGroup, main


@main.group(cls=GansteerGroup)
def convert() -> None:
    """Import directions saved by reference implementations (GanLatentDiscovery, ganspace, ...)."""
