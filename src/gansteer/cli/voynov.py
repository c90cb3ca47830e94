"""Voynov & Babenko on the command line: `discover voynov`, `evaluate rca`, `evaluate masks`, `convert
voynov-deformator`. The same `discover voynov` command runs under `torchrun --nproc_per_node N` (rank 0 writes)."""

from __future__ import annotations

from pathlib import Path

import click

from .convert import convert
from .discover import discover, output_option
from .evaluate import evaluate
from .options import IndexList, generator_option, open_generator, threads_option
from .training import precision_option

PRESET_NAMES = ["sngan-mnist", "sngan-anime", "biggan", "proggan", "dcgan-face"]
DIRECTION_TYPES = ["orthonormal", "unit-norm", "linear", "random", "identity"]
PATH = click.Path(dir_okay=False, path_type=Path)


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


@discover.command()
@generator_option()
@output_option
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="dcgan-face", show_default=True,
              help="Seed 004's settings: sngan-mnist K=64 LeNet batch 128; sngan-anime K=128 LeNet batch 128; biggan "
                   "K=120 ResNet-18 batch 32; proggan K=200 ResNet-18 batch 10, 2e5 steps; dcgan-face (ours) K=100 "
                   "LeNet batch 32. All 1e5 steps unless stated; the options below override a preset.")
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=None, help="Number of directions K.")
@click.option("--lambda", "shift_weight", type=click.FloatRange(min=0), default=None,
              help="Weight of the shift regression (MAE) loss; the paper's 0.25.")
@click.option("--directions-type", type=click.Choice(DIRECTION_TYPES), default=None,
              help="Direction matrix A: orthonormal (Cayley-parametrised, K <= D; default), unit-norm columns, "
                   "linear (free columns), or the fixed baselines random / identity (only R is trained).")
@click.option("--reconstructor", default=None, metavar="NAME",
              help="Reconstructor network: lenet, resnet18 (or their -tiny variants).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per step (per process).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam lr for A and R (1e-4).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps in total.")
@click.option("--shift-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Shifts eps ~ U[-s, s] (6); also the recommended shift range stored with the directions.")
@click.option("--space", default=None, help="Latent space of the directions: z, or w for StyleGAN-like generators.")
@click.option("--classes", type=IndexList(), default=None,
              help="Conditional generators: classes to sample from, e.g. 239 or 0-9 (default: all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of A, R and the sample stream.")
@click.option("--checkpoint", type=PATH, default=None, help="Training checkpoint written every --checkpoint-every.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Steps between checkpoints (written atomically).")
@click.option("--resume", is_flag=True, help="Continue bit-exactly from --checkpoint (starts afresh if it is absent).")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="TensorBoard folder for loss, CE, MAE and accuracy.")
@click.option("--no-fast", is_flag=True,
              help="Train on G itself, not on a copy with BatchNorm folded into the convolutions, channels-last.")
@precision_option
@threads_option
def voynov(generator: str, generator_format: str | None, output: Path, preset: str, k: int | None,
           shift_weight: float | None, directions_type: str | None, reconstructor: str | None,
           batch_size: int | None, lr: float | None, steps: int | None, shift_scale: float | None, space: str | None,
           classes: list[int] | None, seed: int, checkpoint: Path | None, checkpoint_every: int, resume: bool,
           log_dir: Path | None, no_fast: bool, precision: str | None) -> None:
    """Voynov & Babenko: learn K directions and a reconstructor that recognises them (seeds 000, 004).

    \b
    Examples:
      gansteer discover voynov -o out/voynov.safetensors --steps 20000 --checkpoint out/v.pt --log-dir out/tb
      gansteer discover voynov -o out/k32.safetensors --k 32 --lambda 0.5          # seed 004's ablations
      torchrun --nproc_per_node 2 -m gansteer discover voynov -o out/v.safetensors  # 2 processes (gloo on CPU)
    """
    from ..methods.voynov import Voynov

    method = Voynov.from_preset(
        preset, k=k, shift_weight=shift_weight, directions_type=directions_type, reconstructor=reconstructor,
        batch_size=batch_size, lr=lr, steps=steps, shift_scale=shift_scale, space=space,
        classes=tuple(classes) if classes else None, seed=seed, fast=not no_fast, precision=precision,
    )
    G = open_generator(generator, generator_format)
    method.fit(G, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, log_dir=log_dir)
    if _rank() == 0:
        directions = method.directions()
        directions.save(output)
        acc = method.history_["accuracy"][-100:]
        click.echo(f"wrote {output} ({directions.num_directions} directions in {directions.space} of {G.name}; "
                   f"reconstructor accuracy over the last {len(acc)} steps {sum(acc) / len(acc):.1%})")


