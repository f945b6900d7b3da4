"""Running a generator: G(z) in batches. Below `evaluate`, `train` and `api`, which all draw samples with it.

The other sampling helpers live with what they describe and are imported from there: the prior is
`ganforge.families.draw_latents` (a run's config decides it) and class-balanced labels are
`ganforge.nets.conditional.balanced_labels` (a conditional generator called without labels uses them itself).
"""
from __future__ import annotations

import torch


@torch.no_grad()
def generate_batches(net: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                     batch_size: int = 1000) -> torch.Tensor:
    """net(z) (or net(z, labels)) in batches on net's device, gathered on the CPU as float32."""
    device = next(net.parameters()).device
    out = []
    for start in range(0, len(z), batch_size):
        zb = z[start:start + batch_size].to(device)
        args = (zb,) if labels is None else (zb, labels[start:start + batch_size].to(device))
        out.append(net(*args).float().cpu())
    return torch.cat(out) if out else torch.empty(0)
