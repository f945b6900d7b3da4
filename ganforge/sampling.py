"""Running a generator: G(z) (or G of any inputs) in batches. Below `evaluate`, `train` and `api`, which all draw samples with it.

The other sampling helpers live with what they describe and are imported from there: the prior is
`ganforge.families.draw_latents` (a run's config decides it) and class-balanced labels are
`ganforge.nets.conditional.balanced_labels` (a conditional generator called without labels uses them itself).
"""
from __future__ import annotations

import torch


@torch.no_grad()
def generate_batches(net: torch.nn.Module, *inputs: torch.Tensor | None, batch_size: int = 1000) -> torch.Tensor:
    """net(*inputs) in batches on net's device, gathered on the CPU as float32. Inputs are split along their first
    dimension alike (z; z and labels; z and an embedding; an image batch for a translator); None inputs are left
    out, so `generate_batches(G, z, labels)` with labels None is G(z)."""
    inputs = tuple(t for t in inputs if t is not None)
    device = next(net.parameters()).device
    out = []
    for start in range(0, len(inputs[0]), batch_size):
        out.append(net(*(t[start:start + batch_size].to(device) for t in inputs)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)
