"""Tests for ganforge.data: loaders on good and corrupt files, lookup order, downloads via file://."""
from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import DATASETS, MIXTURES, load_dataset, sample_mixture
from ganforge.data import lookup
from ganforge.data.folder import load_folder
from ganforge.data.idx import read_idx_images, read_idx_labels, read_idx_pair
from ganforge.data.npz import load_npz
from ganforge.errors import GanforgeError


# ---------- helpers ----------

def idx_images_bytes(n: int, h: int = 4, w: int = 4, magic: int = 0x803) -> bytes:
    pix = (np.arange(n * h * w) % 256).astype(np.uint8)
    return struct.pack(">IIII", magic, n, h, w) + pix.tobytes()


def idx_labels_bytes(n: int, magic: int = 0x801) -> bytes:
    return struct.pack(">II", magic, n) + (np.arange(n) % 10).astype(np.uint8).tobytes()


def write(p: Path, data: bytes, gz: bool) -> Path:
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


def write_split(d: Path, split: str = "train", n: int = 5, gz: bool = True) -> None:
    d.mkdir(parents=True, exist_ok=True)
    ims, lbs = lookup.FILES[split]
    ext = ".gz" if gz else ""
    write(d / (ims + ext), idx_images_bytes(n, 28, 28), gz)
    write(d / (lbs + ext), idx_labels_bytes(n), gz)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    # Keep tests away from the real cache and any GANFORGE_DATA of the user.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.delenv("GANFORGE_CACHE", raising=False)  # the download cache follows it (test_lookup_cache.py)


def no_download(url: str, dest: Path) -> None:
    raise OSError(f"offline test: {url}")


# ---------- idx ----------

@pytest.mark.parametrize("gz", [True, False])
def test_idx_good(tmp_path, gz):
    ip = write(tmp_path / ("im" + (".gz" if gz else "")), idx_images_bytes(3, 4, 5), gz)
    lp = write(tmp_path / ("lb" + (".gz" if gz else "")), idx_labels_bytes(3), gz)
    x, y = read_idx_pair(ip, lp)
    assert x.shape == (3, 4, 5) and x.dtype == np.uint8
    assert x.reshape(-1)[:5].tolist() == [0, 1, 2, 3, 4]
    assert y.tolist() == [0, 1, 2]


def test_idx_truncated_gz(tmp_path):
    full = gzip.compress(idx_images_bytes(10))
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(GanforgeError, match="gzip") as e:
        read_idx_images(p)
    assert p.name in str(e.value)


def test_idx_wrong_magic(tmp_path):
    p = write(tmp_path / "labels-as-images.gz", idx_labels_bytes(4), True)
    with pytest.raises(GanforgeError, match="magic") as e:
        read_idx_images(p)
    assert p.name in str(e.value)
    q = write(tmp_path / "images-as-labels", idx_images_bytes(4), False)
    with pytest.raises(GanforgeError, match="magic") as e:
        read_idx_labels(q)
    assert q.name in str(e.value)


def test_idx_truncated_payload(tmp_path):
    p = write(tmp_path / "short-images", idx_images_bytes(4)[:-3], False)
    with pytest.raises(GanforgeError, match="truncated") as e:
        read_idx_images(p)
    assert p.name in str(e.value)
    q = write(tmp_path / "tiny", b"\x00\x00", False)
    with pytest.raises(GanforgeError) as e:
        read_idx_images(q)
    assert q.name in str(e.value)


def test_idx_count_mismatch(tmp_path):
    ip = write(tmp_path / "im.gz", idx_images_bytes(5), True)
    lp = write(tmp_path / "lb.gz", idx_labels_bytes(4), True)
    with pytest.raises(GanforgeError) as e:
        read_idx_pair(ip, lp)
    assert "im.gz" in str(e.value) and "lb.gz" in str(e.value)


# ---------- lookup / download ----------

