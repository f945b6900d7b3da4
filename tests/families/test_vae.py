"""The VAE: its ELBO is the right quantity (closed forms), it learns, and it samples like any generator."""
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import ganforge
from ganforge.api import load_family
from ganforge.config import config_from_dict
from ganforge.data import load_dataset
from ganforge.families.vae import BIN, gaussian_log_likelihood
from ganforge.train import train

from conftest import ROOT, tiny_config


def vae_config(**over):
    return config_from_dict(tiny_config(
        family="vae", nets={"E": {"arch": "dcgan_discriminator", "args": {"base": 8}},
                            "G": {"arch": "dcgan_generator", "args": {"base": 8}}},
        optim={"E": {"lr": 2e-3, "betas": [0.9, 0.999]}, "G": {"lr": 2e-3, "betas": [0.9, 0.999]}}, **over))


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, mean = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)
    log_scale = torch.tensor(-0.7)
    want = Normal(mean, log_scale.exp()).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_likelihood(x, mean, log_scale), want, atol=1e-4)


def test_bits_per_dim_of_the_uniform_density_is_eight(tmp_path):
    """A density uniform over the 256 dequantised bins of [-1, 1 + 2/255) costs exactly 8 bits per pixel."""
    run = train(vae_config(train__steps=1), out=tmp_path / "run")
    d = math.prod(run.family.data_shape)
    uniform_elbo = torch.tensor(-d * math.log(256 * BIN))
    assert run.family.bits_per_dim(uniform_elbo).item() == pytest.approx(8.0)


def test_kl_term_is_the_closed_form(tmp_path):
    run = train(vae_config(train__steps=1), out=tmp_path / "run")
    family = run.family.eval()
    x = load_dataset("digits", split="test", image_size=16).x[:8]
    torch.manual_seed(0)
    elbo, rec, kl = family.elbo(x)
    torch.manual_seed(0)
    mu, log_var = family.nets.E(family._dequantize(x))
    want = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl, want, atol=1e-4) and torch.allclose(elbo, rec - kl)


@pytest.mark.slow
def test_vae_learns_a_higher_test_elbo_and_ranks_real_above_noise(tmp_path):
    test = load_dataset("digits", split="test", image_size=16).x[:200]
    start = train(vae_config(train__steps=1), out=tmp_path / "start")
    trained = train(vae_config(train__steps=300, train__batch_size=64), out=tmp_path / "trained")
    family, step = load_family(trained.dir)
    assert step == 300
    first, _ = load_family(start.dir)
    torch.manual_seed(0)
    with torch.no_grad():
        before = first.elbo(test)[0].mean().item()
        after = family.elbo(test)[0].mean().item()
        noise = family.elbo(torch.rand_like(test) * 2 - 1)[0].mean().item()
    assert after > before + 100, (before, after)  # nats per 16×16 image
    assert after > noise + 100, (after, noise)
    assert family.bits_per_dim(torch.tensor(after)) < 8.0  # better than the uniform density
    # the final report's test ELBO is the same quantity, averaged over the whole test split
    from ganforge.train.loop import held_out_metrics
    report = held_out_metrics(family.cfg, family.eval())
    assert abs(report["test_elbo_nats"] - after) < 30 and report["test_bits_per_dim"] < 8.0, (report, after)
    x = ganforge.load(trained.dir).sample(16, seed=0)  # sampling goes through the decoder like any G
    assert x.shape == (16, 1, 16, 16) and x.abs().max() <= 1.0


@pytest.mark.slow
def test_likelihood_vs_samples_experiment_smoke_run(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = ROOT
    proc = subprocess.run([sys.executable, str(root / "experiments" / "likelihood_vs_samples.py"), "--seconds", "2",
                           "--num", "200", "--out", str(tmp_path), "--docs", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["model"]: r for r in json.loads((tmp_path / "likelihood_vs_samples.json").read_text())["rows"]}
    assert set(rows) == {"vae", "gan"}
    assert "test_elbo_nats_01" in rows["vae"] and "test_elbo_nats_01" not in rows["gan"]
    # the [0, 1] ELBO is the [-1, 1] one plus 784 log 2
    assert rows["vae"]["test_elbo_nats_01"] - rows["vae"]["test_elbo_nats"] == pytest.approx(784 * math.log(2))
    for r in rows.values():
        assert math.isfinite(r["parzen"]) and math.isfinite(r["fid"])
    assert (tmp_path / "vae-fashion-2s.png").stat().st_size > 0
