"""Bad data inputs end in one clear GanforgeError line: explicit paths, non-finite values, small or empty
datasets, labels, and files whose headers claim more data than they hold."""
from __future__ import annotations

import gzip
import io
import os
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset, lookup
from ganforge.data.base import Dataset
from ganforge.data.folder import load_folder
from ganforge.data.idx import read_idx_images
from ganforge.data.npz import load_npz
from ganforge.errors import GanforgeError
from ganforge.train.sampler import BatchSampler


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    # No real cache, no user GANFORGE_DATA; a download attempt fails the test loudly.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANFORGE_DATA", raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError(f"unexpected download: {args}")

    monkeypatch.setattr(lookup, "download", no_download)


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(GanforgeError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


def write_idx_split(d: Path, n: int = 3) -> None:
    d.mkdir(parents=True, exist_ok=True)
    ims, lbs = lookup.FILES["train"]
    (d / ims).write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(n * 784))
    (d / lbs).write_bytes(struct.pack(">II", 0x801, n) + bytes(n))


# ---------- 1. an explicit --data is the only place searched ----------

@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_explicit_empty_dir_never_falls_back(tmp_path, monkeypatch, name):
    # Data everywhere else: $GANFORGE_DATA, and (for fashion-mnist) the system dir when it exists.
    env = tmp_path / "env"
    write_idx_split(env)
    write_idx_split(lookup.cache_dir(name))
    monkeypatch.setenv("GANFORGE_DATA", str(env))
    empty = tmp_path / "empty"
    empty.mkdir()
    msg = one_line_error(load_dataset, name, path=str(empty))
    assert str(empty) in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and "train-labels-idx1-ubyte[.gz]" in msg
    assert str(env) not in msg


def test_explicit_path_searches_only_path_and_dataset_subdir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "env"))
    assert lookup.candidate_dirs("mnist", tmp_path) == [tmp_path, tmp_path / "mnist"]
    write_idx_split(tmp_path / "mnist", n=2)
    assert len(load_dataset("mnist", path=str(tmp_path))) == 2


