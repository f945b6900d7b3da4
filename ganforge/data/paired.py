"""Image-to-image tasks derived from a labelled image dataset, deterministically, for translation families.

A task turns every image y of the dataset into an input a = f(y) and returns a `Dataset` whose `x` is the target y
and whose field "source" is a; the labels and the train/test split are the dataset's own. A paired family
(pix2pix) learns a → y from the aligned pairs; an unpaired one (CycleGAN) draws the two sides as independent
streams, so the alignment stays hidden from it and serves only to score the result.

  edges        a fixed edge detector of y (Sobel magnitude of the image smoothed by a 3×3 binomial filter,
               thresholded): white lines on black, the shape of pix2pix's edges → photo tasks
  downscale2   y averaged over 2×2 blocks: a half-size image (super-resolution ×2)
  downscale4   y averaged over 4×4 blocks: a quarter-size image (×4; 28 px garments → 7 px)
  invert       255 − y: light-on-dark ↔ dark-on-light garments
  inpaint      y with its central square (half the side) set to black: what belongs in the hole must be made up
  inpaint_random  y with one rectangle set to black, its sides (¼ to ½ of the image's) and place drawn for each
               image from its index in the split (a counter-based hash: the same masks on every load, any chunking)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GanforgeError, one_line
from .base import Dataset

SOURCE = "source"  # the field that holds a translation's input
EDGE_THRESHOLD = 0.2  # of the largest Sobel magnitude a step from black to white (255) can give


# Each task maps images on the 0–255 scale (float32 (N, C, H, W)) to its inputs on the same scale.
def edges(y: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → edge maps (N, 1, H, W): 255 on an edge, 0 elsewhere."""
    x = y.mean(1, keepdim=True) / 255.0
    smooth = torch.tensor([1.0, 2.0, 1.0]) / 4
    x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), (smooth[:, None] * smooth[None, :]).view(1, 1, 3, 3))
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel, sobel.T]).unsqueeze(1)
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = g.square().sum(1, keepdim=True).sqrt()
    return (magnitude > EDGE_THRESHOLD * 4.0).float() * 255  # a unit step gives |g| = 4 across it


def downscale(y: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, C, H, W) → (N, C, H/factor, W/factor), each pixel the mean of its block."""
    h, w = y.shape[-2:]
    if h % factor or w % factor:
        raise GanforgeError(f"downscale{factor}: image side {h}×{w} is not a multiple of {factor}")
    return F.avg_pool2d(y, factor)


def invert(y: torch.Tensor) -> torch.Tensor:
    return 255 - y


def inpaint(y: torch.Tensor) -> torch.Tensor:
    h, w = y.shape[-2:]
    out = y.clone()
    out[..., h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2] = 0
    return out


def uniform_hash(index: np.ndarray, draw: int) -> np.ndarray:
    """A uniform number in [0, 1) for every (index, draw): splitmix64 of a counter (Steele et al. 2014), so a mask
    depends on the image's index alone, not on how the images are chunked or on any RNG state."""
    x = index.astype(np.uint64) * np.uint64(8) + np.uint64(draw) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):  # the hash works modulo 2⁶⁴
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((x ^ (x >> np.uint64(31))) >> np.uint64(11)) / 2.0**53


