"""Text-to-image synthesis (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"): G(z, caption)
and D(image, caption), the caption given as its sentence embedding (the data field `embedding`).

As in the paper, the embedding is compressed (linear + leaky ReLU) and concatenated with z in G, and with D's
image features in D, where a hidden layer lets image and text interact. Two options make the paper's variants
(configs/gan-int-cls-fashion.yaml and the three beside it):
- `matching_aware` (GAN-CLS): D also sees real images with a mismatched caption (another example's, taken from the
  batch itself) and must call them fake: L_D = log D(x,t) + ½[log(1−D(x,t̂)) + log(1−D(G(z,t),t))].
- `interpolate` (GAN-INT): G is also trained on captions between two of the batch's, β·t₁ + (1−β)·t₂ (β = 0.5),
  which D has never seen with a real image; it fills in the gaps between the captions of the data.
Both off is the baseline, a plain text-conditional GAN. Every game and stabiliser of the `gan` family that keeps one
example per D input applies (a penalty differentiates D with the caption bound).
"""
from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import nn

from ..errors import GanforgeError
from ..nets import build_net
from ..nets.conditional import feature_dim
from .base import Batch, Phase, register_family
from .gan import GAN, GANOptions

CAPTION_FIELD = "embedding"


class TextOptions(GANOptions):
    matching_aware: bool = True  # GAN-CLS: D learns to reject real images with another example's caption
    interpolate: bool = True  # GAN-INT: G also learns from captions between two of the batch's
    beta: float = Field(0.5, gt=0, lt=1)  # GAN-INT's β: the mixed caption is β·t₁ + (1 − β)·t₂
    text_dim: int = Field(128, ge=1)  # width of the compressed embedding (linear + leaky ReLU) beside z and D's features
    joint_width: int = Field(256, ge=1)  # D's hidden layer on (image features ⊕ compressed caption)
    # beyond the paper (each off by default, the paper's choice):
    # standardise each embedding dimension over the data (a batch norm without a learned scale) before compressing:
    # sentence embeddings of one kind of caption share most of their direction, and what tells them apart is small
    normalize_text: bool = False
    # conditioning augmentation (StackGAN, Zhang et al. 2017): G's caption code is drawn from N(μ(t), σ(t)) while
    # training, with this weight on KL(N(μ, σ) ‖ N(0, I)) in G's cost; it smooths the caption manifold. 0: off
    augment_text: float = Field(0.0, ge=0.0)
    # D also scores the inner product of its image features with the compressed caption (the projection
    # discriminator of Miyato & Koyama 2018) beside the paper's concatenation
    projection: bool = False

    @model_validator(mode="after")
    def _one_caption_per_input(self):
        for key, plain in (("pack", 1), ("generators", 1), ("feature_matching", False), ("unrolled_steps", 0)):
            if getattr(self, key) != plain:
                raise ValueError(f"{key} does not apply to text-to-image (D judges an image with its caption)")
        if not self.interpolate and self.beta != 0.5:
            raise ValueError("beta applies with interpolate=true only")
        return self


def compressor(embedding_dim: int, text_dim: int, normalize: bool = False) -> nn.Module:
    """The paper's compression of a sentence embedding: a linear layer and a leaky ReLU; `normalize` first
    standardises each dimension by its running statistics over the data."""
    first = [nn.BatchNorm1d(embedding_dim, affine=False)] if normalize else []
    return nn.Sequential(*first, nn.Linear(embedding_dim, text_dim), nn.LeakyReLU(0.2))


