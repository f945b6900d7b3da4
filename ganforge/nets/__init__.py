"""Architectures only: no losses, no optimisers.

Contract: a generator maps z (N, latent_dim) to an example of the data's shape; a discriminator maps a batch
of examples to raw logits of shape (N,) — never probabilities.
"""
from __future__ import annotations

import difflib
from typing import Callable

from torch import nn

from ..errors import GanforgeError

_NETS: dict[str, Callable[..., nn.Module]] = {}


def register_net(name: str):
    def add(factory):
        _NETS[name] = factory
        return factory

    return add


def build_net(arch: str, **kwargs) -> nn.Module:
    if arch not in _NETS:
        close = difflib.get_close_matches(arch, list(_NETS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise GanforgeError(f"unknown network architecture '{arch}'{hint} (known: {', '.join(sorted(_NETS))})")
    try:
        return _NETS[arch](**kwargs)
    except TypeError as e:  # a misspelt or missing argument in the config's nets.<name>.args
        raise GanforgeError(f"network '{arch}': {e}") from None


def available_nets() -> list[str]:
    return sorted(_NETS)


from . import classifier, dcgan, mlp  # noqa: E402,F401  (registration)
