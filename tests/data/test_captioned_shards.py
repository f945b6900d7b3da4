"""Captioned shards: `data pack` writes a captioned folder's captions (several an image) beside its images,
`data verify` checks them, and a text-to-image run trains from the shards; an image with several captions reads
the same one per epoch whether it is drawn from memory or streamed from the shards."""
from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import load_config
from ganforge.data import load_dataset
from ganforge.data.captions import attribute_captions
from ganforge.data.digits import load_digits
from ganforge.data.shards import pack_array, pack_folder, read_manifest, verify_shards
from ganforge.errors import GanforgeError
from ganforge.text.encoder import hashed_words
from ganforge.train import train
from ganforge.train.sampler import BatchSampler, StreamSampler

from conftest import TINY_CONFIGS, run_cli

N, SIDE, SHARD = 40, 16, 7


def captions_of(i: int) -> list[str]:
    """Image i's captions: every third image has three."""
    return [f"a square {i}"] + ([f"a shade {i}", f"a grey block {i}"] if i % 3 == 0 else [])


@pytest.fixture
def captioned(tmp_path):
    """N grey images, each a distinct value, with name.txt beside each (one caption a line)."""
    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(N):
        Image.fromarray(np.full((SIDE, SIDE), 6 * i, np.uint8)).save(root / f"{i:02d}.png")
        (root / f"{i:02d}.txt").write_text("\n".join(captions_of(i)) + "\n")
    return root


def test_pack_writes_each_images_captions_and_verify_checks_them(captioned, tmp_path, capsys):
    out = tmp_path / "sh"
    rc, err, printed = run_cli(["data", "pack", captioned, "--out", out, "--shard-size", SHARD], capsys)
    assert rc == 0, err
    assert "with 68 captions" in printed  # 40, and two more for each of 14 images
    m = read_manifest(out)
    assert m["fields"] == ["png", "txt"] and m["captions"] == {"count": 68, "source": "files"}
    with tarfile.open(out / "shard-000000.tar") as tar:  # WebDataset's layout: the caption beside its image
        assert tar.getnames()[:3] == ["000000000.png", "000000000.txt", "000000001.png"]
        assert tar.extractfile("000000000.txt").read().decode().splitlines() == captions_of(0)
    rc, err, printed = run_cli(["data", "verify", out], capsys)
    assert rc == 0 and "(sha256, PNGs, labels, captions)" in printed, err
    # verify counts the captions it decodes against the manifest's count
    bad = json.loads((out / "manifest.json").read_text())
    bad["captions"]["count"] = 69
    (out / "manifest.json").write_text(json.dumps(bad))
    with pytest.raises(GanforgeError, match=r"the shards hold 68 captions, manifest.json says 69$"):
        verify_shards(out)


