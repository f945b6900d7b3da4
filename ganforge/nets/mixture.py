"""A mixture of k generators behind one call: G(z) draws each example from one of them (the gan family's
`objective.generators`, after MGAN, Hoang et al. 2018).

The k generators are independent copies of the configured architecture (MGAN ties every layer but the first to
save parameters; copies work for any architecture, and the nets here are small). Which generator makes example i
is `which[i]`; without it the examples go round-robin (i mod k), so every caller of G(z) — grids, EMA, the
doctor, evaluation — gets the uniform mixture, deterministically for a given z.
"""
from __future__ import annotations

import torch
from torch import nn

from .conditional import balanced_labels


class MixtureGenerator(nn.Module):
    def __init__(self, generators: list[nn.Module]):
        super().__init__()
        self.generators = nn.ModuleList(generators)

    @property
    def k(self) -> int:
        return len(self.generators)

    def forward(self, z: torch.Tensor, which: torch.Tensor | None = None) -> torch.Tensor:
        if which is None:
            which = balanced_labels(len(z), self.k, z.device)
        rows = [torch.nonzero(which == j).squeeze(1) for j in range(self.k)]
        parts = [g(z[r]) for g, r in zip(self.generators, rows) if len(r)]
        order = torch.cat([r for r in rows if len(r)])
        # the parts come grouped by generator; put every example back at its own row
        return torch.cat(parts)[torch.argsort(order)]
