"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): a generator G: z → x, an encoder E: x → z, and a
discriminator on pairs that tells (x, E(x)) from (G(z), z).

At the optimum the two joint distributions match, so E inverts G: E(G(z)) = z and G(E(x)) = x. G and E play
together against D with the non-saturating cost (each pair pushed towards the other's label).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from ..nets.encoder import DeterministicEncoder, JointDiscriminator
from .base import Batch, Family, Options, Phase, Signals, register_family


class BiGANOptions(Options):
    d_steps: int = Field(1, ge=1)
    real_target: float = Field(1.0, gt=0, le=1)  # < 1: one-sided label smoothing of the (x, E(x)) pairs
    joint_hidden: int = Field(512, ge=1)  # width of D's z branch and joint layer


@register_family("bigan")
class BiGAN(Family):
    """BiGAN / ALI: G, an encoder E that infers z, and D on (x, z) pairs."""

    networks = {"G": "generator", "E": "encoder", "D": "discriminator"}
    Options = BiGANOptions

    def build(self, name: str, role: str):
        if role == "generator":
            return super().build(name, role)
        trunk = self.build_trunk(name, f"bigan's {role}")
        if role == "encoder":
            return DeterministicEncoder(trunk, self.data_shape, self.cfg.latent_dim)
        return JointDiscriminator(trunk, self.data_shape, self.cfg.latent_dim, self.opts.joint_hidden)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets.E(x)

    def signals(self) -> Signals:
        return Signals(p_real="D(x,E(x))", p_fake="D(G(z),z)")

    def phases(self) -> list[Phase]:
        return [Phase("d_step", updates=("D",), repeat=self.opts.d_steps), Phase("ge_step", updates=("G", "E"))]

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        z = self.z(batch.size)
        with torch.no_grad():
            fake, ez = self.nets.G(z), self.nets.E(batch.x)
        real_s, fake_s = self.nets.D(batch.x, ez).float(), self.nets.D(fake, z).float()
        self.monitor(**{"D(x,E(x))": torch.sigmoid(real_s).mean(), "D(G(z),z)": torch.sigmoid(fake_s).mean()})
        target = torch.full_like(real_s, self.opts.real_target)
        return {"d_bce": F.binary_cross_entropy_with_logits(real_s, target) + F.softplus(fake_s).mean()}

    def ge_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        z = self.z(batch.size)
        real_s = self.nets.D(batch.x, self.nets.E(batch.x)).float()
        fake_s = self.nets.D(self.nets.G(z), z).float()
        # non-saturating for both: the encoder's pairs should look generated, the generator's pairs real
        return {"ge_non_saturating": F.softplus(real_s).mean() + F.softplus(-fake_s).mean()}
