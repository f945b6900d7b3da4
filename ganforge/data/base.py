"""The one in-memory form every dataset takes."""
from __future__ import annotations

from dataclasses import dataclass

import torch


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
