"""Image-to-image tasks derived from a dataset (ganforge.data.paired): what each task's input is, that pairs stay
aligned with their labels, and that a low-resolution input is resized with its target."""
import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data.paired import SOURCE, TASKS, derive
from ganforge.errors import GanforgeError


def test_edges_mark_the_outline_of_a_shape_and_nothing_in_flat_regions():
    y = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    y[..., 4:12, 4:12] = 255  # a white square on black
    e = derive("edges", y)[0, 0]
    assert e.dtype == torch.uint8 and set(e.unique().tolist()) <= {0, 255}
    assert e[8, 8] == 0 and e[0, 0] == 0  # flat inside and outside
    assert e[8, 3:5].any() and e[8, 11:13].any() and e[3:5, 8].any()  # every side of the square
    assert not derive("edges", torch.full((1, 1, 16, 16), 200, dtype=torch.uint8)).any()
    assert torch.equal(derive("edges", y.float() / 127.5 - 1), e.float().view(1, 1, 16, 16) / 127.5 - 1)  # float data alike


def test_downscale_averages_blocks():
    y = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    assert derive("downscale2", y).tolist() == [[[[2, 4], [10, 12]]]]  # (0+1+4+5)/4 = 2.5 → 2 (round half to even)
    with pytest.raises(GanforgeError, match="not a multiple of 4"):
        derive("downscale4", torch.zeros(1, 1, 6, 6, dtype=torch.uint8))


def test_random_inpainting_blacks_out_one_rectangle_per_image_drawn_from_its_index():
    y = torch.full((400, 1, 28, 28), 200, dtype=torch.uint8)
    masked = derive("inpaint_random", y)
    sides = []
    for img in masked[:, 0]:
        rows, cols = (img == 0).any(1).nonzero().squeeze(1), (img == 0).any(0).nonzero().squeeze(1)
        h, w = len(rows), len(cols)
        assert 7 <= h <= 14 and 7 <= w <= 14, (h, w)  # ¼ to ½ of the 28-pixel side
        assert (img == 0).sum() == h * w  # one solid rectangle; everything else untouched
        assert rows.max() - rows.min() + 1 == h and cols.max() - cols.min() + 1 == w
        sides.append((h, w, rows.min().item(), cols.min().item()))
    assert len(set(sides)) > 200  # masks differ from image to image
    # a mask belongs to the image's index: the same whatever the chunking, a different one at another index
    assert torch.equal(masked[100:200], derive("inpaint_random", y[100:200], first=100))
    assert not torch.equal(masked[:100], derive("inpaint_random", y[:100], first=100))


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_keeps_targets_labels_and_split_aligned(task):
    plain = load_dataset("digits")
    pairs = load_dataset("digits", task=task)
    assert pairs.name == "digits" and torch.equal(pairs.stored, plain.stored)
    assert torch.equal(pairs.labels, plain.labels)
    source = pairs.extra[SOURCE]
    assert len(source) == len(plain) and source.dtype == plain.stored.dtype
    assert torch.equal(source[:5], derive(task, plain.stored[:5]))  # example i's input is made from example i
    batch = pairs.batch(torch.tensor([3, 1]))
    assert set(batch) == {"x", "label", SOURCE} and batch[SOURCE].min() >= -1 and batch[SOURCE].max() <= 1


def test_a_low_resolution_input_is_resized_by_the_targets_factor():
    pairs = load_dataset("digits", task="downscale2", image_size=16)  # 8 px digits → 16 px; inputs 4 px → 8 px
    assert pairs.spec["x"].shape == (1, 16, 16) and pairs.spec[SOURCE].shape == (1, 8, 8)
    assert pairs.examples(torch.tensor([0]), SOURCE).shape == (1, 1, 8, 8)
    assert load_dataset("digits", task="downscale2").spec[SOURCE].shape == (1, 4, 4)


def test_tasks_refuse_data_they_cannot_pair():
    with pytest.raises(GanforgeError, match="derives image pairs; dataset 'ring8' is 2-D points"):
        load_dataset("ring8", task="edges")
    with pytest.raises(GanforgeError, match="streamed shards"):
        load_dataset("shards", path="/nonexistent", task="edges")


