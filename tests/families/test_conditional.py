"""Conditional families (cgan, acgan): they learn to make the class they are asked for, and every tool that
samples them (API, CLI, evaluation) knows the class."""
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import config_from_dict, load_config
from ganforge.data.mixtures import MIXTURES
from ganforge.errors import GanforgeError
from ganforge.scoring import evaluate_images
from ganforge.data import load_dataset
from ganforge.nets import build_net
from ganforge.nets.conditional import (ConcatDiscriminator, LabelGenerator, ProjectionDiscriminator,
                                       balanced_labels, feature_dim)
from ganforge.train import train

from conftest import ROOT, tiny_config



def ring_config(family: str, steps: int, **objective) -> "ganforge.config.RunConfig":
    """The ring-8 GAN with the mode index as the class: 8 classes, one Gaussian each."""
    return load_config(ROOT / "configs" / "gan-ring8.yaml", [
        f"family={family}", f"train.steps={steps}", "train.seed=0", "log.progress=false", "log.tensorboard=false",
        "doctor.enabled=false", *[f"objective.{k}={v}" for k, v in objective.items()]])


def nearest_mode(points: torch.Tensor, dataset: str = "ring8") -> tuple[torch.Tensor, torch.Tensor]:
    means, sigma = MIXTURES[dataset]
    d = torch.cdist(points.double(), means.double())
    dist, idx = d.min(1)
    return idx, dist / sigma


@pytest.mark.slow
@pytest.mark.parametrize("family, objective", [("cgan", {}), ("cgan", {"conditioning": "concat"}), ("acgan", {})])
def test_conditional_gan_makes_the_requested_mode_of_the_ring(tmp_path, family, objective):
    """Asked for mode k, G puts its samples on mode k: ≥ 90 % of them nearest to it, for every k."""
    run = train(ring_config(family, 1500, **objective), out=tmp_path / "run")
    gen = ganforge.load(run.dir)
    assert gen.num_classes == 8
    for k in range(8):
        idx, dist = nearest_mode(gen.sample(300, seed=k, label=k))
        hit = (idx == k).double().mean().item()
        assert hit >= 0.9, f"{family} {objective}: asked for mode {k}, only {hit:.0%} of samples land there"
    if family == "acgan":  # the class as a condition: an int is `label`, a tensor picks each sample's class
        assert torch.equal(gen.sample(5, seed=1, condition=3), gen.sample(5, seed=1, label=3))
        per_sample = torch.tensor([0, 2, 2, 5, 7] * 60)
        idx, _ = nearest_mode(gen.sample(300, seed=2, condition=per_sample))
        assert (idx == per_sample).double().mean() >= 0.9
        for bad, message in ((per_sample.float(), "int64 labels"), (torch.tensor([8] * 300), "classes must lie in 0–7")):
            with pytest.raises(GanforgeError, match=message):
                gen.sample(300, condition=bad)


def test_unconditional_family_on_the_same_data_ignores_classes(tmp_path):
    run = train(ring_config("gan", 2), out=tmp_path / "run")
    gen = ganforge.load(run.dir)
    assert gen.num_classes == 0
    with pytest.raises(GanforgeError, match="not conditional"):
        gen.sample(4, label=1)
    with pytest.raises(GanforgeError, match="takes no condition"):
        gen.sample(4, condition=torch.zeros(4, dtype=torch.long))


def test_conditional_family_needs_labels():
    from ganforge.families import get_family
    with pytest.raises(GanforgeError, match="labelled dataset"):
        get_family("cgan")(ring_config("cgan", 1), (2,), num_classes=0)


@pytest.mark.parametrize("key, value, message", [("pack", 2, "pack"), ("conditioning", "both", "conditioning")])
def test_cgan_options_are_checked(key, value, message):
    from ganforge.families import get_family
    with pytest.raises(GanforgeError, match=message):
        get_family("cgan")(ring_config("cgan", 1, **{key: value}), (2,), num_classes=8)