def test_lookup_explicit_path_beats_env(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    write_split(explicit, gz=False)
    write_split(env / "mnist")  # env var: dataset-named subdir
    monkeypatch.setenv("GANFORGE_DATA", str(env))
    ip, _ = lookup.find_files("mnist", "train", explicit, downloader=no_download)
    assert ip.parent == explicit and ip.name == "train-images-idx3-ubyte"
    ip, _ = lookup.find_files("mnist", "train", None, downloader=no_download)
    assert ip.parent == env / "mnist"


def test_lookup_env_beats_cache_and_test_split(tmp_path, monkeypatch):
    env = tmp_path / "env"
    write_split(env, "test")
    write_split(lookup.cache_dir("mnist"), "test")
    monkeypatch.setenv("GANFORGE_DATA", str(env))
    ip, lp = lookup.find_files("mnist", "test", downloader=no_download)
    assert ip == env / "t10k-images-idx3-ubyte.gz" and lp == env / "t10k-labels-idx1-ubyte.gz"
    ds = load_dataset("mnist", split="test")
    assert ds.x.shape == (5, 1, 28, 28)


def test_lookup_not_found_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "envdir"))
    with pytest.raises(GanforgeError) as e:
        lookup.find_files("mnist", "train", None, downloader=no_download)
    msg = str(e.value)
    for place in (str(tmp_path / "envdir"), str(lookup.cache_dir("mnist"))):
        assert place in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data" in msg and "GANFORGE_DATA" in msg
    with pytest.raises(GanforgeError, match="split"):
        lookup.find_files("mnist", "valid", tmp_path, downloader=no_download)


def _served(tmp_path: Path) -> tuple[lookup.Source, dict[str, str]]:
    srv = tmp_path / "server"
    write_split(srv, "train", n=7)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in srv.iterdir()}
    return lookup.Source(srv.as_uri() + "/", md5), md5


def test_download_file_url_md5_ok(tmp_path):
    src, _ = _served(tmp_path)
    ip, lp = lookup.find_files("mnist", "train", source=src)
    assert ip.parent == lookup.cache_dir("mnist")
    x, y = read_idx_pair(ip, lp)
    assert x.shape == (7, 28, 28) and len(y) == 7
    assert not list(ip.parent.glob("*.part"))  # temp files cleaned up
    # Second lookup finds the cached copy; no download needed.
    ip2, _ = lookup.find_files("mnist", "train", ip.parent, downloader=no_download)
    assert ip2 == ip


def test_download_md5_mismatch(tmp_path):
    src, md5 = _served(tmp_path)
    bad = lookup.Source(src.base_url, {k: "0" * 32 for k in md5})
    with pytest.raises(GanforgeError, match="md5") as e:
        lookup.find_files("mnist", "train", source=bad)
    assert "train-images-idx3-ubyte.gz" in str(e.value)
    cache = lookup.cache_dir("mnist")
    assert not list(cache.iterdir())  # nothing partial or unverified left behind


def test_download_missing_url(tmp_path):
    src = lookup.Source((tmp_path / "nowhere").as_uri() + "/", {})
    with pytest.raises(GanforgeError, match="download") as e:
        lookup.find_files("mnist", "test", source=src)
    assert "t10k-images-idx3-ubyte.gz" in str(e.value)


# ---------- load_dataset on idx ----------

def test_load_mnist_resize_channels(tmp_path):
    write_split(tmp_path / "d")
    ds = load_dataset("mnist", path=str(tmp_path / "d"), image_size=32, channels=3)
    assert ds.x.shape == (5, 3, 32, 32) and ds.x.dtype == torch.float32 and ds.kind == "image"
    assert ds.x.min() >= -1 and ds.x.max() <= 1
    assert torch.equal(ds.x[:, 0], ds.x[:, 2])
    assert ds.labels.tolist() == [0, 1, 2, 3, 4]
    sub = load_dataset("mnist", path=str(tmp_path / "d"), num_samples=2)
    assert sub.x.shape == (2, 1, 28, 28)