class TextGenerator(nn.Module):
    """G(z, t) = base(z ⊕ φ(t)); `base` was built for latent_dim + text_dim inputs. With `augment` (conditioning
    augmentation) φ(t) is μ(t) + σ(t)·ε while training and μ(t) when sampling (eval mode)."""

    def __init__(self, base: nn.Module, embedding_dim: int, text_dim: int, normalize: bool = False,
                 augment: bool = False):
        super().__init__()
        self.base, self.augment = base, augment
        self.compress = compressor(embedding_dim, 2 * text_dim if augment else text_dim, normalize)

    def code(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the caption's code beside z, KL(N(μ, σ) ‖ N(0, I)) averaged over the batch; None without augment)."""
        c = self.compress(embedding)
        if not self.augment:
            return c, None
        mu, log_var = c.chunk(2, dim=1)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1).mean()
        if self.training:
            mu = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
        return mu, kl

    def forward(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.base(torch.cat([z, self.code(embedding.to(z.dtype))[0]], dim=1))


class TextDiscriminator(nn.Module):
    """D(x, t) = w·h(f(x) ⊕ ψ(t)): the trunk's image features beside the compressed caption, then a hidden layer
    (h, leaky ReLU) so that the score depends on whether they match, not on each alone."""

    def __init__(self, trunk: nn.Module, feature_width: int, embedding_dim: int, text_dim: int, width: int,
                 normalize: bool = False, projection: bool = False):
        super().__init__()
        self.base, self.compress = trunk, compressor(embedding_dim, text_dim, normalize)
        self.joint = nn.Sequential(nn.Linear(feature_width + text_dim, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))
        # + ⟨P ψ(t), f(x)⟩ (projection discriminator); starts near zero, as the paper's D
        self.project = nn.Linear(text_dim, feature_width, bias=False) if projection else None
        if projection:
            nn.init.normal_(self.project.weight, std=0.02)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        f = self.base.features(x)
        f = self.base.pre_head(f) if hasattr(self.base, "pre_head") else f
        f, t = f.flatten(1), self.compress(embedding.to(f.dtype))
        score = self.joint(torch.cat([f, t], dim=1)).squeeze(1)
        return score if self.project is None else score + (self.project(t) * f).sum(1)


def mismatched(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(t̂, keep): every example paired with the next one's caption (the batch rolled by one); keep marks the pairs
    whose captions differ, the only ones that are truly mismatched."""
    rolled = t.roll(1, 0)
    return rolled, (rolled != t).any(1)


@register_family("text2image")
class TextToImage(GAN):
    """Text-to-image (Reed et al. 2016): G(z, caption), matching-aware D (GAN-CLS), interpolated captions (GAN-INT)."""

    Options = TextOptions
    needs = ("x", CAPTION_FIELD)
    inputs = {"G": ("z", CAPTION_FIELD)}

    def __init__(self, cfg, data_shape, num_classes=0, fields=None, **kw):
        if CAPTION_FIELD not in (fields or {}):
            raise GanforgeError(f"family '{self.name}' learns from captions: set data.captions (attributes for "
                                "Fashion-MNIST, files for a folder's own captions); this data has no caption field")
        super().__init__(cfg, data_shape, num_classes, fields=fields, **kw)

    def build(self, name: str, role: str) -> nn.Module:
        o, embedding_dim = self.opts, self.field_shape(CAPTION_FIELD)[0]
        if role == "generator":
            net_cfg = self.cfg.nets[name]
            base = build_net(net_cfg.arch, latent_dim=self.cfg.latent_dim + o.text_dim, out_shape=self.data_shape,
                             **net_cfg.args)
            return TextGenerator(base, embedding_dim, o.text_dim, o.normalize_text, o.augment_text > 0)
        trunk = self.build_trunk(name, "a text-conditioned D (it reads the image's features)")
        return TextDiscriminator(trunk, feature_dim(trunk, self.data_shape), embedding_dim, o.text_dim, o.joint_width,
                                 o.normalize_text, o.projection)

    @classmethod
    def remedies(cls, opts: dict) -> dict[str, str]:
        """GAN's, less those that do not apply to an image judged with its caption."""
        offered = super().remedies(opts)
        return {k: v for k, v in offered.items() if k not in ("packing", "feature_matching", "unrolled_d")}

    def phases(self) -> list[Phase]:
        # G's step needs captions to make images of, so it draws a batch too
        return [Phase("d_step", updates=("D",), repeat=self.opts.d_steps),
                Phase("g_step", updates=("G",), repeat=self.opts.g_steps)]

    # the conditioning hooks of GAN: the "labels" are the captions' embeddings; fakes are made for the batch's own
    def real_labels(self, batch: Batch) -> torch.Tensor:
        return batch.embedding

    def fake_labels(self, batch: Batch) -> torch.Tensor:
        return batch.embedding

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        t = batch.embedding
        with torch.no_grad():
            fake = self.generate(batch.size, t)
        real_s, fake_s = self.scores(batch.x, fake, t, t)
        terms = self.d_terms(batch.x, fake, real_s, fake_s, t)
        if self.opts.matching_aware:
            wrong_t, keep = mismatched(t)
            if keep.any():  # GAN-CLS: ½ of the fake term goes to real images with another example's caption
                wrong_s = self.critic(self.nets.D, wrong_t[keep])(self.d_input(batch.x[keep])).float()
                key = f"d_{self.game.name}"
                terms[key] = 0.5 * (terms[key] + self.game.d_cost(real_s[keep], wrong_s))
                if self.game.probabilities:
                    self.monitor(**{"D(x,wrong caption)": torch.sigmoid(wrong_s).mean()})
        return terms

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        t = batch.embedding
        fake = self.generate(batch.size, t)
        terms = {"g_" + self.game.g_name: self.game.g_cost(self.critic(self.nets.D, t)(self.d_input(fake)).float())}
        if self.opts.interpolate:  # GAN-INT: captions between two of the batch's, which no real image has
            b = self.opts.beta
            mixed = b * t + (1 - b) * t[torch.randperm(batch.size, device=t.device)]
            fake_mixed = self.generate(batch.size, mixed)
            terms["g_interpolated"] = self.game.g_cost(self.critic(self.nets.D, mixed)(self.d_input(fake_mixed)).float())
        if self.opts.augment_text:  # conditioning augmentation keeps the caption codes near N(0, I)
            terms["g_text_kl"] = self.opts.augment_text * self.nets.G.code(t)[1]
        return terms
