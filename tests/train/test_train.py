"""End to end: configs run, the CLI behaves, and a GAN really learns a 2-D mixture."""
import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import MIXTURES
from ganforge.metrics import mode_report
from ganforge.train import train
from ganforge.train.loop import build_data

from conftest import ROOT

# the edges tasks derive the edge maps of all 60,000 training images first: ~20 s each on a loaded 2-core machine
SLOW_CONFIGS = {"cyclegan-edges-fashion", "pix2pix-edges-fashion",
                # the text configs caption all 60,000 images and embed them with the real encoder (cached after)
                "gan-int-cls-fashion", "gan-cls-fashion", "gan-int-fashion", "text-cgan-fashion"}
CONFIGS = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW_CONFIGS else [])
           for p in sorted((ROOT / "configs").glob("*.yaml"))]
SHRINK = ["train.steps=2", "train.batch_size=8", "log.every=1", "log.sample_every=2", "log.progress=false",
          "log.tensorboard=false", "checkpoint.every=2", "eval.final=false"]


def fake_idx(root: Path, n: int = 32):
    """MNIST-format files with random pixels, so the MNIST config runs without the real download."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ("train", "t10k"):
        with gzip.open(root / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 28, 28) + rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes())
        with gzip.open(root / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("path", CONFIGS)
def test_every_config_runs_a_step(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "data"))
    fake_idx(tmp_path / "data" / "mnist")
    cfg = load_config(path, SHRINK)
    if cfg.data.name == "fashion-mnist" and not Path("/usr/share/datasets/fashion-mnist").is_dir():
        fake_idx(tmp_path / "data" / "fashion-mnist")
    run = train(cfg, out=tmp_path / "run")
    assert run.step == 2
    metrics = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(np.isfinite(v) for m in metrics for v in m.values())
    g = ganforge.load(run.dir)
    condition = None
    if g.conditions:  # a translator: real inputs of the run's own task
        data = build_data(cfg)
        condition = {f: data.examples(torch.arange(3), f) for f in g.conditions}
    x = g.sample(3, seed=0, condition=condition)
    assert x.shape == (3, *g.shape) and torch.isfinite(x).all()
    assert torch.equal(x, g.sample(3, seed=0, condition=condition))  # sampling with a seed is reproducible
    assert (run.dir / "samples" / "step_00000002.png").is_file()


def test_training_changes_parameters_and_seed_is_deterministic(tmp_path, tiny):
    cfg = tiny(train__steps=3)
    a, b = train(cfg, out=tmp_path / "a"), train(cfg, out=tmp_path / "b")
    torch.manual_seed(cfg.train.seed)
    fresh = type(a.family)(cfg, a.family.data_shape)
    for name in ("G", "D"):
        pa, pb, p0 = (dict(m.nets[name].named_parameters()) for m in (a.family, b.family, fresh))
        assert any(not torch.equal(pa[k], p0[k]) for k in pa), f"{name} did not change"
        assert all(torch.equal(pa[k], pb[k]) for k in pa), f"{name} differs between runs with one seed"


def test_time_budget_stops_cleanly_with_a_checkpoint(tmp_path, tiny):
    run = train(tiny(train__steps=10**6, train__time_budget=1.0), out=tmp_path / "run")
    assert run.stopped_by == "time_budget" and 0 < run.step < 10**6
    assert ganforge.load(run.dir).step == run.step


def test_bf16_autocast_trains(tmp_path, tiny):
    run = train(tiny(train__steps=3, train__bf16=True), out=tmp_path / "run")
    assert all(np.isfinite(v) for v in run.last_metrics.values())


def ring_modes(points: torch.Tensor) -> tuple[int, float]:
    """PacGAN protocol: high quality within 3σ of the nearest mode; a mode counts with ≥ 20 of 2,500 samples."""
    means, sigma = MIXTURES["ring8"]
    report = mode_report(points, means, sigma)
    return report["modes"], report["high_quality"]


@pytest.mark.slow
def test_gan_covers_the_modes_of_ring8(tmp_path):
    cfg = load_config(ROOT / "configs" / "gan-ring8.yaml", ["log.progress=false"])
    run = train(cfg, out=tmp_path / "ring")
    modes, hq = ring_modes(ganforge.load(run.dir).sample(2500, seed=0))
    assert modes >= 7, f"covered {modes}/8 modes"
    assert hq > 0.5, f"only {hq:.0%} of samples within 3σ of a mode"


def test_untrained_generator_fails_the_mode_check(tmp_path):
    """The mode check above can fail: a generator that has not learnt covers no mode with quality."""
    cfg = load_config(ROOT / "configs" / "gan-ring8.yaml", SHRINK[:1] + SHRINK[4:])
    run = train(cfg, out=tmp_path / "ring")
    modes, hq = ring_modes(ganforge.load(run.dir).sample(2500, seed=0))
    assert modes < 7 and hq < 0.5


# ---- the command line ----------------------------------------------------------------------------------------
def test_cli_train_sample_info(tmp_path, capsys):
    cfg = ROOT / "configs" / "dcgan-digits.yaml"
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--steps", "4", "--out", str(out)] + SHRINK[1:]) == 0
    assert "run directory" in capsys.readouterr().out
    assert main(["train", "--resume", str(out), "--steps", "6"]) == 0
    assert main(["sample", str(out), "--num", "5", "--out", str(tmp_path / "s.npz")]) == 0
    arr = np.load(tmp_path / "s.npz")["images"]
    assert arr.shape == (5, 16, 16, 1) and arr.dtype == np.uint8
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["step"] == 6 and info["dataset"] == "digits" and info["networks"]["G"] == "dcgan_generator"


def test_cli_sample_points_for_vector_data(tmp_path):
    cfg = ROOT / "configs" / "gan-ring8.yaml"
    assert main(["train", str(cfg), "--out", str(tmp_path / "r")] + SHRINK) == 0
    assert main(["sample", str(tmp_path / "r"), "--num", "7", "--out", str(tmp_path / "p.npz")]) == 0
    pts = np.load(tmp_path / "p.npz")["points"]
    assert pts.shape == (7, 2) and pts.dtype == np.float32


@pytest.mark.parametrize("args,message", [
    (["train", "train.stepz=3"], "unknown key 'train.stepz'; did you mean 'steps'"),
    (["train", "optim.D.lrr=3"], "did you mean 'lr'"),
    (["train", "train.steps=many"], "train.steps"),
    (["train", "missing.yaml"], "config file not found: missing.yaml"),
    (["train", "family=wgann"], "unknown family 'wgann'"),
    (["info", "/nonexistent/run"], "no such run directory"),
])
def test_cli_user_errors_are_one_clear_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_error_from_a_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("family: gan\nnets: {G: {arch: dcgan_generatr}, D: {arch: dcgan_discriminator}}\ndata: {name: digits}\n")
    proc = subprocess.run([sys.executable, "-m", "ganforge.cli", "train", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown network architecture 'dcgan_generatr'; did you mean dcgan_generator" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_api_train_stays_a_function_after_submodule_imports():
    import importlib

    import ganforge.scoring  # noqa: F401  (a module loaded after the package, as a user script would)
    importlib.import_module("ganforge.train.doctor")
    assert callable(ganforge.train) and ganforge.train is ganforge.api.train
