"""Architectures only: no losses, no optimisers.

Contract: a generator maps z (N, latent_dim) to an example of the data's shape; a translator maps images
(N, C, H, W) to images of the data's shape; a discriminator maps a batch
of examples to raw logits of shape (N,) or (N, …) (a PatchGAN's (N, H', W')) — never probabilities — and has
`features(x)` → (N, F), its last hidden layer, with forward(x) == head(features(x)). Every architecture is
registered with its role (`register_net(name, role=...)`, or a name ending in `_<role>`; `net_role`,
`available_nets(role)`).

`build_net(arch, spectral_norm=True, ...)` spectrally normalises every linear and convolution layer of any
architecture (Miyato et al. 2018).
"""
from __future__ import annotations

from .registry import ROLES, available_nets, build_net, net_accepts, net_role, register_net  # noqa: F401

from . import classifier, dcgan, mlp, translation  # noqa: F401  (registration: each module registers its architectures)
