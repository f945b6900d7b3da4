"""The Wasserstein GAN game (Arjovsky, Chintala & Bottou 2017), on raw critic scores f(x) (no sigmoid).

The critic f is kept (roughly) 1-Lipschitz by weight clipping or a gradient penalty (see `penalties`); then
sup_f E f(x) − E f(G(z)) estimates the Earth-Mover distance W(P_r, P_g). Costs are means over the batch.
"""
from __future__ import annotations

import torch


def critic_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E f(G(z)) − E f(x): the critic minimises it, i.e. maximises the Kantorovich–Rubinstein dual."""
    return fake_scores.mean() - real_scores.mean()


def generator_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """−E f(G(z)): the only generator-dependent term of the dual, so its gradient is that of W (Theorem 3)."""
    return -fake_scores.mean()
