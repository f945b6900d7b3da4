"""Training from packed shards (data.name=shards): the same loop as in-memory data, resumable bit for bit, the
same weights with any number of DataLoader workers, resized per batch like the in-memory path, and every
mistake an error in words (one line from the CLI, exit 2)."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge.cli import main
from ganforge.config import config_from_dict, load_config
from ganforge.data import load_dataset
from ganforge.data.base import Dataset
from ganforge.data.digits import load_digits
from ganforge.data.shards import ShardDataset, pack_array
from ganforge.data.shards import reading as shard_reading
from ganforge.errors import GanforgeError
from ganforge.train import checkpoint, loop, train
from ganforge.train.sampler import StreamSampler

from conftest import TINY_CONFIGS, tiny_config

N, SHARD, B = 200, 40, 16  # 5 shards; 12 batches an epoch, so 16 steps cross an epoch boundary
STEPS = 16
TINY = TINY_CONFIGS


def digits_uint8(n: int = N) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_digits()  # float in [-1, 1]; back to the 8-bit values they came from
    return ((x[:n] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8), y[:n]


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    x, y = digits_uint8()
    root = tmp_path_factory.mktemp("shards") / "digits"
    pack_array(x, root, labels=y.numpy(), shard_size=SHARD)
    return root


def config(root: Path, **over):
    """The tiny DCGAN of conftest on the shards, upscaled 8 → 16 px per batch."""
    raw = {"data__name": "shards", "data__path": str(root), "train__steps": STEPS, "checkpoint__every": 1000}
    return config_from_dict(tiny_config(**(raw | over)))


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.latest_checkpoint(run_dir) / checkpoint.WEIGHTS))


def final_state(run_dir: Path) -> dict:
    return checkpoint.load_state(checkpoint.latest_checkpoint(run_dir))


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs"
    sa, sb = final_state(a), final_state(b)
    assert sa["step"] == sb["step"] == STEPS
    assert torch.equal(sa["rng"], sb["rng"])
    assert sa["samplers"] == sb["samplers"]  # the stream's position: (epoch, batch) and what it was made from


@pytest.fixture(scope="module")
def straight(packed, tmp_path_factory) -> Path:
    """STEPS steps in one go, no workers: the run the others must equal."""
    out = tmp_path_factory.mktemp("runs") / "straight"
    train(config(packed), out=out)
    return out


def test_trains_from_shards(packed, tmp_path, monkeypatch):
    initial = {}
    make_optimizer = loop.make_optimizer

    def recording(params, cfg):
        params = list(params)
        initial.update({id(p): p.detach().clone() for p in params})
        return make_optimizer(params, cfg)

    monkeypatch.setattr(loop, "make_optimizer", recording)
    run = train(config(packed, train__steps=4), out=tmp_path / "run")
    for name, net in run.family.nets.items():
        params = list(net.parameters())
        assert all(torch.isfinite(p).all() for p in params), f"{name} has non-finite weights"
        assert any(not torch.equal(p, initial[id(p)]) for p in params), f"{name} did not change"
    info = json.loads((run.dir / "run.json").read_text())
    assert (info["dataset"], info["shape"], info["num_classes"], info["num_examples"]) == ("shards", [1, 16, 16], 10, N)
    losses = [v for line in (run.dir / "metrics.jsonl").read_text().splitlines()
              for k, v in json.loads(line).items() if k.startswith("loss/")]
    assert losses and all(math.isfinite(v) for v in losses)
    assert final_state(run.dir)["samplers"]["main"]["batch"] == 4  # one real batch a step (d_steps 1)


def test_resume_is_bit_exact(packed, straight, tmp_path):
    split = tmp_path / "split"
    train(config(packed, train__steps=STEPS // 2), out=split)
    train(config(packed), resume=split)
    assert_same_run(straight, split)
    assert final_state(split)["samplers"]["main"]["epoch"] == 1  # the resumed half crossed into a new epoch


def test_workers_give_the_same_weights(packed, straight, tmp_path):
    train(config(packed, data__workers=2), out=tmp_path / "w2")
    assert_same_run(straight, tmp_path / "w2")
    # and a run may change its worker count when resumed
    split = tmp_path / "split"
    train(config(packed, train__steps=STEPS // 2, data__workers=2), out=split)
    train(config(packed), resume=split)
    assert_same_run(straight, split)


def test_image_size_and_channels_convert_per_batch(packed):
    x, y = digits_uint8()
    assert ShardDataset(packed).shape == (1, 8, 8)
    for size, channels in ((16, None), (16, 3), (None, 3)):
        data = load_dataset("shards", path=packed, image_size=size, channels=channels)
        memory = Dataset("digits", x, y, "image", size, channels)
        assert data.shape == memory.shape and data.spec == memory.spec
        index = torch.tensor([0, 57, 199, 3, 120])
        assert torch.equal(data.examples(index), memory.examples(index))  # the in-memory path's conversion, exactly
    sampler = StreamSampler(data, B, seed=0, device=torch.device("cpu"))
    batch = sampler.next()
    assert batch["x"].shape == (B, 3, 8, 8) and batch["x"].dtype == torch.float32 and batch["label"].dtype == torch.int64
    assert batch["x"].min() >= -1 and batch["x"].max() <= 1


def test_examples_read_only_their_shards(packed, monkeypatch):
    opened = []
    read = shard_reading._Shard.read
    monkeypatch.setattr(shard_reading._Shard, "read", lambda self, wanted: opened.append(self.path.name) or
                        read(self, wanted))
    ShardDataset(packed).examples(torch.tensor([0, 5, 45]))
    assert sorted(opened) == ["shard-000000.tar", "shard-000001.tar"]


def run_cli(argv: list, capsys) -> tuple[int, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    return rc, capsys.readouterr().err


TINY_CLI = ["train.steps=1", "log.progress=false", "log.tensorboard=false"]


@pytest.mark.parametrize("case", ["missing", "no_manifest", "no_data"])
def test_bad_data_dir_is_one_line(case, tmp_path, capsys):
    data = {"missing": ["--data", tmp_path / "nope"], "no_manifest": ["--data", tmp_path], "no_data": []}[case]
    rc, err = run_cli(["train", TINY / "gan.yaml", "data.name=shards", *data, "--out", tmp_path / "run", *TINY_CLI],
                      capsys)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("ganforge: error: "), err
    assert {"missing": "nope: shard folder does not exist", "no_manifest": "no manifest.json",
            "no_data": "pass --data DIR"}[case] in err


@pytest.mark.slow
def test_missing_dir_from_the_shell(tmp_path):
    p = subprocess.run(["ganforge", "train", str(TINY / "gan.yaml"), "data.name=shards", "--data", str(tmp_path / "nope"),
                        "--out", str(tmp_path / "run"), *TINY_CLI], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "nope: shard folder does not exist" in p.stderr, p.stderr


def test_ssgan_labels_per_class_on_shards_is_refused(packed, tmp_path):
    cfg = load_config(TINY / "ssgan.yaml", ["data.name=shards", f"data.path={packed}", "data.image_size=16"])
    with pytest.raises(GanforgeError, match=r"family 'ssgan' draws an extra batch stream \(data.labels_per_class=2\)"):
        train(cfg, out=tmp_path / "run")
    assert not list((tmp_path / "run").glob("checkpoints/step_*"))


def test_other_refusals_are_named(packed, straight, tmp_path):
    with pytest.raises(GanforgeError, match="num_samples=50 .* not offered for streamed shards"):
        load_dataset("shards", path=packed, num_samples=50)
    # no evaluator for shards: the run trains and its report says how to make one (issue 28; it was refused at start)
    evaluated = train(config(packed, eval__final=True), out=tmp_path / "eval")
    assert "ganforge evaluator train --dataset shards" in (evaluated.dir / "eval.md").read_text()
    with pytest.raises(GanforgeError, match="no test split"):
        load_dataset("shards", path=packed, split="test")
    with pytest.raises(GanforgeError, match="every label at once"):
        ShardDataset(packed).labels
    # a run trained on shards resumed with in-memory data (or the reverse) is named, not a KeyError
    copy = shutil.copytree(straight, tmp_path / "copy")
    with pytest.raises(GanforgeError, match="drawn from streamed shards, this run's from in-memory data"):
        train(config(packed, data__name="digits", data__path=None, train__steps=STEPS + 1), resume=copy)


def test_test_split_is_the_test_subfolder(packed, tmp_path):
    root = tmp_path / "set"
    x, y = digits_uint8()
    pack_array(x[:60], root, labels=y[:60].numpy(), shard_size=SHARD)
    pack_array(x[60:90], root / "test", labels=y[60:90].numpy(), shard_size=SHARD)
    test = load_dataset("shards", path=root, split="test", image_size=16)
    assert isinstance(test, Dataset) and len(test) == 30 and torch.equal(test.labels, y[60:90])
    assert torch.equal(test.stored, x[60:90])
    assert len(load_dataset("shards", path=root)) == 60  # the train split does not count test/
