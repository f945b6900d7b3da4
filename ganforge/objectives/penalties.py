"""Regularisers for the discriminator / critic: Lipschitz constraints and gradient penalties.

Unlike the costs next door they take the network itself, because they differentiate it with respect to its
input. Each returns a scalar that backpropagates into the network's parameters (create_graph=True).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Scorer = Callable[[torch.Tensor], torch.Tensor]


def per_example_scores(out: torch.Tensor, n: int) -> torch.Tensor:
    """(N,) or (N, …) raw outputs → (N,): each example's outputs averaged over its positions.

    This is the score every cost sees (a cost's mean over examples and positions is the mean over examples of
    these), so a PatchGAN's (N, H', W') map is one critic f(x) = mean of its map; for (N,) and (N, 1) it is the
    output itself.
    """
    if out.dim() == 0 or out.shape[0] != n:
        raise ValueError(f"the network must return one output (or one map) per example, shape (N,) or (N, …) with "
                         f"N = {n} first; got shape {tuple(out.shape)}")
    return out.reshape(n, -1).mean(dim=1)


def _input_gradient(net: Scorer, x: torch.Tensor) -> torch.Tensor:
    """∇_x s_i(x_i) per example, flattened to (N, -1), kept in the graph so the penalty trains `net`.

    s_i is example i's score: the MEAN over the positions of its output when `net` returns a map (N, …), not the
    sum (see `per_example_scores`), so a penalty on a PatchGAN constrains the same function its cost averages, and
    a map of H'·W' identical positions has the gradient of one logit, not H'·W' times it.
    """
    x = x.detach().requires_grad_(True)
    # summing over the batch is exact: example i's score depends only on x_i (no batch coupling such as batch norm)
    (grad,) = torch.autograd.grad(per_example_scores(net(x), len(x)).sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(
    critic: Scorer,
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """weight · E (‖∇_x̂ f(x̂)‖₂ − 1)², x̂ = ε x + (1 − ε) x̃, ε ~ U[0, 1] per example (Gulrajani et al. 2017).

    f(x̂) is the critic's score of one example: its output, or the mean over positions of its output map
    (N, H', W'); the gradient norm is per example either way.

    The optimal WGAN critic has unit gradient norm on the lines between coupled real and fake points, so the
    constraint is enforced softly there only. The paper uses weight λ = 10.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    # one ε per example, shaped (N, 1, …, 1) to broadcast over any input rank
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, dtype=real.dtype, device=real.device)
    # detached: the penalty regularises the critic only, never the generator that made `fake`
    x_hat = eps * real.detach() + (1.0 - eps) * fake.detach()
    norms = torch.linalg.vector_norm(_input_gradient(critic, x_hat), dim=1)
    return weight * (norms - 1.0).square().mean()


def r1_penalty(discriminator: Scorer, real: torch.Tensor) -> torch.Tensor:
    """½ E_{x∼P} ‖∇_x D(x)‖² on real data only (Mescheder, Geiger & Nowozin 2018, Eq. 9 without γ).

    D(x) is one example's score: the logit, or the mean over positions of a logit map (N, H', W'); the squared
    gradient norm is per example, then averaged over the batch. Scale it by γ outside; it makes the Dirac-GAN
    equilibrium locally convergent.
    """
    return 0.5 * _input_gradient(discriminator, real).square().sum(dim=1).mean()


def clip_weights_(module: nn.Module, c: float) -> None:
    """Clamp every parameter of `module` to [−c, c] in place (WGAN weight clipping; Arjovsky et al. use c = 0.01)."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)
