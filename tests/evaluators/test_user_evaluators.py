"""Evaluators for the user's own data (`ganforge evaluator train`): what they write, that the record rebuilds the
same weights, that scores made with them behave, and that misuse is a clear error. The self-supervised recipe is
tested the way the built-in evaluator is (tests/test_scoring.py): FID rises with blur and noise, a missing mode
lowers recall and coverage, real beats generated."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.api import evaluate_run
from ganforge.cli import main
from ganforge.config import config_from_dict
from ganforge.data import load_dataset
from ganforge.data.shards import pack_array
from ganforge.errors import GanforgeError
from ganforge.scoring import evaluate_images
from ganforge.evaluator_training import load_evaluator_data, train_evaluator
from ganforge.evaluator_training.contrastive import nt_xent, views
from ganforge.metrics.frozen_evaluator import load_evaluator, sha256_of
from ganforge.train import train
from conftest import blur, needs_fashion, tiny_config


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    """The 8×8 digits as a user's folder of PNGs, one sub-folder per class."""
    root = tmp_path_factory.mktemp("digits") / "images"
    ds = load_dataset("digits")
    pixels = ((ds.x + 1) * 127.5).round().byte()
    for i in range(len(ds)):
        d = root / f"digit{int(ds.labels[i])}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i, 0].numpy()).save(d / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def digits_evaluator(digits_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ev") / "digits16.safetensors"
    torch.set_num_threads(1)  # as every test runs (conftest): a rebuild is bit-exact on the same threads
    assert main(["evaluator", "train", "--data", str(digits_folder), "--image-size", "16", "--channels", "1",
                 "--epochs", "8", "--no-flip", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_labelled_folder_evaluator_and_its_record(digits_evaluator, digits_folder):
    record = json.loads(digits_evaluator.with_suffix(".json").read_text())
    assert record["kind"] == "classifier" and record["num_classes"] == 10 and record["in_shape"] == [1, 16, 16]
    assert record["sha256"] == sha256_of(digits_evaluator)
    assert record["test_accuracy"] > 0.85  # 180 held-out digits; it reaches ~0.99 in 60 epochs
    d = record["data"]
    assert (d["dataset"], d["path"], d["labels"]) == ("folder", str(digits_folder), "used")
    assert d["train_images"] + d["held_out_images"] == 1797 and d["held_out"].startswith("a 10%")
    assert len(d["sha256"]) == 64 and record["fid_floor_train_vs_test"] > 0
    assert "--epochs 8" in record["command"] and "--no-flip" in record["command"]


@pytest.mark.slow
def test_record_command_rebuilds_the_same_weights(digits_evaluator, tmp_path):
    record = json.loads(digits_evaluator.with_suffix(".json").read_text())
    again = tmp_path / "again.safetensors"
    argv = shlex.split(record["command"])[1:]  # drop the program name
    argv[argv.index("--out") + 1] = str(again)
    assert main(argv) == 0
    assert sha256_of(again) == record["sha256"]


@pytest.mark.slow
def test_user_folder_scores_real_above_noise_and_names_the_evaluator(digits_evaluator, digits_folder, tmp_path,
                                                                     capsys):
    folder = load_dataset("folder", path=digits_folder, image_size=16, channels=1).x  # sorted by class: shuffle
    real = folder[torch.randperm(len(folder), generator=torch.Generator().manual_seed(0))[:300]]
    noise = torch.rand(300, 1, 16, 16) * 2 - 1
    scores = [evaluate_images(x, "folder", ("fid", "kid", "is", "modes"), evaluator=digits_evaluator,
                              data_path=digits_folder) for x in (real, noise)]
    assert scores[0]["fid"] < scores[1]["fid"] and scores[0]["classes_covered"] == 10
    assert scores[0]["provenance"]["evaluator"]["sha256"] == sha256_of(digits_evaluator)
    assert scores[0]["provenance"]["data_path"] == str(digits_folder)
    # the CLI, from a samples file: the report names the evaluator file's weights
    samples = tmp_path / "s.npz"
    np.savez(samples, images=((real.permute(0, 2, 3, 1) + 1) * 127.5).round().byte().numpy())
    assert main(["evaluate", "--samples", str(samples), "--dataset", "folder", "--data", str(digits_folder),
                 "--evaluator", str(digits_evaluator), "--metrics", "fid,kid"]) == 0
    assert "digits16" in capsys.readouterr().out and "digits16" in (tmp_path / "eval.md").read_text()


@pytest.mark.slow
def test_a_run_evaluates_with_its_configured_evaluator(digits_evaluator, tmp_path):
    cfg = config_from_dict(tiny_config(train__steps=8, eval__every=4, eval__num=64, eval__final=True,
                                       eval__final_num=64, eval__final_metrics=["fid", "is"],
                                       eval__evaluator=str(digits_evaluator)))
    run = train(cfg, out=tmp_path / "run")
    assert run.evaluation["provenance"]["evaluator"]["name"] == "digits16"
    assert np.isfinite(run.evaluation["fid"])
    # and later, `ganforge evaluate RUN` uses the same file without being told
    result = evaluate_run(run.dir, ("fid",), num=64)
    assert result["provenance"]["evaluator"]["sha256"] == sha256_of(digits_evaluator)


@pytest.mark.slow
def test_a_resumed_run_with_another_evaluator_chooses_its_best_afresh(digits_evaluator, tmp_path, capsys):
    """The best checkpoint is kept by FID; FIDs of two feature networks must never be compared with each other."""
    other = tmp_path / "other.safetensors"
    train_evaluator(load_evaluator_data("digits", image_size=16), other, epochs=1, seed=1, flip=False, log=quiet)
    over = dict(eval__every=2, eval__num=64, eval__metrics=["fid"], checkpoint__every=2)
    run = train(config_from_dict(tiny_config(train__steps=4, eval__evaluator=str(digits_evaluator), **over)),
                out=tmp_path / "run")
    best = lambda: json.loads((run.dir / "checkpoints" / "best" / "best.json").read_text())  # noqa: E731
    assert best()["evaluator_sha256"] == sha256_of(digits_evaluator)
    capsys.readouterr()
    train(config_from_dict(tiny_config(train__steps=6, eval__evaluator=str(other), **over)), resume=run.dir)
    assert "not comparable" in capsys.readouterr().err
    assert best()["evaluator_sha256"] == sha256_of(other) and best()["step"] in (4, 6)


@pytest.mark.slow
def test_npz_and_shards_with_labels_train_classifiers(tmp_path):
    ds = load_dataset("digits")
    pixels = ((ds.x + 1) * 127.5).round().byte()
    np.savez(tmp_path / "digits.npz", images=pixels.numpy(), labels=ds.labels.numpy())
    pack_array(pixels, tmp_path / "shards", labels=ds.labels.numpy())
    for dataset, path in (("npz", tmp_path / "digits.npz"), ("shards", tmp_path / "shards")):
        data = load_evaluator_data(dataset, path)
        assert data.train.labels is not None and len(data.train) + len(data.held_out) == len(ds)
        record = train_evaluator(data, tmp_path / f"{dataset}.safetensors", epochs=1, flip=False, log=quiet)
        assert record["kind"] == "classifier" and record["data"]["dataset"] == dataset
        assert record["data"]["held_out"].startswith("a 10%")  # no test/ folder beside the shards


@pytest.mark.slow
def test_misuse_is_a_clear_error(digits_evaluator, tmp_path):
    x = torch.zeros(8, 1, 16, 16)
    tampered = tmp_path / "t.safetensors"
    tampered.write_bytes(digits_evaluator.read_bytes() + b" ")
    tampered.with_suffix(".json").write_text(digits_evaluator.with_suffix(".json").read_text())
    with pytest.raises(GanforgeError, match="does not match its record"):
        load_evaluator(tampered)
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(digits_evaluator.read_bytes())
    with pytest.raises(GanforgeError, match="record .*lone.json is missing"):
        load_evaluator(lone)
    with pytest.raises(GanforgeError, match="no such file"):
        evaluate_images(x, "digits", ("fid",), evaluator=tmp_path / "nope.safetensors")
    with pytest.raises(GanforgeError, match="not both"):
        evaluate_images(x, "digits", ("fid",), evaluator=digits_evaluator, inception_weights=tmp_path / "w.pth")
    with pytest.raises(GanforgeError, match=r"do not fit evaluator digits16.*\(1, 16, 16\)"):
        evaluate_images(torch.zeros(8, 1, 8, 8), "digits", ("fid",), evaluator=digits_evaluator)
    data = load_evaluator_data("digits")
    with pytest.raises(GanforgeError, match=r"\.safetensors"):
        train_evaluator(data, tmp_path / "x.pt", epochs=1, log=quiet)
    with pytest.raises(GanforgeError, match="held-out"):
        load_evaluator_data("digits", held_out=0.9)
    with pytest.raises(GanforgeError, match="vectors|images"):
        load_evaluator_data("ring8")


@pytest.mark.slow
def test_features_only_evaluator_refuses_class_metrics_before_training(digits_folder, tmp_path):
    out = tmp_path / "ssl.safetensors"
    data = load_evaluator_data("folder", digits_folder, image_size=16, channels=1)
    record = train_evaluator(data, out, epochs=2, use_labels=False, flip=False, log=quiet)
    assert record["kind"] == "contrastive" and record["data"]["labels"] == "present, unused"
    assert load_evaluator(out).run(torch.zeros(4, 1, 16, 16))[1] is None  # features, no probabilities
    with pytest.raises(GanforgeError, match="self-supervised"):
        evaluate_images(torch.zeros(8, 1, 16, 16), "folder", ("fid", "is"), evaluator=out, data_path=digits_folder)
    cfg = config_from_dict(tiny_config(eval__final=True, eval__evaluator=str(out)))  # final metrics include is
    with pytest.raises(GanforgeError, match="self-supervised.*eval.final=false"):
        train(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_views_and_loss():
    """The views change the images but keep them in range; the loss is lowest when the partners agree."""
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    v = views(x, torch.Generator().manual_seed(0))
    assert v.shape == x.shape and v.min() >= -1 and v.max() <= 1 and not torch.allclose(v, x)
    z = torch.randn(16, 8)
    assert nt_xent(z, z) < nt_xent(z, torch.randn(16, 8))


@pytest.fixture(scope="module")
def fashion_ssl(tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """A self-supervised evaluator trained on 2,500 Fashion-MNIST images with their labels hidden (~1 CPU-minute),
    and 2,000 other real training images."""
    out = tmp_path_factory.mktemp("ssl") / "fashion-ssl.safetensors"
    data = load_evaluator_data("fashion-mnist")
    data.train, data.held_out = data.train.subset(torch.arange(2500)), data.held_out.subset(torch.arange(2000))
    torch.set_num_threads(2)
    train_evaluator(data, out, epochs=6, use_labels=False, log=quiet)
    full = load_dataset("fashion-mnist", split="train")
    return out, full.x[10_000:12_000], full.labels[10_000:12_000]


def _scores(x, ev, metrics=("fid", "kid")):
    """Against the 10,000 test images, whose features are computed once and cached."""
    return evaluate_images(x, "fashion-mnist", metrics, evaluator=ev)


@pytest.mark.slow
@needs_fashion
def test_ssl_evaluator_fid_grows_with_blur_and_noise(fashion_ssl):
    ev, x, _ = fashion_ssl
    x = x[:1000]
    record = json.loads(ev.with_suffix(".json").read_text())
    assert record["knn_accuracy"] > 0.7  # class structure learnt without labels (a linear-free k-NN probe)
    blurred = [_scores(blur(x, s) if s else x, ev) for s in (0, 0.6, 1.0, 1.6)]
    noisy = [_scores((x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1), ev,
                     ("fid",)) for s in (0, 0.1, 0.2, 0.4)]  # KID (the slow one at one thread) on the blur series
    for series, metrics in ((blurred, ("fid", "kid")), (noisy, ("fid",))):
        for m in metrics:
            values = [r[m] for r in series]
            assert all(a < b for a, b in zip(values, values[1:])), (m, values)


@pytest.mark.slow
@needs_fashion
def test_ssl_evaluator_sees_a_missing_mode_and_ranks_real_above_generated(fashion_ssl, tmp_path):
    ev, x, y = fashion_ssl
    keep = y != 1  # trousers dropped, the rest repeated to the same size
    partial = x[keep][torch.arange(len(x)) % int(keep.sum())]
    full_r, partial_r = _scores(x, ev, ("fid", "pr", "dc")), _scores(partial, ev, ("fid", "pr", "dc"))
    assert partial_r["recall"] < full_r["recall"] and partial_r["coverage"] < full_r["coverage"]
    assert partial_r["fid"] > full_r["fid"]
    cfg = config_from_dict(tiny_config(data__name="fashion-mnist", data__image_size=None, train__steps=20))
    gen = ganforge.load(train(cfg, out=tmp_path / "run").dir).sample(len(x), seed=0)
    noise = torch.rand(len(x), 1, 28, 28) * 2 - 1
    fids = [_scores(s, ev)["fid"] for s in (x, gen, noise)]
    assert fids[0] < fids[1] and fids[0] < fids[2], fids
