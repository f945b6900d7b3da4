"""Readers for the idx format used by MNIST and Fashion-MNIST (gzipped or raw)."""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from ganforge.data.base import MAX_DEFLATE_RATIO, check_file, one_line
from ganforge.errors import GanforgeError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _open(path: str) -> tuple[BinaryIO, int, bool]:
    """(byte stream, the most bytes it can honestly hold, gzipped?) for `path`."""
    check_file(path, "an idx file")
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        # Decide on content, not the name, so a mis-named raw file still loads.
        if not gz and path.endswith(".gz"):
            raise GanforgeError(f"{path}: named .gz but is not gzip data; delete it and fetch it again")
        return (gzip.open(path, "rb") if gz else open(path, "rb")), size * (MAX_DEFLATE_RATIO if gz else 1), gz
    except OSError as e:
        raise GanforgeError(f"{path}: cannot read idx file ({e.strerror or one_line(e)})") from None


def _read_array(f: BinaryIO, path: str, magic: int, limit: int) -> np.ndarray:
    """The array of an open idx stream; the header is checked against `limit` before the payload is read,
    so a corrupt header claiming billions of elements never allocates them."""
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    head = f.read(4)
    if len(head) < 4:
        raise GanforgeError(f"{path}: too short to be an idx {kind} file ({len(head)} bytes)")
    got = int.from_bytes(head, "big")
    if got != magic:
        raise GanforgeError(f"{path}: wrong magic number 0x{got:08x}, expected 0x{magic:08x} for idx {kind}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise GanforgeError(f"{path}: truncated header ({4 + len(raw_dims)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    if dims[0] == 0:
        raise GanforgeError(f"{path}: holds no {kind} (header dims {dims})")
    if 0 in dims:
        raise GanforgeError(f"{path}: header dims {dims} describe empty {kind}")
    expected = math.prod(dims)  # Python ints: no overflow, unlike a fixed-width product
    if expected > limit - header:
        raise GanforgeError(f"{path}: payload truncated or header corrupt: header dims {dims} need {expected} bytes, "
                            f"the file can hold at most {max(limit - header, 0)}")
    payload = f.read(expected)
    if len(payload) < expected:
        raise GanforgeError(f"{path}: payload truncated: {len(payload)} bytes, header dims {dims} need {expected}")
    if f.read(1):
        raise GanforgeError(f"{path}: payload has trailing bytes: header dims {dims} need only {expected}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _parse(path: str | os.PathLike, magic: int) -> np.ndarray:
    path = str(path)
    f, limit, gz = _open(path)
    try:
        with f:
            return _read_array(f, path, magic, limit)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        what = "truncated or corrupt gzip data" if gz else "read error"
        raise GanforgeError(f"{path}: {what} ({one_line(e)}); delete it and fetch it again") from None


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """uint8 array (N, H, W) from an idx3 images file."""
    return _parse(path, IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """uint8 array (N,) from an idx1 labels file."""
    return _parse(path, LABELS_MAGIC)


def read_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels, checked to describe the same number of examples."""
    x = read_idx_images(images_path)
    y = read_idx_labels(labels_path)
    if len(x) != len(y):
        raise GanforgeError(
            f"{images_path} has {len(x)} images but {labels_path} has {len(y)} labels; the files do not belong together"
        )
    return x, y