def _save(path, array):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_users_pairs_in_pix2pix_side_by_side_layout(tmp_path):
    """DIR/train/*.png with A (left) and B (right) side by side; test falls back to val/; BtoA swaps the sides."""
    import numpy as np
    rng = np.random.default_rng(0)
    sides = {}
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            a, b = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            sides[(split, i)] = (a, b)
            _save(tmp_path / split / f"{i}.png", np.concatenate([a, b], axis=1))
    train = load_dataset("pairs", path=tmp_path)
    assert len(train) == 3 and train.spec["x"].shape == (3, 8, 8) and train.spec[SOURCE].shape == (3, 8, 8)
    assert np.array_equal(train.stored[1].permute(1, 2, 0).numpy(), sides[("train", 1)][1])  # x = B, the target
    assert np.array_equal(train.extra[SOURCE][1].permute(1, 2, 0).numpy(), sides[("train", 1)][0])
    test = load_dataset("pairs", path=tmp_path, split="test", direction="BtoA")
    assert len(test) == 2 and np.array_equal(test.stored[0].permute(1, 2, 0).numpy(), sides[("val", 0)][0])
    assert load_dataset("pairs", path=tmp_path, image_size=16).spec["x"].shape == (3, 16, 16)


def test_users_pairs_in_a_and_b_folders_matched_by_name(tmp_path):
    import numpy as np
    for side, value in (("A", 10), ("B", 200)):
        for name in ("x.png", "y.png"):
            _save(tmp_path / side / "train" / name, np.full((8, 8), value, dtype=np.uint8))
    pairs = load_dataset("pairs", path=tmp_path, channels=1)
    assert pairs.stored.unique().tolist() == [200] and pairs.extra[SOURCE].unique().tolist() == [10]
    _save(tmp_path / "B" / "train" / "z.png", np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(GanforgeError, match="must hold the same file names .*unmatched: z.png"):
        load_dataset("pairs", path=tmp_path)
    with pytest.raises(GanforgeError, match="no test or val split"):
        load_dataset("pairs", path=tmp_path, split="test")
    with pytest.raises(GanforgeError, match="needs a folder of paired images"):
        load_dataset("pairs")


def test_users_unpaired_domains_in_cyclegan_layout(tmp_path):
    """DIR/trainA and DIR/trainB with different counts: x is domain B, domain A is a field of its own that batches
    never carry; a paired family refuses it, CycleGAN draws it as its own stream."""
    import numpy as np
    for side, n, value in (("A", 3, 10), ("B", 5, 200)):
        for i in range(n):
            _save(tmp_path / f"train{side}" / f"{i}.png", np.full((8, 8), value, dtype=np.uint8))
    data = load_dataset("unpaired", path=tmp_path, channels=1)
    assert len(data) == 5 and len(data.domains[SOURCE]) == 3
    assert data.spec[SOURCE].shape == (1, 8, 8) and SOURCE not in data.batch_fields
    assert data.view(SOURCE).stored.unique().tolist() == [10]
    assert set(data.batch(torch.tensor([0, 1]))) == {"x"}
    swapped = load_dataset("unpaired", path=tmp_path, channels=1, direction="BtoA")
    assert len(swapped) == 3 and len(swapped.domains[SOURCE]) == 5
    with pytest.raises(GanforgeError, match="no testA/"):
        load_dataset("unpaired", path=tmp_path, split="test")


def test_cyclegan_trains_on_unpaired_folders_and_pix2pix_refuses_them(tmp_path):
    import numpy as np

    import ganforge
    from ganforge.api import translate_test
    from ganforge.config import load_config
    from ganforge.train import train
    from conftest import TINY_CONFIGS
    rng = np.random.default_rng(0)
    for split, counts in (("train", (20, 24)), ("test", (4, 6))):
        for side, n in zip("AB", counts):
            for i in range(n):
                _save(tmp_path / "d" / f"{split}{side}" / f"{i}.png", rng.integers(0, 256, (16, 16), dtype=np.uint8))
    common = ["data.name=unpaired", f"data.path={tmp_path / 'd'}", "data.task=null", "data.channels=1",
              "train.steps=2", "train.batch_size=4"]
    run = train(load_config(TINY_CONFIGS / "cyclegan.yaml", common), out=tmp_path / "cyclegan")
    arrays = translate_test(run.dir)
    assert arrays["inputs"].shape == (4, 16, 16, 1) and set(arrays) == {"inputs", "outputs"}  # no targets: unpaired
    assert ganforge.load(run.dir, direction="BtoA").sample(2, condition=torch.zeros(2, 1, 16, 16)).shape == (2, 1, 16, 16)
    with pytest.raises(GanforgeError, match="learns from pairs.*unpaired domain"):
        train(load_config(TINY_CONFIGS / "pix2pix.yaml", common), out=tmp_path / "pix2pix")


def test_a_corrupt_pair_is_named_without_python_internals(tmp_path):
    from ganforge.data.paired import _split_side_by_side
    good, bad = tmp_path / "a.png", tmp_path / "b.png"
    _save(good, np.zeros((8, 16), np.uint8))
    bad.write_bytes(b"not a png at all")
    with pytest.raises(GanforgeError) as err:
        _split_side_by_side([good, bad], None, 1)
    message = str(err.value)
    assert message.startswith(f"{bad}: unreadable or corrupt image") and "object at 0x" not in message
