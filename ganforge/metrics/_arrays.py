"""Shared helpers: input coercion to float64 and chunked squared-distance blocks.

Every metric accepts numpy arrays or torch tensors (any float dtype, any device) and computes in
float64 on the CPU, so results do not depend on the caller's precision.
"""
from __future__ import annotations

from typing import Iterator, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

# Elements per distance block: 2^23 float64 = 64 MiB, so a 10k x 10k problem never holds the full
# 800 MB matrix and each block is still a large, BLAS-friendly matmul.
BLOCK_ELEMENTS = 1 << 23


def as_numpy64(x: ArrayLike) -> np.ndarray:
    """float64 numpy copy/view of `x` (torch tensors are detached and moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def as_features(x: ArrayLike) -> torch.Tensor:
    """(N, D) float64 CPU tensor; trailing dims are flattened so images can be passed as they are."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to(device="cpu", dtype=torch.float64)
    else:
        t = torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float64)))
    if t.ndim == 1:
        raise ValueError("expected a batch of feature vectors (N, D), got a 1-D array")
    return t.reshape(t.shape[0], -1).contiguous()


def row_chunks(n_rows: int, n_cols: int, block_elements: int | None = None) -> Iterator[slice]:
    """Row slices so that each (rows x n_cols) block stays within `block_elements`
    (default: the module's BLOCK_ELEMENTS, read at call time so tests can shrink it)."""
    budget = BLOCK_ELEMENTS if block_elements is None else block_elements
    step = max(1, budget // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def sq_norms(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(dim=1)


def sq_dists(a: torch.Tensor, b: torch.Tensor, a_sq: torch.Tensor | None = None,
             b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared L2 distances |a_i - b_j|^2 via the Gram expansion (one matmul, float64 keeps the
    cancellation error around 1e-12 relative), clamped at 0 against round-off."""
    a_sq = sq_norms(a) if a_sq is None else a_sq
    b_sq = sq_norms(b) if b_sq is None else b_sq
    d = torch.addmm(b_sq.unsqueeze(0), a, b.T, beta=1.0, alpha=-2.0)
    d.add_(a_sq.unsqueeze(1))
    return d.clamp_min_(0.0)


def kth_neighbour_sq_dist(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance from every row of `x` to its k-th nearest other row (self excluded)."""
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} points, got {k}")
    x_sq = sq_norms(x)
    out = torch.empty(n, dtype=torch.float64)
    for rows in row_chunks(n, n):
        d = sq_dists(x[rows], x, x_sq[rows], x_sq)
        idx = torch.arange(rows.start, rows.stop)
        d[idx - rows.start, idx] = float("inf")  # exclude the point itself, not its duplicates
        out[rows] = torch.topk(d, k, dim=1, largest=False, sorted=True).values[:, k - 1]
    return out
