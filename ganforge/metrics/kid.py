"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3."""
from __future__ import annotations

import numpy as np
import torch

from ._arrays import ArrayLike, as_features


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    m, n, d = x.shape[0], y.shape[0], x.shape[1]
    kxx = (x @ x.T).div_(d).add_(1.0).pow_(3)
    kyy = (y @ y.T).div_(d).add_(1.0).pow_(3)
    kxy = (x @ y.T).div_(d).add_(1.0).pow_(3)
    # the unbiased U-statistic drops the diagonal k(x_i, x_i) terms
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kid(features_a: ArrayLike, features_b: ArrayLike, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over `subsets` random subsets drawn without replacement
    within a subset; `subset_size` is capped at the smaller set. Can be slightly negative."""
    a, b = as_features(features_a), as_features(features_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        ia = torch.from_numpy(rng.choice(a.shape[0], m, replace=False))
        ib = torch.from_numpy(rng.choice(b.shape[0], m, replace=False))
        vals[i] = _mmd2_unbiased(a[ia], b[ib])
    std = float(vals.std(ddof=1)) if subsets > 1 else 0.0
    return float(vals.mean()), std
