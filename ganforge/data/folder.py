"""A folder of PNG/JPEG images, loaded once into one tensor."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge.data.base import one_line
from ganforge.errors import GanforgeError

EXTENSIONS = {".png", ".jpg", ".jpeg"}
# the sides the convolutional networks build (DCGAN halves down to 4 or 7: 4·2^k or 7·2^k), smallest first
TRAINABLE_SIDES = tuple(sorted(s * 2**k for s in (4, 7) for k in range(1, 10)))
MAX_IMAGE_SIDE = 128  # a folder of larger images trains at 128 px unless data.image_size says otherwise
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


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


def trainable_side(side: int, largest: int = MAX_IMAGE_SIDE) -> int:
    """The largest side the networks build that is at most `side` (and `largest`); the smallest one for tinier
    images."""
    fitting = [s for s in TRAINABLE_SIDES if s <= min(side, largest)]
    return fitting[-1] if fitting else TRAINABLE_SIDES[0]


def check_folder_options(root: str | Path, size: int | None, channels: int | None) -> Path:
    """The folder as a Path, once it is known to exist and its size and channels (None: from the images) are
    possible; else one GanforgeError naming the folder. Shared by training's reader and `data pack`."""
    root = Path(root)
    if not root.is_dir():
        raise GanforgeError(f"{root}: image folder does not exist or is not a directory")
    if channels not in (None, 1, 3):
        raise GanforgeError(f"{root}: channels must be 1 or 3, got {channels}")
    if size is not None and size <= 0:
        raise GanforgeError(f"{root}: image size must be positive, got {size}")
    return root


def image_shape(paths: Sequence[Path]) -> tuple[int, int]:
    """(side, channels) a folder of images trains at when the config leaves them open: the shortest side among the
    images (each is centre-cropped to a square), brought to a side the networks build and at most MAX_IMAGE_SIDE;
    1 channel when every image is grey, else 3. Reads the files' headers only."""
    side, grey = None, True
    for p in paths:
        try:
            with Image.open(p) as im:
                w, h = im.size
                grey = grey and im.mode in GREY_MODES
        except Exception as e:  # PIL raises many kinds on a damaged file; every failure here is this file's
            raise GanforgeError(f"{p}: unreadable or corrupt image ({type(e).__name__})") from None
        side = min(w, h) if side is None else min(side, w, h)
    if side is None:
        raise GanforgeError("no images to take a size from")
    return trainable_side(side), 1 if grey else 3


def read_images(paths: list[Path], size: int, channels: int) -> torch.Tensor:
    """Image files → uint8 (N, C, size, size): grey or RGB, centre-cropped to a square and resized (bicubic)."""
    mode = "L" if channels == 1 else "RGB"
    return torch.from_numpy(np.stack([_load_one(Path(p), size, mode) for p in paths])).permute(0, 3, 1, 2).contiguous()


def load_folder(
    root: str | os.PathLike, size: int | None = None, channels: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """(x uint8 (N, C, size, size), labels or None, class names). A size or channels left None is the images'
    own (`image_shape`: their shortest side brought to a side the networks build, at most
    128; grey when every image is grey).

    Labels come from the immediate subfolder names when every image sits in one; otherwise None."""
    root = check_folder_options(root, size, channels)
    files = list_images(root)
    if not files:
        raise GanforgeError(f"{root}: no images found (looked recursively for {', '.join(sorted(EXTENSIONS))})")
    if size is None or channels is None:
        own_size, own_channels = image_shape(files)
        size, channels = size or own_size, channels or own_channels
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