@evaluate.command()
@click.argument("directions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@generator_option()
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Training steps of each fresh reconstructor.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Samples per step.")
@click.option("--reconstructor", default="lenet", show_default=True, metavar="NAME", help="Reconstructor network.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True, help="Adam lr.")
@click.option("--eval-batches", type=click.IntRange(min=1), default=20, show_default=True,
              help="Held-out batches the accuracy is measured on.")
@click.option("--shift-scale", type=click.FloatRange(min=0, min_open=True), default=6.0, show_default=True,
              help="Shifts eps ~ U[-s, s].")
@click.option("--only", type=click.Choice(["learned", "all"]), default="all", show_default=True,
              help="Score the file's directions only, or also the random and identity baselines.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of R, the samples and the random A.")
@threads_option
def rca(directions_file: Path, generator: str, generator_format: str | None, steps: int, batch_size: int,
        reconstructor: str, lr: float, eval_batches: int, shift_scale: float, only: str, seed: int) -> None:
    """Reconstructor classification accuracy (seed 000): a fresh R trained against the fixed directions of the file,
    and against random and coordinate-axis directions of the same K; higher = directions easier to tell apart."""
    from ..directions import DirectionSet
    from ..metrics.rca import rca as rca_score
    from ..metrics.rca import rca_table

    directions = DirectionSet.load(directions_file)
    G = open_generator(generator, generator_format)
    kw = {"steps": steps, "batch_size": batch_size, "reconstructor": reconstructor, "lr": lr,
          "eval_batches": eval_batches, "shift_scale": shift_scale, "seed": seed, "progress": True}
    if only == "learned":
        scores = {"learned": rca_score(G, directions, **kw)}
    else:
        scores = rca_table(G, directions, **kw)
    k = directions.num_directions
    click.echo(f"RCA on {G.name}, K={k} (chance {1 / k:.1%}), {steps} steps, {reconstructor}, batch {batch_size}")
    click.echo("| directions | RCA |\n|---|---|")
    for name, value in scores.items():
        click.echo(f"| {name} | {value:.3f} |")


@evaluate.command()
@click.argument("directions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@generator_option()
@click.option("--direction", "-d", type=click.IntRange(min=0), required=True,
              help="Index of the background-removal direction h_bg.")
@click.option("--shift", type=float, default=8.0, show_default=True,
              help="Shift along it; use a negative one if the direction darkens the background as it grows.")
@click.option("--threshold", type=float, default=0.4, show_default=True,
              help="theta: a pixel is foreground where the shifted image's mean intensity is below it ([-1, 1]).")
@click.option("--seeds", type=IndexList(), default="0-7", show_default=True, help="Latent seeds, e.g. 0-7.")
@click.option("--class", "cond", type=int, default=None, help="Class of a conditional generator.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for mask_<seed>.png and an overview grid (images, shifted images, masks).")
@threads_option
def masks(directions_file: Path, generator: str, generator_format: str | None, direction: int, shift: float,
          threshold: float, seeds: list[int], cond: int | None, out_dir: Path) -> None:
    """Saliency masks from a background direction (seed 000): mask = [G(z + shift * h_bg) < threshold]."""
    import torch

    from ..directions import DirectionSet
    from ..metrics.saliency import saliency_masks, shifted_images
    from ..traversal import latents_for_seeds
    from ..viz.grid import image_grid, save_png

    directions = DirectionSet.load(directions_file)
    directions.check_index(direction)
    G = open_generator(generator, generator_format)
    z = latents_for_seeds(G, seeds, directions.space, cond)
    with torch.inference_mode():
        images = G(z, space=directions.space, cond=cond)
    shifted = shifted_images(G, directions, shift, latents=z, k=direction, cond=cond)
    mask = saliency_masks(G, directions, shift, threshold, latents=z, k=direction, cond=cond)  # (N, H, W) bool
    out_dir.mkdir(parents=True, exist_ok=True)
    as_image = mask.float()[:, None].expand(-1, 3, -1, -1) * 2 - 1  # (N, 3, H, W) in [-1, 1]: white = foreground
    for seed, m in zip(seeds, as_image, strict=True):
        save_png(image_grid(m[None], nrow=1, padding=0), out_dir / f"mask_{seed}.png")
    rows = torch.cat([images.float(), shifted.float(), as_image])
    grid = save_png(image_grid(rows, nrow=len(seeds)), out_dir / "masks.png")
    click.echo(f"wrote {len(seeds)} masks and {grid} (rows: images, shifted images, masks); "
               f"foreground fraction {mask.float().mean().item():.1%}")


@convert.command("voynov-deformator")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@output_option
@click.option("--type", "kind", type=click.Choice(["auto", "linear", "proj", "ortho"]), default="auto",
              show_default=True, help="Deformator type (auto: from a run's args.json, else from the weights; "
                                      "linear.weight alone is read as 'linear').")
@click.option("--generator", "-g", default=None, metavar="NAME|PATH",
              help="Generator the deformator belongs to: pads/truncates to its latent size and records its hash.")
@click.option("--format", "generator_format", default=None, metavar="NAME", help="Force the generator's format.")
@click.option("--space", default=None, help="Latent space of the directions (default z; w for StyleGAN2 runs).")
@click.option("--shift", type=click.FloatRange(min=0, min_open=True), default=6.0, show_default=True,
              help="Recommended |shift| (the reference trains with shifts in [-6, 6]).")
def voynov_deformator(path: Path, output: Path, kind: str, generator: str | None, generator_format: str | None,
                      space: str | None, shift: float) -> None:
    """Import a GanLatentDiscovery deformator (deformator_<step>.pt, a checkpoint.pt, or a run folder with args.json,
    models/ and human_annotation.txt) into a direction file. Loads tensors only (weights_only)."""
    from ..io.deformator import load_deformator

    G = open_generator(generator, generator_format) if generator else None
    directions = load_deformator(path, kind=kind, generator=G, space=space, shift=shift)
    directions.save(output)
    click.echo(f"wrote {output} ({directions.num_directions} {directions.params['deformator']} directions, "
               f"dimension {directions.vectors.shape[1]})")  # type: ignore[union-attr]
