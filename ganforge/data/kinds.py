"""What a `--data` path holds: the data decides what the config left open.

`detect_kind(path)` reads a path's layout (never its pixels) and names its kind; `settle_data` puts that kind
into a run's `data:` section unless the user named the dataset on the command line; `start_line` says in one line
what a run will train on. (The side and channels a folder's images train at: `ganforge.data.folder.image_shape`.)
"""
from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from ganforge.config import DataConfig, RunConfig
from ganforge.errors import GanforgeError
from ganforge.metrics.frozen_evaluator import EVALUATOR_DIR
from ganforge.data.folder import list_images
from ganforge.data.mixtures import MIXTURES

IDX_DATASETS = ("fashion-mnist", "mnist")
IMAGE_KINDS = ("folder", "pairs", "unpaired")  # a plain image folder can read any of these layouts

WORDS = {
    "idx": "idx files (MNIST or Fashion-MNIST)",
    "fashion-mnist": "idx files (Fashion-MNIST)",
    "mnist": "idx files (MNIST)",
    "folder": "an image folder",
    "shards": "packed shards (manifest.json)",
    "pairs": "pix2pix pairs",
    "unpaired": "CycleGAN's two domains (trainA/, trainB/)",
    "npz": "an .npz file",
}


def _has_idx(d: Path) -> bool:
    return d.is_dir() and any(f.name.endswith(("-idx3-ubyte", "-idx3-ubyte.gz")) for f in d.iterdir())


def _side_by_side(folder: Path) -> bool:
    """Whether the first image of `folder` is twice as wide as high (pix2pix's A|B files)."""
    from PIL import Image

    files = list_images(folder)
    if not files:
        return False
    try:
        with Image.open(files[0]) as im:
            w, h = im.size
    except Exception:  # a damaged file is reported by the loader, naming it
        return False
    return w == 2 * h


def detect_kind(path: str | os.PathLike) -> str:
    """The kind of data at `path`: "npz", "shards" (a manifest.json), "unpaired" (trainA/ and trainB/),
    "pairs" (A/train/ + B/train/, or train/ of images twice as wide as high), "idx" (MNIST or Fashion-MNIST idx
    files: which one, the path cannot say) or "folder" (images, in class sub-folders or flat)."""
    p = Path(path)
    if not p.exists():
        raise GanforgeError(f"--data {p}: no such file or folder")
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return "npz"
        raise GanforgeError(f"--data {p}: a file that is not an .npz; give a folder (images, idx files, shards or "
                            "pairs) or an .npz file")
    if (p / "manifest.json").is_file():
        return "shards"
    if (p / "trainA").is_dir() and (p / "trainB").is_dir():
        return "unpaired"
    if (p / "A" / "train").is_dir() and (p / "B" / "train").is_dir():
        return "pairs"
    if (p / "train").is_dir() and _side_by_side(p / "train"):
        return "pairs"
    if _has_idx(p) or any(_has_idx(p / name) for name in IDX_DATASETS):
        return "idx"
    if list_images(p):
        return "folder"
    raise GanforgeError(f"--data {p}: found no images, idx files, shards (manifest.json), pairs or trainA/trainB "
                        "in it")


def _fits(name: str, kind: str) -> bool:
    """Whether dataset `name` can read data of `kind`."""
    return name == kind or (kind == "idx" and name in IDX_DATASETS) or (name == "folder" and kind in IMAGE_KINDS)


