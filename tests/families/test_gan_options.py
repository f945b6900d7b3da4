"""The objective and stabiliser switches of the gan family (and the wgan / wgan_gp defaults) on the one loop."""
import copy
import math

import pytest
import torch

from ganforge.config import config_from_dict
from ganforge.errors import GanforgeError
from ganforge.families import Batch, get_family
from ganforge.train import train

from conftest import tiny_config

NO_BN = {"nets__D__args": {"base": 8, "batch_norm": False}}


@pytest.mark.parametrize("objective, extra", [
    ({"loss": "bce", "generator_cost": "minimax", "real_target": 0.9}, {}),
    ({"loss": "least_squares"}, {}),
    ({"loss": "hinge", "separate_batches": False}, {}),
    ({"loss": "fgan", "divergence": "kl"}, {}),
    ({"loss": "fgan", "divergence": "pearson", "fgan_heuristic": False}, {}),
    ({"loss": "wasserstein", "gradient_penalty": 10.0, "d_steps": 2}, NO_BN),
    ({"loss": "bce", "r1": 1.0, "instance_noise": 0.1}, NO_BN),
    ({"feature_matching": True, "g_steps": 2}, {}),
    ({"unrolled_steps": 2, "pack": 2}, {}),
])
def test_every_objective_trains_with_finite_losses(objective, extra, tmp_path):
    cfg = config_from_dict(tiny_config(objective=objective, train__steps=4, **extra))
    run = train(cfg, out=tmp_path / "run")
    losses = {k: v for k, v in run.last_metrics.items() if k.startswith("loss/")}
    assert losses and all(math.isfinite(v) for v in losses.values()), losses


@pytest.mark.parametrize("family, terms", [("wgan", {"loss/d_wasserstein"}),
                                           ("wgan_gp", {"loss/d_wasserstein", "loss/d_gradient_penalty"})])
def test_wgan_families_carry_the_paper_defaults(family, terms, tmp_path):
    cfg = config_from_dict(tiny_config(family=family, train__steps=2, **NO_BN))
    run = train(cfg, out=tmp_path / "run")
    assert terms <= set(run.last_metrics)
    assert run.family.phases()[0].repeat == 5  # n_critic
    if family == "wgan":
        assert run.family.opts.clip == 0.01
        assert max(p.abs().max().item() for p in run.family.nets.D.parameters()) <= 0.01 + 1e-9


@pytest.mark.parametrize("objective, extra, message", [
    ({"loss": "hinge", "real_target": 0.9}, {}, "real_target applies to loss 'bce' only"),
    ({"loss": "fgan", "divergence": "kll"}, {}, "divergence 'kll' unknown"),
    ({"divergence": "kl"}, {}, "divergence applies to loss 'fgan' only"),
    ({"gradient_penalty": 10.0}, {}, "without batch norm"),
    ({"pack": 3}, {}, "pack=3 must divide train.batch_size=16"),
    ({"d_steps": 0}, {}, "objective.d_steps"),
    ({"loss": "wgan"}, {}, "objective.loss"),
])
def test_inconsistent_options_are_clear_errors(objective, extra, message):
    cfg = config_from_dict(tiny_config(objective=objective, **extra))
    with pytest.raises(GanforgeError, match=message):
        get_family("gan")(cfg, (1, 16, 16))


def test_packing_feeds_d_m_samples_as_one():
    cfg = config_from_dict(tiny_config(objective={"pack": 4}))
    fam = get_family("gan")(cfg, (1, 16, 16))
    assert fam.nets.D.body[0].in_channels == 4
    real_s, fake_s = fam.scores(torch.zeros(16, 1, 16, 16), torch.zeros(16, 1, 16, 16))
    assert real_s.shape == fake_s.shape == (4,)


def test_instance_noise_anneals_to_zero():
    cfg = config_from_dict(tiny_config(objective={"instance_noise": 0.5, "instance_noise_steps": 100}))
    fam = get_family("gan")(cfg, (1, 16, 16))
    sigmas = []
    for fam.step in (0, 50, 100, 200):
        sigmas.append(fam.noise_sigma())
    assert sigmas == [0.5, 0.25, 0.0, 0.0]


def test_unrolled_generator_sees_d_after_k_sgd_steps_and_d_is_untouched():
    torch.manual_seed(0)
    cfg = config_from_dict(tiny_config(objective={"unrolled_steps": 1, "unrolled_lr": 0.5}, **NO_BN))
    fam = get_family("gan")(cfg, (1, 16, 16))
    real, fake = torch.randn(16, 1, 16, 16), torch.randn(16, 1, 16, 16)
    before = copy.deepcopy(fam.nets.D.state_dict())
    unrolled = fam._unrolled_scores(real, fake)
    # by hand: one SGD step of a copy of D on the bce discriminator cost, then score the fakes
    D = copy.deepcopy(fam.nets.D)
    loss = fam.game.d_cost(D(real), D(fake))
    loss.backward()
    with torch.no_grad():
        for p in D.parameters():
            p -= 0.5 * p.grad
    assert torch.allclose(unrolled, D(fake), atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in fam.nets.D.state_dict().items())


