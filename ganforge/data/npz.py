"""Datasets stored as a NumPy .npz archive."""
from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib

import numpy as np
import torch

from ganforge.data.base import MAX_DEFLATE_RATIO, check_file, one_line
from ganforge.errors import GanforgeError

IMAGE_KEYS = ("x", "images")
POINT_KEYS = ("points",)
LABEL_KEYS = ("labels", "y")
# The families build class embeddings of size max(label) + 1: a larger label is a corrupt or mistaken file.
MAX_LABEL = 99_999
# How far each zip method numpy writes (savez, savez_compressed) can expand a member.
EXPANSION = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: MAX_DEFLATE_RATIO}
# What zipfile, zlib and numpy.lib.format raise on damaged archives.
CORRUPT = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, struct.error, NotImplementedError,
           RuntimeError, OverflowError)


def load_npz(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(x, labels or None, kind). Images become (N, C, H, W): uint8 ones stay uint8 (the Dataset maps them to
    [-1, 1] a batch at a time), float ones become float32 as stored. Points become float32 (N, D). Only the data and label arrays are read."""
    path = str(path)
    check_file(path, "an .npz file")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {n.removesuffix(".npy"): n for n in zf.namelist()}
            key = next((k for k in IMAGE_KEYS + POINT_KEYS if k in members), None)
            if key is None:
                raise GanforgeError(f"{path}: no data key; expected one of {', '.join(IMAGE_KEYS + POINT_KEYS)}, "
                                    f"found: {', '.join(sorted(members)) or '(none)'}")
            lkey = next((k for k in LABEL_KEYS if k in members), None)
            size = os.path.getsize(path)
            a = _read_member(zf, members[key], path, key, size)
            y = None if lkey is None else _read_member(zf, members[lkey], path, lkey, size)
    except CORRUPT as e:
        raise GanforgeError(f"{path}: not a readable .npz archive ({one_line(e)})") from None

    if key in POINT_KEYS:
        x, kind = _points(path, key, a), "vector"
    else:
        x, kind = _images(path, key, a), "image"
    labels = None if lkey is None else _labels(path, lkey, y, key, len(x))
    return x, labels, kind


def _read_member(zf: zipfile.ZipFile, name: str, path: str, key: str, archive_size: int) -> np.ndarray:
    """The array in member `name`, its .npy header checked against the member's size first, so a corrupt
    header claiming a huge shape is rejected before numpy allocates it; pickled (object) data is never read."""
    info = zf.getinfo(name)
    expansion = EXPANSION.get(info.compress_type)
    if expansion is None:
        raise GanforgeError(f"{path}: {key!r} uses zip compression method {info.compress_type}; "
                            "re-save it with numpy.savez or numpy.savez_compressed")
    if info.compress_size > archive_size or info.file_size > expansion * info.compress_size:
        raise GanforgeError(f"{path}: {key!r} has corrupt zip sizes ({info.compress_size} bytes compressed, "
                            f"{info.file_size} uncompressed, in a {archive_size}-byte file)")
    with zf.open(info) as f:
        dtype, shape = _npy_header(f, path, key)
        held = info.file_size - f.tell()
    claimed = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot overflow
    if claimed != held:
        raise GanforgeError(f"{path}: {key!r} header claims shape {shape} {dtype} ({claimed} bytes) "
                            f"but the archive holds {held} bytes of data; truncated or corrupt")
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _npy_header(f, path: str, key: str) -> tuple[np.dtype, tuple[int, ...]]:
    try:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise GanforgeError(f"{path}: {key!r} has unsupported .npy format version {version}")
        shape, _, dtype = read_header(f)
    except ValueError as e:
        raise GanforgeError(f"{path}: {key!r} is not a valid .npy array ({one_line(e)})") from None
    if dtype.hasobject:
        raise GanforgeError(f"{path}: {key!r} holds Python objects ({dtype}), which would need pickle; "
                            "ganforge never unpickles data: store numeric arrays")
    return dtype, shape


def _float32(path: str, key: str, a: np.ndarray) -> np.ndarray:
    """a as float32, rejecting NaN/Inf and values float32 cannot hold (which become Inf)."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = a.astype(np.float32)  # a copy: the tensor owns writable memory
    finite = np.isfinite(f)
    if not finite.all():
        first = np.unravel_index(np.argmin(finite), a.shape)  # argmin of a bool array: first False
        v = a[first]
        what = f"a non-finite value ({v})" if not np.isfinite(v) else f"value {v}, too large for float32,"
        raise GanforgeError(f"{path}: {key!r} has {what} at index {first[0]}")
    return f


def _check_shape(path: str, key: str, a: np.ndarray) -> None:
    if 0 in a.shape:
        raise GanforgeError(f"{path}: {key!r} is empty: shape {a.shape}")


def _points(path: str, key: str, a: np.ndarray) -> torch.Tensor:
    if a.ndim != 2 or a.dtype.kind not in "iuf":
        raise GanforgeError(f"{path}: key {key!r} must be a numeric (N, D) array, got shape {a.shape} {a.dtype}")
    _check_shape(path, key, a)
    return torch.from_numpy(_float32(path, key, a))


def _images(path: str, key: str, a: np.ndarray) -> torch.Tensor:
    if a.ndim not in (3, 4):
        raise GanforgeError(f"{path}: key {key!r} must be N,H,W or N,H,W,C / N,C,H,W images, got ndim {a.ndim} shape {a.shape}")
    if a.dtype != np.uint8 and a.dtype.kind != "f":
        raise GanforgeError(f"{path}: key {key!r} must be uint8 or float images, got {a.dtype}")
    _check_shape(path, key, a)
    if a.dtype == np.uint8:  # kept as 8-bit: converted to [-1, 1] a batch at a time
        t = torch.from_numpy(np.array(a))
    else:
        t = torch.from_numpy(_float32(path, key, a))
    if t.ndim == 3:
        return t.unsqueeze(1).contiguous()
    # NHWC when the last dim looks like a channel count; else already NCHW.
    if t.shape[-1] in (1, 3):
        t = t.permute(0, 3, 1, 2)
    return t.contiguous()


def _labels(path: str, key: str, y: np.ndarray, data_key: str, n: int) -> torch.Tensor:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise GanforgeError(f"{path}: key {key!r} must be a 1-D integer array, got shape {y.shape} {y.dtype}")
    if len(y) != n:
        raise GanforgeError(f"{path}: {n} examples in {data_key!r} but {len(y)} labels in {key!r}")
    for bad, what in ((y < 0, "a negative label"), (y > MAX_LABEL, f"a label too large (over {MAX_LABEL})")):
        if bad.any():
            i = int(np.argmax(bad))
            raise GanforgeError(f"{path}: {key!r} has {what}, {y[i]}, at index {i}; labels must be 0, 1, 2, …")
    return torch.from_numpy(y.astype(np.int64))
