"""Ground-truth scores for discovered directions on a generator that knows its factors (e.g. `synthetic`).

- **alignment**: Hungarian matching (scipy `linear_sum_assignment`) of |cos| between discovered and true directions;
  the mean matched |cos| over the true factors (an unmatched factor counts 0). Sign and order do not matter.
- **MIG, DCI, FactorVAE** need a *code* per sample. A sample is a traversal: from a base latent, move c_j along each
  discovered direction j. For linear directions V (K, D) we take z from the prior and read its codes as the
  least-squares coordinates c = z pinv(V), i.e. z = z_perp + V^T c, where z_perp (outside the directions' span) is
  the base; so the codes are exactly the traversal amounts and the samples stay on the prior. The true factors come
  from ``generator.factors(z)``, not from pixels.
  - MIG (Chen et al. 2018): codes and factors in 20 equal-width bins; per factor the gap between the two codes with the
    highest mutual information, over the factor's entropy; averaged over factors.
  - DCI (Eastwood & Williams 2018): importances from scikit-learn gradient-boosted trees (50 trees of depth 3) that
    predict each factor from the codes -- trees, unlike Lasso, see the factors' non-linear (tanh) dependence on the
    codes. Disentanglement: 1 - entropy (base #factors) of each code's importance row, weighted by the code's share
    of importance; completeness: 1 - entropy (base #codes) of each factor's column, averaged; informativeness:
    held-out R^2 (clipped at 0), averaged over factors.
  - FactorVAE score (Kim & Mnih 2018): fix one true factor in a batch (set r_k . z to a shared value), normalise the
    codes by their prior standard deviation, vote the code with the least variance; accuracy of the majority-vote
    classifier (code -> factor) on held-out votes.
- Non-linear direction models are scored through their linearisation at the prior: the mean displacement
  shift(z, k, 1) - z over prior samples, normalised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..directions import DirectionSet
from ..errors import GansteerError
from ..generators.base import Generator
from ..registry import METRICS


def _unit_rows(v: Tensor) -> Tensor:
    v = v.detach().double().cpu()
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


# ------------------------------------------------------------------------------------------------ alignment
@dataclass
class Alignment:
    score: float  # mean over true factors of the matched |cos|
    per_factor: list[float]  # matched |cos| for each true factor (0 if unmatched)
    match: list[int | None]  # discovered direction matched to each true factor
    cos: Tensor = field(repr=False)  # (K, K_f) |cos| matrix


def alignment(directions: Tensor, true_directions: Tensor) -> Alignment:
    """Hungarian matching of |cos| between discovered (K, D) and true (K_f, D) directions."""
    from scipy.optimize import linear_sum_assignment

    if directions.dim() != 2 or true_directions.dim() != 2 or directions.shape[1] != true_directions.shape[1]:
        raise GansteerError(f"directions {tuple(directions.shape)} and true directions "
                            f"{tuple(true_directions.shape)} must be (K, D) and (K_f, D) with the same D")
    cos = (_unit_rows(directions) @ _unit_rows(true_directions).T).abs()  # (K, K_f)
    rows, cols = linear_sum_assignment(cos.numpy(), maximize=True)
    per = [0.0] * cos.shape[1]
    match: list[int | None] = [None] * cos.shape[1]
    for r, c in zip(rows, cols, strict=True):
        per[c], match[c] = float(cos[r, c]), int(r)
    return Alignment(sum(per) / len(per), per, match, cos)


def expected_abs_cos(dim: int) -> float:
    """E|cos| of a uniformly random unit vector in R^dim with a fixed one: Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))."""
    return math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)


# ------------------------------------------------------------------------------------------------ codes
def linear_directions(directions: DirectionSet | Tensor, generator: Generator | None = None, *, n: int = 256,
                      seed: int = 0) -> Tensor:
    """(K, D) unit rows: the set's vectors, or a non-linear model's mean displacement shift(z, k, 1) - z."""
    if isinstance(directions, Tensor):
        return _unit_rows(directions)
    if directions.space != "z":
        raise GansteerError(f"ground-truth scores need directions in z; got space {directions.space!r}")
    if directions.linear:
        return _unit_rows(directions.vectors)  # type: ignore[arg-type]
    if generator is None:
        raise GansteerError("a non-linear direction model needs the generator to be linearised")
    z = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        rows = [(directions.shift(z, k, 1.0) - z).mean(0) for k in range(directions.num_directions)]
    return _unit_rows(torch.stack(rows))


def codes_of(z: Tensor, directions: Tensor) -> Tensor:
    """Least-squares coordinates c of z in the directions: z = z_perp + V^T c, (N, K)."""
    return z.double() @ torch.linalg.pinv(directions.double())


def traversal_samples(generator: Generator, directions: Tensor, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (N, K) and true factors (N, K_f) of n prior latents."""
    _check_ground_truth(generator)
    z = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        factors = generator.factors(z)
    return codes_of(z, directions).numpy(), factors.double().cpu().numpy()


def _check_ground_truth(generator: Generator) -> None:
    if not (hasattr(generator, "factors") and hasattr(generator, "factor_directions")):
        raise GansteerError(f"generator {generator.name!r} has no known factors; expected e.g. 'synthetic'")


# ------------------------------------------------------------------------------------------------ MIG
def _discretize(x: np.ndarray, bins: int) -> np.ndarray:
    out = np.zeros_like(x, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram_bin_edges(x[:, j], bins=bins)
        out[:, j] = np.digitize(x[:, j], edges[1:-1])
    return out


def _mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) of two discrete label arrays, from their joint histogram."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / outer[nz])).sum())


