"""`gansteer discover ganspace` (PCA of latents or activations) and `gansteer convert ganspace-npz`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .convert import convert
from .discover import discover, output_option
from .options import LayerRange, generator_option, open_generator, threads_option

ESTIMATOR_CHOICES = ["auto", "exact", "randomized", "incremental", "ica", "sparse"]


@discover.command()
@generator_option()
@output_option
@click.option("--k", "-k", "k", type=click.IntRange(min=1), default=80, show_default=True,
              help="Number of principal components (directions).")
@click.option("--samples", "-n", "n", type=click.IntRange(min=2), default=None,
              help="Samples for the PCA [default: 300000 for latent PCA; 20000 for activation PCA, where each sample "
                   "costs a partial forward pass per pass over the data].")
@click.option("--layer", default="auto", show_default=True,
              help="'latent' (PCA of the latents), a feature layer of the generator (activation PCA + regression; "
                   "`gansteer generators` / the error lists them), or 'auto': latent PCA in w, else the first "
                   "feature layer.")
@click.option("--space", default="z", show_default=True,
              help="Latent space sampled and edited: z, or w for StyleGAN-like generators.")
@click.option("--estimator", type=click.Choice(ESTIMATOR_CHOICES), default="auto", show_default=True,
              help="exact: streamed float64 covariance + eigh; randomized: streamed subspace iteration; incremental: "
                   "scikit-learn IncrementalPCA (the reference's); ica / sparse: scikit-learn FastICA / SparsePCA "
                   "(all samples in memory). auto: exact up to 2048 dimensions, randomized above.")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Recommended shift range: ±sigma standard deviations of the latents along each direction.")
@click.option("--layers", type=LayerRange(), default=None,
              help="Layered generators (StyleGAN W+, BigGAN blocks): default edit layers, inclusive (e.g. 0-5).")
@click.option("--class", "cond", type=click.IntRange(min=0), default=None,
              help="Class index for conditional generators, fixed while sampling [default: 0].")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Samples per chunk (chunk i has its own seed, so results do not depend on the process count).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed.")
@click.option("--n-iter", type=click.IntRange(min=1), default=3, show_default=True,
              help="Passes over the samples of the randomized estimator.")
@click.option("--sparsity", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Sparse PCA's alpha (higher: sparser components).")
@click.option("--regression-samples", type=click.IntRange(min=2), default=None,
              help="Samples for the latent regression of activation PCA [default: --samples].")
@click.option("--plot", metavar="[PATH]", is_flag=False, flag_value="", default=None,
              help="Write an explained-variance PNG (to PATH; given alone: <output stem>_variance.png).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@threads_option
def ganspace(generator: str, generator_format: str | None, output: Path, k: int, n: int | None, layer: str,
             space: str, estimator: str, sigma: float, layers: tuple[int, int] | None, cond: int | None,
             batch_size: int, seed: int, n_iter: int, sparsity: float, regression_samples: int | None,
             plot: str | None, quiet: bool) -> None:
    """GANSpace: principal components of latents, or of a layer's activations regressed back to latent directions.

    Under torchrun (WORLD_SIZE > 1) each process samples its share, the sums are all-reduced over gloo and rank 0
    writes the files.
    """
    import torch.distributed as dist

    from ..methods.ganspace import GANSpace
    from ..methods.streaming_pca import dist_info

    started = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if started:
        dist.init_process_group("gloo")
    try:
        G = open_generator(generator, generator_format)
        method = GANSpace(k=k, n=n, layer=layer, space=space, estimator=estimator, sigma=sigma, layers=layers,
                          batch_size=batch_size, seed=seed, n_iter=n_iter, sparsity=sparsity,
                          regression_samples=regression_samples, cond=cond).fit(G, progress=not quiet)
        rank = dist_info()[0]
    finally:
        if started:
            dist.destroy_process_group()
    if rank != 0:
        return
    directions = method.directions()
    directions.save(output)
    ratio = directions.tensors["explained_variance_ratio"]
    what = "latent PCA" if method.layer_ == "latent" else f"activation PCA at {method.layer_} + regression"
    click.echo(f"wrote {output} ({directions.num_directions} directions in {directions.space} of {G.name}; {what}, "
               f"{method.estimator_} estimator, {method.pca_.count} samples; top-{directions.num_directions} explain "
               f"{100 * float(ratio.sum()):.1f}% of the variance)")
    if plot is not None:
        from ..viz.variance import plot_explained_variance

        path = Path(plot) if plot else output.with_name(f"{output.stem}_variance.png")
        title = f"GANSpace {what} on {G.name} ({method.estimator_}, {method.pca_.count} samples)"
        click.echo(f"wrote {plot_explained_variance(ratio.numpy(), path, title=title)}")


@convert.command("ganspace-npz")
@click.argument("npz_file", type=click.Path(dir_okay=False, path_type=Path))
@output_option
@click.option("--space", type=click.Choice(["z", "w"]), default=None,
              help="Latent space of the components [default: w when the file name ends in _w (the reference's "
                   "naming), else z].")
@click.option("--sigma", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Recommended shift range: ±sigma x lat_stdev.")
@click.option("--layers", type=LayerRange(), default=None, help="Default edit layers, inclusive (e.g. 0-5).")
@click.option("--generator-name", default="", help="Name of the generator the components belong to (metadata).")
def ganspace_npz(npz_file: Path, output: Path, space: str | None, sigma: float, layers: tuple[int, int] | None,
                 generator_name: str) -> None:
    """Import NPZ_FILE, a component file of the reference GANSpace (harskish/ganspace, cache/components/*.npz)."""
    from ..methods.ganspace import import_ganspace_npz

    directions = import_ganspace_npz(npz_file, space=space, sigma=sigma, layers=layers, generator=generator_name)
    directions.save(output)
    click.echo(f"wrote {output} ({directions.num_directions} directions in {directions.space}, "
               f"dimension {directions.vectors.shape[1]})")  # type: ignore[union-attr]
