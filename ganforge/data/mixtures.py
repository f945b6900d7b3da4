"""2-D Gaussian mixtures of the PacGAN mode-collapse protocol."""
from __future__ import annotations

import math

import torch

from ganforge.errors import GanforgeError


def _ring8() -> torch.Tensor:
    a = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([a.cos(), a.sin()], dim=1).float()


def _grid25() -> torch.Tensor:
    v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


# name -> (means (M, 2), sigma)
MIXTURES: dict[str, tuple[torch.Tensor, float]] = {
    "ring8": (_ring8(), 0.01),
    "grid25": (_grid25(), 0.05),
}


def sample_mixture(name: str, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n points (float32 (n, 2)) and their mode indices (int64 (n,)); modes picked uniformly."""
    if name not in MIXTURES:
        raise GanforgeError(f"unknown mixture {name!r}; known: {', '.join(MIXTURES)}")
    if n <= 0:
        raise GanforgeError(f"{name}: number of samples must be positive, got {n}")
    means, sigma = MIXTURES[name]
    modes = torch.randint(len(means), (n,), generator=generator)
    x = means[modes] + sigma * torch.randn(n, 2, generator=generator)
    return x, modes
