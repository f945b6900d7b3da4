"""k-NN manifold metrics: improved precision/recall (Kynkäänniemi et al. 2019) and
density/coverage (Naeem et al. 2020).

Each sample gets a hypersphere whose radius is the distance to its k-th nearest neighbour in its own
set. All comparisons are on squared distances, computed in row blocks so 10k x 10k never
materialises the full matrix.
"""
from __future__ import annotations

import torch

from ._arrays import ArrayLike, as_features, kth_neighbour_sq_dist, row_chunks, sq_dists, sq_norms


def _check(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")


def precision_recall(real_features: ArrayLike, fake_features: ArrayLike, k: int = 3) -> dict[str, float]:
    """precision: fraction of fake samples inside some real sphere;
    recall: fraction of real samples inside some fake sphere."""
    real, fake = as_features(real_features), as_features(fake_features)
    _check(real, fake)
    r_rad = kth_neighbour_sq_dist(real, k)
    f_rad = kth_neighbour_sq_dist(fake, k)
    real_sq, fake_sq = sq_norms(real), sq_norms(fake)
    fake_in = torch.zeros(fake.shape[0], dtype=torch.bool)
    real_in = torch.zeros(real.shape[0], dtype=torch.bool)
    # one pass over the real x fake distances serves both directions
    for rows in row_chunks(real.shape[0], fake.shape[0]):
        d = sq_dists(real[rows], fake, real_sq[rows], fake_sq)
        fake_in |= (d <= r_rad[rows].unsqueeze(1)).any(dim=0)
        real_in[rows] = (d <= f_rad.unsqueeze(0)).any(dim=1)
    return {"precision": float(fake_in.double().mean()), "recall": float(real_in.double().mean())}


def density_coverage(real_features: ArrayLike, fake_features: ArrayLike, k: int = 5) -> dict[str, float]:
    """density: mean number of real spheres containing a fake sample, divided by k (can exceed 1);
    coverage: fraction of real spheres that contain at least one fake sample.
    Only real spheres are used, which makes both robust to fake outliers."""
    real, fake = as_features(real_features), as_features(fake_features)
    _check(real, fake)
    r_rad = kth_neighbour_sq_dist(real, k)
    real_sq, fake_sq = sq_norms(real), sq_norms(fake)
    inside = torch.zeros(fake.shape[0], dtype=torch.float64)
    covered = torch.zeros(real.shape[0], dtype=torch.bool)
    for rows in row_chunks(real.shape[0], fake.shape[0]):
        d = sq_dists(real[rows], fake, real_sq[rows], fake_sq)
        rad = r_rad[rows].unsqueeze(1)
        inside += (d <= rad).sum(dim=0, dtype=torch.float64)
        covered[rows] = d.min(dim=1).values < rad.squeeze(1)
    return {"density": float(inside.sum() / (k * fake.shape[0])),
            "coverage": float(covered.double().mean())}
