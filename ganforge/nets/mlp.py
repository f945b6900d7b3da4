"""Fully connected networks of Goodfellow et al. 2014: an MLP generator and a maxout discriminator with dropout."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrizations

from .discriminator import FeatureDiscriminator
from .layers import GaussianNoise
from .registry import register_net

_OUTPUT = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}


@register_net("mlp_generator")
class MLPGenerator(nn.Module):
    """z → ReLU hidden layers → an example of `out_shape`; output activation tanh for images in [-1, 1]."""

    def __init__(self, latent_dim: int, out_shape: tuple[int, ...], hidden: tuple[int, ...] = (256, 256),
                 output: str = "tanh", batch_norm: bool = False):
        super().__init__()
        if output not in _OUTPUT:
            raise ValueError(f"output must be one of {sorted(_OUTPUT)}, got {output!r}")
        self.out_shape = tuple(out_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h)] + ([nn.BatchNorm1d(h)] if batch_norm else []) + [nn.ReLU()]
            width = h
        layers += [nn.Linear(width, math.prod(self.out_shape)), _OUTPUT[output]()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).view(len(z), *self.out_shape)


class Maxout(nn.Module):
    """max over `pieces` linear maps (Goodfellow et al. 2013)."""

    def __init__(self, d_in: int, d_out: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), -1, self.pieces).amax(dim=-1)


@register_net("maxout_discriminator")
class MaxoutDiscriminator(FeatureDiscriminator):
    """Maxout hidden layers with dropout, as in the original GAN's discriminator; returns logits (N,).
    features(): the last maxout layer's output (its dropout belongs to the head); minibatch_features > 0 adds
    minibatch discrimination with that many kernels of `minibatch_kernel_dim` before the linear head."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...] = (240, 240), pieces: int = 5,
                 dropout: float = 0.5, input_dropout: float = 0.2, minibatch_features: int = 0,
                 minibatch_kernel_dim: int = 5):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        width = math.prod(in_shape)
        for h in hidden:
            layers += [Maxout(width, h, pieces), nn.Dropout(dropout)]
            width = h
        # the last dropout goes after features(), where it stood before the linear layer
        split = len(layers) - 1 if hidden else len(layers)
        self.assemble(layers[:split], width, minibatch_features, minibatch_kernel_dim, before_head=layers[split:])


@register_net("mlp_discriminator")
class MLPDiscriminator(FeatureDiscriminator):
    """LeakyReLU MLP discriminator; returns logits (N,). The usual choice for 2-D toy data.
    features(): the last hidden layer after its LeakyReLU; minibatch_features > 0 adds minibatch discrimination
    with that many kernels of `minibatch_kernel_dim` before the linear head.
    input_noise / hidden_noise: σ of Gaussian noise before the first / every later linear layer (training only), and
    weight_norm: the semi-supervised discriminator of Salimans et al. 2016 (ReLU, slope 0; 1000-500-250-250-250)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...] = (256, 256), slope: float = 0.2,
                 minibatch_features: int = 0, minibatch_kernel_dim: int = 5, input_noise: float = 0.0,
                 hidden_noise: float = 0.0, weight_norm: bool = False):
        super().__init__()
        if input_noise < 0 or hidden_noise < 0:
            raise ValueError(f"input_noise and hidden_noise must be ≥ 0, got {input_noise} and {hidden_noise}")
        layers: list[nn.Module] = [nn.Flatten()] + ([GaussianNoise(input_noise)] if input_noise else [])
        width = math.prod(in_shape)
        for i, h in enumerate(hidden):
            if i and hidden_noise:
                layers.append(GaussianNoise(hidden_noise))
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope)]
            width = h
        # the noise before the head belongs after features(), which feature matching reads clean
        head_noise = [GaussianNoise(hidden_noise)] if hidden and hidden_noise else []
        self.assemble(layers, width, minibatch_features, minibatch_kernel_dim, before_head=head_noise)
        if weight_norm:  # w = g·v/‖v‖ per output unit (Salimans & Kingma 2016)
            for layer in [m for m in self.modules() if isinstance(m, nn.Linear)]:
                parametrizations.weight_norm(layer)
