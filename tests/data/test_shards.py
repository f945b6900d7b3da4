"""Tar shards: pack → stream round trip, seeded order, exact resume (with and without workers), bounded
memory, one-line errors, and `ganforge data pack`."""
import builtins
import json
import tarfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.data import shards
from ganforge.data.folder import _load_one
from ganforge.data.shards import ShardStream, pack, pack_array, pack_folder, read_manifest
from ganforge.data.shards import stream as shard_stream, writing as shard_writing
from ganforge.errors import GanforgeError
from ganforge.fileio import file_sha256

N, B, SHARD = 300, 25, 32  # 10 shards, the last one short; 12 batches an epoch, none ragged


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (N, 3, 8, 8), dtype=np.uint8), rng.integers(0, 5, N)


@pytest.fixture(scope="module")
def packed(tmp_path_factory, data):
    x, y = data
    out = tmp_path_factory.mktemp("sets") / "labelled"
    pack_array(x, out, labels=y, class_names=list("abcde"), shard_size=SHARD)
    return out


def take(stream, n):
    return [next(stream) for _ in range(n)]


def indices(batches, x):
    """Which source example each streamed image is (images are random, so distinct)."""
    where = {x[i].tobytes(): i for i in range(len(x))}
    return [where[a.numpy().tobytes()] for b in batches for a in b["x"]]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(p[k], q[k]) for p, q in zip(a, b) for k in ("x", "label"))