def test_projection_and_concat_discriminators_depend_on_the_label():
    torch.manual_seed(0)
    x = torch.randn(6, 1, 16, 16)
    base = build_net("dcgan_discriminator", in_shape=(1, 16, 16), base=8)
    proj = ProjectionDiscriminator(base, 10, feature_dim(base, (1, 16, 16)))
    torch.nn.init.normal_(proj.embed.weight, std=1.0)
    a, b = proj(x, torch.zeros(6, dtype=torch.long)), proj(x, torch.full((6,), 3))
    assert a.shape == (6,) and not torch.allclose(a, b)
    # the projection term is exactly ⟨e(y), φ(x)⟩ on top of the unconditional head
    f = base.features(x).flatten(1)
    assert torch.allclose(b - base.head(base.features(x)), (proj.embed.weight[3] * f).sum(1), atol=1e-5)
    concat = ConcatDiscriminator(build_net("dcgan_discriminator", in_shape=(11, 16, 16), base=8), 10)
    assert not torch.allclose(concat(x, torch.zeros(6, dtype=torch.long)), concat(x, torch.full((6,), 3)))
    vec = ConcatDiscriminator(build_net("mlp_discriminator", in_shape=(2 + 4,), hidden=[8]), 4)
    assert vec(torch.randn(5, 2), torch.arange(5) % 4).shape == (5,)


def test_label_generator_defaults_to_balanced_classes():
    assert balanced_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    g = LabelGenerator(build_net("mlp_generator", latent_dim=4 + 3, out_shape=(2,), hidden=[8], output="none"), 3, 3)
    z = torch.randn(6, 4)
    assert torch.equal(g(z), g(z, balanced_labels(6, 3)))
    assert not torch.allclose(g(z, torch.zeros(6, dtype=torch.long)), g(z, torch.full((6,), 2)))


def test_cgan_and_acgan_train_with_every_penalty_and_resume_bit_for_bit(tmp_path):
    """Gradient penalty and R1 bind the labels; the label embeddings are checkpointed; lr decay resumes exactly."""
    over = {"family": "cgan", "objective": {"r1": 1.0, "gradient_penalty": 1.0},
            "nets": {"G": {"arch": "dcgan_generator", "args": {"base": 8}},
                     "D": {"arch": "dcgan_discriminator", "args": {"base": 8, "batch_norm": False}}},
            "train__lr_decay": "linear", "train__lr_decay_start": 0.3}
    straight = train(config_from_dict(tiny_config(train__steps=8, **over)), out=tmp_path / "straight")
    assert np.isfinite(straight.last_metrics["loss/d_r1"])
    train(config_from_dict(tiny_config(train__steps=8, train__time_budget=1e-9, **over)), out=tmp_path / "split")
    train(config_from_dict(tiny_config(train__steps=8, **over)), resume=tmp_path / "split")
    from conftest import assert_same_state
    assert_same_state(tmp_path / "straight", tmp_path / "split")
    acgan = train(config_from_dict(tiny_config(train__steps=3, family="acgan", objective={"gradient_penalty": 1.0},
                                               nets=over["nets"])), out=tmp_path / "acgan")
    assert {"loss/d_class", "loss/g_class", "D_class_accuracy(x)"} <= set(acgan.last_metrics)


def test_cli_sample_by_class_writes_labels(tmp_path, capsys):
    run = train(ring_config("cgan", 5), out=tmp_path / "run")
    assert main(["sample", str(run.dir), "--num", "10", "--class", "3", "--out", str(tmp_path / "three.npz")]) == 0
    three = np.load(tmp_path / "three.npz")
    assert three["points"].shape == (10, 2) and three["labels"].tolist() == [3] * 10
    assert main(["sample", str(run.dir), "--num", "16", "--class-balanced", "--out", str(tmp_path / "all.npz")]) == 0
    assert np.bincount(np.load(tmp_path / "all.npz")["labels"]).tolist() == [2] * 8
    assert main(["sample", str(run.dir), "--num", "4", "--class", "8", "--out", str(tmp_path / "x.npz")]) == 2
    assert "class 8 out of range" in capsys.readouterr().err
    plain = train(ring_config("gan", 2), out=tmp_path / "plain")
    assert main(["sample", str(plain.dir), "--num", "4", "--class", "1", "--out", str(tmp_path / "y.npz")]) == 2
    assert "conditional run" in capsys.readouterr().err


@pytest.mark.slow
def test_class_agreement_is_high_for_true_labels_and_chance_for_shuffled():
    test = load_dataset("fashion-mnist", split="test")
    x, y = test.x[:1000], test.labels[:1000]
    right = evaluate_images(x, "fashion-mnist", ["modes"], labels=y)
    wrong = evaluate_images(x, "fashion-mnist", ["modes"], labels=y[torch.randperm(1000, generator=torch.Generator().manual_seed(0))])
    assert right["class_agreement"] >= 0.88  # the evaluator's test accuracy is 93 %
    assert wrong["class_agreement"] <= 0.2
    assert len(right["class_agreement_per_class"]) == 10
