"""Datasets stored as a NumPy .npz archive."""
from __future__ import annotations

import os
import zipfile

import numpy as np
import torch

from ganforge.errors import GanforgeError

IMAGE_KEYS = ("x", "images")
POINT_KEYS = ("points",)
LABEL_KEYS = ("labels", "y")


def load_npz(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(x, labels or None, kind). Images become float32 (N, C, H, W); uint8 ones are mapped to [-1, 1],
    float ones are kept as stored. Points become float32 (N, D)."""
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise GanforgeError(f"{path}: npz file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise GanforgeError(f"{path}: not a readable .npz archive ({e})") from None

    key = next((k for k in IMAGE_KEYS + POINT_KEYS if k in arrays), None)
    if key is None:
        raise GanforgeError(
            f"{path}: no data key; expected one of {', '.join(IMAGE_KEYS + POINT_KEYS)}, "
            f"found: {', '.join(sorted(arrays)) or '(none)'}"
        )
    a = arrays[key]
    if key in POINT_KEYS:
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
            raise GanforgeError(f"{path}: key 'points' must be a numeric (N, D) array, got shape {a.shape} {a.dtype}")
        x, kind = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)), "vector"
    else:
        x, kind = _images(path, key, a), "image"

    labels = None
    lkey = next((k for k in LABEL_KEYS if k in arrays), None)
    if lkey is not None:
        y = arrays[lkey]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise GanforgeError(f"{path}: key {lkey!r} must be a 1-D integer array, got shape {y.shape} {y.dtype}")
        if len(y) != len(x):
            raise GanforgeError(f"{path}: {len(x)} examples in {key!r} but {len(y)} labels in {lkey!r}")
        labels = torch.from_numpy(y.astype(np.int64))
    return x, labels, kind


def _images(path: str, key: str, a: np.ndarray) -> torch.Tensor:
    if a.ndim not in (3, 4):
        raise GanforgeError(f"{path}: key {key!r} must be N,H,W or N,H,W,C / N,C,H,W images, got ndim {a.ndim} shape {a.shape}")
    if a.dtype == np.uint8:
        t = torch.from_numpy(a).float().div_(127.5).sub_(1.0)
    elif np.issubdtype(a.dtype, np.floating):
        t = torch.from_numpy(np.asarray(a, dtype=np.float32)).clone()
    else:
        raise GanforgeError(f"{path}: key {key!r} must be uint8 or float images, got {a.dtype}")
    if t.ndim == 3:
        return t.unsqueeze(1).contiguous()
    # NHWC when the last dim looks like a channel count; else already NCHW.
    if t.shape[-1] in (1, 3):
        t = t.permute(0, 3, 1, 2)
    return t.contiguous()
