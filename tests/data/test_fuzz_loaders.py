"""Property-based fuzzing of the data loaders with damaged files: idx (raw and .gz), .npz archives and image folders.

Every case must end in a sane load or a GanforgeError of one line; any other exception fails. The runs are
deterministic (a CI run sees the same cases); FUZZ_SEARCH=N explores N times as many, freshly random, cases.
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge.data import load_dataset, lookup
from ganforge.data.folder import load_folder
from ganforge.data.npz import load_npz
from ganforge.errors import GanforgeError

SEARCH = int(os.environ.get("FUZZ_SEARCH", "0"))


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples * max(SEARCH, 1), deadline=None, database=None, derandomize=not SEARCH,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(autouse=True)
def no_download(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.setattr(lookup, "download", lambda *a, **k: pytest.fail("a loader tried to download"))


def outcome(load):
    """load() or the GanforgeError it raised; anything else propagates and fails the test."""
    try:
        return load()
    except GanforgeError as e:
        assert "\n" not in str(e), repr(str(e))
        return e


def assert_sane(x: torch.Tensor, labels: torch.Tensor | None) -> None:
    # 8-bit images are kept as uint8 (converted per batch); everything else is finite float32
    assert x.dtype in (torch.uint8, torch.float32) and len(x) >= 1 and 0 not in x.shape
    assert x.dtype == torch.uint8 or torch.isfinite(x).all()
    if labels is not None:
        assert labels.dtype == torch.int64 and labels.shape == (len(x),) and labels.min() >= 0


# ---------- damage ----------

DAMAGE = ("keep", "truncate", "flip", "flip-head", "empty", "garbage", "append")


def damage(data: st.DataObject, good: bytes, how: str) -> bytes:
    """`good` after one kind of damage; flip-head aims its bit flips at the first 64 bytes, where headers are."""
    if how == "keep" or not good:
        return good
    if how == "truncate":
        return good[: data.draw(st.integers(0, len(good) - 1), label="cut")]
    if how == "empty":
        return b""
    if how == "garbage":
        return data.draw(st.binary(max_size=300), label="garbage")
    if how == "append":
        return good + data.draw(st.binary(min_size=1, max_size=64), label="tail")
    end = min(len(good), 64) if how == "flip-head" else len(good)
    out = bytearray(good)
    for pos in data.draw(st.lists(st.integers(0, end - 1), min_size=1, max_size=6), label="flips"):
        out[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    return bytes(out)


# ---------- idx ----------

def idx_images(n: int, h: int, w: int, seed: int) -> bytes:
    pix = np.random.default_rng(seed).integers(0, 256, n * h * w, dtype=np.uint8)
    return struct.pack(">IIII", 0x803, n, h, w) + pix.tobytes()


def idx_labels(n: int, seed: int) -> bytes:
    return struct.pack(">II", 0x801, n) + np.random.default_rng(seed).integers(0, 10, n, dtype=np.uint8).tobytes()


def big_header(data: st.DataObject, good: bytes) -> bytes:
    """good with its magic or dims overwritten: dims claiming up to billions of elements, or another magic."""
    out = bytearray(good)
    field = data.draw(st.integers(0, min(len(good) // 4, 4) - 1), label="field")
    big = data.draw(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0x801, 0x803, 0x802, 0xD03, 10**9])),
                    label="value")
    out[4 * field: 4 * field + 4] = struct.pack(">I", big)
    return bytes(out)


@fuzz(600)
@given(n=st.integers(1, 5), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)), gz=st.booleans(),
       gz_outside=st.booleans(), which=st.sampled_from(["images", "labels"]),
       how=st.sampled_from(DAMAGE + ("header",)), data=st.data())
def test_idx_fuzz(workdir, n, hw, gz, gz_outside, which, how, data):
    files = {"images": idx_images(n, *hw, seed=n), "labels": idx_labels(n, seed=n)}
    hurt = (lambda b: big_header(data, b)) if how == "header" else (lambda b: damage(data, b, how))
    # Damage the idx bytes (then gzip: a valid stream of a bad file) or the gzip stream itself.
    if gz and gz_outside:
        files = {k: gzip.compress(v, 1) for k, v in files.items()}
        files[which] = hurt(files[which])
    else:
        files[which] = hurt(files[which])
        files = {k: gzip.compress(v, 1) for k, v in files.items()} if gz else files
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        for blob, stem in zip(files.values(), lookup.FILES["train"]):
            (Path(d) / (stem + (".gz" if gz else ""))).write_bytes(blob)
        got = outcome(lambda: load_dataset("mnist", path=d))
    if how == "keep":
        assert not isinstance(got, GanforgeError), got
    if not isinstance(got, GanforgeError):
        assert got.x.ndim == 4 and got.x.shape[1] == 1
        assert_sane(got.x, got.labels)


# ---------- npz ----------

DTYPES = ["uint8", "float32", "float64", "float16", "int64", "int32", "uint64", "bool", "complex64", "<U2", "m8[s]",
          "object"]


@st.composite
def npz_spec(draw) -> dict[str, np.ndarray]:
    """Arrays of an npz: a data key of any dtype/ndim, maybe labels of any length, dtype and sign."""
    key = draw(st.sampled_from(["x", "images", "points", "pixels"]))
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=5)))
    values = draw(st.sampled_from([0.0, 1.0, -3.5, np.nan, np.inf, 300.0, 1e300]))
    if dtype == "object":
        a = np.empty(shape, object)
        a[...] = values
    else:
        a = np.zeros(shape, dtype)
        if a.size and a.dtype.kind in "fc":
            with np.errstate(over="ignore"):  # 1e300 in float16/32 is inf: one more non-finite case
                a.flat[draw(st.integers(0, a.size - 1))] = values
    arrays = {key: a}
    if draw(st.booleans()):
        n = (shape[0] if shape else 0) + draw(st.sampled_from([0, 0, 0, 1, -1]))
        ldtype = draw(st.sampled_from(["int64", "uint8", "float32", "int8"]))
        labels = np.arange(max(n, 0)).astype(ldtype)
        if draw(st.booleans()) and len(labels) and labels.dtype.kind == "i":
            labels[draw(st.integers(0, len(labels) - 1))] = -draw(st.integers(1, 100))
        arrays[draw(st.sampled_from(["labels", "y"]))] = labels
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def check_npz(workdir: Path, blob: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".npz") as f:
        f.write(blob)
        f.flush()
        got = outcome(lambda: load_npz(f.name))
    if not isinstance(got, GanforgeError):
        x, labels, kind = got
        assert kind in ("image", "vector") and x.ndim == (4 if kind == "image" else 2)
        assert_sane(x, labels)


@fuzz(800)
@given(arrays=npz_spec(), compressed=st.booleans(), how=st.sampled_from(DAMAGE), data=st.data())
def test_npz_fuzz(workdir, arrays, compressed, how, data):
    check_npz(workdir, damage(data, npz_bytes(arrays, compressed), how))


def npy_member(shape: tuple[int, ...], descr: str, payload: int, version: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    write = np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0
    write(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + bytes(payload)


@fuzz(300)
@given(shape=st.lists(st.one_of(st.integers(0, 8), st.integers(0, 2**63 - 1)), min_size=1, max_size=4).map(tuple),
       descr=st.sampled_from(["<f8", "|u1", "<f4", "<i8", "|O", "|V8", "<U4"]), payload=st.integers(0, 256),
       version=st.sampled_from([(1, 0), (2, 0)]), method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
       key=st.sampled_from(["points.npy", "x.npy", "images.npy", "labels.npy"]))
def test_npz_header_claims(workdir, shape, descr, payload, version, method, key):
    """.npy headers claiming shapes up to 2**63 per dim over a few bytes: rejected before numpy allocates them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        z.writestr(key, npy_member(shape, descr, payload, version))
        if key == "labels.npy":
            z.writestr("points.npy", npy_member((2, 2), "<f8", 32, (1, 0)))
    check_npz(workdir, buf.getvalue())


