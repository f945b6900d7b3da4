"""Images out: tensors in [-1, 1] → uint8 arrays, PNG grids and 2-D scatter plots (for training, evaluation, the CLI
and experiments/)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .fileio import atomic_path


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] → (N, H, W, C) uint8."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8 → one (rows·H, cols·W, C) image with `pad` pixels between tiles."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = img
    return out


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> None:
    """Write atomically; small images are upscaled by `scale` (nearest) so a 28-px grid is legible."""
    img = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def save_grid(x: torch.Tensor, path: str | Path, scale: int = 2) -> None:
    save_png(grid(to_uint8(x)), path, scale)


def scatter(points: np.ndarray, reference: np.ndarray | None = None, size: int = 320, lim: float | None = None) -> np.ndarray:
    """A 2-D sample plot without a plotting library: reference points light grey, samples dark blue.
    Points of more dimensions show their first two; 1-D points lie on the horizontal axis."""
    def plane(p: np.ndarray | None) -> np.ndarray | None:
        return None if p is None else np.pad(p[:, :2], ((0, 0), (0, max(0, 2 - p.shape[1]))))

    points, reference = plane(points), plane(reference)
    pts = [p for p in (reference, points) if p is not None]
    lim = lim or float(np.abs(np.concatenate(pts)[:, :2]).max()) * 1.1 + 1e-6
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    for p, colour in ((reference, (200, 200, 200)), (points, (20, 40, 160))):
        if p is None:
            continue
        ij = np.clip(((p[:, :2] / lim + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
        out[size - 1 - ij[:, 1], ij[:, 0]] = colour  # y axis points up
    return out
