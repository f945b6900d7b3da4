"""Latent-space tools: interpolation (linear, spherical) and DCGAN-style vector arithmetic, from the API and CLI."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.config import config_from_dict
from ganforge.errors import GanforgeError
from ganforge.latent import arithmetic, arithmetic_latent, interpolate, interpolation_latents, lerp, slerp
from ganforge.train import lr_factor, train

from conftest import tiny_config


def test_slerp_keeps_to_the_sphere_and_lerp_cuts_inside():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    t = torch.linspace(0, 1, 5)
    s = slerp(a, b, t)
    assert torch.allclose(s[0], a) and torch.allclose(s[-1], b)
    assert torch.allclose(s.norm(dim=1), torch.ones(5), atol=1e-6)  # on the unit sphere all the way
    assert torch.allclose(s[2], torch.tensor([1.0, 1.0, 0.0]) / math.sqrt(2), atol=1e-6)
    l = lerp(a, b, t)
    assert torch.allclose(l[2], torch.tensor([0.5, 0.5, 0.0])) and l[2].norm() < 0.71
    # norms are interpolated linearly between unequal endpoints; parallel endpoints fall back to lerp
    assert torch.allclose(slerp(a, 3 * b, torch.tensor([0.5])).norm(), torch.tensor(2.0))
    assert torch.allclose(slerp(a, 2 * a, torch.tensor([0.5])), torch.tensor([[1.5, 0.0, 0.0]]))


def test_high_dimensional_gaussian_pairs_slerp_stays_at_typical_norm():
    """The reason slerp is the default: midpoints of lerp between two N(0, I_100) draws have norm ≈ √50, not √100."""
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(200, 100, generator=g), torch.randn(200, 100, generator=g)
    mid_lin = interpolation_latents(z0, z1, 3, "linear").view(200, 3, 100)[:, 1].norm(dim=1).mean()
    mid_sph = interpolation_latents(z0, z1, 3, "slerp").view(200, 3, 100)[:, 1].norm(dim=1).mean()
    assert abs(mid_sph - 10.0) < 0.3 and abs(mid_lin - math.sqrt(50)) < 0.3


def test_interpolation_latents_validate_their_input():
    z = torch.randn(2, 4)
    with pytest.raises(GanforgeError, match="method"):
        interpolation_latents(z, z, 5, "cubic")
    with pytest.raises(GanforgeError, match="at least 2"):
        interpolation_latents(z, z, 1)
    with pytest.raises(GanforgeError, match="endpoints"):
        interpolation_latents(z, torch.randn(3, 4), 5)


def test_arithmetic_latent_is_sums_and_differences_of_group_means():
    z = torch.arange(12.0).view(6, 2)
    got = arithmetic_latent(z, plus=[[0, 1], [4]], minus=[[2, 3, 5]])
    want = z[[0, 1]].mean(0) + z[4] - z[[2, 3, 5]].mean(0)
    assert torch.allclose(got, want)
    with pytest.raises(GanforgeError, match="out of range"):
        arithmetic_latent(z, plus=[[0, 6]])
    with pytest.raises(GanforgeError, match="at least one"):
        arithmetic_latent(z, plus=[])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train(config_from_dict(tiny_config(train__steps=2)), out=tmp_path_factory.mktemp("latent") / "run").dir


def test_interpolate_rows_start_and_end_at_samples(run_dir):
    gen = ganforge.load(run_dir)
    x = interpolate(gen, rows=3, steps=5, method="linear", seed=4)
    ends = gen.sample(6, seed=4)  # the walks join sample r to sample 3 + r of the same seed
    walks = x.view(3, 5, *gen.shape)
    assert torch.allclose(walks[:, 0], ends[:3], atol=1e-5) and torch.allclose(walks[:, -1], ends[3:], atol=1e-5)


def test_arithmetic_result_is_the_generator_at_the_combined_latent(run_dir):
    gen = ganforge.load(run_dir)
    z = gen.latents(10, seed=1)
    x = arithmetic(gen, z, plus=[[0, 1, 2], [5]], minus=[[3, 4]], variations=4)
    assert x.shape == (4, *gen.shape)
    target = z[[0, 1, 2]].mean(0) + z[5] - z[[3, 4]].mean(0)
    assert torch.allclose(x[0], gen.generate(target[None])[0], atol=1e-6)
    assert not torch.allclose(x[0], x[1])  # the neighbours are jittered


@pytest.fixture(scope="module")
def mixture_dir(tmp_path_factory):
    cfg = tiny_config(train__steps=2, objective={"generators": 3, "diversity": 0.1})
    return train(config_from_dict(cfg), out=tmp_path_factory.mktemp("latent") / "mixture").dir


def test_a_mixture_keeps_one_generator_along_each_walk_and_for_each_arithmetic(mixture_dir):
    """With k generators, walking z across generators would jump between k different maps of z: row r of an
    interpolation is generator r mod k at every step, and arithmetic uses the first exemplar's generator."""
    gen = ganforge.load(mixture_dir)
    assert gen.num_generators == 3
    walks = interpolate(gen, rows=4, steps=5, seed=2).view(4, 5, *gen.shape)
    ends = gen.latents(8, seed=2)
    with torch.no_grad():
        for r in range(4):
            same = gen.net(ends[[r, r + 4]], torch.full((2,), r % 3))  # the walk's ends, by the walk's generator
            assert torch.allclose(walks[r, 0], same[0], atol=1e-5) and torch.allclose(walks[r, -1], same[1], atol=1e-5)
    z = gen.latents(10, seed=1)
    x = arithmetic(gen, z, plus=[[5, 1]], variations=2)
    with torch.no_grad():
        assert torch.allclose(x[0], gen.net(z[[5, 1]].mean(0)[None], torch.tensor([5 % 3]))[0], atol=1e-5)


