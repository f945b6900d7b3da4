"""Wasserstein, least-squares, hinge and f-GAN costs and the critic penalties against closed forms."""
import math

import pytest
import torch
from scipy import integrate
from scipy.stats import norm
from torch import nn

from ganforge.objectives import adversarial as A
from ganforge.objectives import fdivergence as FD
from ganforge.objectives import hinge as H
from ganforge.objectives import least_squares as LS
from ganforge.objectives import penalties as P
from ganforge.objectives import wasserstein as W


def t64(values):
    return torch.tensor(values, dtype=torch.float64)


# ---------------------------------------------------------------- Wasserstein, LSGAN, hinge


def test_wasserstein_closed_form():
    real, fake = t64([1.0, 3.0]), t64([-2.0, 0.5, 0.0])
    assert W.critic_wasserstein(real, fake).item() == pytest.approx(-0.5 - 2.0)
    assert W.generator_wasserstein(fake).item() == pytest.approx(0.5)


def test_least_squares_closed_form():
    real, fake = t64([1.0, 0.0, 3.0]), t64([0.0, 2.0])
    # ½·mean(0, 1, 4) + ½·mean(0, 4)
    assert LS.discriminator_least_squares(real, fake).item() == pytest.approx(0.5 * 5 / 3 + 0.5 * 2)
    # ½·mean(1, 1)
    assert LS.generator_least_squares(fake).item() == pytest.approx(0.5)
    # the optimum of the 0-1 coding: D = 1 on real, 0 on fake, and G's cost vanishes when D(G(z)) = 1
    assert LS.discriminator_least_squares(t64([1.0]), t64([0.0])).item() == 0.0
    assert LS.generator_least_squares(t64([1.0])).item() == 0.0


def test_hinge_closed_form():
    real, fake = t64([2.0, 0.5, -1.0]), t64([-3.0, 0.0])
    # real: relu(1 − (2, 0.5, −1)) = (0, 0.5, 2); fake: relu(1 + (−3, 0)) = (0, 1)
    assert H.discriminator_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 0.5)
    assert H.generator_hinge(fake).item() == pytest.approx(1.5)
    # outside the margin D pays nothing
    assert H.discriminator_hinge(t64([1.0, 5.0]), t64([-1.0, -7.0])).item() == 0.0


# ---------------------------------------------------------------- penalties


