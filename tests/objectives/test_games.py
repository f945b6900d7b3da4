"""The registry of games (objectives.GAMES): each game's costs, its options, and how families compose it."""
import pytest
import torch

from ganforge import objectives
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.families import get_family

from conftest import ROOT, TINY_CONFIGS

RING8 = ROOT / "configs" / "gan-ring8.yaml"


@pytest.mark.parametrize("name", list(objectives.GAMES))
def test_every_game_scores_real_above_fake(name):
    """Each game's D cost is lower when D scores real data higher than fakes, and G's cost falls as D's score of
    the fakes rises: the two players pull in opposite directions in every game."""
    g = objectives.game(name)
    real, fake = torch.full((8,), 2.0), torch.full((8,), -2.0)
    assert g.d_cost(real, fake) < g.d_cost(fake, real)
    assert g.g_cost(torch.full((8,), 1.0)) < g.g_cost(torch.full((8,), -1.0))
    assert g.d_cost(real, fake).shape == () and g.g_cost(fake).shape == ()


def test_game_options_are_those_of_its_builder():
    assert objectives.game_options("bce") == {"generator_cost": "non_saturating", "real_target": 1.0}
    assert objectives.game_options("fgan") == {"divergence": "gan", "fgan_heuristic": True}
    assert objectives.game_options("hinge") == {}
    smoothed = objectives.game("bce", real_target=0.9)
    real, fake = torch.randn(16), torch.randn(16)
    assert torch.equal(smoothed.d_cost(real, fake), objectives.discriminator_bce(real, fake, 0.9))
    kl = objectives.game("fgan", divergence="kl")
    assert kl.g_name == "fgan_kl" and torch.equal(kl.d_cost(real, fake),
                                                   objectives.fgan_discriminator_loss(real, fake, "kl"))
    with pytest.raises(ValueError, match=r"game 'hinge' has no option\(s\) \['real_target'\]; it takes none"):
        objectives.game("hinge", real_target=0.9)
    with pytest.raises(ValueError, match="unknown game 'hinje'; did you mean hinge"):
        objectives.game("hinje")
    with pytest.raises(ValueError, match="generator_cost 'saturating' unknown"):
        objectives.game("bce", generator_cost="saturating")


def test_scaled_game_multiplies_its_costs():
    g = objectives.game("bce")
    half = g.scaled(d_weight=0.5)
    real, fake = torch.randn(16), torch.randn(16)
    assert torch.equal(half.d_cost(real, fake), 0.5 * g.d_cost(real, fake))
    assert half.g_cost is g.g_cost and half.probabilities


@pytest.mark.parametrize("override, owner", [("objective.real_target=0.9", "bce"),
                                             ("objective.fgan_heuristic=false", "fgan"),
                                             ("objective.divergence=kl", "fgan")])
def test_an_option_of_another_game_is_a_clear_error(override, owner):
    cfg = load_config(RING8, ["objective.loss=hinge", override])
    key = override.split("=")[0].removeprefix("objective.")
    with pytest.raises(GanforgeError, match=rf"{key} applies to loss '{owner}' only \(loss is 'hinge'\)"):
        get_family("gan").check_config(cfg)


@pytest.mark.parametrize("family, loss", [("gan", "bce"), ("wgan", "wasserstein"), ("cgan", "bce"), ("acgan", "bce")])
def test_families_compose_the_game_their_options_name(family, loss):
    assert get_family(family).Options.model_validate({}).game().name == loss


def test_ssgan_weighs_its_real_vs_fake_cost_through_the_game():
    """ssgan's D cost is objective.unsupervised_weight × the bce game's, composed into its game (no patching of
    loss terms after the fact)."""
    cfg = load_config(TINY_CONFIGS / "ssgan.yaml", ["objective.unsupervised_weight=0.25"])
    family = get_family("ssgan")(cfg, (1, 16, 16), num_classes=10)
    real, fake = torch.randn(16), torch.randn(16)
    assert torch.equal(family.game.d_cost(real, fake), 0.25 * objectives.game("bce").d_cost(real, fake))
