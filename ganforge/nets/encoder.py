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
