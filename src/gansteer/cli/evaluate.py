"""`gansteer evaluate ...`: scores for directions (RCA, ground truth); each metric adds its own subcommand."""

from __future__ import annotations

from .main import GansteerGroup, main


@main.group(cls=GansteerGroup)
def evaluate() -> None:
    """Score directions: reconstructor accuracy (RCA), ground-truth disentanglement, saliency."""
