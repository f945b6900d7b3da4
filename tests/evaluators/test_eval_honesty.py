"""Evaluation that never lies and never fails a run after the fact (issue 28): a run on data with no evaluator trains
and ends with the command that makes one; a one-class evaluator is refused; outputs are checked before the work."""
from __future__ import annotations

import json
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



def read_only(folder: Path, monkeypatch) -> None:
    """Make `folder` read-only, for root too (who writes anywhere): creating a file in it is refused."""
    import ganforge.fileio as fileio
    folder.chmod(0o555)
    real = fileio.tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)


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


@pytest.fixture(scope="module")
def folder_evaluator(small_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ev") / "small16.safetensors"
    assert main(["evaluator", "train", "--data", str(small_folder), "--image-size", "16", "--channels", "1",
                 "--epochs", "1", "--no-flip", "--out", str(out)]) == 0
    return out


def test_evaluator_train_refuses_an_existing_out_unless_overwrite(folder_evaluator, small_folder, capsys):
    args = ["evaluator", "train", "--data", str(small_folder), "--image-size", "16", "--channels", "1",
            "--epochs", "1", "--no-flip", "--out", str(folder_evaluator)]
    before = folder_evaluator.read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--overwrite" in err
    assert folder_evaluator.read_bytes() == before
    assert main(args + ["--overwrite", "--seed", "1"]) == 0


def test_a_read_only_out_is_refused_before_training(small_folder, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro, monkeypatch)
    try:
        assert main(["evaluator", "train", "--data", str(small_folder), "--image-size", "16", "--channels", "1",
                     "--epochs", "1", "--out", str(ro / "e.safetensors")]) == 2
        out, err = capsys.readouterr()
        assert "cannot write there" in err and err.count("\n") == 1 and "epoch" not in out
    finally:
        ro.chmod(0o755)


def _samples_file(folder: Path, n: int = 40) -> Path:
    import numpy as np
    x = load_dataset("folder", path=folder, image_size=16, channels=1).x[:n]
    path = folder.parent / "samples" / "s.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, images=((x + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    return path


def test_evaluate_samples_beside_a_read_only_folder_fails_before_any_metric(small_folder, folder_evaluator,
                                                                             tmp_path, capsys, monkeypatch):
    import ganforge.scoring as scoring
    samples = _samples_file(small_folder)
    scored = []
    monkeypatch.setattr(scoring, "evaluate_images", lambda *a, **k: scored.append(1) or {})
    read_only(samples.parent, monkeypatch)
    try:
        assert main(["evaluate", "--samples", str(samples), "--dataset", "folder", "--data", str(small_folder),
                     "--evaluator", str(folder_evaluator), "--metrics", "fid"]) == 2
    finally:
        samples.parent.chmod(0o755)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write there" in err and str(samples.parent) in err and not scored


def test_evaluate_on_a_folder_says_what_the_reference_is_and_where_it_wrote(small_folder, folder_evaluator, capsys):
    samples = _samples_file(small_folder)
    assert main(["evaluate", "--samples", str(samples), "--dataset", "folder", "--data", str(small_folder),
                 "--evaluator", str(folder_evaluator), "--metrics", "fid"]) == 0
    out = capsys.readouterr().out
    md = (samples.parent / "eval.md").read_text()
    for text in (out, md):
        assert "test images" not in text and "test split" in text  # "(it has no test split)"
        assert "the evaluator was trained on this data" in text
    assert f"wrote {samples.parent / 'eval.json'} and {samples.parent / 'eval.md'}" in out
    assert json.loads(out.splitlines()[-1])["provenance"]["reference_split"] == "all"


def test_a_shape_mismatch_names_the_evaluators_data_and_is_refused_at_start(folder_evaluator, tmp_path):
    cfg = config_from_dict(tiny_config(eval__final=True, eval__evaluator=str(folder_evaluator),
                                       data__image_size=8))  # digits at 8 px against a 16-px folder evaluator
    with pytest.raises(GanforgeError, match=r"\(1, 8, 8\) do not fit evaluator small16, which takes images of "
                                            r"shape \(1, 16, 16\) \(it was trained on folder .*images\)"):
        train(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()
    from ganforge.scoring import evaluate_images
    with pytest.raises(GanforgeError, match="trained on folder"):
        evaluate_images(torch.zeros(4, 1, 8, 8), "digits", ("fid",), evaluator=folder_evaluator)


def test_check_writable_names_the_path(tmp_path, monkeypatch):
    from ganforge.fileio import check_writable
    check_writable(tmp_path / "new" / "deeper" / "file.txt", "--out")  # folders yet to be made: their parent counts
    check_writable(tmp_path, "--out")
    (tmp_path / "f").write_text("")
    with pytest.raises(GanforgeError, match=r"^--out .*f/x\.txt: cannot write there \(.*f is not a folder\)$"):
        check_writable(tmp_path / "f" / "x.txt", "--out")
    read_only(tmp_path, monkeypatch)
    try:
        with pytest.raises(GanforgeError, match=r"^--out .*y\.txt: cannot write there \(Permission denied\)$"):
            check_writable(tmp_path / "y.txt", "--out")
    finally:
        tmp_path.chmod(0o755)
    assert not list(tmp_path.glob(".ganforge-write-check.*"))


def test_the_epoch_estimate_counts_the_checks_and_the_floor():
    from ganforge.evaluator_training.train import choose_epochs
    assert choose_epochs(1, 0.1, 10) == 60  # 1 s an epoch in 60 s
    assert choose_epochs(1, 0.1, 10, check_seconds=1.0) == 30  # the held-out check doubles an epoch
    assert choose_epochs(1, 0.1, 10, check_seconds=1.0, fixed_seconds=20) == 20  # the floor comes off first
    assert choose_epochs(0.01, 1.0, 100) == 1


def test_a_time_budget_stops_the_training_and_the_record_says_so(tmp_path):
    from ganforge.evaluator_training import load_evaluator_data, train_evaluator
    data = load_evaluator_data("digits")  # 1,617 training images: 12 steps an epoch
    lines = []
    record = train_evaluator(data, tmp_path / "e.safetensors", minutes=0.001, flip=False, log=lines.append)
    assert "stopped_by_budget" in record and "time budget reached" in "\n".join(lines)
    assert "more than the 0 s budget: the training stops at the budget, and with the report and floor" in lines[0]
    assert "stopped by the time budget" in __import__("ganforge").api.evaluator_summary(record)
    # a step or two leaves the classifier near chance: said, and kept in its record
    assert record["test_accuracy"] <= 0.15 and "near chance (1/10 = 0.100)" in record["warning"]
    assert any(line.startswith("warning: held-out accuracy") for line in lines)


def test_a_floor_refused_after_a_shortened_training_says_to_train_longer(tmp_path, monkeypatch):
    """A 1-minute evaluator of Fashion-MNIST trained 1 of 468 steps on a busy machine; its floor (6.5e-07) was then
    refused with advice to bring more varied data. The cause was the budget, and the message says so."""
    from ganforge.evaluator_training import load_evaluator_data, train as evaluator_train

    real_floor = evaluator_train.floor

    def flat_floor(weights, data, name=None, advice=evaluator_train.MORE_DATA):
        real_floor(weights, data, name=name, advice=advice)  # the real one, for its advice ...
        raise GanforgeError(f"evaluator {name}: its FID floor (training vs held-out images) is 6.5e-07, so it cannot "
                            f"tell images apart; not written — {advice}")  # ... then flat, as it came out there

    monkeypatch.setattr(evaluator_train, "floor", flat_floor)
    data = load_evaluator_data("digits")
    with pytest.raises(GanforgeError, match=r"is 6.5e-07, so it cannot tell images apart; not written — it trained 1 "
                                            r"of \d+ steps: train it longer, with more --minutes or --epochs$"):
        evaluator_train.train_evaluator(data, tmp_path / "e.safetensors", minutes=0.001, flip=False, log=lambda _: None)
    assert not list(tmp_path.iterdir())  # nothing written, not even a partial file
