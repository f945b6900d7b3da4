"""Evaluation that never lies and never fails a run after the fact (issue 28): a run on data with no evaluator trains
and ends with the command that makes one; a one-class evaluator is refused; outputs are checked before the work."""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import config_from_dict
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.rundir import RunDir
from ganforge.train import train
from conftest import tiny_config

needs_non_root = pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")


def write_folder(root: Path, per_class: int, classes: int = 10) -> Path:
    """The 8×8 digits as a user's folder of PNGs: `per_class` images in each of the first `classes` sub-folders."""
    ds = load_dataset("digits")
    pixels = ((ds.x + 1) * 127.5).round().byte()
    counts: dict[int, int] = {}
    for i in range(len(ds)):
        c = int(ds.labels[i])
        if c >= classes or counts.get(c, 0) >= per_class:
            continue
        counts[c] = counts.get(c, 0) + 1
        d = root / f"digit{c}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[i, 0].numpy()).save(d / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("small") / "images", per_class=20)


def test_run_without_an_evaluator_trains_and_ends_with_the_command_that_makes_one(small_folder, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(data__name="folder", data__path=str(small_folder), data__image_size=16,
                                       data__channels=1, eval__final=True, eval__every=3))
    run = train(cfg, out=tmp_path / "run")
    err = capsys.readouterr().err
    assert run.step == 6 and RunDir(run.dir).sample_grids()
    start = [line for line in err.splitlines() if "no evaluator for dataset 'folder'" in line]
    assert start and "without evaluation" in start[0]
    report = json.loads((run.dir / "eval.json").read_text())["provenance"]
    command = report["make_evaluator"]
    assert command.startswith("ganforge evaluator train") and command in (run.dir / "eval.md").read_text()
    words = shlex.split(command)
    assert words[words.index("--data") + 1] == str(small_folder)
    assert words[words.index("--image-size") + 1] == "16" and words[words.index("--channels") + 1] == "1"
    assert command in err and report["then"] in err
    assert not (run.dir / "checkpoints" / "best").exists()


@pytest.mark.slow
def test_the_suggested_commands_make_an_evaluator_that_scores_the_run(small_folder, tmp_path, capsys):
    cfg = config_from_dict(tiny_config(data__name="folder", data__path=str(small_folder), data__image_size=16,
                                       data__channels=1, eval__final=True))
    run = train(cfg, out=tmp_path / "run")
    prov = json.loads((run.dir / "eval.json").read_text())["provenance"]
    assert main(shlex.split(prov["make_evaluator"])[1:] + ["--epochs", "2"]) == 0
    assert main(shlex.split(prov["then"])[1:] + ["--num", "50", "--metrics", "fid"]) == 0
    assert "fid" in capsys.readouterr().out


def test_a_one_class_folder_trains_the_self_supervised_evaluator_and_says_so(tmp_path, capsys):
    folder = write_folder(tmp_path / "one", per_class=80, classes=1)
    out = tmp_path / "one.safetensors"
    assert main(["evaluator", "train", "--data", str(folder), "--image-size", "16", "--channels", "1",
                 "--epochs", "1", "--no-flip", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "self-supervised" in printed and "1 class in its labels" in printed
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["kind"] == "contrastive" and record["num_classes"] == 0 and "test_accuracy" not in record
    assert "knn_accuracy" not in record and record["fid_floor_train_vs_test"] > 0
    assert record["data"]["labels"].startswith("present, unusable")


def test_a_class_with_too_few_images_is_not_a_classifier(tmp_path):
    from ganforge.evaluator_training import MIN_CLASS_IMAGES, load_evaluator_data, recipe_for
    folder = write_folder(tmp_path / "few", per_class=MIN_CLASS_IMAGES * 3, classes=3)
    for png in sorted((folder / "digit2").glob("*.png"))[MIN_CLASS_IMAGES // 2:]:
        png.unlink()
    data = load_evaluator_data("folder", folder, image_size=16, channels=1)
    kind, why = recipe_for(data)
    assert kind == "contrastive" and "class 2 has fewer than" in why
    assert recipe_for(data, use_labels=False) == ("contrastive", None)


def test_degenerate_features_and_a_zero_floor_are_errors():
    import numpy as np
    from ganforge.evaluator_training.train import check_features
    with pytest.raises(GanforgeError, match="degenerate .0 of 8 dimensions"):
        check_features(np.ones((20, 8), np.float32), "x.safetensors")
    with pytest.raises(GanforgeError, match="degenerate .1 of 8"):
        check_features(np.concatenate([np.random.rand(20, 1), np.zeros((20, 7))], 1), "x.safetensors")
    check_features(np.random.rand(20, 8), "x.safetensors")
