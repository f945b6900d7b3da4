"""Image-to-image tasks derived from a dataset (ganforge.data.paired): what each task's input is, that pairs stay
aligned with their labels, and that a low-resolution input is resized with its target."""
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
