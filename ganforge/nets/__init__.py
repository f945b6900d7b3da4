"""Architectures only: no losses, no optimisers.

Contract: a generator maps z (N, latent_dim) to an example of the data's shape; a discriminator maps a batch
of examples to raw logits of shape (N,) — never probabilities — and has `features(x)` → (N, F), its last hidden
layer, with forward(x) == head(features(x)).

`build_net(arch, spectral_norm=True, ...)` spectrally normalises every linear and convolution layer of any
architecture (Miyato et al. 2018).
"""
from __future__ import annotations

import difflib
from typing import Callable

from torch import nn

from ..errors import GanforgeError
from .args import check_bool
from .layers import apply_spectral_norm

_NETS: dict[str, Callable[..., nn.Module]] = {}


def register_net(name: str):
    def add(factory):
        _NETS[name] = factory
        return factory

    return add


def build_net(arch: str, *, spectral_norm: bool = False, **kwargs) -> nn.Module:
    if arch not in _NETS:
        close = difflib.get_close_matches(arch, list(_NETS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GanforgeError(f"unknown network architecture '{arch}'{hint} (known: {', '.join(sorted(_NETS))})")
    try:
        check_bool("spectral_norm", spectral_norm)
        net = _NETS[arch](**kwargs)
    except (TypeError, GanforgeError) as e:  # a misspelt, missing or bad argument in the config's nets.<name>.args
        raise GanforgeError(f"network '{arch}': {e}") from None
    return apply_spectral_norm(net) if spectral_norm else net


def available_nets() -> list[str]:
    return sorted(_NETS)


from . import classifier, dcgan, mlp  # noqa: E402,F401  (registration)
