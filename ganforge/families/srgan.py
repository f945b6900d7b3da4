"""SRGAN (Ledig et al. 2017): single-image super-resolution with a content loss and a small adversarial term.

G maps a low-resolution image (the data field "source", e.g. `data.task=downscale4`: 7×7 → 28×28) to the full
resolution with sub-pixel upsampling; D is an ordinary image discriminator of full-resolution images. G minimises
content + 10⁻³·adversarial. The content loss is the pixels' mean squared error (`content: pixels`, the paper's
SRResNet-MSE) or the squared distance of features: the discriminator's (`content: features`) or VGG-19's from a
local weights file (`content: vgg`, `vgg_weights: PATH`, `vgg_layer: relu5_4` the paper's VGG54).

The paper's features are VGG-19's, whose weights cannot be had offline here; and the features that judge a method
must not be the ones it trained on. So `content: features` uses the discriminator's own features (D.features(), the
last hidden layer; Ledig et al. discuss such "discriminator feature" losses; they move as D learns), never the
frozen evaluator that scores the results. `adversarial: 0` with `content: pixels` is SRResNet-MSE, the
distortion-optimal baseline the paper compares against.

    ganforge train configs/srgan-fashion-x4.yaml
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from .. import objectives
from ..data.paired import SOURCE
from ..errors import GanforgeError
from ..nets.vgg import VGG19Features
from .base import Batch, register_family
from .translation import TranslationOptions, Translator


class SRGANOptions(TranslationOptions):
    content: Literal["pixels", "features", "vgg"] = "pixels"
    adversarial: float = Field(1e-3, ge=0)  # weight of G's adversarial cost beside the content loss; 0 = SRResNet
    vgg_weights: str | None = None  # content "vgg": torchvision's vgg19 state dict, a local file
    vgg_layer: Literal["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4"] = "relu5_4"  # the paper's VGG54

    @model_validator(mode="after")
    def _consistent(self):
        if self.content == "features" and not self.adversarial:
            raise ValueError("content 'features' reads the discriminator's features; with adversarial 0 no D trains")
        if (self.content == "vgg") != (self.vgg_weights is not None):
            raise ValueError("content 'vgg' and vgg_weights go together: the VGG-19 weights are a local file "
                             "(nothing is downloaded)")
        if self.vgg_weights is not None and not Path(self.vgg_weights).is_file():
            raise ValueError(f"vgg_weights {self.vgg_weights}: no such file")
        return self


@register_family("srgan")
class SRGAN(Translator):
    """SRGAN: sub-pixel G(low-res), D on full-resolution images, content (pixels or D's features) + 10⁻³·GAN."""

    Options = SRGANOptions
    probability_monitors = ("D(x)", "D(G(low))")

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        super().__init__(cfg, data_shape, num_classes, **kw)
        if self.opts.content == "features" and not hasattr(self.nets.D, "features"):
            raise GanforgeError(f"objective.content=features needs a discriminator with features(); "
                                f"'{cfg.nets['D'].arch}' has none")
        self.game = objectives.game(self.opts.loss)
        self.vgg: VGG19Features | None = None  # built on first use: sampling a trained run never needs the file

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake, real = self.nets.G(batch.fields[SOURCE]), batch.x
        mse = F.mse_loss(fake.float(), real)
        self.monitor(pixel_mse=mse)
        if self.opts.content == "pixels":
            terms = {"g_content_pixels": mse}
        elif self.opts.content == "vgg":
            if self.vgg is None:
                self.vgg = VGG19Features(self.opts.vgg_weights, self.opts.vgg_layer).to(real.device)
            with torch.no_grad():
                target = self.vgg(real).float()
            terms = {"g_content_vgg": F.mse_loss(self.vgg(fake).float(), target)}
        else:  # D's last hidden layer, the target's features held fixed
            with torch.no_grad():
                target = self.nets.D.features(real).float()
            terms = {"g_content_features": F.mse_loss(self.nets.D.features(fake).float(), target)}
        return terms | self.adversarial_cost(batch.fields[SOURCE], fake)
