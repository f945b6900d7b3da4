"""The original GAN game (Goodfellow et al. 2014), with any generator and discriminator architecture.

DCGAN is this family with the `dcgan_*` networks; the original paper's model uses `mlp_generator` and
`maxout_discriminator`.
"""
from __future__ import annotations

from typing import Literal

import torch

from .. import objectives
from .base import Batch, Family, Options, Phase, register_family


class GANOptions(Options):
    generator_cost: Literal["non_saturating", "minimax", "maximum_likelihood"] = "non_saturating"
    d_steps: int = 1  # k of Algorithm 1: discriminator steps per generator step
    real_target: float = 1.0  # < 1: one-sided label smoothing, e.g. 0.9


@register_family("gan")
class GAN(Family):
    """Goodfellow's minimax game: D separates real from fake, G is trained with a selectable cost."""

    networks = {"G": "generator", "D": "discriminator"}
    Options = GANOptions

    def phases(self) -> list[Phase]:
        return [Phase("d_step", updates=("D",), repeat=self.opts.d_steps), Phase("g_step", updates=("G",), data=False)]

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.nets.G(self.z(batch.size))
        # real and fake go through D in separate calls, so batch norm never mixes their statistics
        real_logits, fake_logits = self.nets.D(batch.x).float(), self.nets.D(fake).float()
        self.monitor(**{"D(x)": torch.sigmoid(real_logits).mean(), "D(G(z))": torch.sigmoid(fake_logits).mean()})
        return {"d_bce": objectives.discriminator_bce(real_logits, fake_logits, self.opts.real_target)}

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake_logits = self.nets.D(self.nets.G(self.z(batch.size))).float()
        return {"g_" + self.opts.generator_cost: objectives.GENERATOR_COSTS[self.opts.generator_cost](fake_logits)}
