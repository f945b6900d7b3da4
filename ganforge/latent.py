"""Walking the latent space of a trained generator: interpolation and DCGAN-style vector arithmetic.

    gen = ganforge.load("runs/my-run")
    x = interpolate(gen, rows=6, steps=9, method="slerp", seed=0)      # (6·9, C, H, W), a row per pair of z
    z = gen.latents(64, seed=0)                                         # the z behind `ganforge sample --seed 0`
    x = arithmetic(gen, z, plus=[[3, 17, 22], [40, 41]], minus=[[5, 9]])  # mean z[3,17,22] − mean z[5,9] + mean z[40,41]

Spherical interpolation (slerp) is the default: under a Gaussian prior in many dimensions almost all mass lies near
the sphere of radius √d, and the straight line between two draws passes well inside it, through z the generator
rarely saw in training (White 2016, "Sampling generative networks").
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .errors import GanforgeError

METHODS = ("slerp", "linear")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 − t) a + t b for each t: a, b (D,), t (T,) → (T, D)."""
    t = t[:, None].to(a.dtype)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Along the great circle from a to b (norms interpolated linearly): (T, D). Falls back to lerp when a ∥ b."""
    t = t[:, None].to(a.dtype)
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(a, b, t[:, 0])
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        return lerp(a, b, t[:, 0])
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    return direction * ((1 - t) * na + t * nb)


def interpolation_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """rows pairs (R, D) × (R, D) → (R·steps, D): each row walks from z0[r] to z1[r] in `steps` points."""
    if method not in METHODS:
        raise GanforgeError(f"interpolation method must be one of {', '.join(METHODS)}, got {method!r}")
    if steps < 2:
        raise GanforgeError(f"interpolation needs at least 2 steps, got {steps}")
    if z0.shape != z1.shape or z0.ndim != 2:
        raise GanforgeError(f"endpoints must both be (rows, latent_dim), got {tuple(z0.shape)} and {tuple(z1.shape)}")
    t = torch.linspace(0, 1, steps)
    walk = slerp if method == "slerp" else lerp
    return torch.cat([walk(a, b, t) for a, b in zip(z0, z1)])


def interpolate(gen, rows: int = 6, steps: int = 9, method: str = "slerp", seed: int = 0,
                label: int | None = None) -> torch.Tensor:
    """Samples along `rows` paths between random pairs of z: (rows·steps, …), row-major. A conditional generator
    keeps one class along each row (`label`, or row r gets class r mod K); a mixture of k generators keeps one
    generator along each row (row r walks generator r mod k), since its generators map z each their own way."""
    if rows < 1:
        raise GanforgeError(f"interpolation needs at least 1 row, got {rows}")
    ends = gen.latents(2 * rows, seed=seed)
    z = interpolation_latents(ends[:rows], ends[rows:], steps, method)
    labels = None
    if gen.num_classes:
        per_row = gen.labels(rows, label)
        labels = per_row.repeat_interleave(steps)
    if gen.num_generators > 1:
        return gen.generate(z, generators=(torch.arange(rows) % gen.num_generators).repeat_interleave(steps))
    return gen.generate(z, labels)


def _group_means(z: torch.Tensor, groups: Sequence[Sequence[int]], what: str) -> torch.Tensor:
    means = []
    for g in groups:
        if not g:
            raise GanforgeError(f"an empty --{what} group: give at least one sample index")
        bad = [i for i in g if not 0 <= i < len(z)]
        if bad:
            raise GanforgeError(f"--{what} index {bad[0]} out of range: the exemplars are samples 0–{len(z) - 1}")
        means.append(z[list(g)].mean(0))
    return torch.stack(means) if means else torch.zeros(0, z.shape[1])


def arithmetic_latent(z: torch.Tensor, plus: Sequence[Sequence[int]], minus: Sequence[Sequence[int]] = ()) -> torch.Tensor:
    """Σ mean(z[plus group]) − Σ mean(z[minus group]): Radford et al. average three exemplars per concept, because
    single samples' z carry too much else besides the concept."""
    if not plus:
        raise GanforgeError("vector arithmetic needs at least one --plus group")
    return _group_means(z, plus, "plus").sum(0) - _group_means(z, minus, "minus").sum(0)


def arithmetic(gen, z: torch.Tensor, plus: Sequence[Sequence[int]], minus: Sequence[Sequence[int]] = (),
               variations: int = 8, noise: float = 0.25, seed: int = 0, label: int | None = None) -> torch.Tensor:
    """The result z and `variations − 1` neighbours (uniform noise ±`noise`, as in DCGAN's figure) → images.
    A mixture of k generators draws them all with the generator that made the first `plus` exemplar (sample i
    comes from generator i mod k): its generators map z each their own way, so z's arithmetic holds within one."""
    if variations < 1:
        raise GanforgeError(f"variations counts the result itself: at least 1, got {variations}")
    if not math.isfinite(noise) or noise < 0:
        raise GanforgeError(f"noise is the half-width of the neighbours' jitter: a finite number ≥ 0, got {noise}")
    target = arithmetic_latent(z, plus, minus)
    g = torch.Generator().manual_seed(seed)
    jitter = (torch.rand(variations - 1, len(target), generator=g) * 2 - 1) * noise
    zs = torch.cat([target[None], target + jitter])
    labels = None
    if gen.num_classes:
        if label is None:
            raise GanforgeError("a conditional generator: say which class the result should be (--class K)")
        labels = gen.labels(len(zs), label)
    if gen.num_generators > 1:
        return gen.generate(zs, generators=torch.full((len(zs),), plus[0][0] % gen.num_generators))
    return gen.generate(zs, labels)