def test_a_mixture_samples_example_i_with_generator_i_mod_k_whatever_the_batch_size(mixture_dir, run_dir):
    gen = ganforge.load(mixture_dir)
    assert torch.allclose(gen.sample(7, seed=0, batch_size=4), gen.sample(7, seed=0), atol=1e-6)
    z = gen.latents(7, seed=0)
    with torch.no_grad():
        assert torch.allclose(gen.sample(7, seed=0), gen.net(z, torch.arange(7) % 3), atol=1e-6)
    with pytest.raises(GanforgeError, match="generators must be 7 indices in 0–2"):
        gen.generate(z, generators=torch.full((7,), 3))
    single = ganforge.load(run_dir)
    with pytest.raises(GanforgeError, match="this run has one generator"):
        single.generate(single.latents(2), generators=torch.zeros(2, dtype=torch.long))


def test_cli_interpolate_arithmetic_and_sample_grid_write_pictures(run_dir, tmp_path, capsys):
    assert main(["interpolate", str(run_dir), "--rows", "2", "--steps", "4", "--out", str(tmp_path / "walk.png")]) == 0
    w, h = Image.open(tmp_path / "walk.png").size
    assert w > h > 0  # 2 rows of 4
    assert main(["arithmetic", str(run_dir), "--plus", "0,1,2", "--minus", "3,4", "--plus", "5",
                 "--out", str(tmp_path / "arith.png")]) == 0
    assert "mean[0, 1, 2] + mean[5] − mean[3, 4]" in capsys.readouterr().out
    assert main(["sample", str(run_dir), "--num", "9", "--grid", str(tmp_path / "g.png"), "--out", str(tmp_path / "s.npz")]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 0 and np.load(tmp_path / "s.npz")["images"].shape[0] == 9
    with pytest.raises(SystemExit):  # argparse: usage and the message on stderr
        main(["arithmetic", str(run_dir), "--plus", "0,x", "--out", str(tmp_path / "bad.png")])
    assert "comma-separated sample indices" in capsys.readouterr().err
    assert main(["arithmetic", str(run_dir), "--plus", "0,99", "--out", str(tmp_path / "bad.png")]) == 2
    assert "out of range" in capsys.readouterr().err


def test_linear_lr_decay_holds_then_falls_to_zero(tiny):
    cfg = tiny(train__steps=10, train__lr_decay="linear", train__lr_decay_start=0.5).train
    factors = [lr_factor(s, cfg) for s in range(10)]
    assert factors[:5] == [1.0] * 5
    assert factors[5:] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    assert lr_factor(3, tiny(train__steps=10).train) == 1.0


def test_lr_decay_over_the_time_budget_follows_the_seconds_spent(tiny):
    cfg = tiny(train__steps=10, train__time_budget=60.0, train__lr_decay="linear", train__lr_decay_start=0.5,
               train__lr_decay_over="time_budget").train
    assert lr_factor(9, cfg, seconds=20.0) == 1.0  # a third of the budget: held, whatever the step
    assert lr_factor(0, cfg, seconds=45.0) == pytest.approx(0.5)
    assert lr_factor(0, cfg, seconds=61.0) == 0.0
    with pytest.raises(GanforgeError, match="train.time_budget"):
        tiny(train__lr_decay="linear", train__lr_decay_over="time_budget")
    with pytest.raises(GanforgeError, match="train.lr_decay=linear"):
        tiny(train__time_budget=60.0, train__lr_decay_over="time_budget")


def test_a_run_with_a_time_decay_ends_its_budget_with_rates_near_zero(tmp_path):
    from ganforge.train import checkpoint
    cfg = config_from_dict(tiny_config(train__steps=10**6, train__time_budget=1.5, train__lr_decay="linear",
                                       train__lr_decay_start=0.0, train__lr_decay_over="time_budget",
                                       checkpoint__every=10**6))
    run = train(cfg, out=tmp_path / "run")
    assert run.stopped_by == "time_budget" and run.step > 20
    state = checkpoint.load_state(checkpoint.latest_checkpoint(run.dir))
    for name, opt in state["optimizers"].items():
        lr = opt["param_groups"][0]["lr"]
        assert 0.0 <= lr < 0.1 * cfg.optim_for(name).lr, name
