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
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import GanforgeError
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


TASKS = {
    "edges": edges,
    "downscale2": lambda y: downscale(y, 2),
    "downscale4": lambda y: downscale(y, 4),
    "invert": invert,
    "inpaint": inpaint,
}


def derive(task: str, stored: torch.Tensor) -> torch.Tensor:
    """The inputs of `task` for stored images, stored the same way: uint8 0–255 (rounded) or float32 in [-1, 1]."""
    if task not in TASKS:
        raise GanforgeError(f"unknown data.task '{task}' (known: {', '.join(TASKS)})")
    eight_bit = stored.dtype == torch.uint8
    out = TASKS[task](stored.float() if eight_bit else (stored + 1) * 127.5)
    return out.round().clamp(0, 255).to(torch.uint8) if eight_bit else out / 127.5 - 1


def paired(ds: Dataset, task: str) -> Dataset:
    """`ds` as the pairs (source = task(y), x = y) of `task`; its labels, split and resizing options carry over."""
    if ds.kind != "image":
        raise GanforgeError(f"data.task '{task}' derives image pairs; dataset '{ds.name}' holds {ds.kind} data")
    source = torch.cat([derive(task, part) for part in ds.stored.split(10_000)])
    # the name stays the dataset's: its evaluator judges the targets and the outputs (the task is in the config)
    return Dataset(ds.name, ds.stored, ds.labels, "image", ds.image_size, ds.channels,
                   extra={**ds.extra, SOURCE: source})
