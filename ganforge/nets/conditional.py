"""Label-conditioned wrappers around any generator and discriminator of the registry.

Conditioning is a wrapper, not an architecture: `mlp_*`, `maxout_*` and `dcgan_*` all become conditional the
same way, and the wrapped network's state_dict keys live under `base.`.

- LabelGenerator: G(z | y) = base(z ⊕ e(y)), e a learned label embedding (Mirza & Osindero 2014 concatenate y to z).
- ProjectionDiscriminator: D(x | y) = ψ(φ(x)) + e(y)·φ(x), φ = base.features (Miyato & Koyama 2018).
- ConcatDiscriminator: D(x | y) = base(x ⊕ onehot(y)), one-hot planes added as input channels (Mirza & Osindero).
- AuxClassifierDiscriminator: D(x) plus class logits from the same features (AC-GAN, Odena et al. 2017).
- KPlusOneDiscriminator: K class logits and an implicit (K+1)-th "generated" logit fixed at 0, so that
  D(x) = σ(logsumexp of the class logits) (the semi-supervised GAN of Salimans et al. 2016).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def balanced_labels(n: int, num_classes: int, device=None) -> torch.Tensor:
    """0, 1, …, K−1, 0, 1, …: every class equally often (to within one), deterministic."""
    return torch.arange(n, device=device) % num_classes


class LabelGenerator(nn.Module):
    """G(z, labels); without labels it draws class-balanced ones, so anything that calls G(z) (grids, the doctor,
    EMA, evaluation) gets a balanced sample. `base` was built for latent_dim + label_dim inputs."""

    def __init__(self, base: nn.Module, num_classes: int, label_dim: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.embed = nn.Embedding(num_classes, label_dim)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = balanced_labels(len(z), self.num_classes, z.device)
        return self.base(torch.cat([z, self.embed(labels).to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """ψ(φ(x)) + ⟨e(y), φ(x)⟩: the class enters as an inner product with the features, the form the optimal
    conditional discriminator takes when p(y|x) is log-linear in φ(x)."""

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.embed = nn.Embedding(num_classes, feature_dim)
        nn.init.normal_(self.embed.weight, std=0.02)  # starts as the unconditional D

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        f = self.base.features(x)
        return self.base.head(f) + (self.embed(labels).to(f.dtype) * f.flatten(1)).sum(1)


class ConcatDiscriminator(nn.Module):
    """base(x ⊕ onehot(y)): `base` was built for inputs with num_classes more channels (or features)."""

    def __init__(self, base: nn.Module, num_classes: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def _joint(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(labels, self.num_classes).to(x.dtype)
        onehot = onehot.view(*onehot.shape, *(1,) * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
        return torch.cat([x, onehot], dim=1)

    def features(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.base.features(self._joint(x, labels))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.base(self._joint(x, labels))


class _ClassHead(nn.Module):
    """A linear class head beside the base discriminator, on its features."""

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int):
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.classifier = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)


class AuxClassifierDiscriminator(_ClassHead):
    """forward(x) → source logits (N,), as any discriminator; classify(x) → (source logits, class logits (N, K))
    from one pass through the shared features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x)

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.base.features(x)
        return self.base.head(f), self.classifier(f.flatten(1))


class KPlusOneDiscriminator(_ClassHead):
    """Class logits l_1..l_K on the base's features, and a "generated" class whose logit is fixed at 0 (fixing it
    loses nothing: softmax is unchanged by adding a constant to every logit). Then p(real | x) = Z/(Z + 1) with
    Z = Σ_k exp l_k, so forward(x) = logsumexp_k l_k is the real-vs-fake logit every GAN cost and monitor expects,
    and classify(x) returns it with the class logits from the same pass."""

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        f = self.base.features(x)
        f = self.base.pre_head(f) if hasattr(self.base, "pre_head") else f
        return self.classifier(f.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.class_logits(x).float(), dim=1)

    def classify(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.class_logits(x).float()
        return torch.logsumexp(logits, dim=1), logits


def feature_dim(net: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Width of net.features() for one input of `in_shape` (found by running it, so any architecture works)."""
    was_training = net.training
    net.eval()
    with torch.no_grad():
        width = net.features(torch.zeros(2, *in_shape)).flatten(1).shape[1]
    net.train(was_training)
    return width
