"""Fréchet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017).

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}).
The trace of the matrix square root is taken from the eigenvalues of sqrt(S1) S2 sqrt(S1), which is
similar to S1 S2 (same spectrum) but symmetric PSD, so `eigh` applies and there is no complex
round-off as with a general `sqrtm`; singular covariances (fewer samples than dimensions) are fine.
"""
from __future__ import annotations

import numpy as np

from ._arrays import ArrayLike, as_features, as_numpy64


class StreamingStats:
    """Running mean and covariance of feature batches, in float64.

    Accumulates the sum and the sum of outer products of the rows, both taken relative to a fixed
    shift (the first batch's mean): without the shift, features with a large common offset lose
    digits to cancellation in S/n - mu mu^T.
    """

    def __init__(self) -> None:
        self.count: int = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, batch: ArrayLike) -> "StreamingStats":
        x = as_features(batch).numpy()
        if x.shape[0] == 0:
            return self
        if self._shift is None:
            dim = x.shape[1]
            self._shift = x.mean(axis=0)
            self._sum = np.zeros(dim)
            self._outer = np.zeros((dim, dim))
        elif x.shape[1] != self._shift.shape[0]:
            raise ValueError(f"feature size changed from {self._shift.shape[0]} to {x.shape[1]}")
        xc = x - self._shift
        self._sum += xc.sum(axis=0)
        self._outer += xc.T @ xc
        self.count += x.shape[0]
        return self

    @property
    def mean(self) -> np.ndarray:
        if self.count == 0:
            raise ValueError("no samples seen")
        return self._shift + self._sum / self.count

    @property
    def cov(self) -> np.ndarray:
        """Unbiased (n - 1) sample covariance."""
        if self.count < 2:
            raise ValueError("a covariance needs at least 2 samples")
        m = self._sum / self.count
        c = (self._outer - self.count * np.outer(m, m)) / (self.count - 1)
        return (c + c.T) / 2  # exact symmetry for the eigendecompositions downstream


def feature_stats(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of an (N, D) feature array, float64."""
    s = StreamingStats().update(features)
    return s.mean, s.cov


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_stats(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike,
                                sigma2: ArrayLike) -> float:
    mu1, mu2 = as_numpy64(mu1).ravel(), as_numpy64(mu2).ravel()
    s1, s2 = np.atleast_2d(as_numpy64(sigma1)), np.atleast_2d(as_numpy64(sigma2))
    if not (mu1.shape == mu2.shape and s1.shape == s2.shape == (mu1.size, mu1.size)):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum()  # tiny negatives are round-off of PSD zeros
    diff = mu1 - mu2
    fid = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)
    return max(fid, 0.0)  # a distance; anything below 0 is round-off


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """FID between two (N, D) feature arrays (e.g. Inception pool3 activations)."""
    mu1, s1 = feature_stats(features_a)
    mu2, s2 = feature_stats(features_b)
    return frechet_distance_from_stats(mu1, s1, mu2, s2)