def test_explicit_missing_path(tmp_path):
    msg = one_line_error(load_dataset, "mnist", path=str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in msg


@pytest.mark.parametrize("name", ["digits", "ring8", "grid25"])
def test_fileless_dataset_rejects_path(tmp_path, name):
    msg = one_line_error(load_dataset, name, path=str(tmp_path))
    assert name in msg and "--data" in msg


# ---------- 2. non-finite values ----------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_npz_points_non_finite(tmp_path, bad):
    pts = np.zeros((30, 2))
    pts[17, 1] = bad
    pts[20, 0] = bad
    np.savez(tmp_path / "data.npz", points=pts)
    msg = one_line_error(load_dataset, "npz", path=str(tmp_path / "data.npz"))
    assert "data.npz" in msg and "'points'" in msg and "index 17" in msg and str(bad) in msg


def test_npz_images_non_finite(tmp_path):
    ims = np.zeros((5, 4, 4), np.float32)
    ims[3, 2, 1] = np.nan
    np.savez(tmp_path / "im.npz", images=ims)
    msg = one_line_error(load_npz, tmp_path / "im.npz")
    assert "im.npz" in msg and "'images'" in msg and "index 3" in msg and "nan" in msg


def test_npz_float64_overflowing_float32(tmp_path):
    pts = np.zeros((4, 2))
    pts[2, 0] = 1e300  # finite in the file, inf once stored as float32
    np.savez(tmp_path / "big.npz", points=pts)
    msg = one_line_error(load_npz, tmp_path / "big.npz")
    assert "big.npz" in msg and "index 2" in msg and "float32" in msg


# ---------- 3. small and empty datasets ----------

def test_sampler_dataset_smaller_than_batch():
    ds = Dataset("folder", torch.zeros(20, 3, 8, 8), None, "image")
    msg = one_line_error(BatchSampler, ds, 64, 0, torch.device("cpu"))
    assert "folder" in msg and "20" in msg and "64" in msg and "train.batch_size=20" in msg


def test_sampler_batch_size_not_positive():
    ds = Dataset("digits", torch.zeros(20, 2), None, "vector")
    msg = one_line_error(BatchSampler, ds, 0, 0, torch.device("cpu"))
    assert "batch_size" in msg


@pytest.mark.parametrize("arrays", [
    {"points": np.zeros((0, 2))},
    {"x": np.zeros((0, 4, 4), np.uint8)},
    {"points": np.zeros((5, 0))},
    {"x": np.zeros((5, 0, 4), np.uint8)},
])
def test_npz_empty(tmp_path, arrays):
    np.savez(tmp_path / "e.npz", **arrays)
    msg = one_line_error(load_npz, tmp_path / "e.npz")
    assert "e.npz" in msg and "empty" in msg


def test_idx_no_images(tmp_path):
    d = tmp_path / "d"
    write_idx_split(d, n=0)
    msg = one_line_error(load_dataset, "mnist", path=str(d))
    assert "train-images-idx3-ubyte" in msg and "no images" in msg


# ---------- labels ----------

@pytest.mark.parametrize("labels,words", [
    (np.array([0, 1, -1, 2]), ("negative", "-1", "index 2")),
    (np.array([0.0, 1.0, 2.0, 3.0]), ("integer",)),
    (np.array([0, 1, 2, 2**40]), ("too large", "index 3")),
    (np.array([0, 1, 2, 2**64 - 1], np.uint64), ("too large", "index 3")),
])
def test_npz_bad_labels(tmp_path, labels, words):
    np.savez(tmp_path / "l.npz", points=np.zeros((4, 2)), labels=labels)
    msg = one_line_error(load_npz, tmp_path / "l.npz")
    assert "l.npz" in msg and "'labels'" in msg
    for w in words:
        assert w in msg


@pytest.mark.parametrize("arr", [np.zeros((3, 2), np.complex64), np.zeros((3, 2), "m8[s]"), np.zeros((3, 2), bool)])
def test_npz_points_wrong_dtype(tmp_path, arr):
    np.savez(tmp_path / "d.npz", points=arr)
    msg = one_line_error(load_npz, tmp_path / "d.npz")
    assert "'points'" in msg and str(arr.dtype) in msg


# ---------- headers that claim more than the file holds ----------

def peak_bytes(fn) -> int:
    """Peak traced allocation while fn() runs (numpy and bytes objects are traced)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def npz_with_member(path: Path, name: str, member: bytes, compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr(name, member)


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(10**8, 2), (2**31, 2**31), (2**62, 8)])
def test_npz_huge_header_rejected_before_allocating(tmp_path, shape):
    p = tmp_path / "huge.npz"
    npz_with_member(p, "points.npy", npy_header(shape) + bytes(160))
    peak = peak_bytes(lambda: one_line_error(load_npz, p))
    assert peak < 20 * 2**20
    assert "'points'" in one_line_error(load_npz, p)


def test_npz_highly_compressed_still_loads(tmp_path):
    p = tmp_path / "zeros.npz"
    npz_with_member(p, "points.npy", npy_header((10**6, 2)) + bytes(16 * 10**6), zipfile.ZIP_DEFLATED)
    x, _, _ = load_npz(p)  # near deflate's ~1000-fold limit, and legitimate
    assert x.shape == (10**6, 2)


def test_npz_forged_zip_size_rejected_before_allocating(tmp_path):
    # The member's header and the zip's uncompressed size agree on 2 GiB, but deflate cannot expand so far.
    p = tmp_path / "forged.npz"
    header = npy_header((2**28,))
    npz_with_member(p, "points.npy", header + bytes(64), zipfile.ZIP_DEFLATED)
    blob = bytearray(p.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central uncompressed sizes
        at = blob.index(sig) + offset
        blob[at:at + 4] = struct.pack("<I", len(header) + 8 * 2**28)
    p.write_bytes(bytes(blob))
    peak = peak_bytes(lambda: one_line_error(load_npz, p))
    assert peak < 20 * 2**20
    assert "forged.npz" in one_line_error(load_npz, p)


def test_npz_not_npy_member(tmp_path):
    p = tmp_path / "raw.npz"
    npz_with_member(p, "x.npy", b"these are not npy bytes")
    msg = one_line_error(load_npz, p)
    assert "raw.npz" in msg and "'x'" in msg


def test_npz_object_array_never_unpickled(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, points=np.array([[1, 2], [3, "a"]], dtype=object))
    msg = one_line_error(load_npz, p)
    assert "obj.npz" in msg and "object" in msg


def test_idx_dims_overflowing_int64(tmp_path):
    # 2**22 * 2**21 * 2**21 == 2**64: wraps to 0 in int64, which matched an empty payload.
    p = tmp_path / "im"
    p.write_bytes(struct.pack(">IIII", 0x803, 2**22, 2**21, 2**21))
    msg = one_line_error(read_idx_images, p)
    assert "im" in msg


def test_idx_gzip_bomb_rejected_before_allocating(tmp_path):
    p = tmp_path / "im.gz"
    p.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 1, 4, 4) + bytes(16 + 50 * 2**20)))
    peak = peak_bytes(lambda: one_line_error(read_idx_images, p))
    assert peak < 10 * 2**20
    assert "trailing" in one_line_error(read_idx_images, p)


def test_idx_huge_gz_header_rejected_before_reading(tmp_path):
    p = tmp_path / "im.gz"
    p.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 10**9, 28, 28) + bytes(64)))
    msg = one_line_error(read_idx_images, p)
    assert "im.gz" in msg and "1000000000" in msg


# ---------- special files never block ----------

@pytest.mark.parametrize("reader", [load_npz, read_idx_images])
def test_fifo_is_refused_not_read(tmp_path, reader):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)  # opening it for reading would wait forever for a writer
    msg = one_line_error(reader, fifo)
    assert "data.npz" in msg and "regular file" in msg


def test_npz_missing_or_folder(tmp_path):
    assert "no such file" in one_line_error(load_npz, tmp_path / "nope.npz")
    assert "regular file" in one_line_error(load_dataset, "npz", path=str(tmp_path))


# ---------- images whose header claims a huge size ----------

def png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG with its IHDR (and CRC) rewritten to claim width x height pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    ihdr = png.index(b"IHDR")
    png[ihdr + 4: ihdr + 12] = struct.pack(">II", width, height)
    png[ihdr + 17: ihdr + 21] = struct.pack(">I", zlib.crc32(png[ihdr: ihdr + 17]))
    return bytes(png)


def test_folder_decompression_bomb(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    msg = one_line_error(load_folder, tmp_path, 8, 3)
    assert "bomb.png" in msg
