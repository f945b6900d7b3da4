"""Find (or fetch) the idx files of MNIST / Fashion-MNIST."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ganforge import fileio
from ganforge.errors import GanforgeError
from ganforge.fileio import Downloader, urllib_download

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class Source:
    """Where to download a dataset from, and what its .gz files must hash to."""

    base_url: str
    md5: dict[str, str] = field(default_factory=dict)


SOURCES: dict[str, Source] = {
    "fashion-mnist": Source(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
}

def cache_dir(dataset: str) -> Path:
    """Where a download of `dataset` goes: ganforge's cache ($GANFORGE_CACHE, else ~/.cache/ganforge)/<dataset>."""
    return fileio.cache_dir(dataset)


def _find_in(d: Path, split: str) -> tuple[Path, Path] | None:
    """Both files of `split` in `d`, preferring .gz; None unless both exist."""
    found = []
    for stem in FILES[split]:
        hit = next((d / (stem + ext) for ext in (".gz", "") if (d / (stem + ext)).is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


def candidate_dirs(dataset: str, path: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched, in order. An explicit path is searched alone (with its <dataset> subdir): a user who
    names a place must never silently get data from somewhere else. Otherwise: $GANFORGE_DATA(/<dataset>),
    the system package (Fashion-MNIST), the cache."""
    if path is not None:
        return [Path(path), Path(path) / dataset]
    dirs: list[Path] = []
    env = os.environ.get("GANFORGE_DATA")
    if env:
        dirs += [Path(env), Path(env) / dataset]
    if dataset == "fashion-mnist":
        dirs.append(Path(SYSTEM_DIR))
    dirs.append(cache_dir(dataset))
    return dirs


def download(
    dataset: str,
    split: str,
    dest: Path,
    source: Source | None = None,
    downloader: Downloader = urllib_download,
) -> tuple[Path, Path]:
    """Fetch the two .gz files of `split` into `dest`, checking md5 (fileio.download: an interrupted or corrupt
    download never leaves a plausible-looking partial file)."""
    src = source or SOURCES[dataset]
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(f"cannot create download directory {dest}: {e.strerror or e}") from None
    out = []
    for stem in FILES[split]:
        name = stem + ".gz"
        final = dest / name
        url = src.base_url.rstrip("/") + "/" + name
        want = src.md5.get(name)
        out.append(fileio.download(url, final, checksum=("md5", want) if want is not None else None,
                                   downloader=downloader))
    return out[0], out[1]


def find_files(
    dataset: str,
    split: str = "train",
    path: str | os.PathLike | None = None,
    *,
    source: Source | None = None,
    downloader: Downloader | None = urllib_download,
) -> tuple[Path, Path]:
    """(images, labels) paths for `dataset`/`split`. With an explicit `path` only that path is searched and
    nothing is downloaded; otherwise the lookup order, then a download into the cache (downloader=None: none)."""
    if dataset not in SOURCES:
        raise GanforgeError(f"unknown idx dataset {dataset!r}; known: {', '.join(SOURCES)}")
    if split not in FILES:
        raise GanforgeError(f"unknown split {split!r} for {dataset}; use one of: {', '.join(FILES)}")
    wanted = " and ".join(f"{s}[.gz]" for s in FILES[split])
    if path is not None:
        return _find_explicit(dataset, split, Path(path), wanted)
    dirs = candidate_dirs(dataset)
    for d in dirs:
        hit = _find_in(d, split)
        if hit:
            return hit
    looked = "\n  ".join(str(d) for d in dirs)
    howto = (
        "To get the data: `apt-get install dataset-fashion-mnist` (Fashion-MNIST), "
        "or pass --data DIR holding the idx files, or set GANFORGE_DATA=DIR."
    )
    if downloader is None:
        raise GanforgeError(f"{dataset} {split} files {wanted} not found; looked in:\n  {looked}\n{howto}")
    try:
        return download(dataset, split, cache_dir(dataset), source, downloader)
    except GanforgeError as e:
        raise GanforgeError(
            f"{dataset} {split} files {wanted} not found; looked in:\n  {looked}\n"
            f"and the download failed: {e}\n{howto}"
        ) from None


def _find_explicit(dataset: str, split: str, path: Path, wanted: str) -> tuple[Path, Path]:
    if not path.exists():
        raise GanforgeError(f"--data {path}: no such directory (expected one holding the {dataset} files {wanted})")
    if not path.is_dir():
        raise GanforgeError(f"--data {path}: not a directory (expected one holding the {dataset} files {wanted})")
    for d in candidate_dirs(dataset, path):
        hit = _find_in(d, split)
        if hit:
            return hit
    raise GanforgeError(f"--data {path}: {dataset} {split} files {wanted} not found in {path} "
                        f"or {path / dataset}")
