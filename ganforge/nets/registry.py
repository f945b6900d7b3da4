"""The registry of architectures: `register_net(name, role=...)` records a factory, `build_net(arch, ...)` builds it.

A module of its own so that the architecture modules can register themselves without importing the package
that imports them (`ganforge.nets` re-exports all of this).
"""
from __future__ import annotations

import difflib
import inspect
from typing import Callable

from torch import nn

from ..errors import GanforgeError
from .args import check_bool
from .layers import apply_spectral_norm

_NETS: dict[str, Callable[..., nn.Module]] = {}
# what each registered architecture is: "generator" (latent_dim, out_shape → examples), "discriminator" (in_shape →
# raw logits (N,) or (N, …), the logits contract of ganforge.objectives), "translator" (in_shape, out_shape: images
# → images), "encoder" or "classifier"
ROLES = ("generator", "discriminator", "translator", "encoder", "classifier")
_ROLE_OF: dict[str, str] = {}


def register_net(name: str, role: str | None = None):
    """Register an architecture under `name` with its `role` (one of ROLES). Without `role`, the name must end in
    `_<role>` (e.g. `patchgan_discriminator`); a name that says no role needs role=... . Discriminators are
    checked against the logits contract by tests/objectives/test_logits_contract.py automatically."""
    if role is None:
        role = next((r for r in ROLES if name.endswith("_" + r)), None)
        if role is None:
            raise ValueError(f"network '{name}': its name ends in no role ({', '.join('_' + r for r in ROLES)}); "
                             f"register it with register_net('{name}', role=...)")
    elif role not in ROLES:
        raise ValueError(f"network '{name}': role must be one of {', '.join(ROLES)}, got {role!r}")

    def add(factory):
        _NETS[name] = factory
        _ROLE_OF[name] = role
        return factory

    return add


def net_role(arch: str) -> str:
    """The declared role of a registered architecture."""
    if arch not in _ROLE_OF:
        raise GanforgeError(f"unknown network architecture '{arch}' (known: {', '.join(sorted(_NETS))})")
    return _ROLE_OF[arch]


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


def net_accepts(arch: str, arg: str) -> bool:
    """Whether architecture `arch` takes the argument `arg` (in `nets.<name>.args`), e.g. minibatch_features."""
    factory = _NETS.get(arch)
    return factory is not None and arg in inspect.signature(factory).parameters


def available_nets(role: str | None = None) -> list[str]:
    """Every registered architecture, or those of one role (e.g. available_nets("discriminator"))."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return sorted(n for n in _NETS if role is None or _ROLE_OF[n] == role)
