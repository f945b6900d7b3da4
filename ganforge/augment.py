"""Differentiable augmentation of what the discriminator sees, for training on few images.

A discriminator that memorises a small training set stops teaching the generator anything. Augmenting real
images alone would teach G to produce augmented images; DiffAugment (Zhao et al. 2020) applies the same random
transformations to real *and* generated images every time D sees them, in D's step and in G's, and keeps them
differentiable so G's gradient passes through. Adaptive discriminator augmentation (ADA; Karras et al. 2020)
applies each transformation to an image only with probability p, and steers p by how sure D is on the real
images it trains on: r_t = E[sign(D(x) − boundary)] above the target (0.6) means D is overfitting, so p rises;
below it p falls. With p < 1 clean images stay the majority, so the augmentations do not leak into G's output.

ganforge's ADA uses the controller of Karras et al. on DiffAugment's three operations (translation, cutout,
colour), not their 18-operation pipeline. Images are in [-1, 1], N×C×H×W.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .config import AugmentConfig


def _per_image(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def colour(x: torch.Tensor) -> torch.Tensor:
    """Brightness ±0.5, saturation ×[0, 2] (around each pixel's channel mean), contrast ×[0.5, 1.5] (around the
    image's mean): DiffAugment's colour, on the [-1, 1] scale. Saturation does nothing to grey images."""
    x = x + (_per_image(x, 1, 1, 1) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_per_image(x, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_image(x, 1, 1, 1) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to `ratio` of its side each way; what comes in is 0 (mid-grey).
    Differentiable: the output is a gather from the padded input."""
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy + sh).expand(n, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx + sw).expand(n, h, w)
    padded = F.pad(x, (sw, sw, sh, sh))
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Set a square of `ratio` of the side, centred anywhere in the image (clipped at its edges), to 0."""
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch) & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPERATIONS = {"translation": translation, "cutout": cutout, "colour": colour}


class Augment:
    """The augmentation of one run: `augment(x)` transforms a batch as D should see it; `observe(scores)` feeds
    D's raw scores of real training images to the ADA controller, which moves `p` every `ada_interval` calls."""

    def __init__(self, cfg: AugmentConfig, batch_size: int, boundary: float = 0.0):
        self.ops = [OPERATIONS[name] for name in cfg.policy]
        self.cfg, self.batch_size, self.boundary = cfg, batch_size, boundary
        self.p = 0.0 if cfg.ada else cfg.p
        self._signs, self._count = 0.0, 0
        self.r_t: float | None = None  # the last interval's overfitting heuristic (ADA only)
        # r_t of this process's images → r_t of the whole global batch: the training loop of several processes
        # sets the mean over the ranks here, so that every rank moves p alike
        self.agree: Callable[[float], float] = lambda r_t: r_t

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.p <= 0 or x.dim() != 4:
            return x
        for op in self.ops:
            if self.p >= 1:
                x = op(x)
            else:
                chosen = (torch.rand(x.shape[0], device=x.device) < self.p).view(-1, 1, 1, 1)
                x = torch.where(chosen, op(x), x)
        return x

    def observe(self, real_scores: torch.Tensor) -> None:
        """D's raw scores of the real images of one D step (logits, or logit maps)."""
        if not self.cfg.ada:
            return
        self._signs += float(torch.sign(real_scores.detach().float() - self.boundary).mean())
        self._count += 1
        if self._count == self.cfg.ada_interval:
            self.r_t = self.agree(self._signs / self._count)
            step = self._count * self.batch_size / self.cfg.ada_images
            self.p = min(1.0, max(0.0, self.p + (step if self.r_t > self.cfg.ada_target else -step)))
            self._signs, self._count = 0.0, 0

    def monitors(self) -> dict[str, float]:
        """What the loop logs: the probability, and with ADA the last heuristic r_t."""
        return {"augment/p": self.p} | ({"augment/r_t": self.r_t} if self.r_t is not None else {})

    def state_dict(self) -> dict:
        return {"p": self.p, "signs": self._signs, "count": self._count, "r_t": self.r_t}

    def load_state_dict(self, state: dict) -> None:
        self.p, self._signs, self._count, self.r_t = state["p"], state["signs"], state["count"], state["r_t"]
