"""Conditional GAN (Mirza & Osindero 2014): G(z | y) and D(x | y), y the class label of the data.

Every objective and stabiliser of the `gan` family applies; only the three conditioning hooks change. G gets a
learned label embedding concatenated to z; D is a projection discriminator (Miyato & Koyama 2018, the default)
or sees the label as one-hot input planes (`conditioning: concat`, the original cGAN).
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from ..nets import build_net
from ..nets.conditional import ConcatDiscriminator, LabelGenerator, ProjectionDiscriminator, feature_dim
from .base import Batch, register_family
from .gan import GAN, GANOptions


class LabelledOptions(GANOptions):
    label_dim: int = Field(0, ge=0)  # size of G's label embedding; 0 = the number of classes

    @model_validator(mode="after")
    def _one_class_per_input(self):
        if self.pack != 1:
            raise ValueError("pack applies to unconditional GANs only (a pack would mix classes)")
        if self.generators != 1:
            raise ValueError("generators applies to unconditional GANs only (the class already splits G's work)")
        return self


class CGANOptions(LabelledOptions):
    conditioning: Literal["projection", "concat"] = "projection"  # how D is told the class

    @model_validator(mode="after")
    def _conditional(self):
        if self.feature_matching and self.conditioning == "concat":
            raise ValueError("feature_matching needs conditioning 'projection' (concat features depend on the label)")
        return self


class LabelledGAN(GAN):
    """What the class-aware families share (not registered itself): a labelled dataset, G(z | y) built from the
    configured generator for z ⊕ a label embedding, and uniformly drawn classes for the fakes. A subclass says
    how its D sees the class: `build_discriminator(name)` returns the wrapped network."""

    Options = LabelledOptions
    needs = ("x", "label")

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        self.require_classes(cfg, num_classes)
        super().__init__(cfg, data_shape, num_classes, **kw)

    def build(self, name: str, role: str):
        net_cfg, k = self.cfg.nets[name], self.num_classes
        if role != "generator":
            return self.build_discriminator(name)
        label_dim = self.opts.label_dim or k
        base = build_net(net_cfg.arch, latent_dim=self.cfg.latent_dim + label_dim, out_shape=self.data_shape,
                         **net_cfg.args)
        return LabelGenerator(base, k, label_dim)

    def fake_labels(self, batch: Batch) -> torch.Tensor:
        # uniform over classes, like the (balanced) data; the real batch's own labels would do as well
        return torch.randint(self.num_classes, (batch.size,), device=next(self.parameters()).device)


@register_family("cgan")
class ConditionalGAN(LabelledGAN):
    """Conditional GAN: G(z | y), D(x | y) with a projection (or concatenation) discriminator."""

    Options = CGANOptions

    def build_discriminator(self, name: str):
        k = self.num_classes
        if self.opts.conditioning == "concat":
            c, *rest = self.data_shape
            net_cfg = self.cfg.nets[name]
            return ConcatDiscriminator(build_net(net_cfg.arch, in_shape=(c + k, *rest), **net_cfg.args), k)
        base = self.build_trunk(name, "conditioning 'projection' (else use concat)")
        return ProjectionDiscriminator(base, k, feature_dim(base, self.data_shape))

    def real_labels(self, batch: Batch) -> torch.Tensor:
        return batch.label
