"""The GAN costs against their closed forms in D = σ(l), and the lecture's picture of their gradients."""
import math

import pytest
import torch

from ganforge import objectives as O


def probs(p):
    p = torch.tensor(p, dtype=torch.float64)
    return torch.log(p) - torch.log1p(-p)  # logits with σ(l) = p


@pytest.mark.parametrize("p_real,p_fake", [(0.9, 0.1), (0.5, 0.5), (0.3, 0.8)])
def test_discriminator_bce_matches_closed_form(p_real, p_fake):
    got = O.discriminator_bce(probs([p_real]), probs([p_fake]))
    assert got.item() == pytest.approx(-math.log(p_real) - math.log(1 - p_fake), rel=1e-12)


def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = probs([0.7]), probs([0.2])
    got = O.discriminator_bce(real, fake, real_target=0.9)
    expected = -(0.9 * math.log(0.7) + 0.1 * math.log(0.3)) - math.log(0.8)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    # the smoothed optimum for D(x) is 0.9, not 1: the cost at 0.9 beats the cost at 0.999
    assert O.discriminator_bce(probs([0.9]), fake, 0.9) < O.discriminator_bce(probs([0.999]), fake, 0.9)


@pytest.mark.parametrize("p", [0.01, 0.3, 0.5, 0.97])
def test_generator_costs_closed_forms(p):
    l = probs([p])
    assert O.generator_minimax(l).item() == pytest.approx(math.log(1 - p), rel=1e-12)
    assert O.generator_non_saturating(l).item() == pytest.approx(-math.log(p), rel=1e-12)
    assert O.generator_maximum_likelihood(l).item() == pytest.approx(-p / (1 - p), rel=1e-12)


def test_costs_are_finite_where_probabilities_round_to_0_or_1():
    l = torch.tensor([-200.0, 200.0], requires_grad=True)  # σ(l) is exactly 0 and 1 in float32
    for cost in (*O.GENERATOR_COSTS.values(), lambda x: O.discriminator_bce(x, x)):
        value = cost(l)
        (grad,) = torch.autograd.grad(value, l)
        assert torch.isfinite(value) and torch.isfinite(grad).all()


def grad_wrt_logit(cost, p):
    l = probs([p]).requires_grad_()
    (g,) = torch.autograd.grad(cost(l), l)
    return g.item()


def test_gradient_picture_of_the_lecture():
    """Early in training D rejects samples (D(G(z)) → 0). There the minimax cost saturates, the
    non-saturating cost keeps a unit gradient, and the maximum-likelihood cost is flat too."""
    for p in (1e-2, 1e-4, 1e-6):
        assert abs(grad_wrt_logit(O.generator_minimax, p)) == pytest.approx(p, rel=1e-3)  # → 0
        assert abs(grad_wrt_logit(O.generator_non_saturating, p)) == pytest.approx(1 - p, rel=1e-3)  # → 1
        assert abs(grad_wrt_logit(O.generator_maximum_likelihood, p)) < 2 * p
    # every cost pushes the logit of a fake sample up (decreasing the cost means raising D(G(z)))
    for cost in O.GENERATOR_COSTS.values():
        assert grad_wrt_logit(cost, 0.4) < 0
    # near D(G(z)) → 1 the maximum-likelihood cost has by far the steepest gradient
    mle, ns = grad_wrt_logit(O.generator_maximum_likelihood, 0.99), grad_wrt_logit(O.generator_non_saturating, 0.99)
    assert abs(mle) > 100 * abs(ns)

