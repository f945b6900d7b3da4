"""A small CNN classifier for small images: the frozen domain evaluator of ganforge's metrics.

Its 256-d penultimate features feed FID / KID / precision-recall; its class probabilities feed the
Inception-style score, class histograms and TSTR. The layout is a VGG-like stack that reaches ~93–94 %
on Fashion-MNIST (the benchmark's simple CNNs report 0.916–0.934). Images above 32 px get one more
conv + pool stage per doubling, so the work per image grows with its area, not faster.
A self-supervised evaluator uses the same trunk with an MLP head (`head_hidden`): SimCLR's projection g(·),
whose output feeds the contrastive loss while the trunk's features feed the metrics.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register_net


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def extra_stages(side: int) -> int:
    """Conv + pool stages beyond the two a 28–32 px image gets: one per doubling of the side above 32."""
    return max(0, math.ceil(math.log2(side / 32))) if side > 32 else 0


@register_net("cnn_classifier")
class CNNClassifier(nn.Module):
    def __init__(self, in_shape: tuple[int, ...] = (1, 28, 28), num_classes: int = 10, width: int = 32,
                 features: int = 256, dropout: float = 0.3, head_hidden: int = 0):
        super().__init__()
        c, h, w = in_shape
        deeper = []
        for _ in range(extra_stages(max(h, w))):  # appended after the layers a 28 px net has: its keys stay
            deeper += [*_block(4 * width, 4 * width), nn.MaxPool2d(2)]
        self.trunk = nn.Sequential(
            *_block(c, width), *_block(width, width), nn.MaxPool2d(2),
            *_block(width, 2 * width), *_block(2 * width, 2 * width), nn.MaxPool2d(2),
            *_block(2 * width, 4 * width), *deeper, nn.AdaptiveAvgPool2d(3), nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(4 * width * 9, features), nn.ReLU(inplace=True),
        )
        if head_hidden:
            self.head = nn.Sequential(nn.Linear(features, head_hidden), nn.ReLU(inplace=True),
                                      nn.Linear(head_hidden, num_classes))
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
