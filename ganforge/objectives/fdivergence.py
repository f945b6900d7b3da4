"""f-GAN: variational divergence minimisation (Nowozin, Cseke & Tomioka 2016).

For a convex f with f(1) = 0, D_f(P‖Q) = ∫ q f(p/q) dx ≥ sup_T E_P T(x) − E_Q f*(T(x)) (Eq. 4), with equality at
T*(x) = f'(p(x)/q(x)). The variational function is T = g_f(V(x)): V is an unconstrained network (the raw
discriminator output v) and the output activation g_f maps it into dom f* (Table 2). The game (Eq. 6) is

    F(θ, ω) = E_P g_f(V_ω(x)) − E_Q f*(g_f(V_ω(G_θ(z)))),   V maximises F, G minimises it.

Every divergence of the paper's Tables 1–2 lives once, in `DIVERGENCES`. f*(g_f(v)) is also stored composed in
closed form (`conjugate_activation`) because the composition through t = g_f(v) loses everything once g_f
saturates in floating point (e.g. g_f(v) = log 2 in float32 for v ≳ 17 makes −log(2 − eᵗ) infinite).
The exponential terms (kl, reverse_kl, neyman, squared_hellinger) still overflow where the true value itself
exceeds the float range (|v| ≳ 88 in float32); they are not clamped, since that would change the objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Fn = Callable[[torch.Tensor], torch.Tensor]

_LOG2 = math.log(2.0)


def _log1mexp(t: torch.Tensor) -> torch.Tensor:
    """log(1 − eᵗ) for t ≤ 0 without cancellation (Mächler 2012: switch between the two forms at −log 2)."""
    return torch.where(t > -_LOG2, torch.log(-torch.expm1(t)), torch.log1p(-torch.exp(t)))


@dataclass(frozen=True)
class Divergence:
    """One f-divergence with the f-GAN output activation.

    f: the generator function, of the density ratio u = p/q > 0.
    activation: g_f, raw discriminator output v ∈ ℝ → dom f*.
    conjugate: the Fenchel conjugate f*(t), on dom f*.
    conjugate_activation: f*(g_f(v)), written directly in v so it stays finite wherever the result is.
    """

    name: str
    f: Fn
    activation: Fn
    conjugate: Fn
    conjugate_activation: Fn


DIVERGENCES: dict[str, Divergence] = {
    d.name: d
    for d in (
        Divergence(
            "kl",
            f=lambda u: torch.xlogy(u, u),
            activation=lambda v: v,
            conjugate=lambda t: torch.exp(t - 1.0),
            conjugate_activation=lambda v: torch.exp(v - 1.0),
        ),
        Divergence(
            "reverse_kl",
            f=lambda u: -torch.log(u),
            activation=lambda v: -torch.exp(-v),
            conjugate=lambda t: -1.0 - torch.log(-t),
            conjugate_activation=lambda v: v - 1.0,  # −1 − log(e^{−v})
        ),
        Divergence(
            "pearson",
            f=lambda u: (u - 1.0).square(),
            activation=lambda v: v,
            conjugate=lambda t: 0.25 * t.square() + t,
            conjugate_activation=lambda v: 0.25 * v.square() + v,
        ),
        Divergence(
            "neyman",
            f=lambda u: (1.0 - u).square() / u,
            activation=lambda v: -torch.expm1(-v),
            conjugate=lambda t: 2.0 - 2.0 * torch.sqrt(1.0 - t),
            conjugate_activation=lambda v: -2.0 * torch.expm1(-0.5 * v),  # 2 − 2 e^{−v/2}
        ),
        Divergence(
            "squared_hellinger",
            f=lambda u: (torch.sqrt(u) - 1.0).square(),
            activation=lambda v: -torch.expm1(-v),
            conjugate=lambda t: t / (1.0 - t),
            conjugate_activation=torch.expm1,  # (1 − e^{−v}) / e^{−v}
        ),
        Divergence(
            "jensen_shannon",
            # u log u − (u + 1) log((u + 1)/2), regrouped so u → 0 and large u cancel nothing big
            f=lambda u: torch.xlogy(u, 2.0 * u / (1.0 + u)) + _LOG2 - torch.log1p(u),
            activation=lambda v: _LOG2 - F.softplus(-v),
            conjugate=lambda t: -_LOG2 - _log1mexp(t - _LOG2),  # −log(2 − eᵗ)
            conjugate_activation=lambda v: F.softplus(v) - _LOG2,  # −log(2 − 2σ(v))
        ),
        Divergence(
            "gan",
            # u log u − (u + 1) log(u + 1); note f(1) = −log 4: this "divergence" is 2·JSD − log 4 (Table 1)
            f=lambda u: torch.xlogy(u, u / (1.0 + u)) - torch.log1p(u),
            activation=F.logsigmoid,  # −log(1 + e^{−v}) = log D
            conjugate=lambda t: -_log1mexp(t),  # −log(1 − eᵗ)
            conjugate_activation=F.softplus,  # −log(1 − σ(v)) = −log(1 − D)
        ),
        Divergence(
            "total_variation",
            f=lambda u: 0.5 * (u - 1.0).abs(),
            activation=lambda v: 0.5 * torch.tanh(v),
            conjugate=lambda t: t,  # on |t| ≤ ½
            conjugate_activation=lambda v: 0.5 * torch.tanh(v),
        ),
    )
}


def _lookup(divergence: str | Divergence) -> Divergence:
    if isinstance(divergence, Divergence):
        return divergence
    try:
        return DIVERGENCES[divergence]
    except KeyError:
        raise ValueError(f"unknown f-divergence {divergence!r}; choose from {sorted(DIVERGENCES)}") from None


def fgan_bound(real_v: torch.Tensor, fake_v: torch.Tensor, divergence: str | Divergence) -> torch.Tensor:
    """F = E_P g_f(v) − E_Q f*(g_f(v)): a lower bound on D_f(P‖Q), tight at the optimal V (Eq. 6)."""
    d = _lookup(divergence)
    return d.activation(real_v).mean() - d.conjugate_activation(fake_v).mean()


def fgan_discriminator_loss(real_v: torch.Tensor, fake_v: torch.Tensor, divergence: str | Divergence) -> torch.Tensor:
    """−F: minimising it makes V climb the variational lower bound on D_f(P‖Q)."""
    return -fgan_bound(real_v, fake_v, divergence)


def fgan_generator_loss(fake_v: torch.Tensor, divergence: str | Divergence, heuristic: bool = True) -> torch.Tensor:
    """The generator's cost on the raw outputs v = V(G(z)) of its samples.

    heuristic=False: the saddle-point cost. G minimises F, whose only G-dependent term is −E_Q f*(g_f(v)).
    heuristic=True (default): −E_Q g_f(v), the paper's alternative (Section 3.2), Goodfellow's non-saturating
    trick carried over to every f: for "gan" it is −E log D(G(z)) where the saddle-point cost is the saturating
    E log(1 − D(G(z))). Not a gradient of F; the paper reports it trains better in practice.
    """
    d = _lookup(divergence)
    if heuristic:
        return -d.activation(fake_v).mean()
    return -d.conjugate_activation(fake_v).mean()
