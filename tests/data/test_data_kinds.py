"""The data decides (ganforge.data.kinds, issue 28): `--data` finds the kind of data it points at, a folder's images
train at their own size and channels, and one line at the start says what was chosen."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_CONFIGS, run_cli
from ganforge.api import settle_data
from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.data.folder import image_shape, list_images, trainable_side
from ganforge.data.kinds import detect_kind
from ganforge.errors import GanforgeError

TINY = ["--steps", "2", "train.batch_size=8", "log.progress=false", "log.tensorboard=false", "eval.final=false",
        "train.threads=1", "nets.G.args.base=8", "nets.D.args.base=8", "doctor.enabled=false"]


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _images(folder: Path, n: int = 12, side: int = 28, colour: bool = False, classes: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (side, side, 3) if colour else (side, side)
        sub = f"class{i % classes}/" if classes else ""
        _save(folder / f"{sub}{i}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    return folder


def _pairs(folder: Path, n: int = 8, side: int = 16) -> Path:
    rng = np.random.default_rng(1)
    for i in range(n):
        _save(folder / "train" / f"{i}.png", rng.integers(0, 256, (side, 2 * side), dtype=np.uint8))
    return folder


def test_detect_kind_reads_each_layout(tmp_path):
    assert detect_kind(_images(tmp_path / "classes")) == "folder"
    assert detect_kind(_images(tmp_path / "flat", classes=0)) == "folder"
    assert detect_kind(_pairs(tmp_path / "pairs")) == "pairs"
    for side in "AB":
        _images(tmp_path / "ab" / side / "train", n=2, classes=0)
        _images(tmp_path / "cycle" / f"train{side}", n=2, classes=0)
    assert detect_kind(tmp_path / "ab") == "pairs"
    assert detect_kind(tmp_path / "cycle") == "unpaired"
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "manifest.json").write_text("{}")
    assert detect_kind(tmp_path / "shards") == "shards"
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert detect_kind(tmp_path / "idx") == "idx"
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 4), np.float32))
    assert detect_kind(tmp_path / "x.npz") == "npz"
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="empty: found no images, idx files"):
        detect_kind(tmp_path / "empty")
    with pytest.raises(GanforgeError, match="no such file or folder"):
        detect_kind(tmp_path / "missing")


def test_train_data_folder_trains_on_the_folder_at_its_own_size_and_says_so(tmp_path, capsys):
    """Before: read as Fashion-MNIST ("train files … not found"); then trained at 64 px RGB."""
    data = _images(tmp_path / "grey28", n=12, side=28, classes=3)
    rc, err, out = run_cli(["train", "--data", data, "--out", tmp_path / "run", *TINY], capsys)
    assert rc == 0, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (info["dataset"], info["shape"], info["num_classes"]) == ("folder", [1, 28, 28], 3)
    line = next(x for x in out.splitlines() if x.startswith("data: "))
    assert "an image folder" in line and "12 images, 28×28 px, grey, 3 classes" in line
    assert "no test split" in line and "evaluation off" in line


def test_named_dataset_is_kept_and_a_contradiction_names_both(tmp_path, capsys):
    data = _images(tmp_path / "imgs")
    rc, err, _ = run_cli(["train", "--data", data, "--out", tmp_path / "run", "data.name=shards", *TINY], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "data.name=shards" in err and "holds an image folder" in err
    cfg = load_config(None, [f"data.path={data}", "data.name=folder"])
    assert settle_data(cfg, {"name"}).data.name == "folder"


def test_idx_files_keep_an_idx_dataset_and_are_ambiguous_otherwise(tmp_path, capsys):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte").write_bytes(b"")
    cfg = load_config("gan-mnist", [f"data.path={tmp_path / 'idx'}"])
    assert settle_data(cfg).data.name == "mnist"
    rc, err, _ = run_cli(["train", "dcgan-digits", "--data", tmp_path / "idx", "--out", tmp_path / "run"], capsys)
    assert rc == 2 and "holds idx files: say which dataset with data.name=fashion-mnist or data.name=mnist" in err


def test_folder_size_follows_the_images_up_to_the_maximum(tmp_path):
    assert [trainable_side(s) for s in (5, 8, 28, 30, 50, 100, 128, 1000)] == [8, 8, 28, 28, 32, 64, 128, 128]
    colour = _images(tmp_path / "rgb", n=2, side=100, colour=True, classes=0)
    assert image_shape(list_images(colour)) == (64, 3)
    assert load_dataset("folder", path=colour).shape == (3, 64, 64)
    assert load_dataset("folder", path=colour, image_size=32, channels=1).shape == (1, 32, 32)  # set: kept
    big = _images(tmp_path / "big", n=1, side=300, classes=0)
    assert load_dataset("folder", path=big).shape == (1, 128, 128)


def test_pix2pix_on_a_paired_folder_needs_no_task_null_and_a_named_task_is_refused(tmp_path, capsys):
    pairs = _pairs(tmp_path / "pairs")
    config = TINY_CONFIGS / "pix2pix.yaml"  # data.task: edges
    rc, err, out = run_cli(["train", config, "--data", pairs, "--out", tmp_path / "run", "--steps", "1",
                          "train.batch_size=4"], capsys)
    assert rc == 0, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["dataset"] == "pairs" and info["shape"] == [1, 16, 16]  # grey pairs stay grey; one name, not two
    assert "pix2pix pairs" in out
    assert f"data: the config's data.task=edges is not used: --data {pairs} holds pix2pix pairs already" in err
    rc, err, _ = run_cli(["train", config, "--data", pairs, "--out", tmp_path / "run2", "data.task=edges"], capsys)
    assert rc == 2 and "data.task=edges derives pairs from single images" in err and "drop data.task=edges" in err


def test_doctor_check_d_takes_data_like_train(tmp_path, capsys):
    """Before: `--data` was an unknown argument of check-d."""
    data = _images(tmp_path / "imgs", n=40, side=16, classes=2)
    rc, err, out = run_cli(["doctor", "check-d", "--data", data, "--seconds", "1", "nets.D.args.base=8"], capsys)
    assert rc in (0, 1), err
    assert "nets.D as a classifier (its 2 classes)" in out


def test_a_paired_file_of_another_width_is_refused_by_name(tmp_path):
    """Before: its halves were cut at its own middle and stretched to the others' size, silently."""
    pairs = _pairs(tmp_path / "pairs", n=3, side=16)
    _save(pairs / "train" / "9.png", np.zeros((16, 48), dtype=np.uint8))
    with pytest.raises(GanforgeError, match=r"9.png: 48×16, but 0.png and the files before it are 32×16"):
        load_dataset("pairs", path=pairs)


