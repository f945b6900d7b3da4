"""DCGAN (Radford et al. 2015): all-convolutional, batch norm, ReLU generator with tanh output, LeakyReLU
discriminator, weights drawn from N(0, 0.02).

Sizes: 28 px starts from 7×7 and doubles twice; 32 and 64 px start from 4×4 and double three or four times.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import parametrizations

from .args import check_bool, check_choice, check_int
from .discriminator import FeatureDiscriminator
from .layers import GaussianNoise, VirtualBatchNorm2d
from .registry import register_net

GENERATOR_NORMS = ("batch", "virtual_batch", "none")


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
        elif isinstance(m, (nn.BatchNorm2d, VirtualBatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register_net("dcgan_generator")
class DCGANGenerator(nn.Module):
    """norm: "batch" (DCGAN's), "virtual_batch" (Salimans et al. 2016: every example is normalised with a fixed
    reference batch of `vbn_reference` z drawn once with seed `vbn_seed`, so it does not depend on the rest of its
    minibatch; costs `vbn_reference` extra rows per call) or "none"."""

    def __init__(self, latent_dim: int, out_shape: tuple[int, ...], base: int = 128,
                 norm: Literal["batch", "virtual_batch", "none"] = "batch", vbn_reference: int = 64,
                 vbn_seed: int = 0):
        super().__init__()
        check_choice("norm", norm, GENERATOR_NORMS)
        check_int("vbn_reference", vbn_reference, minimum=1)
        check_int("vbn_seed", vbn_seed, minimum=0)
        channels, size, _ = out_shape
        self.start, n_up = _plan(size)
        self.width = base * 2 ** (n_up - 1)  # channels at the start; halved by every upsampling

        def normalise(width: int) -> nn.Module:
            if norm == "batch":
                return nn.BatchNorm2d(width)
            if norm == "virtual_batch":
                return VirtualBatchNorm2d(width, vbn_reference)
            return nn.Identity()

        bias = norm == "none"  # a normalisation's shift β makes a bias before it redundant
        self.project = nn.Sequential(
            nn.Linear(latent_dim, self.width * self.start**2, bias=bias),
            nn.Unflatten(1, (self.width, self.start, self.start)),
            normalise(self.width), nn.ReLU(),
        )
        layers: list[nn.Module] = []
        width = self.width
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=bias), normalise(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        reference_z = None
        if norm == "virtual_batch":  # drawn once, saved with the weights: the same reference for the whole run
            reference_z = torch.randn(vbn_reference, latent_dim, generator=torch.Generator().manual_seed(vbn_seed))
        self.register_buffer("vbn_reference_z", reference_z)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        reference_z = self.vbn_reference_z
        if reference_z is None:
            return self.body(self.project(z))
        # the reference rows go through with every call, so each VirtualBatchNorm2d finds them first; then dropped
        x = self.body(self.project(torch.cat([reference_z.to(z.dtype), z])))
        return x[len(reference_z):]


@register_net("dcgan_discriminator")
class DCGANDiscriminator(FeatureDiscriminator):
    """Mirror of the generator: strided convolutions, LeakyReLU(0.2), batch norm after the first; logits (N,).
    features(): the flattened last convolution block; minibatch_features > 0 adds minibatch discrimination
    with that many kernels of `minibatch_kernel_dim` before the linear head."""

    def __init__(self, in_shape: tuple[int, ...], base: int = 128, batch_norm: bool = True,
                 minibatch_features: int = 0, minibatch_kernel_dim: int = 5, dropout: float = 0.0,
                 input_noise: float = 0.0, weight_norm: bool = False):
        super().__init__()
        check_bool("batch_norm", batch_norm)
        check_bool("weight_norm", weight_norm)
        if not (0 <= dropout < 1) or input_noise < 0:
            raise ValueError(f"dropout must be in [0, 1) and input_noise ≥ 0, got {dropout} and {input_noise}")
        channels, size, _ = in_shape
        start, n_down = _plan(size)
        # dropout, input noise and weight norm are the regularisers of semi-supervised discriminators (Salimans
        # et al. 2016); off, the layer list (and state_dict keys) is the plain DCGAN's
        drop = [nn.Dropout(dropout)] if dropout else []
        layers: list[nn.Module] = ([GaussianNoise(input_noise)] if input_noise else []) + [
            nn.Conv2d(channels, base, 4, 2, 1), nn.LeakyReLU(0.2), *drop]
        width = base
        for i in range(n_down - 1):
            # batch_norm=False is for objectives whose penalty is per example (WGAN-GP)
            norm = nn.BatchNorm2d(width * 2) if batch_norm else nn.Identity()
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm), norm, nn.LeakyReLU(0.2)]
            layers += drop if i < n_down - 2 else []  # the last block's dropout comes after features()
            width *= 2
        layers.append(nn.Flatten())
        self.assemble(layers, width * start**2, minibatch_features, minibatch_kernel_dim,
                      before_head=[nn.Dropout(dropout)] if dropout else [])
        dcgan_init(self)
        if weight_norm:
            for layer in [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
                parametrizations.weight_norm(layer)
