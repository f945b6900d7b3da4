"""Nearest-neighbour checks for training-set memorisation."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ._arrays import ArrayLike, as_features, row_chunks, sq_dists, sq_norms


def _knn(q: torch.Tensor, ref: torch.Tensor, k: int,
         exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest rows of `ref` for every row of `q`; `exclude[i]` is an index of ref hidden from
    query i (leave-one-out)."""
    if not 1 <= k <= ref.shape[0] - (exclude is not None):
        raise ValueError(f"k={k} is out of range for {ref.shape[0]} reference points")
    ref_sq, q_sq = sq_norms(ref), sq_norms(q)
    idx = torch.empty(q.shape[0], k, dtype=torch.int64)
    dist = torch.empty(q.shape[0], k, dtype=torch.float64)
    for rows in row_chunks(q.shape[0], ref.shape[0]):
        d = sq_dists(q[rows], ref, q_sq[rows], ref_sq)
        if exclude is not None:
            d[torch.arange(d.shape[0]), exclude[rows]] = float("inf")
        top = torch.topk(d, k, dim=1, largest=False, sorted=True)
        idx[rows], dist[rows] = top.indices, top.values.sqrt()
    return idx, dist


def nearest_neighbours(samples: ArrayLike, train: ArrayLike, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), both (N, k), of the k nearest training points to each sample
    (L2 on flattened arrays), nearest first."""
    s, t = as_features(samples), as_features(train)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"feature sizes differ: {s.shape[1]} vs {t.shape[1]}")
    idx, dist = _knn(s, t, k)
    return idx.numpy(), dist.numpy()


def memorisation_fraction(samples: ArrayLike, train: ArrayLike,
                          reference_split: Sequence[int] | np.ndarray | None = None,
                          quantile: float = 0.01, max_reference: int = 2000, seed: int = 0) -> float:
    """Fraction of samples whose nearest training point is at most the `quantile` of the
    train-to-train nearest-neighbour distances.

    The reference distances are leave-one-out: each reference training point's nearest *other*
    training point. `reference_split` gives the indices of those reference points; by default a
    random subset of up to `max_reference` training points (seed 0). A fresh sample from the
    training distribution falls below the threshold with probability about `quantile`; a copy of a
    training point always does (distance 0, hence `<=`).
    """
    s, t = as_features(samples), as_features(train)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"feature sizes differ: {s.shape[1]} vs {t.shape[1]}")
    if t.shape[0] < 2:
        raise ValueError("need at least 2 training points for leave-one-out distances")
    if reference_split is None:
        rng = np.random.default_rng(seed)
        ref = rng.choice(t.shape[0], min(max_reference, t.shape[0]), replace=False)
    else:
        ref = np.asarray(reference_split, dtype=np.int64).ravel()
    ref_t = torch.from_numpy(ref)
    _, loo = _knn(t[ref_t], t, 1, exclude=ref_t)
    threshold = float(np.quantile(loo[:, 0].numpy(), quantile))
    _, nn = _knn(s, t, 1)
    return float((nn[:, 0] <= threshold).double().mean())
