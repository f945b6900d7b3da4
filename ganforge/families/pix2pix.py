"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN and an L1 term.

G maps an input image a (the data field "source") to an output; D judges (a, b) pairs, concatenated along channels,
with a map of patch logits (PatchGAN), so it sees whether b fits a, patch by patch. G minimises the adversarial cost
plus λ·‖b − G(a)‖₁ (λ = 100): the L1 term gets the low frequencies right, the GAN term the sharp detail that L1
alone averages into blur. D's cost is halved, as in the paper, to slow D relative to G.

The paper's ablation (its Table 1) is two options: `adversarial: 0` is L1 alone (no D is trained), `l1: 0` the
cGAN alone; `conditional: false` gives D the output without its input (an unconditional GAN on outputs).

    ganforge train configs/pix2pix-edges-fashion.yaml
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from .. import objectives
from ..data.paired import SOURCE
from .base import Batch, register_family
from .translation import TranslationOptions, Translator


class Pix2PixOptions(TranslationOptions):
    l1: float = Field(100.0, ge=0)  # λ of the L1 term
    adversarial: float = Field(1.0, ge=0)  # weight of G's adversarial cost; 0 = L1 alone (no D step)
    conditional: bool = True  # D sees (input, output); false: the output alone
    d_weight: float = Field(0.5, gt=0)  # D's cost is multiplied by this (the paper's ½)

    @model_validator(mode="after")
    def _something_to_learn(self):
        if not self.l1 and not self.adversarial:
            raise ValueError("l1 and adversarial are both 0: G would have no cost")
        return self


@register_family("pix2pix")
class Pix2Pix(Translator):
    """pix2pix: U-Net G(a), PatchGAN D(a, b), adversarial + λ·L1 (paired translation)."""

    Options = Pix2PixOptions
    probability_monitors = ("D(a,b)", "D(a,G(a))")

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        super().__init__(cfg, data_shape, num_classes, **kw)
        self.game = objectives.game(self.opts.loss).scaled(d_weight=self.opts.d_weight)

    @classmethod
    def remedies(cls, opts: dict) -> dict[str, str]:
        """Beside the game: the L1 term, when it is off (a cGAN alone may ignore its input)."""
        offered = super().remedies(opts)
        if opts.get("l1") == 0:
            offered["content_loss"] = "a loss that ties each output to its input: the L1 term (objective.l1=100)"
        return offered

    def in_shape(self, name: str) -> tuple[int, ...]:
        c, *side = self.data_shape
        if not self.opts.conditional:
            return self.data_shape
        c_in, *side_in = self.field_shape(SOURCE)
        return (c + c_in, *side)  # the input, resized to the output's side, beside the output

    def seen_by_d(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.pair(a, b)

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What D judges: the output b, beside its input a when D is conditional."""
        if not self.opts.conditional:
            return b
        if a.shape[-1] != b.shape[-1]:  # a low-resolution input, brought to the output's side
            a = F.interpolate(a, size=b.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)
        return torch.cat([a, b], 1)

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        a, b = batch.fields[SOURCE], batch.x
        fake = self.nets.G(a)
        l1 = F.l1_loss(fake.float(), b)
        self.monitor(l1=l1)  # logged even when it is not trained on (cGAN alone), to compare the two
        terms = self.adversarial_cost(a, fake)
        if self.opts.l1:
            terms["g_l1"] = self.opts.l1 * l1
        return terms
