"""`ganforge doctor check-d`: a healthy discriminator learns the classification task; deliberately broken ones (a
detached layer, frozen weights, an input that never reaches it) are named as broken in plain words."""
from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from ganforge.cli import main
from ganforge.config import config_from_dict
from ganforge.nets import build_net
from ganforge.train.doctor import check_d
from ganforge.train.doctor.check_d import check_discriminators
from conftest import TINY_CONFIGS, tiny_config


def quiet(_line: str) -> None:
    pass


def cfg_for(**over):
    return config_from_dict(tiny_config(**over))


@pytest.mark.slow
def test_a_healthy_discriminator_learns_the_digits():
    [v] = check_discriminators(cfg_for(), seconds=4, log=quiet)
    assert v.learns and not v.problems, v.words()
    assert v.task == "its 10 classes" and v.accuracy > 0.5 > v.chance and v.steps > 20
    assert "It learns" in v.words() and "does NOT" not in v.words()


def breaking(monkeypatch, damage):
    """check-d builds its discriminators with build_net: give it ones with `damage` done to them."""
    def broken_net(arch, **kw):
        d = build_net(arch, **kw)
        damage(d)
        return d
    monkeypatch.setattr(check_d, "build_net", broken_net)


def first_conv(d: nn.Module) -> nn.Conv2d:
    return next(m for m in d.modules() if isinstance(m, nn.Conv2d))


def test_a_detached_layer_is_named(monkeypatch):
    breaking(monkeypatch, lambda d: first_conv(d).register_forward_hook(lambda m, i, out: out.detach()))
    [v] = check_discriminators(cfg_for(), seconds=2, log=quiet)
    assert not v.learns and "get no gradient" in v.words() and "weight" in v.words()
    assert "does NOT learn" in v.words()


def test_frozen_weights_are_named(monkeypatch):
    breaking(monkeypatch, lambda d: [p.requires_grad_(False) for p in first_conv(d).parameters()])
    [v] = check_discriminators(cfg_for(), seconds=2, log=quiet)
    assert not v.learns and "frozen" in v.words()


def test_an_input_that_never_arrives_stays_at_chance(monkeypatch):
    breaking(monkeypatch, lambda d: first_conv(d).register_forward_pre_hook(lambda m, args: (args[0] * 0,)))
    [v] = check_discriminators(cfg_for(), seconds=2, log=quiet)
    assert not v.learns and v.accuracy < v.chance + 0.05
    assert "same for every image" in v.words()


@pytest.mark.slow
def test_without_labels_real_against_shuffled_pixels(tmp_path):
    from ganforge.data import load_dataset

    x = ((load_dataset("digits").x + 1) * 127.5).round().byte().numpy()
    np.savez(tmp_path / "digits.npz", images=x)  # no labels
    cfg = cfg_for(data__name="npz", data__path=str(tmp_path / "digits.npz"))
    [v] = check_discriminators(cfg, seconds=3, log=quiet)
    assert v.task.startswith("real images against") and v.learns and v.accuracy > 0.8, v.words()


@pytest.mark.slow
def test_cli_answers_0_when_it_learns_1_when_not_2_on_bad_input(monkeypatch, capsys):
    cfg_file = TINY_CONFIGS / "gan.yaml"
    assert main(["doctor", "check-d", str(cfg_file), "--seconds", "2", "train.batch_size=32"]) == 0
    assert "It learns" in capsys.readouterr().out
    breaking(monkeypatch, lambda d: [p.requires_grad_(False) for p in d.parameters()])
    assert main(["doctor", "check-d", str(cfg_file), "--seconds", "1"]) == 1
    assert "frozen" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["doctor", "check-d", str(cfg_file), "--seconds", "0"])
    assert main(["doctor", "check-d", str(TINY_CONFIGS / "pix2pix.yaml"), "--seconds", "1"]) == 2
    assert "judges images alone" in capsys.readouterr().err
