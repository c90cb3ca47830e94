"""The root click group. Any GansteerError becomes a one-line `Error: ...` and exit status 1, never a traceback;
a command that succeeded under torchrun ends by tearing its process group down (methods.distributed)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import GansteerError


class GansteerGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except GansteerError as e:
            raise click.ClickException(str(e)) from None
        if "torch.distributed" in sys.modules:  # (a command that never touched torch has no process group)
            from ..methods.distributed import finish_distributed

            finish_distributed()
        return result


@click.group(cls=GansteerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="gansteer")
def main() -> None:
    """Discover, inspect and apply interpretable directions in the latent space of pretrained GANs.

    \b
    Typical session:
      gansteer generators                                   # what can be loaded
      gansteer discover sefa --generator dcgan-face -o out/sefa.safetensors
      gansteer traverse out/sefa.safetensors --generator dcgan-face --directions 0-7 -o out/sefa.png --gif
    """
