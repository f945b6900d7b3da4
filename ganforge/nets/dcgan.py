"""DCGAN (Radford et al. 2015): all-convolutional, batch norm, ReLU generator with tanh output, LeakyReLU
discriminator, weights drawn from N(0, 0.02).

Sizes: 28 px starts from 7×7 and doubles twice; 32 and 64 px start from 4×4 and double three or four times.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import register_net


def _plan(size: int) -> tuple[int, int]:
    """(starting side, number of ×2 upsamplings) for an output side `size`."""
    for start in (4, 7):
        n = math.log2(size / start)
        if n >= 1 and n == int(n):
            return start, int(n)
    raise ValueError(f"DCGAN supports image sides 4·2^k or 7·2^k (e.g. 28, 32, 64), got {size}")


def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register_net("dcgan_generator")
class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, out_shape: tuple[int, ...], base: int = 128):
        super().__init__()
        channels, size, _ = out_shape
        self.start, n_up = _plan(size)
        self.width = base * 2 ** (n_up - 1)  # channels at the start; halved by every upsampling
        self.project = nn.Sequential(
            nn.Linear(latent_dim, self.width * self.start**2, bias=False),
            nn.Unflatten(1, (self.width, self.start, self.start)),
            nn.BatchNorm2d(self.width), nn.ReLU(),
        )
        layers: list[nn.Module] = []
        width = self.width
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z))


@register_net("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
    """Mirror of the generator: strided convolutions, LeakyReLU(0.2), batch norm after the first; logits (N,)."""

    def __init__(self, in_shape: tuple[int, ...], base: int = 128, batch_norm: bool = True):
        super().__init__()
        channels, size, _ = in_shape
        start, n_down = _plan(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        width = base
        for _ in range(n_down - 1):
            # batch_norm=False is for objectives whose penalty is per example (WGAN-GP)
            norm = nn.BatchNorm2d(width * 2) if batch_norm else nn.Identity()
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm), norm, nn.LeakyReLU(0.2)]
            width *= 2
        layers += [nn.Flatten(), nn.Linear(width * start**2, 1)]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)
