"""`gansteer train-encoder`, `gansteer invert` and `gansteer edit`: edit real photos with discovered directions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .main import main
from .options import IndexList, LayerRange, Shifts, generator_option, open_generator, threads_option


class CropBox(click.ParamType):
    """ "x0,y0,x1,y1" in pixels (x1, y1 exclusive) -> a tuple of four ints."""

    name = "X0,Y0,X1,Y1"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            box = tuple(int(v) for v in str(value).split(","))
        except ValueError:
            box = ()
        if len(box) != 4:
            self.fail(f"{value!r} is not a crop box; expected X0,Y0,X1,Y1 in pixels, e.g. 180,20,330,170", param, ctx)
        return box


def invert_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `invert` and by `edit` when it is given a photo."""
    options = [
        click.option("--encoder", "-e", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Encoder from `gansteer train-encoder`: a first guess (competing with --candidates random "
                          "latents) and a feature loss. Without it: random start, pixel + prior loss."),
        click.option("--steps", type=click.IntRange(min=0), default=300, show_default=True,
                     help="Optimisation steps after the start (0 = the start itself)."),
        click.option("--init", type=click.Choice(["auto", "best", "encoder", "random", "mean"]), default="auto",
                     show_default=True, help="Start: the encoder's guess, the best random candidate, the better of "
                     "the two (best), w_avg / z=0 (mean); auto = best with an encoder, else random (z) / mean (w)."),
        click.option("--crop", type=CropBox(), default=None,
                     help="Region of the photo to use, X0,Y0,X1,Y1 in pixels [default: the centred square]."),
        click.option("--space", default=None, metavar="SPACE",
                     help="Latent space to optimise [default: w+ for StyleGAN-like generators, else z]."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.05, show_default=True,
                     help="Adam learning rate of the latent."),
        click.option("--feature-weight", type=click.FloatRange(min=0), default=0.1, show_default=True,
                     help="Weight of the encoder-feature loss (needs --encoder)."),
        click.option("--prior-weight", type=click.FloatRange(min=0), default=1e-3, show_default=True,
                     help="Weight of the latent prior that keeps the result editable (z: squared z-score of the "
                          "radius; w: distance from w_avg and layer spread)."),
        click.option("--candidates", type=click.IntRange(min=1), default=32, show_default=True,
                     help="Seeded random latents tried as the start (with an encoder they compete with its guess)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random start."),
        click.option("--class", "cond", type=click.IntRange(min=0), default=None,
                     help="Class index for conditional generators."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _invert_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    keys = ("encoder", "steps", "init", "crop", "space", "lr", "feature_weight", "prior_weight", "candidates", "seed",
            "cond")
    return {k: kw.pop(k) for k in keys}


@main.command("train-encoder")
@generator_option()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Encoder file to write (.safetensors).")
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True, help="Training steps in total.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Generated (image, latent) pairs per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Adam learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the weights and of every sample.")
@click.option("--widths", type=IndexList(), default="32,64,128,256", show_default=True,
              help="Channels of the four ResNet stages.")
@click.option("--blocks", type=IndexList(), default="2,2,2,2", show_default=True, help="Residual blocks per stage.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Training checkpoint (written atomically) [default: OUTPUT with suffix .ckpt.pt].")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=250, show_default=True,
              help="Write the checkpoint every N steps (and at the end).")
@click.option("--resume", is_flag=True, help="Continue exactly from the checkpoint if it exists.")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/encoder"),
              show_default=True, help="TensorBoard scalars (train/loss).")
