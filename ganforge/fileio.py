"""File helpers every layer shares: atomic writes, file hashes, the cache folder and checked downloads.

A run is resumed from the files it wrote, and weights are trusted by their hash, so each of these exists once:
a crash mid-write leaves the old file or the new one (never half of one), and a download reaches its final path
only after its checksum matched.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from http.client import HTTPException
from pathlib import Path

from .errors import GanforgeError

Downloader = Callable[[str, Path], None]
CHUNK = 1 << 20


def cache_dir(*parts: str) -> Path:
    """ganforge's cache: ``$GANFORGE_CACHE`` when set, else ``~/.cache/ganforge``; `parts` name a subfolder."""
    root = os.environ.get("GANFORGE_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "ganforge").joinpath(*parts)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes, read in 1 MiB chunks (weights files are too large to read at once)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    return file_digest(path, "sha256")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write to; moved onto `path` (``os.replace``, atomic on one file system)
    when the block ends without error, removed when it raises. The temporary name keeps `path`'s suffix, so
    writers that pick a format by suffix (PIL, numpy) write the right one, and carries the pid, so two
    processes never share one."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # no-op after a successful replace


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


def check_writable(path: Path, what: str) -> None:
    """Before long work: a GanforgeError ("{what} {path}: cannot write there (…)") unless files can be created where
    `path` goes — inside it when it is a folder, else in its parent folder, or the nearest existing folder above a
    parent yet to be made. Tried by creating (and removing) a temporary file, which also sees read-only mounts."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise GanforgeError(f"{what} {path}: cannot write there ({folder} is not a folder)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".ganforge-write-check.", dir=folder)
    except OSError as e:
        raise GanforgeError(f"{what} {path}: cannot write there ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


class DownloadError(GanforgeError):
    """A download that failed (network, HTTP) or whose checksum did not match; nothing was written at `dest`."""


def urllib_download(url: str, dest: Path, timeout: float = 60) -> None:
    """Copy `url` to `dest` with urllib (http, https and file:// all work)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as f:
        shutil.copyfileobj(response, f, CHUNK)


def download(url: str, dest: str | os.PathLike, *, checksum: tuple[str, str] | None = None,
             downloader: Downloader | None = None) -> Path:
    """Fetch `url` to `dest`, checked against ``checksum = (algorithm, hex digest)`` before it is moved into
    place: an interrupted, failed or corrupt download never leaves a plausible-looking file at `dest`.
    ``downloader(url, tmp)`` replaces urllib (tests, mirrors). Raises DownloadError naming the URL; a folder
    that cannot be written raises GanforgeError naming the folder."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
    except OSError as e:
        raise GanforgeError(f"cannot write to {dest.parent} ({e.strerror or e})") from None
    tmp = Path(tmp_name)
    try:
        try:
            (downloader or urllib_download)(url, tmp)
        except (OSError, HTTPException) as e:  # URLError, HTTPError and socket timeouts are all OSErrors
            raise DownloadError(f"download of {url} failed ({e})") from None
        if checksum is not None:
            algorithm, want = checksum
            got = file_digest(tmp, algorithm)
            if got != want:
                raise DownloadError(f"{url}: {algorithm} mismatch (got {got}, expected {want}); "
                                    f"the file was discarded and nothing was written to {dest}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
