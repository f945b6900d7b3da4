"""AC-GAN (Odena, Olah & Shlens 2017): G(z | y); D judges real vs fake and also names the class.

D is unconditional and has a second head on its features: class logits. D minimises the adversarial cost plus the
cross-entropy of the class on real data (and, with `classify_fakes`, on generated data with the class G was asked
for, as in the paper); G minimises its adversarial cost plus the cross-entropy of its requested class, so it learns
to make samples D can name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from ..nets.conditional import AuxClassifierDiscriminator, feature_dim
from .base import Batch, register_family
from .cgan import LabelledGAN, LabelledOptions


class ACGANOptions(LabelledOptions):
    class_weight: float = Field(1.0, gt=0)  # weight of the class cross-entropy beside the adversarial cost
    # D's class head also learns the requested class of generated samples, as in Odena et al. Off by default: on
    # Fashion-MNIST it let the head learn a mapping of its own for the early fakes, and G then drew every class under
    # a permuted label (class agreement 36 % at 600 s; README). Trained on real data only, the head keeps the labels'
    # meaning.
    classify_fakes: bool = False

    @model_validator(mode="after")
    def _acgan(self):
        for key in ("feature_matching", "unrolled_steps"):
            if getattr(self, key):
                raise ValueError(f"{key} is not supported by acgan (its G cost is the adversarial + class cost)")
        return self


@register_family("acgan")
class ACGAN(LabelledGAN):
    """AC-GAN: conditional G; D predicts real/fake and the class (auxiliary classifier)."""

    Options = ACGANOptions

    def build_discriminator(self, name: str):
        base = self.build_trunk(name, "acgan's class head")
        return AuxClassifierDiscriminator(base, self.num_classes, feature_dim(base, self.data_shape))

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake_y = self.fake_labels(batch)
        with torch.no_grad():
            fake = self.generate(batch.size, fake_y)
        real_s, real_c = self.nets.D.classify(self.d_input(batch.x))
        fake_s, fake_c = self.nets.D.classify(self.d_input(fake))
        terms = self.d_terms(batch.x, fake, real_s.float(), fake_s.float())
        class_loss = F.cross_entropy(real_c.float(), batch.label)
        self.monitor(**{"D_class_accuracy(x)": (real_c.argmax(1) == batch.label).float().mean()})
        if self.opts.classify_fakes:
            class_loss = (class_loss + F.cross_entropy(fake_c.float(), fake_y)) / 2
        terms["d_class"] = self.opts.class_weight * class_loss
        return terms

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake_y = self.fake_labels(batch)
        fake_s, fake_c = self.nets.D.classify(self.d_input(self.generate(batch.size, fake_y)))
        self.monitor(**{"D_class_accuracy(G(z))": (fake_c.argmax(1) == fake_y).float().mean()})
        return {"g_" + self.game.g_name: self.game.g_cost(fake_s.float()),
                "g_class": self.opts.class_weight * F.cross_entropy(fake_c.float(), fake_y)}