def test_unrolling_changes_the_generator_gradient():
    cfg = config_from_dict(tiny_config(objective={"unrolled_steps": 3, "unrolled_lr": 0.5}, **NO_BN))
    fam = get_family("gan")(cfg, (1, 16, 16))
    real = torch.randn(16, 1, 16, 16)

    def g_grad(unrolled: int) -> torch.Tensor:
        fam.opts.unrolled_steps = unrolled
        fam.nets.G.zero_grad()
        torch.manual_seed(1)
        sum(fam.g_step(Batch(16, {"x": real})).values()).backward()
        return torch.cat([p.grad.flatten() for p in fam.nets.G.parameters()])

    plain, unrolled = g_grad(0), g_grad(3)
    assert not torch.allclose(plain, unrolled, rtol=1e-3)


def test_feature_matching_is_zero_when_fakes_match_reals_in_feature_mean():
    cfg = config_from_dict(tiny_config(objective={"feature_matching": True}))
    fam = get_family("gan")(cfg, (1, 16, 16)).eval()  # eval: batch norm uses running stats, no batch coupling
    torch.manual_seed(0)
    x = fam.nets.G(fam.z(16)).detach()
    torch.manual_seed(0)
    assert fam.g_step(Batch(16, {"x": x}))["g_feature_matching"].item() < 1e-10


# -- several generators (objective.generators, MGAN) ---------------------------------------------------------------

def test_a_mixture_generator_sends_each_example_to_its_own_generator_and_keeps_the_order():
    from ganforge.nets.mixture import MixtureGenerator
    gens = [torch.nn.Linear(3, 2) for _ in range(3)]
    mix = MixtureGenerator(gens)
    z = torch.randn(7, 3)
    which = torch.tensor([2, 0, 0, 1, 2, 2, 0])
    out = mix(z, which)
    for i in range(7):
        assert torch.allclose(out[i], gens[which[i]](z[i]))
    # without `which`, round-robin: example i from generator i mod k, so G(z) is the uniform mixture
    rr = mix(z)
    assert all(torch.allclose(rr[i], gens[i % 3](z[i])) for i in range(7))
    out.sum().backward()  # gradients reach every generator that made an example
    assert all(g.weight.grad is not None for g in gens)


def test_several_generators_train_with_the_which_generator_cost_and_resume(tmp_path):
    cfg = config_from_dict(tiny_config(objective={"generators": 3, "diversity": 0.1}, train__steps=4))
    run = train(cfg, out=tmp_path / "run")
    m = run.last_metrics
    assert {"loss/d_which_generator", "loss/g_which_generator"} <= set(m)
    assert all(math.isfinite(v) for k, v in m.items() if k.startswith("loss/"))
    G = run.family.nets.G
    assert len(G.generators) == 3 and run.family.nets.D.classifier.out_features == 3
    import ganforge
    assert ganforge.load(tmp_path / "run").sample(5, seed=0).shape == (5, 1, 16, 16)


@pytest.mark.parametrize("family, objective, extra, message", [
    ("gan", {"generators": 2, "pack": 2}, {}, "generators > 1 does not combine with pack=2"),
    ("gan", {"generators": 2, "feature_matching": True}, {}, "does not combine with feature_matching"),
    ("gan", {"diversity": 0.5}, {}, "diversity applies with generators > 1 only"),
    ("gan", {"generators": 9}, {}, r"generators=9 needs train.batch_size ≥ 18"),
    ("cgan", {"generators": 2}, {}, "generators applies to unconditional GANs only"),
    ("gan", {"generators": 0}, {}, "objective.generators"),
])
def test_several_generators_refuse_what_they_cannot_do(family, objective, extra, message):
    cfg = config_from_dict(tiny_config(family=family, objective=objective, **extra))
    with pytest.raises(GanforgeError, match=message):
        get_family(family)(cfg, (1, 16, 16), num_classes=10)


@pytest.mark.slow
def test_a_mixture_of_generators_covers_the_ring_and_its_generators_split_it(tmp_path):
    """MGAN's claim on the PacGAN ring at 1,600 steps, where one generator covers 5.3 of 8 modes (the mode-collapse
    table): four generators with β 0.125 cover all 8, and each generator keeps to its own part of the ring."""
    import yaml
    from pathlib import Path
    from ganforge.config import apply_overrides
    from ganforge.scoring import evaluate_points
    raw = yaml.safe_load((Path(__file__).parents[2] / "configs" / "gan-ring8.yaml").read_text())
    cfg = config_from_dict(apply_overrides(raw, [
        "train.batch_size=64", "train.steps=1600", "train.seed=0", "objective.generators=4", "objective.diversity=0.125",
        "log.progress=false", "log.sample_every=100000", "checkpoint.every=100000", "eval.final=false",
        "doctor.enabled=false"]))
    G = train(cfg, out=tmp_path / "run").family.nets.G.eval()
    z = torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        r = evaluate_points(G(z), "ring8")
        centres = torch.stack([G(z[:500], torch.full((500,), j)).mean(0) for j in range(4)])
    assert r["modes"] == 8 and r["high_quality"] > 0.6, r
    assert torch.pdist(centres).min() > 0.5, centres  # the generators sit on different parts of the unit circle
