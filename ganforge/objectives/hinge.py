"""The hinge GAN game (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, SN-GAN), on raw scores D(x).

D is a margin classifier: only samples inside the margin (D(x) < 1, D(G(z)) > −1) contribute, so D stops
pushing once a sample is confidently classified. Costs are means over the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E relu(1 − D(x)) + E relu(1 + D(G(z)))."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def generator_hinge(fake_scores: torch.Tensor) -> torch.Tensor:
    """−E D(G(z)): G climbs the raw score; no margin, since a hinge here would stop G once it crossed it."""
    return -fake_scores.mean()