def test_captions_from_a_listing_pack_and_bad_ones_are_refused_before_any_image(tmp_path):
    root = tmp_path / "imgs"
    (root / "b").mkdir(parents=True)
    for name in ("a.png", "b/c.png"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / name)
    (root / "captions.jsonl").write_text(json.dumps({"file": "a.png", "captions": ["one", "two"]}) + "\n")
    with pytest.raises(GanforgeError, match=r"b/c\.png: no caption \(expected c\.txt beside it"):
        pack_folder(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (root / "captions.jsonl").write_text(json.dumps({"file": "a.png", "captions": ["one", "two"]}) + "\n"
                                         + json.dumps({"file": "b/c.png", "caption": "three\nlines"}) + "\n")
    with pytest.raises(GanforgeError, match=r"c\.png: the caption 'three\\nlines' holds a line break"):
        pack_folder(root, tmp_path / "out")
    (root / "captions.jsonl").write_text(json.dumps({"file": "a.png", "captions": ["one", "two"]}) + "\n"
                                         + json.dumps({"file": "b/c.png", "caption": "three"}) + "\n")
    m = pack_folder(root, tmp_path / "out")
    assert m["captions"]["count"] == 3 and m["num_examples"] == 2
    sets = load_dataset("shards", path=tmp_path / "out", captions="files", encoder="hashed-words").captions
    assert [sets.of(i) for i in range(2)] == [["one", "two"], ["three"]]


def visits(sampler, batches: int, images: torch.Tensor, epoch_of) -> dict[tuple[int, int], str]:
    """(epoch, image) → the caption each visit read, told apart by the images' pixels and the captions' vectors."""
    by_pixels = {bytes(images[i].flatten().tolist()): i for i in range(len(images))}
    seen = {}
    for b in range(batches):
        epoch = epoch_of(b)
        batch = sampler.next()
        for x, e in zip(batch["x"], batch["embedding"]):
            i = by_pixels[bytes(((x + 1) * 127.5).round().to(torch.uint8).flatten().tolist())]
            caps = captions_of(i)
            row = int(np.argmax(hashed_words(caps) @ e.numpy()))
            assert (epoch, i) not in seen  # each image once an epoch
            seen[(epoch, i)] = caps[row]
    return seen


def test_each_visit_reads_the_same_caption_from_memory_and_from_shards(captioned, tmp_path):
    pack_folder(captioned, tmp_path / "sh", shard_size=SHARD)
    memory = load_dataset("folder", path=captioned, captions="files", encoder="hashed-words")
    streamed = load_dataset("shards", path=tmp_path / "sh", captions="files", encoder="hashed-words")
    assert len(memory) == len(streamed) == N  # one example an image, not one a caption
    epochs, batch = 4, 8  # 5 batches an epoch
    cpu = torch.device("cpu")
    a = visits(BatchSampler(memory, batch, 5, cpu), epochs * 5, memory.stored, lambda b: b // 5)
    b = visits(StreamSampler(streamed, batch, 5, cpu), epochs * 5, memory.stored, lambda b: b // 5)
    assert len(a) == epochs * N and a == b
    several = [i for i in range(N) if len(captions_of(i)) > 1]
    read = {i: {a[(e, i)] for e in range(epochs)} for i in several}
    assert sum(len(r) > 1 for r in read.values()) >= len(several) // 2  # epochs read other captions of an image
    other_seed = visits(BatchSampler(memory, batch, 6, cpu), epochs * 5, memory.stored, lambda b: b // 5)
    assert other_seed != a


def test_the_in_memory_draw_resumes_in_the_epoch_it_was_in(captioned):
    memory = load_dataset("folder", path=captioned, captions="files", encoder="hashed-words")
    cpu = torch.device("cpu")
    straight = BatchSampler(memory, 8, 2, cpu)
    for _ in range(7):  # into the second epoch
        straight.next()
    resumed = BatchSampler(memory, 8, 2, cpu)
    resumed.load_state_dict(straight.state_dict())
    for _ in range(6):
        assert torch.equal(straight.next()["embedding"], resumed.next()["embedding"])
    # a checkpoint whose order counts other examples (before, an image with 3 captions was 3 examples) is refused
    fewer = BatchSampler(memory.subset(torch.arange(N - 1)), 8, 2, cpu)
    with pytest.raises(GanforgeError, match=rf"order covers {N} examples, dataset 'folder' has {N - 1}: resume with"):
        fewer.load_state_dict(straight.state_dict())


def test_a_text_run_trains_from_captioned_shards_and_generates(captioned, tmp_path, capsys):
    shards = tmp_path / "sh"
    assert run_cli(["data", "pack", captioned, "--out", shards], capsys)[0] == 0
    assert run_cli(["data", "verify", shards], capsys)[0] == 0
    run = tmp_path / "run"
    rc, err, out = run_cli(["train", TINY_CONFIGS / "text2image.yaml", "--data", shards, "--out", run,
                            "data.captions=files", "data.encoder=hashed-words", "train.steps=3",
                            "log.grid=64"], capsys)  # more tiles than images: the grid shows them again
    assert rc == 0, err
    assert "packed shards (manifest.json)" in out
    rc, err, _ = run_cli(["generate", run, "a square 3", "--num", "4", "--out", tmp_path / "g.npz"], capsys)
    assert rc == 0, err
    assert np.load(tmp_path / "g.npz")["images"].shape == (4, SIDE, SIDE, 1)


def test_shards_without_captions_say_so_in_one_line(tmp_path):
    pack_array(np.zeros((4, 1, 8, 8), np.uint8), tmp_path / "plain")
    with pytest.raises(GanforgeError, match=r"plain: packed without captions \(data.captions needs them\)"):
        load_dataset("shards", path=tmp_path / "plain", captions="files", encoder="hashed-words")
    with pytest.raises(GanforgeError, match=r"data.captions: 'words' unknown"):
        load_dataset("shards", path=tmp_path / "plain", captions="words", encoder="hashed-words")


def test_attribute_captions_pack_with_their_images_and_train_as_in_memory(tmp_path):
    """Digits with the attribute captions of data.captions=attributes, packed from arrays: the run on the shards
    reads the captions the in-memory run made."""
    x, y = load_digits()
    x = ((x[:64] + 1) * 127.5).round().to(torch.uint8)
    caps = attribute_captions(x, y[:64], seed=0, fashion=False)
    pack_array(x, tmp_path / "sh", labels=y[:64].numpy(), captions=[[c] for c in caps], caption_source="attributes")
    assert read_manifest(tmp_path / "sh")["captions"] == {"count": 64, "source": "attributes"}
    streamed = load_dataset("shards", path=tmp_path / "sh", captions="attributes", encoder="hashed-words")
    assert streamed.captions.captions == caps
    cfg = load_config(TINY_CONFIGS / "text2image.yaml", [f"data.path={tmp_path / 'sh'}", "data.name=shards",
                                                         "train.steps=2"])
    assert train(cfg, out=tmp_path / "run").step == 2
