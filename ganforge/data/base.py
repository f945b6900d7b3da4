"""The one in-memory form every dataset takes, and what the loaders share."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ganforge.errors import GanforgeError

# Deflate (gzip, zip) expands at most ~1032-fold (one 258-byte match per 2-bit code): a bound on what a
# compressed file can honestly hold, checked before any header-sized buffer is allocated.
MAX_DEFLATE_RATIO = 1032


def one_line(e: BaseException) -> str:
    """A library exception as one line of text, for a GanforgeError message."""
    return " ".join(str(e).split()) or type(e).__name__


def check_file(path: str, what: str) -> None:
    """Refuse a missing path, a folder, and a FIFO or device (reading those can block forever)."""
    if not os.path.exists(path):
        raise GanforgeError(f"{path}: no such file (expected {what})")
    if not os.path.isfile(path):
        raise GanforgeError(f"{path}: not a regular file (expected {what})")


@dataclass
class Dataset:
    """A whole dataset held as one tensor, so the training path does no per-item work.

    x: float32, images as (N, C, H, W) in [-1, 1]; vectors as (N, D) in their natural units.
    labels: int64 (N,) or None.
    kind: "image" or "vector".
    """

    name: str
    x: torch.Tensor
    labels: torch.Tensor | None
    kind: str

    def __post_init__(self):
        if self.labels is not None and len(self.labels) != len(self.x):
            raise ValueError(f"{self.name}: {len(self.x)} examples but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.x.shape[1:])
