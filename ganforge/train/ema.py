"""Exponential moving average of a network's weights (Yazıcı et al. 2019; used by ProGAN/StyleGAN for sampling)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    def __init__(self, net: nn.Module, decay: float):
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"train.ema must be in (0, 1), got {decay}")
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        src, dst = list(source.parameters()), list(self.net.parameters())
        torch._foreach_lerp_(dst, src, 1.0 - self.decay)
        for b_dst, b_src in zip(self.net.buffers(), source.buffers()):  # batch-norm statistics are copied, not averaged
            b_dst.copy_(b_src)
