"""What a training grid holds (ganforge/train/grids.py): input | output | target rows for a translator (the fixed
real inputs and their paired targets; CycleGAN on unpaired folders: the cycle's reconstruction instead), one row
per generator of a mixture with one z per column, and grids that leave training bit-identical."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge
from ganforge import images
from ganforge.config import load_config
from ganforge.data.paired import SOURCE
from ganforge.report.contents import grid_caption
from ganforge.rundir import RunDir
from ganforge.train import grids, train
from ganforge.train.loop import build_data, fixed_latents

from conftest import TINY_CONFIGS, assert_same_state

SIZE = 16  # the tiny configs' images
SCALE = 96 // SIZE  # the loop upscales a 16-px grid by 6 (nearest)


def final_grid(run) -> np.ndarray:
    """The last grid of a run at its stored size (nearest upscaling undone), as (H, W, C) uint8."""
    path = sorted((run.dir / "samples").glob("step_*.png"))[-1]
    arr = np.asarray(Image.open(path))[::SCALE, ::SCALE]
    return arr[..., None] if arr.ndim == 2 else arr


def tile(arr: np.ndarray, row: int, col: int, group: int = 0) -> np.ndarray:
    top, left = images.tile_origin(row, col, SIZE, SIZE, 2, group)
    return arr[top:top + SIZE, left:left + SIZE]


def expected_shape(rows: int, cols: int, group: int = 0) -> tuple[int, int]:
    top, left = images.tile_origin(rows - 1, cols - 1, SIZE, SIZE, 2, group)
    return top + SIZE + 2, left + SIZE + 2


def uint8(x: torch.Tensor) -> np.ndarray:
    return images.to_uint8(x)


@pytest.mark.parametrize("family", ["pix2pix", "srgan"])
def test_a_paired_translators_grid_is_input_output_target_rows(tmp_path, family):
    """Four fixed examples (log.grid 4): four rows of input | output | target; the input column holds the fixed
    real inputs (SRGAN's 8-px ones upscaled nearest to 16 px), the target column their paired images."""
    cfg = load_config(TINY_CONFIGS / f"{family}.yaml", ["train.steps=2"])
    run = train(cfg, out=tmp_path / family)
    arr = final_grid(run)
    assert arr.shape[:2] == expected_shape(4, 3, group=3)
    data = build_data(cfg)
    pick = grids.fixed_index(cfg, data, SOURCE, 4)
    assert torch.equal(pick, grids.fixed_index(cfg, data, "x", 4))  # one pick: each input beside its own target
    inputs, targets = data.examples(pick, SOURCE), data.examples(pick, "x")
    shown = inputs if inputs.shape[-1] == SIZE else F.interpolate(inputs, size=(SIZE, SIZE), mode="nearest")
    gen = ganforge.load(run.dir)
    outputs = gen.sample(4, condition=inputs)
    for r in range(4):
        assert np.array_equal(tile(arr, r, 0, 3), uint8(shown[r:r + 1])[0])
        assert np.abs(tile(arr, r, 1, 3).astype(int) - uint8(outputs[r:r + 1])[0].astype(int)).max() <= 1
        assert np.array_equal(tile(arr, r, 2, 3), uint8(targets[r:r + 1])[0])
    assert not np.array_equal(tile(arr, 0, 0, 3), tile(arr, 0, 2, 3))  # input and target differ: not one column twice
    assert RunDir(run.dir).read_info()["grid"] == {"columns": ["input", "output", "target"]}


def unpaired_folders(root):
    rng = np.random.default_rng(0)
    for side, n in zip("AB", (20, 24)):
        (root / f"train{side}").mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)).save(root / f"train{side}" / f"{i}.png")
    return ["data.name=unpaired", f"data.path={root}", "data.task=null", "data.channels=1"]


