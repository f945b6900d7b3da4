"""Proof that the scoring (ganforge/scoring.py) measures what it claims, with the committed Fashion-MNIST evaluator:
FID and KID grow with blur and noise, a missing class lowers recall and coverage, real beats generated, and the
provenance names what produced the numbers. The evaluator file itself: tests/evaluators/test_frozen_evaluator.py."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.scoring import evaluate_images, evaluate_points
from ganforge.metrics.frozen_evaluator import get_evaluator, sha256_of
from ganforge.train import train

from conftest import blur, needs_fashion

pytestmark = needs_fashion
N = 2000


@pytest.fixture(scope="module")
def real():
    train_set = load_dataset("fashion-mnist", split="train")
    idx = torch.randperm(len(train_set.x), generator=torch.Generator().manual_seed(1))[:N]
    return train_set.x[idx], train_set.labels[idx]


def scores(x):
    r = evaluate_images(x, "fashion-mnist", ("fid", "kid"))
    return r["fid"], r["kid"]


@pytest.mark.slow
def test_fid_and_kid_grow_with_blur(real):
    x, _ = real
    fids, kids = zip(*(scores(blur(x, s) if s else x) for s in (0, 0.6, 1.0, 1.6)))
    assert all(a < b for a, b in zip(fids, fids[1:])), fids
    assert all(a < b for a, b in zip(kids, kids[1:])), kids


@pytest.mark.slow
def test_fid_and_kid_grow_with_noise(real):
    x, _ = real
    g = torch.Generator().manual_seed(0)
    noisy = [(x + s * torch.randn(x.shape, generator=g)).clamp(-1, 1) for s in (0.0, 0.1, 0.25, 0.5)]
    fids, kids = zip(*(scores(n) for n in noisy))
    assert all(a < b for a, b in zip(fids, fids[1:])), fids
    assert all(a < b for a, b in zip(kids, kids[1:])), kids


@pytest.mark.slow
def test_dropping_a_class_lowers_recall_coverage_and_class_count(real):
    x, y = real
    full = evaluate_images(x, "fashion-mnist", ("pr", "dc", "modes"))
    without = evaluate_images(x[y != 3], "fashion-mnist", ("pr", "dc", "modes"))
    assert without["recall"] < full["recall"] - 0.03
    assert without["coverage"] < full["coverage"] - 0.03
    assert full["classes_covered"] == 10 and without["classes_covered"] == 9
    assert abs(without["precision"] - full["precision"]) < 0.05  # what is there is still real


@pytest.mark.slow
def test_real_training_images_beat_generators(real, tmp_path):
    x, _ = real
    cfg = load_config(None, ["train.steps=20", "log.progress=false", "log.tensorboard=false", "eval.final=false"])
    gen = ganforge.load(train(cfg, out=tmp_path / "run").dir).sample(N, seed=0)
    noise = torch.rand(N, 1, 28, 28) * 2 - 1
    real_r, gen_r, noise_r = (evaluate_images(s, "fashion-mnist", ("fid", "kid", "pr")) for s in (x, gen, noise))
    assert real_r["fid"] < gen_r["fid"] and real_r["fid"] < noise_r["fid"]
    assert real_r["precision"] > gen_r["precision"] and real_r["recall"] > gen_r["recall"]


@pytest.mark.slow
def test_parzen_real_beats_noise_and_records_sigma(real):
    x, _ = real
    r_real = evaluate_images(x[:500], "fashion-mnist", ("parzen",))
    r_noise = evaluate_images(torch.rand(500, 1, 28, 28) * 2 - 1, "fashion-mnist", ("parzen",))
    assert r_real["parzen"] > r_noise["parzen"]
    assert 0.1 <= r_real["parzen_sigma"] <= 1.0


def test_provenance_names_what_produced_the_numbers(real):
    r = evaluate_images(real[0][:300], "fashion-mnist", ("fid",))
    p = r["provenance"]
    assert p["evaluator"]["sha256"] == get_evaluator("fashion-mnist").sha256
    assert p["reference_split"] == "test" and p["reference_size"] == 10_000 and p["num_samples"] == 300
    assert "fid_floor_train_vs_test" in p["evaluator"]


@pytest.mark.slow
def test_memorisation_flags_copies(real, tmp_path):
    x, _ = real
    copies = evaluate_images(x[:200], "fashion-mnist", ("nn",), out_dir=tmp_path)
    test_x = load_dataset("fashion-mnist", split="test").x[:200]
    fresh = evaluate_images(test_x, "fashion-mnist", ("nn",))
    assert copies["memorised_fraction"] > 0.95 and fresh["memorised_fraction"] < 0.2
    assert Path(copies["nearest_neighbours_png"]).is_file()


def test_bad_samples_are_clear_errors():
    with pytest.raises(GanforgeError, match="do not fit"):
        evaluate_images(torch.zeros(4, 3, 32, 32), "fashion-mnist", ("fid",))
    with pytest.raises(GanforgeError, match="unknown metric"):
        evaluate_images(torch.zeros(4, 1, 28, 28), "fashion-mnist", ("fidd",))
    with pytest.raises(GanforgeError, match="no built-in evaluator for dataset 'digits'"):
        evaluate_images(torch.zeros(4, 1, 8, 8), "digits", ("fid",))


def test_points_mode_report_matches_hand_count():
    means = torch.tensor([[np.cos(a), np.sin(a)] for a in np.arange(8) * np.pi / 4], dtype=torch.float32)
    pts = torch.cat([means[:5].repeat_interleave(100, 0), torch.full((100, 2), 5.0)])  # 5 modes, 100 off-manifold
    r = evaluate_points(pts, "ring8")
    assert r["modes"] == 5 and r["high_quality"] == pytest.approx(500 / 600)


@pytest.mark.slow
def test_cli_evaluate_samples_file_and_run(tmp_path, capsys):
    x = load_dataset("fashion-mnist", split="train").x[:400]
    images = ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "s.npz", images=images)
    assert main(["evaluate", "--samples", str(tmp_path / "s.npz"), "--dataset", "fashion-mnist", "--metrics", "fid,kid,modes"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["fid"] < 10 and last["classes_covered"] == 10
    assert (tmp_path / "eval.md").is_file()

    cfg = load_config(Path(__file__).parent.parent / "configs" / "gan-ring8.yaml",
                      ["train.steps=2", "log.progress=false", "log.tensorboard=false", "eval.every=2", "eval.num=500"])
    run = train(cfg, out=tmp_path / "ring")
    assert any("eval/modes" in json.loads(l) for l in (run.dir / "metrics.jsonl").read_text().splitlines())
    assert main(["evaluate", str(run.dir), "--num", "500"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["num_modes"] == 8 and last["provenance"]["run"]["step"] == 2


@pytest.mark.slow
def test_eval_during_training_keeps_the_best_fid_checkpoint(tmp_path):
    cfg = load_config(None, ["train.steps=4", "log.progress=false", "log.tensorboard=false", "eval.every=2",
                             "eval.num=200", "nets.G.args.base=8", "nets.D.args.base=8", "eval.final_num=300"])
    run = train(cfg, out=tmp_path / "run")
    evals = [json.loads(l) for l in (run.dir / "metrics.jsonl").read_text().splitlines()]
    fids = [e["eval/fid"] for e in evals if "eval/fid" in e]
    assert len(fids) == 2
    best = json.loads((run.dir / "checkpoints" / "best" / "best.json").read_text())
    assert best["fid"] == min(fids)
    assert ganforge.load(run.dir, which="best").step == best["step"]
    # the default config ends with a report (eval.final) of the last weights
    report = json.loads((run.dir / "eval.json").read_text())
    assert report["provenance"]["num_samples"] == 300 and report["provenance"]["run"]["step"] == 4
    assert report["classes_covered"] <= 10 and (run.dir / "eval.md").is_file()


@pytest.mark.slow
def test_inception_path_flows_end_to_end(tmp_path, capsys):
    """The standard FID network, on randomly initialised weights (the real file cannot be downloaded here)."""
    from ganforge.metrics.inception_net import FIDInceptionV3

    torch.manual_seed(0)
    weights = tmp_path / "pt_inception.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)
    x = load_dataset("fashion-mnist", split="train").x[:6]
    r = evaluate_images(x, "fashion-mnist", ("fid", "is"), num_reference=6, inception_weights=weights)
    assert r["fid"] >= 0 and np.isfinite(r["fid"]) and r["is"] >= 1
    assert r["provenance"]["evaluator"]["name"] == "fid-inception-v3"
    assert r["provenance"]["evaluator"]["sha256"] == sha256_of(weights)
    images = ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "s.npz", images=images)
    assert main(["evaluate", "--samples", str(tmp_path / "s.npz"), "--dataset", "fashion-mnist", "--metrics", "fid",
                 "--num-reference", "6", "--inception-weights", str(weights)]) == 0
    assert "fid-inception-v3" in capsys.readouterr().out
    assert main(["evaluate", "--samples", str(tmp_path / "s.npz"), "--dataset", "fashion-mnist",
                 "--inception-weights", str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth" in capsys.readouterr().err
