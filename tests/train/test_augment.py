"""Differentiable augmentation (ganforge.augment): the operations, ADA's controller, and augmentation in a run."""
import json

import pytest
import torch

from conftest import TINY_CONFIGS
from ganforge.augment import OPERATIONS, Augment, colour, cutout, translation
from ganforge.config import OPERATIONS as CONFIG_OPERATIONS, AugmentConfig, load_config
from ganforge.errors import GanforgeError
from ganforge.train import checkpoint
from ganforge.train.loop import train


def grey_batch(n=32, side=16, seed=0):
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_config_names_the_operations_the_module_has():
    assert tuple(OPERATIONS) == CONFIG_OPERATIONS


def test_translation_moves_whole_pixels_within_an_eighth_and_fills_with_zero():
    torch.manual_seed(0)
    x = grey_batch()
    y = translation(x)
    assert y.shape == x.shape
    for img, out in zip(x[:, 0], y[:, 0]):
        # the output is the input shifted by some (dy, dx) with |d| ≤ 2 (16/8), zeros where it came in
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
                if torch.equal(out, padded[2 + dy:2 + dy + 16, 2 + dx:2 + dx + 16]):
                    found = True
        assert found, "an output is not a whole-pixel shift of its input"
    assert not torch.equal(x, y), "no image moved"


def test_cutout_zeroes_one_square_of_half_the_side_at_most():
    torch.manual_seed(1)
    x = grey_batch() * 0.5 + 0.75  # no zeros in the input: every zero of the output is cut out
    y = cutout(x)
    for out in y[:, 0]:
        holes = out == 0
        assert 0 < holes.sum() <= 8 * 8
        rows, cols = holes.any(1).nonzero().flatten(), holes.any(0).nonzero().flatten()
        assert holes[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all(), "the hole is not a rectangle"
        assert len(rows) <= 8 and len(cols) <= 8


def test_colour_changes_brightness_and_contrast_per_image_and_keeps_grey_images_grey():
    torch.manual_seed(2)
    x = grey_batch()
    y = colour(x)
    assert y.shape == x.shape
    # per image an affine map a·x + b of the input (brightness then contrast)
    for img, out in zip(x.flatten(1), y.flatten(1)):
        a, b = torch.linalg.lstsq(torch.stack([img, torch.ones_like(img)], 1), out[:, None]).solution.flatten()
        assert torch.allclose(a * img + b, out, atol=1e-5)
        assert 0.5 - 1e-5 <= a <= 1.5 + 1e-5


@pytest.mark.parametrize("op", [translation, cutout, colour])
def test_every_operation_passes_gradients_to_its_input(op):
    x = grey_batch(8).requires_grad_(True)
    op(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_probability_p_augments_about_that_share_of_images():
    torch.manual_seed(3)
    aug = Augment(AugmentConfig(policy=["colour"], p=0.3), batch_size=1000)
    x = grey_batch(1000)
    changed = (aug(x) != x).flatten(1).any(1).float().mean()
    assert 0.25 < changed < 0.35


def test_ada_raises_p_while_d_is_sure_of_real_images_and_lowers_it_when_not():
    cfg = AugmentConfig(policy=["translation"], ada=True, ada_images=1000, ada_interval=4)
    aug = Augment(cfg, batch_size=10)
    assert aug.p == 0.0
    sure = torch.full((10,), 3.0)  # every real score above the boundary: r_t = 1 > 0.6
    for _ in range(8):
        aug.observe(sure)
    assert aug.p == pytest.approx(2 * 4 * 10 / 1000) and aug.r_t == 1.0
    unsure = torch.tensor([1.0] * 7 + [-1.0] * 3)  # r_t = 0.4 < 0.6
    for _ in range(4):
        aug.observe(unsure)
    assert aug.p == pytest.approx(40 / 1000) and aug.r_t == pytest.approx(0.4)
    for _ in range(40):
        aug.observe(unsure)
    assert aug.p == 0.0, "p must not go below 0"


def tiny(*overrides):
    return load_config(TINY_CONFIGS / "gan.yaml", list(overrides))


ADA = ("augment.policy=translation,cutout,colour", "augment.ada=true", "augment.ada_interval=3",
       "augment.ada_images=32", "augment.ada_target=0.01", "log.every=1")


def test_ada_state_is_logged_checkpointed_and_resumed_exactly(tmp_path):
    straight = train(tiny("train.steps=6", *ADA), out=tmp_path / "straight")
    train(tiny("train.steps=4", *ADA), out=tmp_path / "split")
    split = train(tiny("train.steps=6", *ADA), resume=tmp_path / "split")
    sa = checkpoint.load_state(checkpoint.latest_checkpoint(straight.dir))["augment"]
    sb = checkpoint.load_state(checkpoint.latest_checkpoint(split.dir))["augment"]
    # 6 D steps with an adjustment every 3: the split run resumed after 4 with one observation pending
    assert sa == sb
    assert split.family.augment.state_dict() == straight.family.augment.state_dict()
    lines = [json.loads(line) for line in (straight.dir / "metrics.jsonl").read_text().splitlines()]
    logged = [line["augment/p"] for line in lines if "augment/p" in line]
    assert len(logged) == 6 and logged[-1] == sa["p"]


@pytest.mark.parametrize("family,overrides,match", [
    ("vae", (), "nothing to augment"),
    ("bigan", (), "nothing to augment"),
    ("gan", ("objective.loss=wasserstein", "augment.ada=true"), "no undecided value"),
    ("gan", ("objective.loss=fgan", "augment.ada=true"), "no undecided value"),
])
def test_augmentation_is_refused_where_it_cannot_work(family, overrides, match, tmp_path):
    cfg = load_config(TINY_CONFIGS / f"{family}.yaml", ["augment.policy=translation", *overrides])
    with pytest.raises(GanforgeError, match=match):
        train(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_augmentation_of_vectors_is_refused(tmp_path):
    cfg = load_config(TINY_CONFIGS / "gan.yaml", ["data.name=ring8", "data.image_size=null", "augment.policy=translation",
                                                 "nets.G.arch=mlp_generator", "nets.G.args={}",
                                                 "nets.D.arch=mlp_discriminator", "nets.D.args={}"])
    with pytest.raises(GanforgeError, match="holds vectors"):
        train(cfg, out=tmp_path / "run")


def test_ada_is_refused_without_a_policy():
    with pytest.raises(GanforgeError, match="augment.ada needs operations"):
        tiny("augment.ada=true")
