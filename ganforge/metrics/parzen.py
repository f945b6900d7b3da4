"""Gaussian Parzen-window log-likelihood, as in Goodfellow et al. 2014 (parzen_ll.py).

The window is fitted on generated samples s_1..s_N and evaluated on test points:
    log p(x) = logsumexp_i(-|x - s_i|^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2).
Known to be a poor likelihood estimate in high dimensions (Theis et al. 2016); kept for comparison
with the papers that report it.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ._arrays import ArrayLike, as_features, as_numpy64, row_chunks, sq_dists, sq_norms


def parzen_log_likelihoods(samples: ArrayLike, test: ArrayLike,
                           sigmas: Sequence[float] | np.ndarray) -> np.ndarray:
    """(n_test, n_sigmas) array of per-point log p(x); the distances are computed once per block
    and shared by all sigmas, which makes a sigma sweep nearly as cheap as one sigma."""
    s, x = as_features(samples), as_features(test)
    if s.shape[1] != x.shape[1]:
        raise ValueError(f"feature sizes differ: {s.shape[1]} vs {x.shape[1]}")
    sig = as_numpy64(sigmas).ravel()
    if sig.size == 0 or np.any(sig <= 0):
        raise ValueError("sigmas must be positive")
    n, d = s.shape
    s_sq, x_sq = sq_norms(s), sq_norms(x)
    norm = np.log(n) + 0.5 * d * np.log(2.0 * math.pi * sig ** 2)
    out = np.empty((x.shape[0], sig.size))
    for rows in row_chunks(x.shape[0], n):
        dist = sq_dists(x[rows], s, x_sq[rows], s_sq)
        for j, sj in enumerate(sig):
            # logsumexp subtracts the row max, so far-away points do not underflow to -inf
            out[rows, j] = torch.logsumexp(dist * (-0.5 / sj ** 2), dim=1).numpy() - norm[j]
    return out


def parzen_log_likelihood(samples: ArrayLike, test: ArrayLike, sigma: float) -> tuple[float, float]:
    """(mean log-likelihood over test points, its standard error std/sqrt(n)); numpy's default
    ddof=0 std, as in the original evaluation code."""
    ll = parzen_log_likelihoods(samples, test, [sigma])[:, 0]
    return float(ll.mean()), float(ll.std() / np.sqrt(ll.size))


def parzen_select_sigma(samples: ArrayLike, validation: ArrayLike,
                        sigmas: Sequence[float] | np.ndarray = np.logspace(-1, 0, 10)) -> float:
    """The sigma (from `sigmas`) with the highest mean validation log-likelihood."""
    sig = as_numpy64(sigmas).ravel()
    ll = parzen_log_likelihoods(samples, validation, sig).mean(axis=0)
    return float(sig[int(np.argmax(ll))])
