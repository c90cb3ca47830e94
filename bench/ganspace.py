"""GANSpace PCA speed: our streaming estimators vs scikit-learn's IncrementalPCA (what the reference uses), one run.

    .venv/bin/python bench/ganspace.py                      # 300,000 W vectors (512-d), 80 components, 1 thread

The data: z ~ N(0, I) through a StyleGAN2 mapping network (8 lrelu layers of 512, random weights), kept in memory
(float32) so that every estimator sees the same rows and only the estimator is timed. The reference feeds
IncrementalPCA(80, batch_size=160) chunks of 2000 float32 rows (decomposition.py: NB = max(B, 2000, 3 * c)); ours
get chunks of 4096. Prints JSON lines: `data`, one line per estimator (seconds, peak memory of its allocations by
tracemalloc, which sees numpy buffers), and `compare` (speed-up of each estimator over IncrementalPCA, cosines of the
principal angles between the top-20 subspaces). Goal: >= 10x faster with every top-20 cosine >= 0.99.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
import tracemalloc

import numpy as np
import torch
from sklearn.decomposition import IncrementalPCA
from threadpoolctl import threadpool_limits

from gansteer.generators.stylegan2 import Mapping
from gansteer.methods.streaming_pca import fit_pca, principal_cosines


def emit(**row: object) -> None:
    print(json.dumps(row), flush=True)


def w_samples(n: int, dim: int, seed: int, chunk: int = 8192) -> np.ndarray:
    torch.manual_seed(seed)
    mapping = Mapping(dim, dim, 8).eval()  # random weights: W-like vectors with an anisotropic covariance
    out = np.empty((n, dim), np.float32)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.inference_mode():
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            out[start:start + m] = mapping(torch.randn(m, dim, generator=g)).numpy()
    return out


def measure(name: str, fit) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    start = time.perf_counter()
    components = fit()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    emit(bench="ganspace", estimator=name, seconds=round(seconds, 3), peak_alloc_mb=round(peak / 2**20, 1))
    return components, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=300_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=80)
    p.add_argument("--top", type=int, default=20, help="subspace compared by principal angles")
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads, the same for every estimator")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--estimators", default="exact,randomized", help="ours, compared with IncrementalPCA")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    with threadpool_limits(args.threads):
        start = time.perf_counter()
        data = w_samples(args.samples, args.dim, args.seed)
        emit(bench="ganspace", data="stylegan2-mapping-random-w", samples=args.samples, dim=args.dim, k=args.k,
             threads=args.threads, seconds=round(time.perf_counter() - start, 3), cpu=platform.processor() or "?",
             torch=torch.__version__)

        def chunks(size: int):  # type: ignore[no-untyped-def]
            return lambda: (data[i:i + size] for i in range(0, args.samples, size))

        def reference() -> np.ndarray:
            ipca = IncrementalPCA(args.k, batch_size=max(100, 2 * args.k))
            for x in chunks(max(2000, 3 * args.k))():
                ipca.partial_fit(x)
            return ipca.components_

        results = {"sklearn-incremental": measure("sklearn-incremental", reference)}
        for name in args.estimators.split(","):
            results[name] = measure(name, lambda name=name: fit_pca(chunks(4096), args.k, estimator=name).components)

    base_components, base_seconds = results.pop("sklearn-incremental")
    for name, (components, seconds) in results.items():
        cosines = principal_cosines(components[: args.top], base_components[: args.top])
        emit(bench="ganspace", compare=f"{name} vs sklearn-incremental", speedup=round(base_seconds / seconds, 2),
             top=args.top, min_cosine=round(float(cosines.min()), 6),
             cosines=[round(float(c), 5) for c in cosines])
    emit(bench="ganspace", peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


if __name__ == "__main__":
    main()