def inpaint_random(y: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """One black rectangle per image: each side ¼ to ½ of the image's, placed uniformly inside it."""
    h, w = y.shape[-2:]
    u = [uniform_hash(index, d) for d in range(4)]
    mh = h // 4 + (u[0] * (h // 2 - h // 4 + 1)).astype(int)
    mw = w // 4 + (u[1] * (w // 2 - w // 4 + 1)).astype(int)
    top, left = (u[2] * (h - mh + 1)).astype(int), (u[3] * (w - mw + 1)).astype(int)

    def inside(start: np.ndarray, size: np.ndarray, length: int) -> torch.Tensor:
        """(N, length): which positions of each image's row (or column) fall in its span."""
        at = torch.arange(length)
        return (at >= torch.from_numpy(start)[:, None]) & (at < torch.from_numpy(start + size)[:, None])

    hole = inside(top, mh, h)[:, :, None] & inside(left, mw, w)[:, None, :]  # (N, H, W)
    return y.masked_fill(hole[:, None], 0)


# every task maps (images, their indices in the split) to inputs; only random masks read the indices
TASKS = {
    "edges": lambda y, i: edges(y),
    "downscale2": lambda y, i: downscale(y, 2),
    "downscale4": lambda y, i: downscale(y, 4),
    "invert": lambda y, i: invert(y),
    "inpaint": lambda y, i: inpaint(y),
    "inpaint_random": inpaint_random,
}


def derive(task: str, stored: torch.Tensor, first: int = 0) -> torch.Tensor:
    """The inputs of `task` for stored images, stored the same way: uint8 0–255 (rounded) or float32 in [-1, 1].
    `first` is the index of stored[0] in its split (random masks are drawn by index)."""
    if task not in TASKS:
        raise GanforgeError(f"unknown data.task '{task}' (known: {', '.join(TASKS)})")
    eight_bit = stored.dtype == torch.uint8
    index = np.arange(first, first + len(stored))
    out = TASKS[task](stored.float() if eight_bit else (stored + 1) * 127.5, index)
    return out.round().clamp(0, 255).to(torch.uint8) if eight_bit else out / 127.5 - 1


def paired(ds: Dataset, task: str) -> Dataset:
    """`ds` as the pairs (source = task(y), x = y) of `task`; its labels, split and resizing options carry over."""
    if ds.kind != "image":
        raise GanforgeError(f"data.task '{task}' derives image pairs; dataset '{ds.name}' holds {ds.kind} data")
    chunk = 10_000
    source = torch.cat([derive(task, part, i * chunk) for i, part in enumerate(ds.stored.split(chunk))])
    # the name stays the dataset's: its evaluator judges the targets and the outputs (the task is in the config)
    return Dataset(ds.name, ds.stored, ds.labels, "image", ds.image_size, ds.channels,
                   extra={**ds.extra, SOURCE: source})


def load_pairs(root, split: str, size: int | None, channels: int | None, direction: str = "AtoB") -> Dataset:
    """A user's paired images in pix2pix's formats, for `data.name=pairs --data DIR`:

      DIR/<split>/*.png|jpg        each file the input (A, left half) and the target (B, right half) side by side,
                                   the layout of pix2pix's downloads (facades, maps, edges2shoes, …); or
      DIR/A/<split>/NAME, DIR/B/<split>/NAME   the two sides in folders of their own, paired by file name.

    split "test" falls back to DIR/val when DIR/test is absent (pix2pix's facades ship val/). Each side is cropped
    to a square and resized to `size` (default: the images' own height). direction "BtoA" swaps the sides. The
    result has x = the target side, field "source" = the input side, no labels."""
    from .folder import list_images, read_images

    root = Path(root)
    if not root.is_dir():
        raise GanforgeError(f"{root}: no such folder (data.name=pairs needs DIR/{split}/ or DIR/A/{split}/ + DIR/B/{split}/)")
    folders = [split] + (["val"] if split == "test" else [])
    for name in folders:
        a_dir, b_dir = root / "A" / name, root / "B" / name
        if a_dir.is_dir() and b_dir.is_dir():
            a_files, b_files = list_images(a_dir), list_images(b_dir)
            names_a = {str(p.relative_to(a_dir)) for p in a_files}
            names_b = {str(p.relative_to(b_dir)) for p in b_files}
            if names_a != names_b or not names_a:
                only = sorted(names_a ^ names_b)[:3]
                raise GanforgeError(f"{root}: A/{name} and B/{name} must hold the same file names (pairs); "
                                    f"{'none found' if not names_a else 'unmatched: ' + ', '.join(only)}")
            side = size or _height(a_files[0])
            channels = channels or own_channels(a_files + b_files)
            a, b = read_images(a_files, side, channels), read_images(b_files, side, channels)
            break
        if (root / name).is_dir():
            files = list_images(root / name)
            if not files:
                raise GanforgeError(f"{root / name}: no images (pix2pix's layout: A and B side by side in each file)")
            a, b = _split_side_by_side(files, size, channels or own_channels(files))
            break
    else:
        raise GanforgeError(f"{root}: no {' or '.join(folders)} split: expected {root}/{split}/ (A|B side by side) "
                            f"or {root}/A/{split}/ and {root}/B/{split}/")
    if direction == "BtoA":
        a, b = b, a
    return Dataset("pairs", b, None, "image", extra={SOURCE: a})  # the folder is data.path: no second name


def own_channels(files: list[Path]) -> int:
    """1 when every image is grey, else 3 (the rule of `ganforge.data.folder.image_shape`)."""
    from .folder import image_shape

    return image_shape(files)[1]


def _height(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.height


def _split_side_by_side(files: list[Path], size: int | None, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each file's left half (A) and right half (B), each resized to size × size."""
    import numpy as np
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    halves = ([], [])
    first = None  # the first file's size: every pair shares it, or a half would be cut at another place
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert(mode)
                w, h = im.size
                if w < 2 or w % 2:
                    raise GanforgeError(f"{path}: {w}×{h} cannot be split into two halves side by side")
                first = first or (w, h, path.name)
                if (w, h) != first[:2]:
                    raise GanforgeError(f"{path}: {w}×{h}, but {first[2]} and the files before it are "
                                        f"{first[0]}×{first[1]}; pix2pix pairs (A|B side by side) must share one size")
                side = size or h
                for i, box in enumerate(((0, 0, w // 2, h), (w // 2, 0, w, h))):
                    half = im.crop(box).resize((side, side), Image.BICUBIC)
                    arr = np.asarray(half, dtype=np.uint8)
                    halves[i].append(arr[:, :, None] if arr.ndim == 2 else arr)
        except GanforgeError:
            raise
        except Exception as e:  # PIL raises many kinds on a damaged file; every failure here is this file's
            raise GanforgeError(f"{path}: unreadable or corrupt image ({type(e).__name__}: {one_line(e)})") from None
    if len({a.shape for a in halves[0]}) > 1:
        raise GanforgeError(f"{files[0].parent}: the images differ in height; set data.image_size")
    to_tensor = lambda arrays: torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return to_tensor(halves[0]), to_tensor(halves[1])


def load_unpaired(root, split: str, size: int | None, channels: int | None,
                  direction: str = "AtoB") -> Dataset:
    """A user's two unpaired image domains in CycleGAN's layout, for `data.name=unpaired --data DIR`:
    DIR/trainA, DIR/trainB (split "test": DIR/testA, DIR/testB), any number of images on each side. Images are
    cropped to a square and resized to `size` (default: the first image's height). x is domain B; domain A is the
    unpaired field "source" (a dataset of its own, drawn as a stream of its own). direction "BtoA" swaps them."""
    from .folder import list_images, read_images

    root = Path(root)
    sides = {}
    for side in "AB":
        folder = root / f"{split}{side}"
        if not folder.is_dir():
            raise GanforgeError(f"{root}: no {folder.name}/ (CycleGAN's layout: {split}A/ and {split}B/ of images)")
        files = list_images(folder)
        if not files:
            raise GanforgeError(f"{folder}: no images (looked recursively for .png, .jpg, .jpeg)")
        sides[side] = files
    side = size or _height(sides["A"][0])
    channels = channels or own_channels(sides["A"] + sides["B"])
    a, b = (read_images(sides[s], side, channels) for s in "AB")
    if direction == "BtoA":
        a, b = b, a
    domain_a = Dataset("unpaired (domain A)", a, None, "image")
    return Dataset("unpaired", b, None, "image", domains={SOURCE: domain_a})