@threads_option
def train_encoder(generator: str, generator_format: str | None, output: Path, steps: int, batch_size: int, lr: float,
                  seed: int, widths: list[int], blocks: list[int], checkpoint: Path | None, checkpoint_every: int,
                  resume: bool, log_dir: Path) -> None:
    """Train the inversion encoder on generated (image, latent) pairs: image -> the latent that made it."""
    from ..errors import GansteerError
    from ..inversion import EncoderTraining

    if len(widths) != 4 or len(blocks) != 4 or 0 in widths or 0 in blocks:
        raise GansteerError(f"--widths {widths} / --blocks {blocks}; expected four positive numbers each")
    G = open_generator(generator, generator_format)
    checkpoint = checkpoint or output.with_suffix(".ckpt.pt")
    training = EncoderTraining(steps=steps, batch_size=batch_size, lr=lr, seed=seed, widths=tuple(widths),
                               blocks=tuple(blocks))
    training.fit(G, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, log_dir=log_dir)
    loss = training.history_["loss"]
    training.save(output)
    click.echo(f"wrote {output} (latent loss {loss[0]:.4f} -> {loss[-1]:.4f}; checkpoint {checkpoint})")


@main.command("invert")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@generator_option()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Latent file to write (.safetensors; `gansteer edit` reads it).")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG: the photo as fitted, then its reconstruction.")
@invert_options
@threads_option
def invert_command(image: Path, generator: str, generator_format: str | None, output: Path, preview: Path | None,
                   **kw: Any) -> None:
    """Find the latent whose image matches IMAGE: encoder guess, then optimise pixel + feature + prior losses."""
    import torch

    from ..inversion import invert
    from ..viz.grid import image_grid, save_png

    G = open_generator(generator, generator_format)
    inv = invert(image, G, progress=True, **_invert_kwargs(kw))
    inv.save(output)
    click.echo(f"wrote {output} ({inv.space} latent of {G.name}; PSNR {inv.psnr[0]:.2f} dB in "  # type: ignore[index]
               f"{inv.info['seconds']:.1f} s)")
    if preview is not None:
        click.echo(f"wrote {save_png(image_grid(torch.cat([inv.target, inv.reconstruction]), nrow=2), preview)}")  # type: ignore[list-item]


@main.command("edit")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@generator_option()
@click.option("--directions", "-d", "direction_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Direction file (.safetensors) from `gansteer discover`.")
@click.option("--direction", "-k", type=click.IntRange(min=0), required=True, help="Index of the direction to apply.")
@click.option("--shift", type=float, default=None, help="One shift: writes one edited image.")
@click.option("--shifts", type=Shifts(), default=None,
              help="Several shifts (START:STOP:COUNT, e.g. -3:3:7, or -2,0,2): writes a strip.")
@click.option("--layers", type=LayerRange(), default=None, help="Edit only these layers (inclusive, e.g. 0-5).")
@click.option("--no-target", is_flag=True, help="Strips: leave out the photo that normally comes first.")
@click.option("--save-latent", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="When SOURCE is a photo: also save its latent, so later edits skip the inversion.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write.")
@invert_options
@threads_option
def edit_command(source: Path, generator: str, generator_format: str | None, direction_file: Path, direction: int,
                 shift: float | None, shifts: list[float] | None, layers: tuple[int, int] | None, no_target: bool,
                 save_latent: Path | None, output: Path, **kw: Any) -> None:
    """Apply a discovered direction to SOURCE: a photo (inverted first) or a latent file from `gansteer invert`."""
    import math

    import torch

    from ..directions import DirectionSet
    from ..errors import GansteerError
    from ..inversion import edit
    from ..inversion.editing import load_inversion
    from ..viz.grid import image_grid, save_png

    if (shift is None) == (shifts is None):
        raise GansteerError("give exactly one of --shift X (one image) or --shifts START:STOP:COUNT (a strip)")
    if shift is not None and not math.isfinite(shift):
        raise GansteerError(f"--shift {shift} is not finite; expected a real number")
    G = open_generator(generator, generator_format)
    directions = DirectionSet.load(direction_file)
    directions.check_index(direction)
    inv = load_inversion(source, G, progress=True, **_invert_kwargs(kw))
    if save_latent is not None:
        click.echo(f"wrote {inv.save(save_latent)}")
    images = edit(inv, G, directions, direction, [shift] if shift is not None else shifts, layers=layers)[0]
    if shifts is not None and not no_target and inv.target is not None:
        images = torch.cat([inv.target[:1].to(images), images])
    click.echo(f"wrote {save_png(image_grid(images, nrow=len(images), padding=2 if len(images) > 1 else 0), output)}")
