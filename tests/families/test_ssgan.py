"""Semi-supervised GAN: the labelled split, the K+1-class discriminator, the labelled batches, and that the few labels
plus unlabelled data teach D more than the labels alone."""
import pytest
import torch
import torch.nn.functional as F

from ganforge.config import config_from_dict
from ganforge.data import labelled_subset, load_dataset
from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError
from ganforge.families import get_family
from ganforge.nets import build_net
from ganforge.nets.conditional import KPlusOneDiscriminator
from ganforge.train import train
from ganforge.train.loop import held_out_metrics

from conftest import ROOT, tiny_config


def ssgan_config(**over):
    over = {"family": "ssgan", "data__labels_per_class": 4, "latent_dim": 16,
            "nets": {"G": {"arch": "mlp_generator", "args": {"hidden": [64], "batch_norm": True}},
                     "D": {"arch": "mlp_discriminator", "args": {"hidden": [64, 32], "slope": 0.0, "input_noise": 0.3,
                                                                 "hidden_noise": 0.5, "weight_norm": True}}}} | over
    return config_from_dict(tiny_config(**over))


def test_labelled_subset_is_balanced_seeded_and_checked():
    digits = load_dataset("digits")
    idx = labelled_subset(digits, 7, seed=0)
    assert torch.bincount(digits.labels[idx]).tolist() == [7] * 10
    assert torch.equal(idx, labelled_subset(digits, 7, seed=0))
    assert not torch.equal(idx, labelled_subset(digits, 7, seed=1))
    with pytest.raises(GanforgeError, match="class 0 has only"):
        labelled_subset(digits, 1000, seed=0)
    with pytest.raises(GanforgeError, match="no labels"):
        labelled_subset(Dataset("unlabelled", torch.zeros(4, 2), None, "vector"), 1, seed=0)


def test_k_plus_one_discriminator_scores_real_as_the_mass_of_the_k_real_classes():
    base = build_net("mlp_discriminator", in_shape=(5,), hidden=[8])
    D = KPlusOneDiscriminator(base, num_classes=3, feature_dim=8)
    x = torch.randn(6, 5)
    source, logits = D.classify(x)
    assert torch.allclose(D(x), source)
    # softmax over the K real logits and a "generated" logit fixed at 0: p(real) = 1 − p(generated) = σ(source)
    with_fake = torch.cat([logits, torch.zeros(6, 1)], dim=1)
    assert torch.allclose(torch.sigmoid(source), 1 - F.softmax(with_fake, dim=1)[:, -1], atol=1e-6)


def test_labels_per_class_is_for_semi_supervised_families_only(tmp_path):
    with pytest.raises(GanforgeError, match="semi-supervised families \\(ssgan\\)"):
        train(config_from_dict(tiny_config(data__labels_per_class=5)), out=tmp_path / "gan")
    with pytest.raises(GanforgeError, match="loss must be 'bce'"):
        train(ssgan_config(objective={"loss": "hinge"}), out=tmp_path / "hinge")
    with pytest.raises(GanforgeError, match="'ssgan' needs a labelled dataset with ≥ 2 classes; data 'digits' has no"):
        get_family("ssgan")(ssgan_config(), (1, 16, 16), num_classes=0)


def test_ssgan_resumes_bit_for_bit_and_reports_its_test_error(tmp_path):
    """The labelled sampler is part of the checkpoint; D's classifier is scored on the test split."""
    straight = train(ssgan_config(train__steps=8), out=tmp_path / "straight")
    assert {"loss/d_class", "loss/d_bce", "loss/g_feature_matching", "D_class_accuracy(labelled)"} <= set(straight.last_metrics)
    train(ssgan_config(train__steps=8, train__time_budget=1e-9), out=tmp_path / "split")
    train(ssgan_config(train__steps=8), resume=tmp_path / "split")
    from conftest import assert_same_state
    assert_same_state(tmp_path / "straight", tmp_path / "split")
    metrics = held_out_metrics(straight.family.cfg, straight.family)
    assert set(metrics) == {"test_error", "test_examples"} and 0 <= metrics["test_error"] <= 1


