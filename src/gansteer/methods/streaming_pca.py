"""PCA of a stream of sample chunks that never holds all samples: exact, randomized, incremental, ICA, sparse PCA.

The exact and randomized estimators only ever need *sums over samples* (sum of x, of x x^T, of x^T (x Q)), so a
stream can be split over processes: each rank sums its own chunks and the sums are all-reduced (`torch.distributed`,
when initialised). Sums are kept in float64, over data shifted by a fixed vector (`shift`, shared by all ranks), so
the centred covariance does not lose digits to a large mean; the exact estimator also multiplies in float64, the
randomized one (an approximation anyway) in float32, twice as fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GansteerError
from .base import sign_flip, top_eigh

ESTIMATORS = ("auto", "exact", "randomized", "incremental", "ica", "sparse")
SHARDED = ("exact", "randomized")  # the estimators whose state is a sum over samples
EXACT_MAX_DIM = 2048  # "auto": exact covariance up to this dimension, randomized above (see bench/ganspace.py)
BLOCK_ELEMENTS = 1 << 21  # centred float64 blocks of <= 16 MB: big temporaries cost more in page faults than in flops

Chunks = Callable[[], Iterable[np.ndarray]]  # a fresh iterator over (m, D) chunks per call (one call = one pass)


@dataclass
class PCAResult:
    components: np.ndarray  # (k, D) unit rows, by decreasing variance; orthonormal for exact/randomized/incremental
    std: np.ndarray  # (k,) standard deviation of the data along each component
    ratio: np.ndarray  # (k,) explained variance ratio: variance along the component / total variance
    mean: np.ndarray  # (D,) data mean
    count: int  # samples seen (all ranks)


def dist_info() -> tuple[int, int]:
    """(rank, world size) under an initialised torch.distributed process group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def allreduce_sums(*arrays: np.ndarray) -> list[np.ndarray]:
    """Sum float64 arrays over all ranks (a no-op in a single process)."""
    if dist_info()[1] == 1:
        return list(arrays)
    import torch.distributed as dist

    out = []
    for a in arrays:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).clone()
        dist.all_reduce(t)  # SUM
        out.append(t.numpy())
    return out


def resolve_estimator(estimator: str, dim: int) -> str:
    if estimator not in ESTIMATORS:
        raise GansteerError(f"estimator {estimator!r} is unknown; expected one of: {', '.join(ESTIMATORS)}")
    if estimator == "auto":
        return "exact" if dim <= EXACT_MAX_DIM else "randomized"
    return estimator


def fit_pca(
    chunks: Chunks,
    k: int,
    *,
    estimator: str = "auto",
    shift: np.ndarray | None = None,
    n_iter: int = 3,
    sparsity: float = 1.0,
    seed: int = 0,
    reduce: Callable[..., Sequence[np.ndarray]] = allreduce_sums,
) -> PCAResult:
    """Top-k principal components of the rows streamed by `chunks()`.

    `shift`: any vector near the data mean (default: the first chunk's mean); must be the same on every rank.
    `n_iter`: passes of the randomized estimator. `sparsity`: sparse PCA's alpha.
    """
    if shift is None:
        shift = np.asarray(next(iter(chunks())), dtype=np.float64).mean(0)
    shift = np.asarray(shift, dtype=np.float64)
    dim = shift.shape[0]
    estimator = resolve_estimator(estimator, dim)
    if k > dim:
        raise GansteerError(f"k={k} exceeds the data dimension {dim}")
    world = dist_info()[1]
    if world > 1 and estimator not in SHARDED:
        raise GansteerError(f"estimator {estimator!r} cannot be sharded over {world} processes; "
                            "use exact or randomized")
    if estimator == "exact":
        return _exact(chunks, k, shift, reduce)
    if estimator == "randomized":
        return _randomized(chunks, k, shift, reduce, n_iter=n_iter, seed=seed)
    if estimator == "incremental":
        return _incremental(chunks, k)
    return _in_memory(chunks, k, estimator, sparsity=sparsity, seed=seed)


def _exact(chunks: Chunks, k: int, shift: np.ndarray, reduce: Callable[..., Sequence[np.ndarray]]) -> PCAResult:
    """Streamed covariance sum (x-s)^T (x-s) in float64, then eigh."""
    dim = shift.shape[0]
    gram, total, count = np.zeros((dim, dim)), np.zeros(dim), np.zeros(1)
    for xc in _centred(chunks, shift):  # (m, D)
        gram += xc.T @ xc  # numpy runs a.T @ a as a symmetric rank-k update (syrk): half the flops of a matmul
        total += xc.sum(0)
        count += xc.shape[0]
    gram, total, count = reduce(gram, total, count)
    n = _check_count(count, k)
    mu = total / n
    cov = (gram - n * np.outer(mu, mu)) / (n - 1)  # (D, D), unbiased as scikit-learn's explained_variance_
    values, vectors = top_eigh(torch.from_numpy(cov), k)
    return _result(vectors.numpy(), values.numpy(), float(np.trace(cov)), shift + mu, n)


