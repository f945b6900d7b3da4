"""Encoders x → z built on any discriminator's trunk (its `features`), for the inference families (VAE, BiGAN)."""
from __future__ import annotations

import torch
from torch import nn

from .conditional import feature_dim


class GaussianEncoder(nn.Module):
    """q(z | x) = N(μ(x), diag σ²(x)): a linear layer on the trunk's features gives μ and log σ²."""

    def __init__(self, trunk: nn.Module, in_shape: tuple[int, ...], latent_dim: int):
        super().__init__()
        self.trunk = trunk
        self.out = nn.Linear(feature_dim(trunk, in_shape), 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.out(self.trunk.features(x).flatten(1)).chunk(2, dim=1)
        return mu, log_var.clamp(-30.0, 20.0)  # keeps exp(log σ²) finite in float32


class DeterministicEncoder(nn.Module):
    """E(x) = a linear layer on the trunk's features: the BiGAN / ALI encoder that inverts G."""

    def __init__(self, trunk: nn.Module, in_shape: tuple[int, ...], latent_dim: int):
        super().__init__()
        self.trunk = trunk
        self.out = nn.Linear(feature_dim(trunk, in_shape), latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk.features(x).flatten(1))


class JointDiscriminator(nn.Module):
    """D(x, z) of BiGAN: x through a discriminator trunk, z through a layer of its own, then a joint hidden layer
    and a logit. features(x, z) is that joint layer."""

    def __init__(self, trunk: nn.Module, in_shape: tuple[int, ...], latent_dim: int, hidden: int = 512,
                 slope: float = 0.2):
        super().__init__()
        self.trunk = trunk
        self.z_branch = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(slope))
        self.joint = nn.Sequential(nn.Linear(feature_dim(trunk, in_shape) + hidden, hidden), nn.LeakyReLU(slope))
        self.head = nn.Linear(hidden, 1)

    def features(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.trunk.features(x).flatten(1), self.z_branch(z.to(x.dtype))], dim=1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, z)).squeeze(1)