class LinearCritic(nn.Module):
    """f(x) = ⟨w, flatten(x)⟩ + b: its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.lin = nn.Linear(w.numel(), 1).double()
        with torch.no_grad():
            self.lin.weight.copy_(w.reshape(1, -1))
            self.lin.bias.fill_(0.3)

    def forward(self, x):
        return self.lin(x.flatten(1))


def images(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 2, 2, generator=g, dtype=torch.float64)  # rank 4: ε must broadcast


def test_gradient_penalty_vanishes_for_unit_norm_linear_critic():
    w = t64([1.0, 2.0, -2.0, 4.0])
    critic = LinearCritic(w / w.norm())
    assert P.gradient_penalty(critic, images(seed=0), images(seed=1), weight=10.0).item() == pytest.approx(0, abs=1e-6)


def test_gradient_penalty_of_linear_critic_and_its_gradient():
    w = t64([1.0, 2.0, -2.0, 4.0])  # ‖w‖ = 5
    critic = LinearCritic(w)
    gp = P.gradient_penalty(critic, images(seed=0), images(seed=1), weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2, rel=1e-12)
    gp.backward()
    # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1) w/‖w‖: the penalty trains the critic (create_graph=True)
    expected = 2 * 10.0 * (5.0 - 1.0) * w / 5.0
    torch.testing.assert_close(critic.lin.weight.grad.flatten(), expected)


def test_gradient_penalty_detaches_inputs_and_uses_the_generator():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    real, fake = images(seed=0), images(seed=1).requires_grad_()
    gp = [P.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert gp[0].item() == gp[1].item()  # same draw of ε
    gp[0].backward()
    assert fake.grad is None  # the generator's samples are not penalised
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in critic.parameters() if p.dim() == 2)
    with pytest.raises(ValueError):
        P.gradient_penalty(critic, real, fake[:3])


def test_r1_penalty_of_linear_discriminator():
    w = t64([1.0, 2.0, -2.0, 4.0])
    d = LinearCritic(w)
    r1 = P.r1_penalty(d, images())
    assert r1.item() == pytest.approx(0.5 * 25.0, rel=1e-12)
    r1.backward()
    torch.testing.assert_close(d.lin.weight.grad.flatten(), w)  # ∇_w ½‖w‖² = w


def test_clip_weights_bounds_all_parameters():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
        net[0].weight[0, :2] = torch.tensor([0.005, -0.01])  # already inside [−c, c]
    inside = net[0].weight.detach().abs() <= 0.01
    assert inside.sum() == 2
    before = net[0].weight.detach().clone()
    P.clip_weights_(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    assert torch.equal(net[0].weight[inside], before[inside])  # untouched where already within [−c, c]
    with pytest.raises(ValueError):
        P.clip_weights_(net, 0.0)


# ---------------------------------------------------------------- f-GAN

NAMES = sorted(FD.DIVERGENCES)
# the paper's "GAN" f is not normalised: f(1) = −log 4, its divergence is 2·JSD − log 4
F_AT_ONE = {name: 0.0 for name in NAMES} | {"gan": -math.log(4.0)}


def test_table_is_complete():
    assert set(NAMES) == {
        "kl", "reverse_kl", "pearson", "neyman", "squared_hellinger", "jensen_shannon", "gan", "total_variation",
    }
    for name, d in FD.DIVERGENCES.items():
        assert d.name == name


@pytest.mark.parametrize("name", NAMES)
def test_f_at_one(name):
    f = FD.DIVERGENCES[name].f
    assert f(t64([1.0])).item() == pytest.approx(F_AT_ONE[name], abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_f_is_convex(name):
    f = FD.DIVERGENCES[name].f
    for u in (torch.linspace(0.01, 10.0, 2001, dtype=torch.float64), torch.logspace(-4, 4, 2001, dtype=torch.float64)):
        y = f(u)
        # on a non-uniform grid: slopes must not decrease
        slopes = torch.diff(y) / torch.diff(u)
        assert (torch.diff(slopes) >= -1e-9 * (1 + slopes[1:].abs())).all()


@pytest.mark.parametrize("name", NAMES)
def test_activation_maps_into_domain_of_conjugate(name):
    d = FD.DIVERGENCES[name]
    v = torch.linspace(-20.0, 20.0, 401, dtype=torch.float64)
    assert torch.isfinite(d.conjugate(d.activation(v))).all()
    # the composed closed form is the same function ...
    mid = torch.linspace(-8.0, 8.0, 161, dtype=torch.float64)
    torch.testing.assert_close(d.conjugate_activation(mid), d.conjugate(d.activation(mid)), rtol=1e-9, atol=1e-12)
    # ... and stays finite, with finite gradients, in float32 where g_f has saturated
    wide = torch.linspace(-50.0, 50.0, 1001, requires_grad=True)
    loss = FD.fgan_discriminator_loss(wide, wide, d) + FD.fgan_generator_loss(wide, d, heuristic=False)
    (grad,) = torch.autograd.grad(loss, wide)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young_inequality(name):
    d = FD.DIVERGENCES[name]
    u = torch.logspace(-3, 3, 121, dtype=torch.float64)[:, None]
    t = d.activation(torch.linspace(-6.0, 6.0, 121, dtype=torch.float64))[None, :]
    gap = d.f(u) + d.conjugate(t) - u * t
    assert (gap >= -1e-9 * (1 + (u * t).abs())).all()


# P = N(0, 1), Q = N(1, 1): the density ratio is p/q = exp(½ − x)
MU_Q = 1.0


def log_ratio(x):
    return 0.5 * MU_Q**2 - MU_Q * x


def analytic_divergence(name: str) -> float:
    """D_f(P‖Q) = ∫ q f(p/q) dx by adaptive quadrature."""
    f = FD.DIVERGENCES[name].f

    def integrand(x: float) -> float:
        return norm.pdf(x, MU_Q) * f(torch.exp(t64(log_ratio(x)))).item()

    value, err = integrate.quad(integrand, -20.0, 20.0, points=[0.5 * MU_Q], limit=200)
    assert err < 1e-7
    return value


def test_numerical_divergences_match_known_closed_forms():
    d = MU_Q
    known = {
        "kl": d**2 / 2,
        "reverse_kl": d**2 / 2,
        "pearson": math.exp(d**2) - 1,
        "neyman": math.exp(d**2) - 1,
        "squared_hellinger": 2 - 2 * math.exp(-(d**2) / 8),
        "total_variation": 2 * norm.cdf(d / 2) - 1,
    }
    for name, value in known.items():
        assert analytic_divergence(name) == pytest.approx(value, rel=1e-7)
    # 2·JSD ≤ log 4 and the GAN divergence is it shifted by −log 4
    assert analytic_divergence("gan") == pytest.approx(analytic_divergence("jensen_shannon") - math.log(4), rel=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_bound_is_tight_at_the_optimal_variational_function(name):
    """F(T*) with T*(x) = f'(p(x)/q(x)), by Monte Carlo, recovers D_f(P‖Q)."""
    d = FD.DIVERGENCES[name]
    g = torch.Generator().manual_seed(0)
    n = 2_000_000
    x_p = torch.randn(n, generator=g, dtype=torch.float64)
    x_q = torch.randn(n, generator=g, dtype=torch.float64) + MU_Q

    def t_star(x):
        u = torch.exp(log_ratio(x)).requires_grad_()
        (df,) = torch.autograd.grad(d.f(u).sum(), u)  # f' elementwise
        return df

    estimate = (t_star(x_p).mean() - d.conjugate(t_star(x_q)).mean()).item()
    assert estimate == pytest.approx(analytic_divergence(name), rel=0.03)


