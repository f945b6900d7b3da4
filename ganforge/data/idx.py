"""Readers for the idx format used by MNIST and Fashion-MNIST (gzipped or raw)."""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ganforge.errors import GanforgeError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _read_bytes(path: str | os.PathLike) -> bytes:
    path = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise GanforgeError(f"{path}: cannot read idx file ({e.strerror or e})") from None
    # Decide on content, not the name, so a mis-named raw file still loads.
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise GanforgeError(f"{path}: truncated or corrupt gzip data ({e}); delete it and fetch it again") from None
    if path.endswith(".gz"):
        raise GanforgeError(f"{path}: named .gz but is not gzip data; delete it and fetch it again")
    return raw


def _parse(path: str | os.PathLike, magic: int) -> np.ndarray:
    data = _read_bytes(path)
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if len(data) < 4:
        raise GanforgeError(f"{path}: too short to be an idx {kind} file ({len(data)} bytes)")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise GanforgeError(f"{path}: wrong magic number 0x{got:08x}, expected 0x{magic:08x} for idx {kind}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GanforgeError(f"{path}: truncated header ({len(data)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(data) - header
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise GanforgeError(f"{path}: payload {what}: {payload} bytes, header dims {dims} need {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


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