def test_doctor_does_not_flag_a_winning_discriminator_when_g_trains_by_feature_matching(tmp_path):
    from ganforge.train.doctor import Doctor

    def detectors(cfg, num_classes=0):
        family = get_family(cfg.family)(cfg, (1, 16, 16), num_classes)
        return Doctor(cfg, tmp_path, family, torch.zeros(4, 1, 16, 16), samples=lambda: torch.zeros(0),
                      say=print, log=lambda *a: None).detectors

    assert "discriminator_wins" not in detectors(ssgan_config(), 10)
    assert "discriminator_wins" in detectors(ssgan_config(objective={"feature_matching": False}), 10)
    assert "discriminator_wins" in detectors(config_from_dict(tiny_config()))


@pytest.mark.slow
def test_semi_supervised_experiment_smoke_run(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = ROOT
    proc = subprocess.run([sys.executable, str(root / "experiments" / "semi_supervised.py"), "--steps", "20",
                           "--seeds", "0", "--check-every", "10", "--out", str(tmp_path), "--docs", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["model"]: r for r in json.loads((tmp_path / "semi_supervised.json").read_text())["rows"]}
    assert set(rows) == {"ssgan", "labels_only"} and rows["ssgan"]["steps"] == rows["labels_only"]["steps"] == 20
    assert [c[0] for c in rows["labels_only"]["curve"]] == [10, 20]
    assert all(0 < r["test_error"] < 0.9 for r in rows.values())  # 20 steps on 100 labels: better than chance
    assert "| 0 | 20 |" in (tmp_path / "semi_supervised.md").read_text()
    assert (tmp_path / "ssgan-fashion.png").stat().st_size > 0


@pytest.mark.slow
def test_unlabelled_data_teaches_the_k_plus_one_discriminator_more_than_its_20_labels_alone(tmp_path):
    """Digits with 2 labels per class: the semi-supervised GAN's D against the same network trained by
    cross-entropy on the same 20 labels, same optimiser and steps. Measured on seeds 0/1/2: 15.1/17.8/9.5 % error
    against 23.0/27.8/20.9 % (the labels-only net's best over training, picked on the test set: 22.8/27.4/20.9 %)
    on an AMD EPYC; on an Intel Xeon with AMX (2026-12-05), whose rounding sends each training elsewhere,
    19.0/14.2/10.6 % against 22.9/27.6/20.9 %. One seed's gap varies with the CPU (3.9 points on seed 0 there),
    so the test asks it of the mean over the three seeds (~8 s each)."""
    from conftest import load_experiment

    experiment = load_experiment("semi_supervised")  # from its file: experiments/ stays off sys.path
    labels_only_row, test_error = experiment.labels_only_row, experiment.test_error

    cfg = config_from_dict({
        "family": "ssgan", "latent_dim": 32, "latent": "uniform", "data": {"name": "digits", "labels_per_class": 2},
        "nets": {"G": {"arch": "mlp_generator", "args": {"hidden": [128, 128], "batch_norm": True}},
                 "D": {"arch": "mlp_discriminator", "args": {"hidden": [256, 128, 64], "slope": 0.0, "input_noise": 0.3,
                                                             "hidden_noise": 0.5, "weight_norm": True}}},
        "optim": {"G": {"lr": 3e-3}, "D": {"lr": 3e-3}},
        "train": {"steps": 1000, "batch_size": 64, "seed": 0, "lr_decay": "linear"},
        "log": {"every": 50, "sample_every": 10**9, "progress": False, "tensorboard": False},
        "checkpoint": {"every": 10**9}})
    test = load_dataset("digits", split="test")  # the digits have no split: all 1,797 images, 20 of them labelled
    gans, alones = [], []
    for seed in (0, 1, 2):
        seeded = cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": seed})})
        run = train(seeded, out=tmp_path / f"ssgan{seed}")
        gans.append(test_error(run.family.eval().predict, test))
        alones.append(labels_only_row(seeded, test, check_every=250)["test_error"])
    gan, alone = sum(gans) / 3, sum(alones) / 3
    assert gan < 0.22 and gan < alone - 0.04, (gans, alones)