def test_bound_is_below_divergence_for_a_suboptimal_function():
    g = torch.Generator().manual_seed(1)
    x_p = torch.randn(200_000, generator=g, dtype=torch.float64)
    x_q = torch.randn(200_000, generator=g, dtype=torch.float64) + MU_Q
    for name in NAMES:
        v = lambda x: 0.3 * (0.5 - x)  # noqa: E731 — the right sign, the wrong scale
        assert FD.fgan_bound(v(x_p), v(x_q), name).item() < analytic_divergence(name)


def test_losses_are_the_bound_and_gan_recovers_the_original_game():
    real, fake = t64([0.3, -1.2, 2.0]), t64([-0.7, 0.1])
    for name in NAMES:
        d = FD.DIVERGENCES[name]
        bound = FD.fgan_bound(real, fake, d).item()
        assert FD.fgan_discriminator_loss(real, fake, name).item() == pytest.approx(-bound)
        assert FD.fgan_generator_loss(fake, name).item() == pytest.approx(-d.activation(fake).mean().item())
        assert FD.fgan_generator_loss(fake, name, heuristic=False).item() == pytest.approx(
            -d.conjugate_activation(fake).mean().item()
        )
    # with g = log σ the f-GAN game is Goodfellow's, in logits
    assert FD.fgan_discriminator_loss(real, fake, "gan").item() == pytest.approx(A.discriminator_bce(real, fake).item())
    assert FD.fgan_generator_loss(fake, "gan").item() == pytest.approx(A.generator_non_saturating(fake).item())
    saddle = FD.fgan_generator_loss(fake, "gan", heuristic=False)
    assert saddle.item() == pytest.approx(A.generator_minimax(fake).item())
    with pytest.raises(ValueError, match="unknown f-divergence"):
        FD.fgan_bound(real, fake, "wasserstein")
