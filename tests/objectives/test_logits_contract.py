"""The logits contract: a discriminator returns raw logits of shape (N,) or (N, …) (a PatchGAN's (N, H', W')), and
every objective reduces the extra dimensions by mean.

(a) every discriminator and generator cost: an (N, H, W) map costs exactly what its N·H·W positions cost flattened,
    which is the mean over examples of each example's cost; (N, 1) costs what (N,) does;
(b) the gradient penalty and R1 on a D that returns (N, H, W) maps: per-example gradient norms of each example's
    mean over positions, against values computed by hand;
(c) every discriminator architecture of the nets registry (found by its declared role, so a new one is covered
    automatically): output (N,) or (N, …) with N first, float, one output per example, and raw, not squashed.
"""
from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from ganforge import objectives as O
from ganforge.errors import GanforgeError
from ganforge.nets import ROLES, available_nets, build_net, net_role

# -- (a) the costs ------------------------------------------------------------------------------------------------

D_COSTS = {
    "bce": O.discriminator_bce,
    "bce_smoothed": partial(O.discriminator_bce, real_target=0.9),
    "wasserstein": O.critic_wasserstein,
    "least_squares": O.discriminator_least_squares,
    "hinge": O.discriminator_hinge,
    **{f"fgan_{d}": partial(O.fgan_discriminator_loss, divergence=d) for d in O.DIVERGENCES},
    **{f"fgan_bound_{d}": partial(O.fgan_bound, divergence=d) for d in O.DIVERGENCES},
}
G_COSTS = {
    **O.GENERATOR_COSTS,
    "wasserstein": O.generator_wasserstein,
    "least_squares": O.generator_least_squares,
    "hinge": O.generator_hinge,
    **{f"fgan_{d}_heuristic": partial(O.fgan_generator_loss, divergence=d, heuristic=True) for d in O.DIVERGENCES},
    **{f"fgan_{d}_saddle": partial(O.fgan_generator_loss, divergence=d, heuristic=False) for d in O.DIVERGENCES},
}
N, H, W = 4, 3, 5


def _logits(seed: int, *shape: int) -> torch.Tensor:
    # scale 3: both signs, saturating regions of sigmoid/tanh, yet far from where exp overflows
    return 3.0 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_every_cost_of_the_package_is_covered():
    exported = {name for name, obj in vars(O).items()
                if callable(obj) and name.startswith(("discriminator_", "critic_", "generator_", "fgan_"))}
    covered = {getattr(f, "func", f).__name__ for f in [*D_COSTS.values(), *G_COSTS.values()]}
    assert exported <= covered, f"costs without a logits-contract check here: {sorted(exported - covered)}"


@pytest.mark.parametrize("name", D_COSTS)
def test_discriminator_cost_reduces_maps_by_mean(name):
    cost = D_COSTS[name]
    real, fake = _logits(0, N, H, W), _logits(1, N, H, W)
    value = cost(real, fake)
    assert value.shape == ()
    assert torch.equal(value, cost(real.flatten(), fake.flatten())), "a map must cost what its positions cost"
    per_example = torch.stack([cost(real[i], fake[i]) for i in range(N)])
    torch.testing.assert_close(value, per_example.mean(), rtol=1e-6, atol=1e-6)  # mean over examples of their means
    r, f = real[:, 0, 0], fake[:, 0, 0]
    assert torch.equal(cost(r.unsqueeze(1), f.unsqueeze(1)), cost(r, f)), "(N, 1) must cost what (N,) does"


@pytest.mark.parametrize("name", G_COSTS)
def test_generator_cost_reduces_maps_by_mean(name):
    cost = G_COSTS[name]
    fake = _logits(2, N, H, W)
    value = cost(fake)
    assert value.shape == ()
    assert torch.equal(value, cost(fake.flatten())), "a map must cost what its positions cost"
    per_example = torch.stack([cost(fake[i]) for i in range(N)])
    torch.testing.assert_close(value, per_example.mean(), rtol=1e-6, atol=1e-6)
    f = fake[:, 0, 0]
    assert torch.equal(cost(f.unsqueeze(1)), cost(f)), "(N, 1) must cost what (N,) does"


# -- (b) the penalties on a map-valued D -----------------------------------------------------------------------------