# ---------- image folders ----------

def image_bytes(fmt: str, size: tuple[int, int], mode: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, fmt)
    return buf.getvalue()


def claim_size(data: st.DataObject, image: bytes, fmt: str) -> bytes:
    """image with the width and height in its header replaced (PNG: IHDR, CRC kept valid; JPEG: SOF0)."""
    w, h = (data.draw(st.sampled_from([0, 1, 3, 300, 65535, 100_000, 2**31 - 1]), label=k) for k in "wh")
    out = bytearray(image)
    if fmt == "PNG":
        at = out.index(b"IHDR")
        out[at + 4: at + 12] = struct.pack(">II", w, h)
        out[at + 17: at + 21] = struct.pack(">I", zlib.crc32(out[at: at + 17]))
    else:
        at = out.index(b"\xff\xc0")
        out[at + 5: at + 9] = struct.pack(">HH", min(h, 65535), min(w, 65535))
    return bytes(out)


@fuzz(500)
@given(good=st.integers(0, 2), fmt=st.sampled_from(["PNG", "JPEG"]), ext=st.sampled_from([".png", ".jpg", ".jpeg"]),
       size=st.tuples(st.integers(1, 12), st.integers(1, 12)), mode=st.sampled_from(["RGB", "L"]),
       channels=st.sampled_from([1, 3]), how=st.sampled_from(DAMAGE + ("text", "claim")), data=st.data())
def test_folder_fuzz(workdir, good, fmt, ext, size, mode, channels, how, data):
    image = image_bytes(fmt, size, mode, 7)
    if how == "text":
        blob = b"just some notes, not an image\n"
    else:
        blob = claim_size(data, image, fmt) if how == "claim" else damage(data, image, how)
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        for i in range(good):
            (Path(d) / f"good{i}.png").write_bytes(image_bytes("PNG", (5, 4), "RGB", i))
        (Path(d) / f"suspect{ext}").write_bytes(blob)
        got = outcome(lambda: load_folder(d, 8, channels))
    if isinstance(got, GanforgeError):
        assert "suspect" in str(got)  # the message names the bad file
        assert how != "keep"
    else:
        x, labels, _ = got
        assert x.shape == (good + 1, channels, 8, 8) and labels is None
        assert_sane(x, labels)
        assert x.dtype == torch.uint8  # 8-bit, converted to [-1, 1] per batch