def settle_data(d: DataConfig, fixed: Collection[str] = ()) -> DataConfig:
    """`d` with the dataset that `d.path` holds. `fixed`: the data keys the user set on the command line
    ("name", "task", …), never overridden; a named dataset that cannot read the path is an error naming both.
    Otherwise the path's kind replaces the config's dataset (idx files keep an idx dataset's name, and are refused
    as ambiguous for any other), and a derived task the config brought is dropped for data that holds pairs."""
    if d.path is None:
        return d
    if "name" in fixed:
        try:
            kind = detect_kind(d.path)
        except GanforgeError:  # nothing to contradict: the named dataset's loader says what it misses
            return d
        if not _fits(d.name, kind):
            raise GanforgeError(f"data.name={d.name} but --data {d.path} holds {WORDS[kind]}; drop data.name (the "
                                f"data decides) or give --data of {d.name}")
        name = d.name
    elif (kind := detect_kind(d.path)) == "idx":
        if d.name not in IDX_DATASETS:
            raise GanforgeError(f"--data {d.path} holds idx files: say which dataset with data.name=fashion-mnist or "
                                "data.name=mnist")
        name = d.name
    else:
        name = kind
    task = d.task
    if task is not None and name in ("pairs", "unpaired"):
        if "task" in fixed:
            raise GanforgeError(f"data.task={task} derives pairs from single images, but --data {d.path} holds "
                                f"{WORDS[name]} already: drop data.task={task}")
        task = None
    return d.model_copy(update={"name": name, "task": task}) if (name, task) != (d.name, d.task) else d


def settled_note(before: DataConfig, after: DataConfig) -> str | None:
    """What `settle_data` changed that the config had said, in one line (a derived task dropped for data that
    holds pairs already); None when it only filled in what the config left open."""
    if before.task is not None and after.task is None:
        return (f"data: the config's data.task={before.task} is not used: --data {after.path} holds "
                f"{WORDS[after.name]} already")
    return None


def _split_words(name: str, path: str | None) -> str:
    """Which split a run trains on, and whether a test split is held apart."""
    if name in IDX_DATASETS:
        return "the train split (test split held out)"
    if name == "shards":
        held = path is not None and (Path(path) / "test" / "manifest.json").is_file()
        return "the packed folder" + (" (test/ held out)" if held else " (no test/ split)")
    if name in ("pairs", "unpaired"):
        tests = ("test", "val") if name == "pairs" else ("testA",)
        held = path is not None and any((Path(path) / t).is_dir() for t in tests)
        return "the train split" + (" (test split held out)" if held else " (no test split)")
    if name == "digits":
        return "all images (no test split)"
    return "all of it (no test split)"


def evaluation_words(cfg: RunConfig, name: str, kind: str) -> str:
    """What the config says of evaluation, and what would score it: an evaluator file, the built-in one of the
    dataset, or none for this data."""
    e = cfg.eval
    if not (e.final or e.every):
        return "evaluation off (eval.final=false, eval.every=0)"
    when = ", ".join(w for w, on in (("at the end", e.final), (f"every {e.every} steps", e.every)) if on)
    if e.evaluator:
        return f"evaluation {when} with the evaluator {e.evaluator}"
    if kind == "vector":
        scorer = "the 2-D mixture metrics" if name in MIXTURES else None
    elif (EVALUATOR_DIR / f"{name}-cnn.safetensors").is_file():
        scorer = f"the built-in {name} evaluator"
    else:
        scorer = None
    if scorer is None:  # the run still trains, and ends with the command that makes an evaluator
        return "no evaluation: no evaluator for this data (set eval.evaluator=FILE to score it)"
    return f"evaluation {when} (eval.final={'on' if e.final else 'off'}) with {scorer}"


def start_line(cfg: RunConfig, data) -> str:
    """One line saying what a run trains on: kind, number of examples, size and channels, classes, split, and
    what the config says of evaluation."""
    name, path = cfg.data.name, cfg.data.path
    where = f" {path}" if path else ""
    if data.kind == "image":
        c, h, w = data.shape
        shape = f"{h}×{w} px, {'grey' if c == 1 else 'RGB' if c == 3 else f'{c} channels'}"
    else:
        shape = f"{data.shape[0]}-d points"
    k = data.num_classes
    classes = "no classes" if not k else "1 class" if k == 1 else f"{k} classes"
    what = "images" if data.kind == "image" else "points"
    domains = getattr(data, "domains", {})
    if domains:  # unpaired: x is domain B, the other domain a field of its own
        what += "".join(f" (domain B) and {len(d):,} (domain A)" for d in domains.values())
    task = f", task {cfg.data.task}" if cfg.data.task else ""
    return (f"data: {WORDS.get(name, name)}{where} (data.name={name}{task}): {len(data):,} {what}, {shape}, "
            f"{classes}; training on {_split_words(name, path)}; {evaluation_words(cfg, name, data.kind)}")