def test_conditional_training_on_shards_refuses_a_label_the_manifest_lacks(tmp_path):
    """Before: an IndexError traceback from the class embedding."""
    from ganforge.api import pack_shards
    from ganforge.train import train
    folder = _images(tmp_path / "imgs", n=48, side=16, classes=3)
    pack_shards(folder, tmp_path / "shards", channels=1)
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    manifest["classes"] = manifest["classes"][:2]  # class 2's examples now lie outside the manifest's classes
    (tmp_path / "shards" / "manifest.json").write_text(json.dumps(manifest))
    cfg = load_config(TINY_CONFIGS / "cgan.yaml", ["data.name=shards", f"data.path={tmp_path / 'shards'}",
                                                   "data.image_size=null"])
    with pytest.raises(GanforgeError, match=r"member .*\.png is labelled 2, but manifest.json lists 2 classes"):
        train(cfg, out=tmp_path / "run")


def test_evaluator_data_from_a_folder_has_the_shape_a_run_trains_at(tmp_path):
    """Before: an evaluator made from a folder was 64 px RGB whatever the images, unlike the runs on them."""
    from ganforge.api import load_evaluator_data
    data = _images(tmp_path / "grey28", n=20, side=28, classes=2)
    assert load_evaluator_data("folder", data).shape == load_dataset("folder", path=data).shape == (1, 28, 28)
