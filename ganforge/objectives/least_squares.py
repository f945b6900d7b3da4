"""Least-squares GAN (Mao et al. 2017) with the 0-1 coding a = 0 (fake), b = 1 (real), c = 1 (G's target).

D's raw output is regressed onto the labels, so samples far on the correct side of the boundary still pay a
quadratic price and keep pulling the generator (no saturation as in the sigmoid cross-entropy).
Costs are means over the batch, with the paper's ½ factors.
"""
from __future__ import annotations

import torch


def discriminator_least_squares(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """½ E (D(x) − 1)² + ½ E D(G(z))²  (Mao et al. 2017, Eq. 8 with a = 0, b = 1)."""
    return 0.5 * (real_scores - 1.0).square().mean() + 0.5 * fake_scores.square().mean()


def generator_least_squares(fake_scores: torch.Tensor) -> torch.Tensor:
    """½ E (D(G(z)) − 1)²  (c = 1: G wants D to call its samples real)."""
    return 0.5 * (fake_scores - 1.0).square().mean()
