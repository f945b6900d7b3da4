"""Output paths: refuse one that cannot be written before any work is done, and name the file when writing fails."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..api import save_image_grid
from ..errors import GanforgeError


def check_out(path: str | None, flag: str = "--out") -> None:
    """Refuse an output path that cannot be written before any work is done: an existing folder, or a path
    through a file. (Permissions and full disks surface at write time, see `writing`.)"""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise GanforgeError(f"{flag} {path}: is a folder; give a file name (inside it, if you like)")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise GanforgeError(f"{flag} {path}: {parent} is a file, not a folder")


def check_run_out(path: str | None) -> None:
    """train --out names a folder: refuse a file there, or a path through one, before the data is loaded."""
    if path is None:
        return
    for p in (Path(path), *Path(path).parents):
        if p.exists() and not p.is_dir():
            raise GanforgeError(f"--out {path}: {'it' if p == Path(path) else p} is a file, not a folder")


def npz_path(path: str) -> Path:
    """The file numpy will write for `path`: it adds .npz when missing, so the messages say so."""
    out = Path(path)
    return out if out.suffix == ".npz" else out.with_name(out.name + ".npz")


class writing:
    """Create the output's folder and turn OS errors while writing it into a user error naming the file."""

    def __init__(self, path: str | Path, flag: str = "--out"):
        self.path, self.flag = Path(path), flag

    def __enter__(self) -> Path:
        check_out(str(self.path), self.flag)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GanforgeError(f"{self.flag} {self.path}: cannot create {self.path.parent} ({e.strerror or e})") from None
        return self.path

    def __exit__(self, kind, err, tb) -> bool:
        if isinstance(err, OSError):
            raise GanforgeError(f"{self.flag} {self.path}: cannot write ({err.strerror or err})") from None
        return False


def write_npz(path: Path, arrays: dict, flag: str = "--out") -> None:
    """Arrays as a compressed .npz (the path as `npz_path` gives it)."""
    with writing(path, flag):
        np.savez_compressed(path, **arrays)


def write_grid(x, path: str, cols: int, flag: str = "--out") -> None:
    """Images (N, C, H, W) in [-1, 1] as one PNG grid of `cols` columns."""
    with writing(path, flag):
        save_image_grid(x, path, cols=cols)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 shard", "3 shards": a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
