"""Packing a folder of images or a uint8 array into tar shards and their manifest (`ganforge data pack`).

Images are read, encoded and written one at a time, so a set larger than memory packs. The shards go into a
hidden `.NAME.partial-PID` folder that is renamed into place only once the manifest is written: a crash leaves
no plausible-looking set behind. Tar members carry fixed metadata, so the same input packs to the same bytes.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ganforge._version import __version__
from ganforge.data.base import one_line
from ganforge.data.shards.layout import FORMAT, MANIFEST, VERSION, fields
from ganforge.errors import GanforgeError
from ganforge.fileio import file_sha256

DEFAULT_SHARD_SIZE = 1000
PNG_LEVEL = 1  # zlib level: 6 is ~2× slower to pack for a few % smaller files; decoding speed is the same
KEY_DIGITS = 9


def _png(a: np.ndarray) -> bytes:
    """One (C, H, W) uint8 image as PNG bytes: mode L or RGB."""
    hwc = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(hwc)).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed metadata: the same input packs to the same bytes
    tar.addfile(info, io.BytesIO(data))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_shards(examples: Iterable[tuple[np.ndarray, int | None, list[str] | None]], folder: Path,
                  shard_size: int) -> list[dict]:
    """Stream (image (C, H, W) uint8, label or None, captions or None) into tars of shard_size examples; one image
    in memory."""
    shards: list[dict] = []
    tar, count, index = None, 0, 0

    def finish():
        tar.close()
        path = folder / shards[-1]["name"]
        _fsync(path)
        shards[-1].update(count=count, bytes=path.stat().st_size, sha256=file_sha256(path))

    for image, label, captions in examples:
        if tar is None:
            shards.append({"name": f"shard-{len(shards):06d}.tar"})
            tar = tarfile.open(folder / shards[-1]["name"], "w", format=tarfile.USTAR_FORMAT)
        key = f"{index:0{KEY_DIGITS}d}"
        _add_member(tar, f"{key}.png", _png(image))
        if label is not None:
            _add_member(tar, f"{key}.cls", str(int(label)).encode())
        if captions is not None:
            _add_member(tar, f"{key}.txt", "\n".join(captions).encode("utf-8"))
        index, count = index + 1, count + 1
        if count == shard_size:
            finish()
            tar, count = None, 0
    if tar is not None:
        finish()
    return shards


def _commit(out: Path, write) -> dict:
    """Run write(tmp_folder) → manifest, then rename the folder into place: a crash leaves no plausible set at out."""
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise GanforgeError(f"{out}: already exists; pack writes a new folder (remove it or choose another --out)")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise GanforgeError(f"{out}: {parent} is a file, not a folder")
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    remove_stale_partials(out)
    try:
        if tmp.exists():  # left by a crashed run of this same pid number: never a complete set
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        manifest = write(tmp)
        text = json.dumps(manifest, indent=1) + "\n"
        # a plain write, synced: the folder's rename below is what makes the set appear whole or not at all
        with open(tmp / MANIFEST, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if out.exists():
            out.rmdir()  # the empty folder checked above
        os.rename(tmp, out)
        _fsync(out.parent)
    except OSError as e:
        raise GanforgeError(f"{out}: cannot write shards ({one_line(e)})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _alive(pid: int) -> bool:
    """Whether a process `pid` runs (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(out: Path) -> list[Path]:
    """Delete the `.NAME.partial-PID` folders beside `out` that a pack killed mid-way left (its PID no longer runs);
    a pack still running keeps its own. Returns those removed."""
    stale = []
    for p in out.parent.glob(f".{out.name}.partial-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            stale.append(p)
    return stale


def _manifest(shards: list[dict], shape: tuple[int, ...], classes: list[str] | None, made: dict,
              captions: dict | None = None) -> dict:
    return {
        "format": FORMAT, "version": VERSION,
        "num_examples": sum(s["count"] for s in shards),
        "shape": list(shape),
        "fields": fields(classes is not None, captions is not None),
        "classes": classes,
        "captions": captions,  # {"count": all captions, "source": what made them}, or None
        "shards": shards,
        "created_by": made | {"ganforge": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "png_compress_level": PNG_LEVEL},
    }


def _check_shard_size(shard_size: int) -> None:
    if not isinstance(shard_size, int) or shard_size <= 0:
        raise GanforgeError(f"shard_size must be a positive whole number, got {shard_size}")


def pack_array(x: np.ndarray | torch.Tensor, out: str | os.PathLike, *, labels: Sequence[int] | None = None,
               class_names: Sequence[str] | None = None, shard_size: int = DEFAULT_SHARD_SIZE,
               source: str = "array", captions: Sequence[Sequence[str]] | None = None,
               caption_source: str = "array") -> dict:
    """Pack uint8 images (N, C, H, W), C 1 or 3, optional int labels (N,) and optional captions (N lists of one or
    more each; `caption_source` says what made them, e.g. "attributes") into shards at out. Returns the manifest."""
    x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise GanforgeError(f"pack: images must be uint8 (N, C, H, W) with N ≥ 1 and C 1 or 3, got {x.dtype} {x.shape}")
    _check_shard_size(shard_size)
    classes = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(x),) or labels.dtype.kind not in "iu" or labels.min() < 0:
            raise GanforgeError(f"pack: labels must be whole numbers ≥ 0 of shape ({len(x)},), got {labels.dtype} "
                                f"{labels.shape}")
        k = int(labels.max()) + 1
        classes = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
        if len(classes) < k:
            raise GanforgeError(f"pack: {len(classes)} class names for labels up to {k - 1}")
    made = {"kind": "array", "source": source}
    if captions is not None:
        if len(captions) != len(x):
            raise GanforgeError(f"pack: {len(captions)} caption lists for {len(x)} images")
        captions = [check_caption_lines(caps, f"pack: image {i}") for i, caps in enumerate(captions)]
    about = caption_record(captions, caption_source)
    examples = ((x[i], None if labels is None else int(labels[i]), None if captions is None else captions[i])
                for i in range(len(x)))
    return _commit(Path(out), lambda tmp: _manifest(_write_shards(examples, tmp, shard_size), x.shape[1:], classes,
                                                    made, about))


def check_caption_lines(captions: Sequence[str], where: str) -> list[str]:
    """An image's captions as `.txt` keeps them, one a line: a GanforgeError naming `where` for none, an empty
    one, or one that holds a line break."""
    if isinstance(captions, str) or not captions:
        raise GanforgeError(f"{where}: expected a list of one or more captions, got {captions!r}")
    for c in captions:
        if not isinstance(c, str) or not c.strip():
            raise GanforgeError(f"{where}: an empty caption")
        if "\n" in c or "\r" in c:
            raise GanforgeError(f"{where}: the caption {c[:40]!r} holds a line break; shards keep one caption a "
                                "line")
    return [c.strip() for c in captions]


def caption_record(captions: list[list[str]] | None, source: str) -> dict | None:
    """The manifest's `captions` entry: how many there are and what made them; None for a set without."""
    return None if captions is None else {"count": sum(len(c) for c in captions), "source": source}


def has_captions(root: Path, files: list[Path]) -> bool:
    """Whether a folder is captioned: a captions.jsonl or captions.csv at its top, or a name.txt beside an image."""
    return (root / "captions.jsonl").is_file() or (root / "captions.csv").is_file() or \
        any(f.with_suffix(".txt").is_file() for f in files)


def _folder_size(files: list[Path]) -> tuple[int, int]:
    """The (width, height) all images share, read from headers only; an error when they differ."""
    sizes: dict[tuple[int, int], Path] = {}
    for p in files:
        try:
            with Image.open(p) as im:
                sizes.setdefault(im.size, p)
        except Exception as e:  # PIL raises many types for a damaged header
            raise GanforgeError(f"{p}: unreadable or corrupt image ({type(e).__name__}: {one_line(e)})") from None
        if len(sizes) > 1:
            (a, pa), (b, pb) = list(sizes.items())[:2]
            raise GanforgeError(f"images differ in size ({pa} is {a[0]}×{a[1]}, {pb} is {b[0]}×{b[1]}); "
                                "pass --image-size S to centre-crop and resize them all to S×S")
    return next(iter(sizes))


def _load_as_is(p: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(p) as im:
            a = np.asarray(im.convert(mode), dtype=np.uint8)
    except Exception as e:
        raise GanforgeError(f"{p}: unreadable or corrupt image ({type(e).__name__}: {one_line(e)})") from None
    return a[:, :, None] if a.ndim == 2 else a


def pack_folder(folder: str | os.PathLike, out: str | os.PathLike, *, image_size: int | None = None,
                channels: int | None = None, shard_size: int = DEFAULT_SHARD_SIZE, progress: bool | None = None) -> dict:
    """Pack an image folder as `load_folder` reads it (sorted recursive listing; class sub-folders become labels;
    centre crop + bicubic resize to image_size) into shards at out. image_size None keeps the images' common size;
    channels None takes them from the data, as training does (1 when every image is grey, else 3). A captioned
    folder (name.txt beside name.png, or captions.jsonl / captions.csv: `ganforge.data.captions`) packs each
    image's captions beside it; an image without one is an error naming it. Images are read, encoded and written
    one at a time, counted by a progress bar on stderr (`progress` None: on a terminal only). Returns the manifest."""
    from ganforge.data.captions import folder_captions
    from ganforge.data.folder import EXTENSIONS, _load_one, check_folder_options, image_shape, list_images

    root = check_folder_options(folder, image_size, channels)
    _check_shard_size(shard_size)
    out = Path(out)
    if out.resolve().is_relative_to(root.resolve()):
        raise GanforgeError(f"{out}: is inside {root}; its PNGs would be packed next time — choose --out elsewhere")
    files = list_images(root)
    if not files:
        raise GanforgeError(f"{root}: no images found (looked recursively for {', '.join(sorted(EXTENSIONS))})")
    captions = None
    if has_captions(root, files):  # read and checked whole before any image is: a missing one fails in seconds
        captions = [check_caption_lines(caps, str(f)) for caps, f in zip(folder_captions(root, files), files)]
    if channels is None:  # the data decides, by the same rule as a training run on the folder
        channels = image_shape(files)[1]
    mode = "L" if channels == 1 else "RGB"
    if image_size is None:
        w, h = _folder_size(files)
        load = lambda p: _load_as_is(p, mode)  # noqa: E731
    else:
        w = h = image_size
        load = lambda p: _load_one(p, image_size, mode)  # noqa: E731
    tops = [p.relative_to(root).parts for p in files]
    classes = sorted({t[0] for t in tops}) if all(len(t) >= 2 for t in tops) else None
    index = {c: i for i, c in enumerate(classes or [])}
    bar = tqdm(zip(files, tops), total=len(files), desc="packing", unit="image",
               disable=None if progress is None else not progress)
    examples = ((load(p).transpose(2, 0, 1), index[t[0]] if classes else None, None if captions is None else
                 captions[i]) for i, (p, t) in enumerate(bar))
    made = {"kind": "folder", "source": str(root.resolve()), "image_size": image_size, "channels": channels,
            "resize": "none" if image_size is None else "centre crop + bicubic (PIL ImageOps.fit)"}
    try:
        return _commit(out, lambda tmp: _manifest(_write_shards(examples, tmp, shard_size), (channels, h, w), classes,
                                                  made, caption_record(captions, "files")))
    finally:
        bar.close()


def pack(source: str | os.PathLike | np.ndarray | torch.Tensor, out: str | os.PathLike, **options) -> dict:
    """Pack a folder (path) or a uint8 (N, C, H, W) array into shards at out; options as pack_folder / pack_array."""
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return pack_array(source, out, **options)
    return pack_folder(source, out, **options)
