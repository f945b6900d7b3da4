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


def tile_origin(row: int, col: int, h: int, w: int, pad: int = 2, group: int = 0) -> tuple[int, int]:
    """The top-left pixel of tile (row, col) in a `grid`: `pad` pixels between tiles, and `pad` more between
    groups of `group` columns (0: no groups)."""
    gaps = col // group if group else 0
    return pad + row * (h + pad), pad + col * (w + pad) + gaps * pad


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2, group: int = 0) -> np.ndarray:
    """(N, H, W, C) uint8 → one (rows·H, cols·W, C) image with `pad` pixels between tiles, read along the rows;
    `group` > 0 sets every `group` columns apart by `pad` more (the columns of one example)."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    bottom, right = tile_origin(rows - 1, cols - 1, h, w, pad, group)
    out = np.full((bottom + h + pad, right + w + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        top, left = tile_origin(*divmod(i, cols), h, w, pad, group)
        out[top:top + h, left:left + w] = img
    return out


def fit_columns(columns: list[torch.Tensor]) -> list[torch.Tensor]:
    """Images of one example in several columns (input | output | target …) brought to one size for display: a
    smaller image (a low-resolution input) upscaled nearest, a grey one beside colour ones repeated in every
    channel."""
    h, w = max(x.shape[-2] for x in columns), max(x.shape[-1] for x in columns)
    c = max(x.shape[1] for x in columns)
    out = []
    for x in columns:
        x = x.float().cpu()
        if x.shape[-2:] != (h, w):
            x = torch.nn.functional.interpolate(x, size=(h, w), mode="nearest")
        if x.shape[1] != c:  # grey beside colour: the same value in every channel
            x = x.mean(1, keepdim=True).expand(-1, c, -1, -1)
        out.append(x)
    return out


def example_rows(columns: list[torch.Tensor], per_row: int = 1, pad: int = 2) -> np.ndarray:
    """Each example's columns side by side (input | output | target, …), `per_row` examples to a row, the
    examples set apart (`grid`'s groups): one (N, C, H, W) tensor in [-1, 1] per column, N examples each."""
    fitted = fit_columns(columns)
    tiles = torch.stack(fitted, 1).flatten(0, 1)  # example by example, its columns in turn
    return grid(to_uint8(tiles), cols=len(columns) * per_row, pad=pad, group=len(columns))


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
