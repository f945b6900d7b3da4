"""What the discriminators share: features(x) → (N, F), the last hidden layer that feature matching compares, then
a head → logits (N,), with optional minibatch discrimination between the two."""
from __future__ import annotations

from itertools import islice
from typing import Sequence

import torch
from torch import nn

from .args import check_int
from .layers import MinibatchDiscrimination


class FeatureDiscriminator(nn.Module):
    """Subclasses build their layers and call `assemble`. All layers stay in one `body` Sequential, as before
    features() existed, so state_dict keys (`body.<i>.…`) are unchanged; the minibatch layer is `minibatch.…`."""

    body: nn.Sequential

    def assemble(self, trunk: Sequence[nn.Module], width: int, minibatch_features: int, minibatch_kernel_dim: int,
                 before_head: Sequence[nn.Module] = ()) -> None:
        """trunk: x → features of `width`; before_head: layers on the features that feature matching should not
        see (dropout); then a linear layer to one logit."""
        check_int("minibatch_features", minibatch_features, minimum=0)
        check_int("minibatch_kernel_dim", minibatch_kernel_dim, minimum=1)
        self.trunk_layers = len(trunk)
        self.minibatch = (MinibatchDiscrimination(width, minibatch_features, minibatch_kernel_dim)
                          if minibatch_features else None)
        self.body = nn.Sequential(*trunk, *before_head, nn.Linear(width + minibatch_features, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, F) activations of the last hidden layer, before minibatch discrimination: no batch statistics."""
        for layer in islice(self.body, self.trunk_layers):
            x = layer(x)
        return x

    def pre_head(self, f: torch.Tensor) -> torch.Tensor:
        """The layers between features() and the linear head (dropout, noise): what another head on the same
        features (a class head) should apply too."""
        for layer in islice(self.body, self.trunk_layers, len(self.body) - 1):
            f = layer(f)
        return f

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """features → logits (N,)."""
        h = self.pre_head(f)
        if self.minibatch is not None:
            # closeness from the features before dropout: dropout would give identical samples different masks
            # and hide exactly the collapse this layer is there to see
            h = torch.cat([h, self.minibatch.closeness(f)], dim=1)
        return self.body[-1](h).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