def mig(codes: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> float:
    """Mutual information gap (Chen et al. 2018) of codes (N, K) about factors (N, K_f), in [0, 1]."""
    c, v = _discretize(codes, bins), _discretize(factors, bins)
    gaps = []
    for k in range(v.shape[1]):
        entropy = _mutual_info(v[:, k], v[:, k])
        if entropy <= 0:
            continue  # a constant factor carries no information to capture
        mi = sorted((_mutual_info(c[:, j], v[:, k]) for j in range(c.shape[1])), reverse=True) + [0.0]
        gaps.append((mi[0] - mi[1]) / entropy)
    return float(np.mean(gaps)) if gaps else 0.0


# ------------------------------------------------------------------------------------------------ DCI
@dataclass
class DCI:
    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray = field(repr=False)  # (K, K_f)


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each column of p (already normalised), in the given base."""
    if base <= 1:
        return np.zeros(p.shape[1])
    logs = np.log(np.where(p > 0, p, 1.0)) / math.log(base)
    return -(p * logs).sum(0)


def dci(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0, train_fraction: float = 0.7) -> DCI:
    """DCI from gradient-boosted-tree importances (see the module doc)."""
    from sklearn.ensemble import GradientBoostingRegressor

    n_train = int(len(codes) * train_fraction)
    k, kf = codes.shape[1], factors.shape[1]
    importance, r2 = np.zeros((k, kf)), []
    for j in range(kf):
        y = factors[:, j]
        model = GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=seed)
        model.fit(codes[:n_train], y[:n_train])
        importance[:, j] = np.abs(model.feature_importances_)
        r2.append(max(0.0, float(model.score(codes[n_train:], y[n_train:]))))
    total = importance.sum()
    rows = importance / np.clip(importance.sum(1, keepdims=True), 1e-12, None)  # code i: over factors
    d_i = 1 - _entropy(rows.T, kf)
    weight = importance.sum(1) / total if total > 0 else np.full(k, 1 / k)
    cols = importance / np.clip(importance.sum(0, keepdims=True), 1e-12, None)  # factor j: over codes
    c_j = 1 - _entropy(cols, k)
    return DCI(float((weight * d_i).sum()), float(c_j.mean()), float(np.mean(r2)), importance)


# ------------------------------------------------------------------------------------------------ FactorVAE
def factorvae_score(generator: Generator, directions: Tensor, *, batch: int = 64, votes: int = 800,
                    seed: int = 0) -> float:
    """FactorVAE disentanglement score with the least-squares coordinates as the encoder (see the module doc)."""
    _check_ground_truth(generator)
    g = torch.Generator().manual_seed(seed)
    true = generator.factor_directions().detach().double().cpu()  # (K_f, D)
    kf, d = true.shape
    pinv = torch.linalg.pinv(directions.double())
    prior = torch.randn(10_000, d, generator=g, dtype=torch.float64)
    scale = (prior @ pinv).std(0)
    active = scale > 1e-6
    if not active.any():
        return 0.0
    k = torch.randint(kf, (votes,), generator=g)  # the factor held fixed in each vote
    z = torch.randn(votes, batch, d, generator=g, dtype=torch.float64)
    fixed = torch.randn(votes, 1, generator=g, dtype=torch.float64)  # its shared value r_k . z
    along = (z * true[k][:, None]).sum(-1)  # (votes, batch) current r_k . z
    z = z + true[k][:, None] * (fixed - along)[..., None]
    var = ((z @ pinv)[..., active] / scale[active]).var(1)  # (votes, K_active)
    pairs = list(zip(var.argmin(1).tolist(), k.tolist(), strict=True))
    n_train = votes * 5 // 8
    table = np.zeros((int(active.sum()), kf), dtype=np.int64)
    for code, factor in pairs[:n_train]:
        table[code, factor] += 1
    predict = table.argmax(1)
    return float(np.mean([predict[code] == factor for code, factor in pairs[n_train:]]))


# ------------------------------------------------------------------------------------------------ all at once
def disentanglement_scores(generator: Generator, directions: DirectionSet | Tensor, *, n: int = 3000,
                           seed: int = 0) -> dict[str, float]:
    """alignment, MIG, DCI (D, C, I) and FactorVAE of `directions` on a generator with known factors."""
    _check_ground_truth(generator)
    v = linear_directions(directions, generator, seed=seed)
    codes, factors = traversal_samples(generator, v, n, seed)
    d = dci(codes, factors, seed=seed)
    return {
        "alignment": alignment(v, generator.factor_directions()).score,
        "mig": mig(codes, factors),
        "dci_disentanglement": d.disentanglement, "dci_completeness": d.completeness,
        "dci_informativeness": d.informativeness,
        "factorvae": factorvae_score(generator, v, seed=seed),
    }


METRICS.register("alignment", help="Hungarian-matched |cos| between discovered and true factor directions")(alignment)
METRICS.register("mig", help="mutual information gap of direction codes about the true factors")(mig)
METRICS.register("dci", help="DCI disentanglement, completeness, informativeness (gradient-boosted trees)")(dci)
METRICS.register("factorvae", help="FactorVAE score: majority vote of the least-varying code per fixed factor")(
    factorvae_score)
METRICS.register("disentanglement", help="alignment, MIG, DCI and FactorVAE at once on a ground-truth generator")(
    disentanglement_scores)
