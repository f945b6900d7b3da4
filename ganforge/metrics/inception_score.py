"""Inception Score (Salimans et al. 2016) from classifier probabilities."""
from __future__ import annotations

import numpy as np

from ._arrays import ArrayLike, as_numpy64


def inception_score(probs: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of the (N, K) probabilities, as (mean, std) over splits;
    p(y) is the split's marginal, as in the original protocol."""
    p = as_numpy64(probs)
    if p.ndim != 2:
        raise ValueError(f"expected (N, K) class probabilities, got shape {p.shape}")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"splits must be in [1, {p.shape[0]}], got {splits}")
    scores = []
    for part in np.array_split(p, splits, axis=0):
        py = part.mean(axis=0, keepdims=True)
        # 0 log 0 = 0; where p > 0 the marginal is > 0 too, so the log is finite
        safe = np.where(part > 0, part, 1.0)
        kl = np.where(part > 0, part * (np.log(safe) - np.log(np.where(part > 0, py, 1.0))), 0.0)
        # each example's KL is ≥ 0; a sum of terms of both signs can round to −1e-17, which would put IS below 1
        scores.append(np.exp(kl.sum(axis=1).clip(min=0.0).mean()))
    s = np.asarray(scores)
    return float(s.mean()), float(s.std())