def test_unknown_dataset():
    with pytest.raises(GanforgeError) as e:
        load_dataset("fashion_mnist")
    assert "fashion-mnist" in str(e.value) and "grid25" in str(e.value)


def test_path_required():
    for name in ("folder", "npz"):
        with pytest.raises(GanforgeError, match="--data"):
            load_dataset(name)


# ---------- folder ----------

def _png(p: Path, size: tuple[int, int], color, mode: str = "RGB") -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(p)


def test_folder_good_mixed_sizes(tmp_path):
    _png(tmp_path / "cats" / "a.png", (20, 10), (255, 0, 0))
    _png(tmp_path / "cats" / "b.jpg", (7, 9), (0, 255, 0))
    _png(tmp_path / "dogs" / "sub" / "c.png", (16, 16), 0, mode="L")
    ds = load_dataset("folder", path=str(tmp_path), image_size=8)
    assert ds.x.shape == (3, 3, 8, 8) and ds.x.dtype == torch.float32
    assert ds.x.min() >= -1 and ds.x.max() <= 1
    assert ds.labels.tolist() == [0, 0, 1]
    assert torch.allclose(ds.x[0, 0], torch.ones(8, 8))  # red stays red after resize
    grey = load_dataset("folder", path=str(tmp_path), image_size=5, channels=1)
    assert grey.x.shape == (3, 1, 5, 5)


def test_folder_flat_has_no_labels(tmp_path):
    _png(tmp_path / "a.png", (4, 4), (1, 2, 3))
    x, y, classes = load_folder(tmp_path, 4, 3)
    assert x.shape == (1, 3, 4, 4) and y is None and classes == []


def test_folder_corrupt(tmp_path):
    _png(tmp_path / "ok.png", (4, 4), (1, 2, 3))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(GanforgeError) as e:
        load_folder(tmp_path, 4, 3)
    assert "broken.png" in str(e.value)


def test_folder_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(GanforgeError, match="no images") as e:
        load_folder(tmp_path, 8, 3)
    assert str(tmp_path) in str(e.value)


# ---------- npz ----------

def test_npz_uint8_nhwc_and_labels(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, images=np.full((4, 6, 6, 3), 255, np.uint8), y=np.arange(4))
    ds = load_dataset("npz", path=str(p))
    assert ds.x.shape == (4, 3, 6, 6) and ds.kind == "image"
    assert torch.allclose(ds.x, torch.ones_like(ds.x)) and ds.labels.tolist() == [0, 1, 2, 3]


def test_npz_gray_and_nchw_and_points(tmp_path):
    np.savez(tmp_path / "g.npz", x=np.zeros((2, 5, 5), np.uint8))
    x, y, kind = load_npz(tmp_path / "g.npz")
    assert x.shape == (2, 1, 5, 5) and x.dtype == torch.uint8 and torch.all(x == 0) and y is None  # 8-bit kept
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 3, 5, 5), np.float32))
    assert load_npz(tmp_path / "c.npz")[0].shape == (2, 3, 5, 5)
    np.savez(tmp_path / "p.npz", points=np.random.rand(9, 2), labels=np.zeros(9, np.int64))
    ds = load_dataset("npz", path=str(tmp_path / "p.npz"))
    assert ds.kind == "vector" and ds.x.shape == (9, 2) and ds.x.dtype == torch.float32


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "nokey.npz", pixels=np.zeros((2, 4, 4)), other=np.zeros(2))
    with pytest.raises(GanforgeError) as e:
        load_npz(tmp_path / "nokey.npz")
    assert "nokey.npz" in str(e.value) and "pixels" in str(e.value) and "other" in str(e.value)

    np.savez(tmp_path / "ndim.npz", x=np.zeros((2, 4)))
    with pytest.raises(GanforgeError, match="ndim") as e:
        load_npz(tmp_path / "ndim.npz")
    assert "ndim.npz" in str(e.value)

    np.savez(tmp_path / "count.npz", x=np.zeros((3, 4, 4), np.uint8), labels=np.zeros(2, np.int64))
    with pytest.raises(GanforgeError, match="labels") as e:
        load_npz(tmp_path / "count.npz")
    assert "count.npz" in str(e.value)

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(GanforgeError) as e:
        load_npz(tmp_path / "junk.npz")
    assert "junk.npz" in str(e.value)