def one_line_error(match, fn, *args, **kw):
    with pytest.raises(GanforgeError, match=match) as e:
        fn(*args, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_manifest_describes_the_set(packed):
    m = read_manifest(packed)
    assert m["num_examples"] == N and m["shape"] == [3, 8, 8] and m["fields"] == ["png", "cls"]
    assert m["classes"] == list("abcde") and m["created_by"]["kind"] == "array"
    assert [s["count"] for s in m["shards"]] == [32] * 9 + [12]
    assert all(len(s["sha256"]) == 64 for s in m["shards"])
    with tarfile.open(packed / "shard-000000.tar") as tar:  # plain POSIX tar, WebDataset member names
        assert tar.getnames()[:4] == ["000000000.png", "000000000.cls", "000000001.png", "000000001.cls"]


def test_every_example_once_per_epoch_with_its_label_and_pixels(packed, data):
    x, y = data
    stream = ShardStream(packed, B, seed=1, window=3)
    assert stream.shape == (3, 8, 8) and stream.classes == list("abcde") and len(stream) == N
    epochs = [take(stream, N // B) for _ in range(2)]
    for batches in epochs:
        assert all(b["x"].dtype == torch.uint8 and b["x"].shape == (B, 3, 8, 8) for b in batches)
        assert all(b["label"].dtype == torch.int64 and b["label"].shape == (B,) for b in batches)
        seen = indices(batches, x)  # pixel-identical: every image is found among the source images
        assert sorted(seen) == list(range(N))
        assert torch.cat([b["label"] for b in batches]).tolist() == y[seen].tolist()
    assert indices(epochs[0], x) != indices(epochs[1], x)  # a new order each epoch


def test_ragged_tail_is_dropped(packed, data):
    stream = ShardStream(packed, 64, seed=0)
    for _ in range(2):
        seen = indices(take(stream, N // 64), data[0])
        assert len(seen) == len(set(seen)) == 256


def test_same_seed_same_batches_other_seed_other_order(packed, data):
    a, b = take(ShardStream(packed, B, seed=5), 14), take(ShardStream(packed, B, seed=5), 14)
    assert same(a, b)
    c = take(ShardStream(packed, B, seed=6), 14)
    assert indices(a, data[0]) != indices(c, data[0])


def test_workers_change_nothing_even_when_one_is_slow(packed, monkeypatch):
    reference = take(ShardStream(packed, B, seed=2, window=2), 26)
    read = shard_stream._BatchSource._read

    def slow_worker_0(self, *args):  # forked workers inherit the patch: worker 0 lags behind worker 1
        info = torch.utils.data.get_worker_info()
        time.sleep(0.02 if info is not None and info.id == 0 else 0)
        return read(self, *args)

    monkeypatch.setattr(shard_stream._BatchSource, "_read", slow_worker_0)
    assert same(take(ShardStream(packed, B, seed=2, window=2, num_workers=2), 26), reference)


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_is_exact_mid_epoch_and_across_epochs(packed, workers):
    reference = take(ShardStream(packed, B, seed=3), 30)  # 12 batches an epoch: crosses two boundaries
    for cut in (5, 12, 23):
        first = ShardStream(packed, B, seed=3, num_workers=workers)
        assert same(take(first, cut), reference[:cut])
        state = first.state_dict()
        first.close()
        assert json.loads(json.dumps(state)) == state and len(state) <= 8  # small, never the data
        resumed = ShardStream(packed, B, seed=3, num_workers=workers)
        resumed.load_state_dict(state)
        assert same(take(resumed, 30 - cut), reference[cut:]), f"cut at batch {cut}"


def test_resume_refuses_another_stream(packed):
    state = ShardStream(packed, B, seed=3).state_dict()
    one_line_error("seed=3", ShardStream(packed, B, seed=4).load_state_dict, state)
    one_line_error("batch_size=25", ShardStream(packed, 20, seed=3).load_state_dict, state)


def test_unlabelled_grey_set(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (40, 1, 5, 7), dtype=np.uint8)
    pack(x, tmp_path / "grey", shard_size=16)
    batches = take(ShardStream(tmp_path / "grey", 10, seed=0), 4)
    assert "label" not in batches[0] and batches[0]["x"].shape == (10, 1, 5, 7)
    assert sorted(indices(batches, x)) == list(range(40))


def test_memory_is_bounded_by_the_window_not_the_set(tmp_path):
    x = np.random.default_rng(2).integers(0, 256, (1200, 3, 32, 32), dtype=np.uint8)  # noise: ~3 kB PNGs
    m = pack_array(x, tmp_path / "big", shard_size=50)
    total, largest = sum(s["bytes"] for s in m["shards"]), max(s["bytes"] for s in m["shards"])
    source = shard_stream._BatchSource(tmp_path / "big", m, 20, 0, 2, 0)
    tracemalloc.start()
    it = iter(source)
    for _ in range(2 * 1200 // 20):  # two epochs
        next(it)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert source.peak_pending_bytes <= 2 * largest
    assert peak < total / 4, (peak, total)


def test_pack_is_atomic(tmp_path, monkeypatch):
    x = np.zeros((30, 1, 4, 4), dtype=np.uint8)
    calls = []

    def crash_midway(a):
        calls.append(1)
        if len(calls) == 20:
            raise OSError("disk full")
        return png(a)

    png = shard_writing._png
    monkeypatch.setattr(shard_writing, "_png", crash_midway)
    one_line_error("cannot write shards.*disk full", pack_array, x, tmp_path / "out", shard_size=8)
    assert list(tmp_path.iterdir()) == []  # neither the set nor its temporary folder
    monkeypatch.setattr(shard_writing, "_png", png)
    pack_array(x, tmp_path / "out", shard_size=8)
    one_line_error("already exists", pack_array, x, tmp_path / "out")


def _folder(root, sizes):
    rng = np.random.default_rng(3)
    for i, (w, h) in enumerate(sizes):
        (root / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"class{i % 2}" / f"{i}.png")
    return root


def test_folder_keeps_a_common_size_and_labels_by_subfolder(tmp_path):
    src = _folder(tmp_path / "imgs", [(12, 10)] * 6)
    m = pack_folder(src, tmp_path / "out")
    assert m["shape"] == [3, 10, 12] and m["classes"] == ["class0", "class1"]
    batch = next(ShardStream(tmp_path / "out", 6, seed=0))
    files = sorted(src.rglob("*.png"))
    want = {np.asarray(Image.open(p)).transpose(2, 0, 1).tobytes(): p.parent.name for p in files}
    got = {a.numpy().tobytes(): m["classes"][k] for a, k in zip(batch["x"], batch["label"].tolist())}
    assert got == want


def test_pack_counts_the_images_as_it_goes(tmp_path, capsys):
    """A bar on stderr counts the images packed (within one pass, not only at the end); off when not asked on a
    pipe (progress=None decides by the terminal)."""
    src = _folder(tmp_path / "imgs", [(8, 8)] * 6)
    pack_folder(src, tmp_path / "out", progress=True)
    err = capsys.readouterr().err
    assert "packing" in err and "0/6" in err and "6/6" in err
    pack_folder(src, tmp_path / "quiet")
    assert "packing" not in capsys.readouterr().err


def test_folder_resizes_as_load_folder_does(tmp_path):
    src = _folder(tmp_path / "imgs", [(12, 10), (9, 14), (20, 20), (7, 7)])
    one_line_error("differ in size.*--image-size", pack_folder, src, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    pack_folder(src, tmp_path / "out", image_size=8, channels=1)
    batch = next(ShardStream(tmp_path / "out", 4, seed=0))
    want = sorted(_load_one(p, 8, "L").transpose(2, 0, 1).tobytes() for p in src.rglob("*.png"))
    assert sorted(a.numpy().tobytes() for a in batch["x"]) == want


# ---------------------------------------------------------------- errors, each one line naming what is wrong


@pytest.fixture
def copy(packed, tmp_path):
    import shutil

    return shutil.copytree(packed, tmp_path / "copy")


def _edit_manifest(root, change):
    m = json.loads((root / "manifest.json").read_text())
    change(m)
    (root / "manifest.json").write_text(json.dumps(m))


def test_missing_and_broken_manifests(tmp_path, copy):
    one_line_error("does not exist", ShardStream, tmp_path / "nowhere", 4)
    (tmp_path / "empty").mkdir()
    one_line_error("no manifest.json", ShardStream, tmp_path / "empty", 4)
    (copy / "manifest.json").write_text('{"format": "ganforge-shards", "vers')
    one_line_error("manifest.json: unreadable or not JSON", ShardStream, copy, 4)
    (copy / "manifest.json").write_text("[1, 2]")
    one_line_error("not a ganforge-shards manifest", ShardStream, copy, 4)


def test_manifest_and_shards_that_disagree(packed, copy):
    (copy / "shard-000003.tar").unlink()
    one_line_error("shard-000003.tar: shard listed in manifest.json is missing", ShardStream, copy, 4)
    (copy / "shard-000003.tar").write_bytes((packed / "shard-000003.tar").read_bytes()[:-1024])
    one_line_error("shard-000003.tar: .* bytes, manifest.json says", ShardStream, copy, 4)
    (copy / "shard-000003.tar").write_bytes((packed / "shard-000003.tar").read_bytes())

    def miscount(m):  # consistent within the manifest, wrong about shard 2
        m["shards"][2]["count"] += 1
        m["num_examples"] += 1

    _edit_manifest(copy, miscount)
    stream = ShardStream(copy, B, seed=0, window=10)
    one_line_error("shard-000002.tar: holds 32 examples, manifest.json says 33", next, stream)


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_png_names_shard_and_member(copy, workers):
    path = copy / "shard-000001.tar"
    with tarfile.open(path) as tar:
        member = tar.getmember("000000040.png")
    blob = bytearray(path.read_bytes())
    blob[member.offset_data + 16:member.offset_data + 24] = b"\xff" * 8  # the IHDR's width/height: bad CRC
    path.write_bytes(bytes(blob))
    stream = ShardStream(copy, B, seed=0, num_workers=workers)
    one_line_error(r"shard-000001.tar member 000000040.png: corrupt PNG", take, stream, N // B)


def test_batch_larger_than_the_set(packed):
    one_line_error(f"batch_size 301 is larger than the dataset \\({N} examples\\)", ShardStream, packed, 301)


# ---------------------------------------------------------------- CLI


def test_cli_data_pack(tmp_path, capsys):
    src = _folder(tmp_path / "imgs", [(16, 16)] * 5)
    assert main(["data", "pack", str(src), "--out", str(tmp_path / "out"), "--image-size", "8",
                 "--shard-size", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "5 examples into 3 shards" in line and "(3, 8, 8)" in line and "2 classes" in line
    assert read_manifest(tmp_path / "out")["shape"] == [3, 8, 8]
    assert main(["data", "pack", str(tmp_path / "none"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and "does not exist" in err


def test_verify_finds_a_changed_label_that_streaming_cannot(packed, copy, capsys):
    assert main(["data", "verify", str(packed)]) == 0
    assert f"{N} examples in 10 shards verified" in capsys.readouterr().out
    path = copy / "shard-000001.tar"
    with tarfile.open(path) as tar:
        member = tar.getmember("000000040.cls")
    blob = bytearray(path.read_bytes())
    old = blob[member.offset_data]
    blob[member.offset_data] = ord("0") + (old - ord("0") + 1) % 5  # another valid class, same size
    path.write_bytes(bytes(blob))
    take(ShardStream(copy, B, seed=0), N // B)  # the stream reads the shard without complaint: a wrong label
    one_line_error("shard-000001.tar: sha256 differs from manifest.json's", shards.verify_shards, copy)
    assert main(["data", "verify", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "shard-000001.tar: sha256 differs" in err and "\n" not in err


def test_verify_reads_each_shard_once(packed, monkeypatch):
    """The sha256 is taken in the same pass that reads the members: one open (and one read) of each shard."""
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith(".tar"):
            opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    shards.verify_shards(packed)
    assert sorted(opened) == [f"shard-{i:06d}.tar" for i in range(10)]


def _member_at(path, name, header=False):
    with tarfile.open(path) as tar:
        member = tar.getmember(name)
    return member.offset if header else member.offset_data


def _set_byte(path, at, value):
    blob = bytearray(path.read_bytes())
    blob[at] = value
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("fault, message", [
    ("header", r"shard-000001.tar: corrupt tar header at byte \d+ \(checksum mismatch\)"),
    ("png", "shard-000001.tar member 000000040.png: corrupt PNG"),
    ("label", "shard-000001.tar: example 000000040 has label 9; manifest.json lists 5 classes"),
    ("tail", None),  # a changed byte in the end-of-archive padding: only the hash sees it
])
def test_verify_reports_a_changed_shard_first_then_what_is_wrong_inside(copy, fault, message):
    path = copy / "shard-000001.tar"
    if fault == "header":
        _set_byte(path, _member_at(path, "000000040.png", header=True), ord("x"))  # its name: checksum fails
    elif fault == "png":
        _set_byte(path, _member_at(path, "000000040.png") + 16, 0xFF)  # the IHDR's width: bad CRC
    elif fault == "label":
        _set_byte(path, _member_at(path, "000000040.cls"), ord("9"))
    else:
        _set_byte(path, path.stat().st_size - 1, 1)
    one_line_error("shard-000001.tar: sha256 differs from manifest.json's", shards.verify_shards, copy)
    _edit_manifest(copy, lambda m: m["shards"][1].update(sha256=file_sha256(path)))  # as if packed this way
    if message is None:
        shards.verify_shards(copy)
    else:
        one_line_error(message, shards.verify_shards, copy)
        _edit_manifest(copy, lambda m: m["shards"][1].pop("sha256"))  # an older manifest: no hash to check
        one_line_error(message, shards.verify_shards, copy)


def test_one_to_unit_and_the_base_layers_version(packed):
    """The package converts with data/base.py's to_unit (one conversion for every dataset) and stamps the
    manifest with ganforge._version's version, not one imported from the API layer above."""
    from ganforge._version import __version__
    from ganforge.data import base

    assert shards.to_unit is base.to_unit
    assert read_manifest(packed)["created_by"]["ganforge"] == __version__


def test_a_corrupt_png_in_a_shard_is_named_without_python_internals():
    from ganforge.data.shards.reading import _decode
    with pytest.raises(GanforgeError) as err:
        _decode(b"not a png", "shard-000000.tar:00000007", (1, 8, 8))
    message = str(err.value)
    assert message.startswith("shard-000000.tar:00000007: corrupt PNG") and "object at 0x" not in message


def test_pack_takes_the_channels_from_the_images_unless_told(tmp_path):
    grey = tmp_path / "grey"
    for i in range(4):
        (grey / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(grey / f"c{i % 2}" / f"{i}.png")
    assert pack_folder(grey, tmp_path / "g")["shape"] == [1, 8, 8]  # a grey folder stays grey, as training reads it
    assert pack_folder(grey, tmp_path / "g3", channels=3)["shape"] == [3, 8, 8]  # an explicit choice is kept
    rgb = _folder(tmp_path / "rgb", [(8, 8)] * 4)
    assert pack_folder(rgb, tmp_path / "c")["shape"] == [3, 8, 8]
    assert main(["data", "pack", str(grey), "--out", str(tmp_path / "cli")]) == 0
    assert read_manifest(tmp_path / "cli")["shape"] == [1, 8, 8]
