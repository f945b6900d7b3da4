"""Variational autoencoder (Kingma & Welling 2014): the likelihood-based baseline the lectures set GANs against.

E gives q(z | x) = N(μ, σ²); the decoder G gives p(x | z) = N(G(z), s² I) with one learned scale s; training
maximises the ELBO = E_q log p(x | z) − KL(q(z | x) ‖ N(0, I)) with the reparameterisation trick. `G` is the decoder
and what `sample` draws from, so every tool that samples a GAN samples the VAE the same way (z ~ N(0, I) → G(z)).

Likelihoods are of 8-bit images: x is dequantised with uniform noise over its intensity bin, so the continuous
density (and the ELBO) is a lower bound on the probability of the discrete image, reported in nats per image and
bits per pixel (Theis, van den Oord & Bethge 2016).
"""
from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

from ..data.base import Dataset
from ..nets.encoder import GaussianEncoder
from .base import Batch, Family, Options, Phase, register_family

BIN = 2.0 / 255.0  # width of one of the 256 intensity levels once images are scaled to [-1, 1]


class VAEOptions(Options):
    beta: float = Field(1.0, gt=0)  # weight of the KL term (1 = the ELBO; β-VAE otherwise)
    init_log_scale: float = -2.0  # log s of the decoder's Gaussian at the start
    dequantize: bool = True  # uniform noise over each 8-bit bin (off for vector data)


class GaussianDecoder(nn.Module):
    """G(z) is the mean image; `log_scale` is the shared log standard deviation of p(x | z)."""

    def __init__(self, base: nn.Module, init_log_scale: float):
        super().__init__()
        self.base = base
        self.log_scale = nn.Parameter(torch.tensor(float(init_log_scale)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.base(z)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log N(x | mean, e^{2 log_scale} I), summed over each example: (N,)."""
    d = x[0].numel()
    sq = ((x - mean) * torch.exp(-log_scale)).square().flatten(1).sum(1)
    return -0.5 * sq - d * log_scale - 0.5 * d * math.log(2 * math.pi)


@register_family("vae")
class VAE(Family):
    """Variational autoencoder: Gaussian encoder E, Gaussian decoder G, trained on the ELBO."""

    networks = {"E": "encoder", "G": "generator"}
    Options = VAEOptions

    def build(self, name: str, role: str) -> nn.Module:
        if role == "generator":
            return GaussianDecoder(super().build(name, role), self.opts.init_log_scale)
        return GaussianEncoder(self.build_trunk(name, "the VAE encoder"), self.data_shape, self.cfg.latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of q(z | x)."""
        return self.nets.E(x)[0]

    def phases(self) -> list[Phase]:
        return [Phase("elbo_step", updates=("E", "G"))]

    def _dequantize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.opts.dequantize or len(self.data_shape) == 1:
            return x
        return x + BIN * torch.rand_like(x)

    def elbo(self, x: torch.Tensor, samples: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per example: (ELBO, expected log-likelihood, KL) in nats, one reparameterised z per `samples`."""
        x = self._dequantize(x)
        mu, log_var = self.nets.E(x)
        kl = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(1)
        rec = 0.0
        for _ in range(samples):
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
            rec = rec + gaussian_log_likelihood(x, self.nets.G(z).float(), self.nets.G.log_scale)
        rec = rec / samples
        return rec - kl, rec, kl

    def elbo_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        elbo, rec, kl = self.elbo(batch.x)
        self.monitor(elbo_nats=elbo.mean(), kl_nats=kl.mean(), decoder_log_scale=self.nets.G.log_scale)
        return {"vae_neg_elbo": -(rec - self.opts.beta * kl).mean()}

    def bits_per_dim(self, elbo_nats: torch.Tensor) -> torch.Tensor:
        """−ELBO of the 8-bit image in bits per pixel: the density is per unit of [-1, 1], the bins are 2/255 wide."""
        d = math.prod(self.data_shape)
        return -(elbo_nats + d * math.log(BIN)) / (d * math.log(2))

    def test_metrics(self, test: Dataset) -> dict[str, float]:
        """Mean test ELBO (nats per example on the data's own scale) and, for images, bits per 8-bit pixel; the
        dequantisation noise and z come from their own seeded RNG, so the number is reproducible."""
        device = next(self.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            elbo = torch.cat([self.elbo(x.to(device))[0].cpu() for x in test.x.split(500)]).mean()
        out = {"test_elbo_nats": float(elbo)}
        if len(self.data_shape) == 3 and self.opts.dequantize:
            out["test_bits_per_dim"] = float(self.bits_per_dim(elbo))
        return out
