"""scikit-learn's bundled 8x8 handwritten digits: a tiny offline image set."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError


def load_digits(image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x (1797, 1, S, S) float32 in [-1, 1] (S = 8 unless image_size), labels int64 0..9."""
    try:  # imported lazily: sklearn is slow to import, and optional (the `digits` extra)
        from sklearn.datasets import load_digits as _sk_load
    except ImportError:
        raise GanforgeError("the digits data set needs scikit-learn: pip install 'ganforge[digits]'") from None

    d = _sk_load()
    x = torch.from_numpy(d.images).float().reshape(-1, 1, 8, 8) / 8.0 - 1.0  # values 0..16
    if image_size is not None and image_size != 8:
        if image_size <= 0:
            raise GanforgeError(f"digits: image_size must be positive, got {image_size}")
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False).clamp_(-1, 1)
    return x.contiguous(), torch.from_numpy(d.target).long()