class QuadraticMapCritic(nn.Module):
    """(N, C, S, S) → (N, H, W): out[i, h, w] = ⟨x_i, a_hw⟩ + ½ c_hw ‖x_i‖².

    Example i's score (the mean over its positions) is s_i = ⟨x_i, ā⟩ + ½ c̄ ‖x_i‖², so ∇ s_i = ā + c̄ x_i: a
    different gradient for every example, known in closed form."""

    def __init__(self, d_in: int):
        super().__init__()
        g = torch.Generator().manual_seed(4)
        self.a = nn.Parameter(torch.randn(d_in, H * W, generator=g, dtype=torch.float64) / d_in**0.5)
        self.c = nn.Parameter(torch.randn(H, W, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return (flat @ self.a).view(-1, H, W) + 0.5 * self.c * flat.square().sum(1)[:, None, None]

    def grad_by_hand(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a.mean(1) + self.c.mean() * x.flatten(1)).detach()


def _images(seed: int) -> torch.Tensor:
    return torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_r1_of_a_map_critic_is_the_mean_of_per_example_squared_norms():
    D, real = QuadraticMapCritic(16), _images(5)
    want = 0.5 * D.grad_by_hand(real).square().sum(1).mean()
    got = O.r1_penalty(D, real)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # per example: the batch's penalty is the mean of the examples' own
    alone = torch.stack([O.r1_penalty(D, real[i:i + 1]) for i in range(len(real))])
    torch.testing.assert_close(got, alone.mean(), rtol=1e-12, atol=1e-12)
    got.backward()  # it trains D
    assert D.a.grad.abs().sum() > 0 and D.c.grad.abs().sum() > 0


def test_gradient_penalty_of_a_map_critic_by_hand():
    D = QuadraticMapCritic(16)
    real, fake = _images(6), _images(7)
    # real == fake: the interpolate is x itself whatever ε, so the value is known exactly
    want = 10.0 * (torch.linalg.vector_norm(D.grad_by_hand(real), dim=1) - 1.0).square().mean()
    torch.testing.assert_close(O.gradient_penalty(D, real, real.clone(), weight=10.0), want, rtol=1e-12, atol=1e-12)
    # real ≠ fake: one ε ~ U[0, 1] per example, drawn from `generator`
    eps = torch.rand(len(real), 1, 1, 1, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    x_hat = eps * real + (1 - eps) * fake
    want = 10.0 * (torch.linalg.vector_norm(D.grad_by_hand(x_hat), dim=1) - 1.0).square().mean()
    got = O.gradient_penalty(D, real, fake, weight=10.0, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_penalties_take_the_mean_over_positions_not_the_sum():
    """A map critic is penalised as the critic that returns each example's mean over positions, (N,) or (N, 1)."""
    D, real, fake = QuadraticMapCritic(16), _images(9), _images(10)
    for mean_d in (lambda x: D(x).flatten(1).mean(1), lambda x: D(x).flatten(1).mean(1, keepdim=True)):
        torch.testing.assert_close(O.r1_penalty(D, real), O.r1_penalty(mean_d, real), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(O.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(1)),
                                   O.gradient_penalty(mean_d, real, fake, generator=torch.Generator().manual_seed(1)),
                                   rtol=1e-12, atol=1e-12)


def test_penalties_refuse_an_output_without_the_batch_first():
    real = _images(11)
    with pytest.raises(ValueError, match="N = 6 first"):
        O.r1_penalty(lambda x: x.sum(), real)  # one scalar for the whole batch
    with pytest.raises(ValueError, match="N = 6 first"):
        O.r1_penalty(lambda x: x.flatten(1).t(), real)  # examples on the last axis


# -- (c) every registered discriminator ---------------------------------------------------------------------------

# the library's own discriminators; networks other test modules register for their experiments are named test_*
DISCRIMINATORS = [n for n in available_nets("discriminator") if not n.startswith("test_")]
IMAGE, VECTOR = (1, 16, 16), (2,)
BATCH = 5  # not a size of any input axis, so a wrong axis order shows


def test_every_registered_net_declares_a_role_and_discriminators_exist():
    assert all(net_role(n) in ROLES for n in available_nets())
    assert DISCRIMINATORS, "the registry lists no discriminator"
    assert not set(DISCRIMINATORS) & set(available_nets("generator"))


def _last_weighted_layer(net: nn.Module) -> nn.Module:
    layers = [m for m in net.modules() if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.dim() >= 2]
    assert layers, "no layer with a weight matrix"
    return layers[-1]


def _build(arch: str, in_shape: tuple[int, ...]) -> nn.Module | None:
    try:
        return build_net(arch, in_shape=in_shape)
    except (GanforgeError, ValueError, TypeError):
        if in_shape == VECTOR:
            return None  # an image-only architecture (convolutions)
        raise


@pytest.mark.parametrize("in_shape", [IMAGE, VECTOR], ids=["image_1x16x16", "vector_2d"])
@pytest.mark.parametrize("arch", DISCRIMINATORS)
def test_discriminator_returns_raw_logits_with_the_batch_first(arch, in_shape):
    torch.manual_seed(0)
    net = _build(arch, in_shape)
    if net is None:
        pytest.skip(f"{arch} does not take {len(in_shape)}-d vectors")
    net.eval()  # dropout and noise off, batch norm per example: outputs are a function of each input alone
    x = torch.randn(BATCH, *in_shape)
    with torch.no_grad():
        out = net(x)
    assert torch.is_tensor(out) and out.dim() >= 1 and out.shape[0] == BATCH, (
        f"{arch}: output shape {tuple(out.shape)} is not (N,) or (N, …) with N = {BATCH} first")
    assert out.is_floating_point(), f"{arch}: output dtype {out.dtype} is not floating point"
    with torch.no_grad():
        torch.testing.assert_close(net(x[:2]), out[:2], rtol=1e-5, atol=1e-5)  # one output (map) per example
    # raw logits: with the input and the last layer scaled up, the outputs leave [0, 1] and [-1, 1]
    # (a sigmoid, tanh or clamp at the end would keep them inside)
    with torch.no_grad():
        _last_weighted_layer(net).weight.mul_(100.0)
        scaled = net(100.0 * torch.randn(64, *in_shape))
    assert torch.isfinite(scaled).all()
    assert scaled.abs().max() > 1.0, f"{arch}: outputs stay in [-1, 1] when scaled up: squashed, not raw logits"
