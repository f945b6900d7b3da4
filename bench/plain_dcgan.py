"""The hand-written plain PyTorch DCGAN loop the benchmarks compare ganforge with: what a competent PyTorch user
writes, on the same networks (ganforge.nets) and the same in-memory data tensor."""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ganforge.nets import build_net

BATCH, LATENT, SHAPE, LR, BETAS = 64, 100, (1, 28, 28), 2e-4, (0.5, 0.999)


class PlainDCGAN:
    """One `step()` = a D step on a real and a fake batch, then a G step with the non-saturating cost.

    lean=True does the work ganforge's loop does (fake batch under no_grad, D frozen during the G step), to
    separate loop overhead from "ganforge computes a little less".
    """

    def __init__(self, x_all: torch.Tensor, base: int, bf16: bool = False, lean: bool = False, seed: int = 0):
        torch.manual_seed(seed)
        self.x_all, self.lean = x_all, lean
        self.G = build_net("dcgan_generator", latent_dim=LATENT, out_shape=SHAPE, base=base)
        self.D = build_net("dcgan_discriminator", in_shape=SHAPE, base=base)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.ones, self.zeros = torch.ones(BATCH), torch.zeros(BATCH)
        self.amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else nullcontext
        self.order, self.pos = torch.randperm(len(x_all)), 0

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        G, D, lean = self.G, self.D, self.lean
        if self.pos + BATCH > len(self.order):
            self.order, self.pos = torch.randperm(len(self.x_all)), 0
        real = self.x_all[self.order[self.pos:self.pos + BATCH]]
        self.pos += BATCH
        # D step
        if lean:
            G.requires_grad_(False)
            D.requires_grad_(True)
        with self.amp():
            if lean:
                with torch.no_grad():
                    fake = G(torch.randn(BATCH, LATENT))
            else:
                fake = G(torch.randn(BATCH, LATENT)).detach()
            loss_d = (F.binary_cross_entropy_with_logits(D(real).float(), self.ones)
                      + F.binary_cross_entropy_with_logits(D(fake).float(), self.zeros))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G step (non-saturating: fakes labelled real)
        if lean:
            G.requires_grad_(True)
            D.requires_grad_(False)
        with self.amp():
            loss_g = F.binary_cross_entropy_with_logits(D(G(torch.randn(BATCH, LATENT))).float(), self.ones)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return loss_d, loss_g