def test_cyclegan_on_unpaired_domains_shows_input_output_reconstruction(tmp_path):
    """No target exists for an unpaired input: the third column is the cycle's reconstruction G_BA(G_AB(a)),
    from the EMA copies that sample (train.ema)."""
    cfg = load_config(TINY_CONFIGS / "cyclegan.yaml",
                      unpaired_folders(tmp_path / "d") + ["train.steps=2", "train.batch_size=4", "train.ema=0.9"])
    run = train(cfg, out=tmp_path / "run")
    arr = final_grid(run)
    assert arr.shape[:2] == expected_shape(4, 3, group=3)
    data = build_data(cfg)
    a = data.examples(grids.fixed_index(cfg, data, SOURCE, 4), SOURCE)
    ab, ba = ganforge.load(run.dir, direction="AtoB"), ganforge.load(run.dir, direction="BtoA")
    out = ab.sample(4, condition=a)
    back = ba.sample(4, condition=out)
    for r in range(4):
        assert np.array_equal(tile(arr, r, 0, 3), uint8(a[r:r + 1])[0])
        assert np.abs(tile(arr, r, 1, 3).astype(int) - uint8(out[r:r + 1])[0].astype(int)).max() <= 1
        assert np.abs(tile(arr, r, 2, 3).astype(int) - uint8(back[r:r + 1])[0].astype(int)).max() <= 1
    assert RunDir(run.dir).read_info()["grid"] == {"columns": ["input", "output", "reconstruction"]}


def test_a_mixture_shows_one_row_per_generator_with_one_z_per_column(tmp_path):
    """Three generators, log.grid 7: 3 rows of 7 // 3 = 2 columns; cell (i, j) is generator i of fixed z_j."""
    cfg = load_config(TINY_CONFIGS / "gan.yaml", ["objective.generators=3", "log.grid=7", "train.steps=2"])
    run = train(cfg, out=tmp_path / "run")
    arr = final_grid(run)
    assert arr.shape[:2] == expected_shape(3, 2)
    z = fixed_latents(cfg, 7)[:2]
    mixture = ganforge.load(run.dir).net
    for i in range(3):
        with torch.no_grad():
            x = mixture.generators[i](z)
        for j in range(2):
            assert np.abs(tile(arr, i, j).astype(int) - uint8(x[j:j + 1])[0].astype(int)).max() <= 1
    assert not np.array_equal(tile(arr, 0, 0), tile(arr, 1, 0))  # the generators differ on the same z
    info = RunDir(run.dir).read_info()
    assert info["grid"] == {"rows": "generators", "generators": 3}  # what the report's caption reads
    assert "one row per generator (3 rows" in grid_caption(RunDir(run.dir).read_config().model_dump(mode="json"), info)


@pytest.mark.parametrize("family, over", [("cyclegan", ["train.ema=0.9"]), ("gan", ["objective.generators=3"]),
                                          ("srgan", [])])
def test_grids_leave_training_bit_identical(tmp_path, family, over):
    """A grid after every step or none at all: the same weights, optimiser states and RNG state after 3 steps."""
    common = over + ["train.steps=3", "checkpoint.every=3"]
    every = train(load_config(TINY_CONFIGS / f"{family}.yaml", common + ["log.sample_every=1"]), out=tmp_path / "a")
    never = train(load_config(TINY_CONFIGS / f"{family}.yaml", common + ["log.sample_every=1000"]), out=tmp_path / "b")
    assert len(list((every.dir / "samples").glob("*.png"))) == 3
    assert_same_state(every.dir, never.dir)


def test_example_rows_show_a_small_grey_input_upscaled_in_every_channel_beside_colour():
    """Three examples of an 8-px grey input, 16-px colour output and target, two examples to a row: 2 rows of 6
    tiles, each example's three set apart from the next; the input upscaled nearest and repeated per channel."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 1, 8, 8, generator=g) * 2 - 1
    out, target = torch.rand(3, 3, SIZE, SIZE, generator=g) * 2 - 1, torch.rand(3, 3, SIZE, SIZE, generator=g) * 2 - 1
    arr = images.example_rows([a, out, target], per_row=2)
    assert arr.shape == (*expected_shape(2, 6, group=3), 3)
    for i in range(3):
        row, first = divmod(i, 2)
        shown = tile(arr, row, 3 * first, 3)
        assert np.array_equal(shown[::2, ::2], np.repeat(uint8(a[i:i + 1])[0], 3, axis=-1))
        assert np.array_equal(tile(arr, row, 3 * first + 1, 3), uint8(out[i:i + 1])[0])
        assert np.array_equal(tile(arr, row, 3 * first + 2, 3), uint8(target[i:i + 1])[0])
    second = images.tile_origin(0, 3, SIZE, SIZE, 2, 3)[1]
    assert (arr[:, second - 4:second] == 255).all()  # twice the padding between two examples
    assert (tile(arr, 1, 3, 3) == 255).all()  # no fourth example: blank