def _randomized(
    chunks: Chunks, k: int, shift: np.ndarray, reduce: Callable[..., Sequence[np.ndarray]], *, n_iter: int, seed: int
) -> PCAResult:
    """Subspace iteration on the streamed covariance: each pass multiplies a (D, l) basis by C, then Rayleigh-Ritz.

    l = max(2k, k + 10) columns (the reference's fbpca uses 2k); every pass only sums x^T (x Q) over samples."""
    dim = shift.shape[0]
    width = min(dim, max(2 * k, k + 10))
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((dim, width)))[0]  # (D, l)
    for it in range(max(1, n_iter)):
        prod, total, sq, count = np.zeros((dim, width)), np.zeros(dim), np.zeros(1), np.zeros(1)
        basis32 = basis.astype(np.float32)
        for xc in _centred(chunks, shift, np.float32):  # float32 products (an approximation anyway), float64 sums
            prod += xc.T @ (xc @ basis32)
            total += xc.sum(0, dtype=np.float64)
            sq += np.einsum("ij,ij->", xc, xc, dtype=np.float64)
            count += xc.shape[0]
        prod, total, sq, count = reduce(prod, total, sq, count)
        n = _check_count(count, k)
        mu = total / n
        cov_basis = (prod - n * np.outer(mu, mu @ basis)) / (n - 1)  # C Q, (D, l)
        if it == n_iter - 1 or n_iter <= 1:
            small = basis.T @ cov_basis  # Q^T C Q, (l, l)
            values, vectors = top_eigh(torch.from_numpy((small + small.T) / 2), k)
            components = sign_flip(torch.from_numpy(vectors.numpy() @ basis.T)).numpy()
            trace = float((sq[0] - n * mu @ mu) / (n - 1))
            return _result(components, values.numpy(), trace, shift + mu, n)
        basis = np.linalg.qr(cov_basis)[0]
    raise AssertionError("unreachable")


def _incremental(chunks: Chunks, k: int) -> PCAResult:
    """scikit-learn's IncrementalPCA (the reference implementation's default), one partial_fit per chunk."""
    from sklearn.decomposition import IncrementalPCA

    ipca = IncrementalPCA(k, batch_size=max(100, 2 * k))
    pending: np.ndarray | None = None
    for x in chunks():  # a chunk smaller than k (the last one) is merged into the one before it
        x = np.asarray(x, dtype=np.float64)
        if pending is not None and x.shape[0] >= k:
            ipca.partial_fit(pending)
            pending = x
        else:
            pending = x if pending is None else np.concatenate([pending, x])
    if pending is None or pending.shape[0] < k:
        raise GansteerError(f"incremental PCA needs at least k={k} samples per chunk; raise batch_size or n")
    ipca.partial_fit(pending)
    components = ipca.components_
    flipped = sign_flip(torch.from_numpy(components)).numpy()
    return PCAResult(flipped, np.sqrt(np.maximum(ipca.explained_variance_, 0)), ipca.explained_variance_ratio_,
                     ipca.mean_, int(ipca.n_samples_seen_))


def _in_memory(chunks: Chunks, k: int, estimator: str, *, sparsity: float, seed: int) -> PCAResult:
    """ICA and sparse PCA (scikit-learn) need every sample at once; components sorted by the std they explain."""
    from sklearn.decomposition import FastICA, SparsePCA

    data = np.concatenate([np.asarray(x, dtype=np.float64) for x in chunks()])  # (N, D)
    mean = data.mean(0)
    data -= mean
    if estimator == "ica":
        model = FastICA(k, whiten="unit-variance", random_state=seed, max_iter=10_000)
        model.fit(data)
        components = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True)
        std = (data @ components.T).std(0)
    else:  # sparse: coordinates come from ridge regression onto the non-orthogonal components, not projections
        model = SparsePCA(k, alpha=sparsity, ridge_alpha=0.01, max_iter=100, random_state=seed)
        model.fit(data)
        components = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True).clip(1e-12)
        std = model.transform(data).std(0)
    order = np.argsort(-std, kind="stable")
    components = sign_flip(torch.from_numpy(components[order])).numpy()
    total_var = float(data.var(0).sum())
    return PCAResult(components, std[order], std[order] ** 2 / total_var, mean, data.shape[0])


def _centred(chunks: Chunks, shift: np.ndarray, dtype: type = np.float64) -> Iterable[np.ndarray]:
    """x - shift in `dtype`, in row blocks of at most BLOCK_ELEMENTS entries (one allocation each)."""
    for x in chunks():
        for rows in row_blocks(x.shape[0], shift.shape[0]):
            yield np.subtract(x[rows], shift, dtype=dtype)


def row_blocks(n: int, dim: int) -> list[slice]:
    step = max(1, BLOCK_ELEMENTS // dim)
    return [slice(start, start + step) for start in range(0, n, step)]


def _check_count(count: np.ndarray, k: int) -> int:
    n = int(round(float(count[0])))
    if n <= k:
        raise GansteerError(f"PCA with k={k} components needs more than {k} samples; got {n}")
    return n


def _result(components: np.ndarray, variances: np.ndarray, trace: float, mean: np.ndarray, n: int) -> PCAResult:
    variances = np.maximum(variances, 0.0)
    return PCAResult(components, np.sqrt(variances), variances / max(trace, 1e-300), mean, n)


def principal_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the row spaces of a (k, D) and b (k, D), descending."""
    qa, qb = np.linalg.qr(np.asarray(a, np.float64).T)[0], np.linalg.qr(np.asarray(b, np.float64).T)[0]
    return np.linalg.svd(qa.T @ qb, compute_uv=False)
