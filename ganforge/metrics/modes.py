"""Mode-coverage reports: the 2-D Gaussian-mixture protocol of VEEGAN/PacGAN, and class histograms
for images labelled by a pretrained classifier (e.g. stacked MNIST)."""
from __future__ import annotations

import numpy as np

from ._arrays import ArrayLike, as_numpy64

_EPS = 1e-10  # keeps log q finite for empty modes without changing non-empty terms measurably


def _kl_to_uniform(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return float("nan")  # no histogram to compare: neither 0 (perfect) nor a made-up maximum
    q = counts / total + _EPS
    q /= q.sum()
    return float(np.sum(q * np.log(q * counts.size)))


def mode_report(points: ArrayLike, means: ArrayLike, sigma: float,
                min_count: int | None = None) -> dict:
    """Each sample is assigned to its nearest mode; it is high quality when within 3 sigma of it.

    Returns modes (number of modes with >= min_count HQ samples; default 20 per 2,500 samples,
    i.e. max(1, round(0.008 N))), high_quality (fraction of HQ samples), reverse_kl (KL(q || uniform)
    of the HQ samples' mode histogram q; nan if there is no HQ sample) and counts (HQ per mode).
    """
    x, mu = as_numpy64(points), as_numpy64(means)
    if x.ndim != 2 or mu.ndim != 2 or x.shape[1] != mu.shape[1]:
        raise ValueError(f"expected (N, d) points and (M, d) means, got {x.shape} and {mu.shape}")
    n = x.shape[0]
    if min_count is None:
        min_count = max(1, int(round(0.008 * n)))
    d2 = ((x[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)  # (N, M): few modes, direct is fine
    nearest = d2.argmin(axis=1)
    hq = np.sqrt(d2[np.arange(n), nearest]) <= 3.0 * sigma
    counts = np.bincount(nearest[hq], minlength=mu.shape[0])
    return {"modes": int((counts >= min_count).sum()),
            "high_quality": float(hq.mean()) if n else 0.0,
            "reverse_kl": _kl_to_uniform(counts),
            "counts": counts}


def class_histogram_report(labels_pred: ArrayLike, num_classes: int) -> dict:
    """classes_covered: classes with at least 10% of their uniform share N/K of the predictions;
    kl_to_uniform: KL(q || uniform) of the predicted-class histogram q; histogram: counts per class."""
    labels = as_numpy64(labels_pred).ravel()
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes or np.any(labels % 1)):
        raise ValueError(f"labels must be integers in [0, {num_classes})")
    hist = np.bincount(labels.astype(np.int64), minlength=num_classes)
    share = labels.size / num_classes
    return {"classes_covered": int((hist >= 0.1 * share).sum()) if labels.size else 0,
            "kl_to_uniform": _kl_to_uniform(hist),
            "histogram": hist}
