"""A folder of PNG/JPEG images, loaded once into one tensor."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge.data.base import one_line
from ganforge.errors import GanforgeError

EXTENSIONS = {".png", ".jpg", ".jpeg"}


def list_images(root: str | os.PathLike) -> list[Path]:
    """All image files under root (recursive), sorted for a reproducible order."""
    try:
        return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    except OSError as e:  # an unreadable subfolder
        raise GanforgeError(f"{root}: cannot list images ({one_line(e)})") from None


def _load_one(p: Path, size: int, mode: str) -> np.ndarray:
    try:
        with Image.open(p) as im:
            im = im.convert(mode)
            # ImageOps.fit = centre crop to square + bicubic resize: same as shorter side -> size, then centre crop.
            im = ImageOps.fit(im, (size, size), method=Image.BICUBIC, centering=(0.5, 0.5))
            a = np.asarray(im, dtype=np.uint8)
    # A damaged file can make PIL's decoders raise nearly anything (OSError, SyntaxError, struct.error,
    # IndexError, DecompressionBombError, …); the try holds PIL calls only, so every failure is this file's.
    except Exception as e:
        raise GanforgeError(f"{p}: unreadable or corrupt image ({type(e).__name__}: {one_line(e)})") from None
    return a[:, :, None] if a.ndim == 2 else a


def read_images(paths: list[Path], size: int, channels: int) -> torch.Tensor:
    """Image files → uint8 (N, C, size, size): grey or RGB, centre-cropped to a square and resized (bicubic)."""
    mode = "L" if channels == 1 else "RGB"
    return torch.from_numpy(np.stack([_load_one(Path(p), size, mode) for p in paths])).permute(0, 3, 1, 2).contiguous()


def load_folder(
    root: str | os.PathLike, size: int = 64, channels: int = 3
) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """(x uint8 (N, C, size, size), labels or None, class names).

    Labels come from the immediate subfolder names when every image sits in one; otherwise None."""
    root = Path(root)
    if not root.is_dir():
        raise GanforgeError(f"{root}: image folder does not exist or is not a directory")
    if channels not in (1, 3):
        raise GanforgeError(f"{root}: channels must be 1 or 3, got {channels}")
    if size <= 0:
        raise GanforgeError(f"{root}: image size must be positive, got {size}")
    files = list_images(root)
    if not files:
        raise GanforgeError(f"{root}: no images found (looked recursively for {', '.join(sorted(EXTENSIONS))})")
    mode = "L" if channels == 1 else "RGB"
    arr = np.stack([_load_one(p, size, mode) for p in files])  # (N, H, W, C)
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # uint8: converted to [-1, 1] a batch at a time
    tops = [p.relative_to(root).parts for p in files]
    if all(len(t) >= 2 for t in tops):
        classes = sorted({t[0] for t in tops})
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[t[0]] for t in tops], dtype=torch.int64)
        return x, labels, classes
    return x, None, []