# ---------- digits ----------

def test_digits():
    ds = load_dataset("digits")
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.float32
    assert ds.x.min() == -1 and ds.x.max() == 1
    assert sorted(ds.labels.unique().tolist()) == list(range(10))
    big = load_dataset("digits", image_size=16)
    assert big.x.shape == (1797, 1, 16, 16) and big.x.min() >= -1 and big.x.max() <= 1


# ---------- mixtures ----------

@pytest.mark.parametrize("name,modes", [("ring8", 8), ("grid25", 25)])
def test_mixture_samples_near_modes(name, modes):
    means, sigma = MIXTURES[name]
    assert means.shape == (modes, 2)
    x, y = sample_mixture(name, 20_000, torch.Generator().manual_seed(1))
    assert x.shape == (20_000, 2) and x.dtype == torch.float32
    assert (x - means[y]).norm(dim=1).max() < 6 * sigma
    assert torch.bincount(y, minlength=modes).min() > 0


def test_mixture_dataset_seeded():
    a = load_dataset("ring8", num_samples=100, seed=3)
    b = load_dataset("ring8", num_samples=100, seed=3)
    assert a.kind == "vector" and a.x.shape == (100, 2) and torch.equal(a.x, b.x)
    assert len(load_dataset("grid25")) == 100_000
    assert torch.allclose(MIXTURES["ring8"][0].norm(dim=1), torch.ones(8))
    assert set(DATASETS) >= {"fashion-mnist", "mnist", "digits", "ring8", "grid25", "folder", "npz"}


# ---------- real Fashion-MNIST ----------

def test_real_fashion_mnist():
    if not Path(lookup.SYSTEM_DIR).is_dir():
        pytest.skip(f"{lookup.SYSTEM_DIR} absent (apt-get install dataset-fashion-mnist)")
    ds = load_dataset("fashion-mnist")
    assert ds.x.shape == (60000, 1, 28, 28) and ds.x.dtype == torch.float32
    assert ds.x.min() >= -1 and ds.x.max() <= 1 and ds.x.min() == -1 and ds.x.max() == 1
    assert sorted(ds.labels.unique().tolist()) == list(range(10))


def test_images_are_stored_as_uint8_and_converted_per_batch_exactly_as_before(tmp_path):
    """4× less memory, same numbers: a batch of the stored uint8 set equals the old eager float conversion
    (x / 127.5 − 1, then resize and channel conversion), bit for bit."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 12, 12, 3), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", images=a)
    ds = load_dataset("npz", path=str(tmp_path / "c.npz"), image_size=8, channels=1)
    assert ds.stored.dtype == torch.uint8 and ds.stored.shape == (40, 3, 12, 12) and ds.shape == (1, 8, 8)
    eager = torch.from_numpy(a.astype(np.float32)).div_(127.5).sub_(1.0).permute(0, 3, 1, 2)
    eager = torch.nn.functional.interpolate(eager, size=(8, 8), mode="bilinear", align_corners=False,
                                            antialias=True).clamp_(-1, 1)
    eager = (eager * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    idx = torch.tensor([3, 17, 0, 39])
    assert torch.equal(ds.examples(idx), eager[idx]) and torch.equal(ds.x, eager)
    assert ds.spec["x"].shape == (1, 8, 8) and ds.spec["x"].kind == "image" and "label" not in ds.spec
