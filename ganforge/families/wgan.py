"""WGAN and WGAN-GP: the `gan` family with the papers' objective defaults. The optimisers of the papers
(RMSProp 5e-5 for WGAN; Adam(1e-4, β = (0, 0.9)) for WGAN-GP) are set in their configs, as for every family."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import register_family
from .gan import GAN, GANOptions


class WGANOptions(GANOptions):
    loss: Literal["wasserstein"] = "wasserstein"
    clip: float | None = Field(0.01, gt=0)  # Arjovsky et al. 2017, Algorithm 1
    d_steps: int = Field(5, ge=1)  # n_critic


class WGANGPOptions(GANOptions):
    loss: Literal["wasserstein"] = "wasserstein"
    gradient_penalty: float = Field(10.0, gt=0)  # λ of Gulrajani et al. 2017
    d_steps: int = Field(5, ge=1)


@register_family("wgan")
class WGAN(GAN):
    """Wasserstein GAN (Arjovsky et al. 2017): linear critic kept Lipschitz by weight clipping."""

    Options = WGANOptions


@register_family("wgan_gp")
class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al. 2017): critic kept 1-Lipschitz by a gradient penalty on interpolates."""

    Options = WGANGPOptions
