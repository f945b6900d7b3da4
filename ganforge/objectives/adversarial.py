"""The original GAN game written in logits l = σ⁻¹(D(x)), so no log of a rounded probability is ever taken.

Identities used: log D = −softplus(−l), log(1 − D) = −softplus(l).
Costs are means over the batch; Goodfellow's ½ factors are dropped (they only rescale the learning rate).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """J(D) = −E log D(x) − E log(1 − D(G(z))).

    real_target < 1 is one-sided label smoothing (Salimans et al. 2016): only the real targets move, because
    smoothing the fake ones would reward the generator for staying where it is.
    """
    real = real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def generator_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The saturating cost of the zero-sum game: J(G) = E log(1 − D(G(z))). Its gradient vanishes as D(G(z)) → 0."""
    return -F.softplus(fake_logits).mean()


def generator_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The heuristic cost J(G) = −E log D(G(z)): same fixed point, strong gradient when D rejects the samples."""
    return F.softplus(-fake_logits).mean()


# exp(l) overflows float32 near l = 88; past this D(G(z)) is 1 to machine precision and the sample needs no push
_MAX_LOGIT = 30.0


def generator_maximum_likelihood(fake_logits: torch.Tensor) -> torch.Tensor:
    """J(G) = −E exp(σ⁻¹(D(G(z)))) (Goodfellow 2014, "On distinguishability criteria"; 2016 tutorial).

    With an optimal D, exp(l) = p_data/p_g, so this cost's gradient is that of KL(p_data ‖ p_g).
    """
    return -torch.exp(fake_logits.clamp(max=_MAX_LOGIT)).mean()


GENERATOR_COSTS = {
    "minimax": generator_minimax,
    "non_saturating": generator_non_saturating,
    "maximum_likelihood": generator_maximum_likelihood,
}
