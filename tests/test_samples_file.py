"""Validating a samples file is a public function of scoring (and the API), not something only the CLI can do."""
import numpy as np
import pytest
import torch

from ganforge import api
from ganforge.errors import GanforgeError
from ganforge.scoring import check_sample_count, min_samples, read_samples_file


def test_images_and_labels_are_read_as_the_evaluator_takes_them(tmp_path):
    images = np.array([0, 255, 128, 0, 0, 0, 0, 0], np.uint8).reshape(8, 1, 1, 1)
    np.savez(tmp_path / "s.npz", images=images, labels=np.arange(8, dtype=np.int32))
    kind, x, labels = read_samples_file(tmp_path / "s.npz", "fashion-mnist")
    assert kind == "images" and x.shape == (8, 1, 1, 1) and x.dtype == torch.float32
    assert x[0].item() == -1 and x[1].item() == 1
    assert labels.dtype == torch.int64 and labels.tolist() == list(range(8))


def test_points_are_checked_against_the_mixture(tmp_path):
    np.savez(tmp_path / "p.npz", points=np.zeros((5, 2), np.float32))
    kind, x, labels = read_samples_file(tmp_path / "p.npz", "ring8")
    assert kind == "points" and x.shape == (5, 2) and labels is None
    np.savez(tmp_path / "p3.npz", points=np.zeros((5, 3), np.float32))
    with pytest.raises(GanforgeError, match=r"p3.npz: points of dimension 3; ring8 is 2-D"):
        read_samples_file(tmp_path / "p3.npz", "ring8")


@pytest.mark.parametrize("arrays, fragment", [
    ({"images": np.zeros((8, 4, 4, 1), np.float32)}, "'images' must be uint8"),
    ({"images": np.zeros((3, 4, 4, 1), np.uint8)}, "3 samples are too few for metrics fid,kid,is,pr,dc,modes"),
    ({"images": np.zeros((8, 4, 4, 1), np.uint8), "labels": np.zeros(7, np.int64)}, "7 labels for 8 samples"),
    ({"pixels": np.zeros((8, 4, 4, 1), np.uint8)}, "needs an array 'images' or 'points'; it has pixels"),
])
def test_a_bad_file_is_one_error_naming_it(tmp_path, arrays, fragment):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(GanforgeError, match=r"^\S*bad\.npz: ") as e:
        read_samples_file(tmp_path / "bad.npz", "fashion-mnist")
    assert fragment in str(e.value)
    with pytest.raises(GanforgeError, match=r"^--samples \S*bad\.npz: "):  # how the CLI names it
        read_samples_file(tmp_path / "bad.npz", "fashion-mnist", what=f"--samples {tmp_path / 'bad.npz'}")


def test_not_an_archive(tmp_path):
    (tmp_path / "t.npz").write_text("not an archive")
    with pytest.raises(GanforgeError, match="not an .npz archive"):
        api.read_samples_file(tmp_path / "t.npz", "fashion-mnist")
    with pytest.raises(GanforgeError, match="file not found"):
        api.evaluate_samples(tmp_path / "missing.npz", "fashion-mnist")


def test_sample_counts_the_metrics_need():
    assert min_samples("fid,kid") == 2 and min_samples(("fid", "pr")) == 4 and min_samples("fid, dc") == 6
    check_sample_count(4, "pr", "--num")
    with pytest.raises(GanforgeError, match=r"^--num: 5 samples are too few for metrics fid,dc \(they need at least 6\)"):
        check_sample_count(5, "fid,dc", "--num")


def test_infer_dataset_from_a_path(tmp_path):
    """The kind of a path by the rule training uses (detect_kind): pairs and CycleGAN domains are named as such, not
    "folder"; a missing path or an empty folder is an error before any work, not a dataset."""
    from PIL import Image

    np.savez(tmp_path / "x.npz", x=np.zeros((2, 1, 4, 4), np.uint8))
    assert api.infer_dataset(tmp_path / "x.npz") == "npz"
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="found no images"):
        api.infer_dataset(tmp_path / "empty")
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    Image.new("L", (8, 8)).save(tmp_path / "imgs" / "cat" / "a.png")
    assert api.infer_dataset(tmp_path / "imgs") == "folder"
    for side in ("A", "B"):
        (tmp_path / "pairs" / side / "train").mkdir(parents=True)
        Image.new("L", (8, 8)).save(tmp_path / "pairs" / side / "train" / "a.png")
    assert api.infer_dataset(tmp_path / "pairs") == "pairs"
    for side in ("trainA", "trainB"):
        (tmp_path / "cyc" / side).mkdir(parents=True)
        Image.new("L", (8, 8)).save(tmp_path / "cyc" / side / "a.png")
    assert api.infer_dataset(tmp_path / "cyc") == "unpaired"
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(GanforgeError, match="holds idx files: say which dataset with --dataset fashion-mnist"):
        api.infer_dataset(tmp_path / "idx")
    (tmp_path / "imgs" / "manifest.json").write_text("{}")
    assert api.infer_dataset(tmp_path / "imgs") == "shards"
    with pytest.raises(GanforgeError, match="no such file or folder"):
        api.infer_dataset(tmp_path / "nope")


def test_reconstruction_rows_alternate_originals_and_reconstructions():
    x = torch.arange(5.0).view(5, 1, 1, 1)
    r = api.Reconstruction(x, -x, step=7)
    assert r.pairs(2).flatten().tolist() == [0, 1, -0, -1, 2, 3, -2, -3]  # the partial last row is dropped
    assert r.error == pytest.approx((2 * x).flatten().abs().mean().item())
