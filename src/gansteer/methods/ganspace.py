"""GANSpace (Härkönen et al., NeurIPS 2020): principal components of latents or of activations, as edit directions.

Two paths, as in the reference implementation:

- **latent PCA**: sample N latents in a space (``w`` of StyleGAN-like generators) and take their principal axes. On
  an isotropic Gaussian z this is meaningless (every axis has the same variance), so it warns there.
- **activation PCA + regression**: sample z, take the features at a named layer (`generator.features`), find their
  principal axes, project fresh samples onto them (coordinates scaled to unit std) and regress the latents onto
  those coordinates by least squares: row i of the solution is the latent direction that moves coordinate i.

Every statistic is a sum over samples, streamed in chunks: chunk i is drawn from its own seed, and under
`torch.distributed` rank r takes chunks r, r + world, ... and the sums are all-reduced, so a sharded fit sees the
same samples as a single process. The recommended shift of direction i is ±sigma x (std of the latents along it),
sigma = 2 as in the reference's visualisation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..registry import METHODS
from .base import Method, check_positive
from .streaming_pca import ESTIMATORS, PCAResult, allreduce_sums, dist_info, fit_pca, resolve_estimator, row_blocks

SAMPLING, REGRESSION = 1, 3  # seed streams (the reference's SEED_SAMPLING / SEED_LINREG)


@dataclass
class GANSpace(Method):
    """PCA of latents (`layer="latent"`) or of a layer's activations transferred to latent directions by regression."""

    k: int = 80  # components (reference: -c 80)
    n: int | None = None  # samples; None: 300,000 for latent PCA (the reference's -n), 20,000 for activations
    layer: str = "auto"  # "latent", a feature layer name, or "auto" (latent PCA in w, else the first feature layer)
    space: str = "z"  # latent space sampled and edited: "z", or "w" for StyleGAN-like generators
    estimator: str = "auto"  # auto | exact | randomized | incremental | ica | sparse (see streaming_pca)
    sigma: float = 2.0  # recommended shift = ±sigma std along each direction (reference: --sigma 2)
    layers: tuple[int, int] | None = None  # default edit layers [start, stop) for layered generators
    batch_size: int = 4096  # samples per chunk
    seed: int = 0
    n_iter: int = 3  # passes of the randomized estimator
    sparsity: float = 1.0  # sparse PCA's alpha (reference: --sparsity 1.0)
    regression_samples: int | None = None  # samples for the regression; None: n
    cond: int | None = None  # class of conditional generators, fixed as the reference's --class (None: class 0)

    name = "ganspace"

    def __post_init__(self) -> None:
        check_positive("k", self.k)
        check_positive("batch_size", self.batch_size)
        check_positive("n_iter", self.n_iter)
        for name in ("n", "regression_samples"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        check_positive("sigma", float(self.sigma), kind=float)
        if self.estimator not in ESTIMATORS:
            raise GansteerError(f"estimator {self.estimator!r} is unknown; expected one of: {', '.join(ESTIMATORS)}")
        if self.layers is not None:
            self.layers = (int(self.layers[0]), int(self.layers[1]))

    # ------------------------------------------------------------------ fit
    @torch.inference_mode()
    def fit(self, generator: Generator, *, progress: bool = True, **_: Any) -> GANSpace:
        G = generator
        G.check_space(self.space)
        if self.space.endswith("+"):
            raise GansteerError(f"space {self.space!r} is layered; use 'z' or 'w' and layers=(start, stop) to edit "
                                "a layer range")
        self._check_layers(G)
        self.layer_ = self._resolve_layer(G)
        latent_pca = self.layer_ == "latent"
        if latent_pca and self.space == "z":
            hint = f" (layer={G.feature_layers[0]!r})" if G.feature_layers else ""
            warnings.warn(f"latent PCA in z of {G.name!r} is meaningless: z is an isotropic Gaussian, so every axis "
                          f"has the same variance; use activation PCA{hint}", stacklevel=2)
        if not latent_pca and self.k > G.latent_dim:
            warnings.warn(f"k={self.k} exceeds the latent dimension {G.latent_dim} of {G.name!r}: the regressed "
                          f"directions beyond {G.latent_dim} are linear combinations of the others", stacklevel=2)
        n = self.n or (300_000 if latent_pca else 20_000)
        self._progress = progress and dist_info()[0] == 0

        shift = self._data(G, next(self._latents(G, SAMPLING, n, only_first=True))).mean(0, dtype=np.float64)
        pca = fit_pca(lambda: (self._data(G, z) for z in self._latents(G, SAMPLING, n, desc="PCA")),
                      self.k, estimator=self.estimator, shift=shift, n_iter=self.n_iter, sparsity=self.sparsity,
                      seed=self.seed)
        self.pca_, self.estimator_ = pca, resolve_estimator(self.estimator, shift.shape[0])
        if latent_pca:
            self.components_ = torch.from_numpy(pca.components)  # (k, D) directions in the space itself
            self.latent_std_ = torch.from_numpy(pca.std)
            self.latent_mean_ = torch.from_numpy(pca.mean)
        else:
            self._regress(G, self.regression_samples or n)
        self.generator_, self.generator_hash_ = G.name, G.weight_hash()
        return self

    def _regress(self, G: Generator, n: int) -> None:
        """Least squares Z ~ A M over fresh samples: A = PCA coordinates / std (N, k), Z = latents (N, Dz)."""
        comps, mean, std = self.pca_.components, self.pca_.mean, np.maximum(self.pca_.std, 1e-12)
        dz = G.latent_dim
        sums = [np.zeros((self.k, self.k)), np.zeros((self.k, dz)), np.zeros(self.k), np.zeros(dz),
                np.zeros((dz, dz)), np.zeros(1)]
        for z in self._latents(G, REGRESSION, n, desc="regression"):
            x = self._data(G, z)
            a = np.concatenate([np.subtract(x[rows], mean, dtype=np.float64) @ comps.T
                                for rows in row_blocks(*x.shape)]) / std  # (m, k)
            zz = z.reshape(z.shape[0], -1).double().cpu().numpy()  # (m, Dz)
            for acc, term in zip(sums, (a.T @ a, a.T @ zz, a.sum(0), zz.sum(0), zz.T @ zz, [a.shape[0]]), strict=True):
                acc += term
        ata, atz, sa, sz, szz, count = allreduce_sums(*sums)
        m = count[0]
        a_mean, z_mean = sa / m, sz / m
        caa = ata - m * np.outer(a_mean, a_mean)  # centred normal equations: an intercept absorbs the means
        caz = atz - m * np.outer(a_mean, z_mean)
        solution = np.linalg.lstsq(caa, caz, rcond=None)[0]  # (k, Dz): row i = latent step per +1 std of coord i
        directions = solution / np.linalg.norm(solution, axis=1, keepdims=True).clip(1e-12)
        czz = (szz - m * np.outer(z_mean, z_mean)) / max(m - 1, 1)
        self.components_ = torch.from_numpy(directions)
        variance = np.einsum("kd,de,ke->k", directions, czz, directions)  # of the latents along each direction
        self.latent_std_ = torch.from_numpy(np.sqrt(np.maximum(variance, 0)))
        self.latent_mean_ = torch.from_numpy(z_mean)

    # -------------------------------------------------------------- sampling
    def _latents(self, G: Generator, stream: int, n: int, *, desc: str = "", only_first: bool = False
                 ) -> Iterator[Tensor]:
        """This rank's chunks of `n` latents; chunk i comes from seed (seed, stream, i) whatever the world size."""
        rank, world = (0, 1) if only_first else dist_info()
        num = math.ceil(n / self.batch_size)
        mine = range(0, 1) if only_first else range(rank, num, world)
        bar = tqdm(mine, desc=f"ganspace {desc}", leave=False, disable=not self._progress or only_first)
        for i in bar:
            m = min(self.batch_size, n - i * self.batch_size)
            seed = int(np.random.SeedSequence([self.seed, stream, i]).generate_state(1)[0])
            yield G.sample_latent(m, generator=torch.Generator().manual_seed(seed), space=self.space,
                                  cond=self._class(G))

    def _class(self, G: Generator) -> int | None:
        return (self.cond or 0) if G.num_classes else self.cond

    def _data(self, G: Generator, latent: Tensor) -> np.ndarray:
        """What PCA sees: the latents themselves or the flattened features at the layer, (m, D), no copy."""
        if self.layer_ == "latent":
            x = latent
        else:
            x = G.features(latent, self.layer_, space=self.space, cond=self._class(G))
        return x.reshape(x.shape[0], -1).cpu().numpy()

    def _resolve_layer(self, G: Generator) -> str:
        if self.layer == "latent":
            return "latent"
        if self.layer == "auto":
            return "latent" if self.space != "z" or not G.feature_layers else G.feature_layers[0]
        G.check_layer(self.layer)
        return self.layer

    def _check_layers(self, G: Generator) -> None:
        if self.layers is None:
            return
        if G.num_layers <= 1:
            raise GansteerError(f"generator {G.name!r} has a single layer: layer ranges do not apply")
        start, stop = self.layers
        if not 0 <= start < stop <= G.num_layers:
            raise GansteerError(f"layer range {start}-{stop - 1} is invalid; expected within 0-{G.num_layers - 1}")


    # ------------------------------------------------------------ directions
    def directions(self) -> DirectionSet:
        components = self.check_fitted("components_")
        pca: PCAResult = self.pca_
        std = self.latent_std_.float()
        tensors = {
            "eigenvalues": torch.from_numpy(pca.std**2).float(),  # variance along each component (analysed space)
            "explained_variance_ratio": torch.from_numpy(pca.ratio).float(),
            "std": torch.from_numpy(pca.std).float(),  # the reference's act_stdev
            "latent_std": std,  # the reference's lat_stdev: std of the latents along each direction
            "latent_mean": self.latent_mean_.float(),
        }
        if self.layer_ != "latent":
            tensors["components"] = torch.from_numpy(pca.components).float()  # (k, D_feat), the reference's act_comp
            tensors["mean"] = torch.from_numpy(pca.mean).float()
        return DirectionSet(
            components.float(), space=self.space, method=self.name,
            params={**self.params(), "layer": self.layer_, "estimator": self.estimator_},
            generator=self.generator_, generator_hash=self.generator_hash_, layers=self.layers,
            shift_range=torch.stack([-self.sigma * std, self.sigma * std], 1), tensors=tensors,
        )


def import_ganspace_npz(
    path: str | Path, *, space: str | None = None, sigma: float = 2.0, layers: tuple[int, int] | None = None,
    generator: str = "",
) -> DirectionSet:
    """A DirectionSet from a component file of the reference implementation (harskish/ganspace `*.npz`).

    Keys used: `lat_comp` (K, ...latent shape) directions, `lat_stdev` (K,) std along them (-> ±sigma std shift
    range); optional `var_ratio`, `act_stdev`, `lat_mean`. `space`: "z" or "w"; None reads the reference's file name
    (its `_w` suffix marks W). Loading never unpickles (`allow_pickle=False`).
    """
    path = Path(path)
    if not path.is_file():
        raise GansteerError(f"ganspace component file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except (OSError, ValueError, EOFError) as e:
        raise GansteerError(f"{path}: not a readable .npz file ({str(e).splitlines()[0] if str(e) else e})") from None
    missing = [key for key in ("lat_comp", "lat_stdev") if key not in arrays]
    if missing:
        raise GansteerError(f"{path}: not a ganspace component file; missing {', '.join(missing)} "
                            f"(has {', '.join(sorted(arrays)) or 'nothing'})")
    comp = np.asarray(arrays["lat_comp"], np.float64)
    k = comp.shape[0]
    comp = comp.reshape(k, -1)
    lat_std = np.asarray(arrays["lat_stdev"], np.float64).reshape(-1)
    if lat_std.shape[0] != k or not np.isfinite(comp).all() or not np.isfinite(lat_std).all():
        raise GansteerError(f"{path}: lat_stdev has {lat_std.shape[0]} finite entries for {k} components; expected {k}")
    comp = comp / np.linalg.norm(comp, axis=1, keepdims=True).clip(1e-12)
    if space is None:
        stem = path.stem
        space = "w" if stem.endswith("_w") or "_w_seed" in stem else "z"
    std = torch.from_numpy(lat_std).float()
    tensors = {"latent_std": std}
    for key, name in (("var_ratio", "explained_variance_ratio"), ("act_stdev", "std")):
        if key in arrays and np.asarray(arrays[key]).reshape(-1).shape[0] == k:
            tensors[name] = torch.from_numpy(np.asarray(arrays[key], np.float32).reshape(-1))
    if "act_stdev" in arrays and "std" in tensors:
        tensors["eigenvalues"] = tensors["std"] ** 2
    if "lat_mean" in arrays:
        tensors["latent_mean"] = torch.from_numpy(np.asarray(arrays["lat_mean"], np.float32).reshape(-1))
    return DirectionSet(
        torch.from_numpy(comp).float(), space=space, method="ganspace",
        params={"source": path.name, "sigma": sigma}, generator=generator, layers=layers,
        shift_range=torch.stack([-sigma * std, sigma * std], 1), tensors=tensors,
    )


METHODS.register("ganspace", help="PCA of latents or activations, transferred to latent directions (GANSpace, seed 002)"
                 )(GANSpace)
