"""Dataset loading: every dataset comes back as one in-memory `Dataset`, except packed shards (`ShardDataset`,
streamed batch by batch)."""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.data.captions import CAPTION_SOURCES
from ganforge.data.mixtures import MIXTURES, sample_mixture
from ganforge.errors import GanforgeError

DATASETS: tuple[str, ...] = ("fashion-mnist", "mnist", "digits", "ring8", "grid25", "folder", "npz", "shards", "pairs",
                             "unpaired")
FILELESS = ("digits", *MIXTURES)  # built in or generated: a --data for them is a mistake
DEFAULT_MIXTURE_SAMPLES = 100_000

__all__ = ["DATASETS", "Dataset", "MIXTURES", "labelled_subset", "load_configured", "load_dataset", "sample_mixture"]


def _subsample(ds: Dataset, num_samples: int | None, seed: int) -> Dataset:
    if num_samples is None or num_samples >= len(ds):
        return ds
    if num_samples <= 0:
        raise GanforgeError(f"{ds.name}: num_samples must be positive, got {num_samples}")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:num_samples]
    return ds.subset(idx)


# datasets with no test split of their own: a "test" split of them is the training data itself, so nothing held out
SPLITLESS = ("folder", "npz", "digits")


def load_dataset(
    name: str,
    *,
    path: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    task: str | None = None,
    direction: str = "AtoB",
    captions: str | None = None,
    encoder: str = "all-MiniLM-L6-v2",
) -> Dataset:
    """Load dataset `name` whole into memory.

    Images are stored as loaded (uint8 when 8-bit) and come out of `Dataset.x` / `Dataset.examples` / batches as
    float32 (N, C, H, W) in [-1, 1], resized to `image_size` and converted to `channels`. Mixtures: `num_samples` (default 100 000) points drawn
    with a generator seeded by `seed`. For the other datasets `num_samples` takes a seeded random subset.
    "shards" (a folder written by `ganforge data pack`) is the exception: its train split comes back as a
    `ShardDataset` that reads nothing up front and streams batches (no `num_samples`); its test split is DIR/test.
    `task` derives an image-to-image task from the images (`ganforge.data.paired.TASKS`): x stays the image and
    the field "source" holds its edges, a downscaled copy, … . `captions` ("attributes" for Fashion-MNIST, "files"
    for a folder's caption files; on shards either reads the packed captions) adds each example's captions and their
    sentence embeddings by `encoder` (`Dataset.captions`, `ganforge.data.caption_sets`) and the field "embedding"
    (`ganforge.data.captions`).
    """
    if name not in DATASETS:
        close = difflib.get_close_matches(name, DATASETS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise GanforgeError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(DATASETS)}")

    if path is not None and name in FILELESS:
        raise GanforgeError(f"dataset {name!r} reads no files and takes no --data (data.path); got {path}")

    if name == "shards":
        if task is not None:
            raise GanforgeError(f"data.task={task} derives pairs from data held in memory; streamed shards "
                                f"(data.name=shards) do not offer it yet: pack the pairs' folder instead")
        if captions is not None and captions not in CAPTION_SOURCES:
            raise GanforgeError(f"data.captions: '{captions}' unknown; use {' or '.join(CAPTION_SOURCES)}")
        # the captions packed into the shards, whatever made them (a folder's files, Fashion-MNIST's attributes)
        return _load_shards(path, split, image_size, channels, num_samples, None if captions is None else encoder)

    if name in MIXTURES:
        if task is not None or captions is not None:
            what = f"data.task={task} derives image pairs" if task else f"data.captions={captions} describes images"
            raise GanforgeError(f"{what}; dataset {name!r} is 2-D points")
        n = DEFAULT_MIXTURE_SAMPLES if num_samples is None else num_samples
        x, labels = sample_mixture(name, n, torch.Generator().manual_seed(seed))
        return Dataset(name, x, labels, "vector")

    if name in ("fashion-mnist", "mnist"):
        from ganforge.data.idx import read_idx_pair
        from ganforge.data.lookup import find_files

        images, labels_path = find_files(name, split, path)
        a, y = read_idx_pair(images, labels_path)
        x = torch.from_numpy(a.copy()).unsqueeze(1)  # uint8; the copy owns writable memory (a views file bytes)
        ds = Dataset(name, x, torch.from_numpy(y.astype(np.int64)), "image")
    elif name == "digits":
        from ganforge.data.digits import load_digits

        x, y = load_digits()
        ds = Dataset(name, x, y, "image")
    elif name in ("pairs", "unpaired"):  # a user's image-to-image data in pix2pix's or CycleGAN's layout
        from ganforge.data import paired

        layout = "paired images" if name == "pairs" else "two image domains (trainA/, trainB/)"
        if path is None:
            raise GanforgeError(f"dataset '{name}' needs a folder of {layout}: pass --data DIR")
        if task is not None:
            raise GanforgeError(f"data.task={task} derives pairs from single images; dataset '{name}' holds {layout}")
        load = paired.load_pairs if name == "pairs" else paired.load_unpaired
        ds = load(path, split, image_size, channels, direction)
    elif name == "folder":
        from ganforge.data.folder import load_folder

        if path is None:
            raise GanforgeError("dataset 'folder' needs a directory of images: pass --data DIR")
        x, y, _ = load_folder(path, image_size, channels)  # the images' own size and channels unless set
        ds = Dataset(name, x, y, "image")
    else:  # npz
        from ganforge.data.npz import load_npz

        if path is None:
            raise GanforgeError("dataset 'npz' needs a file: pass --data FILE.npz")
        x, y, kind = load_npz(path)
        ds = Dataset(name, x, y, kind)

    if captions is not None:  # before the subset: a folder's captions follow its list of files
        from ganforge.data.captions import add_captions

        ds = add_captions(ds, captions, encoder, path, seed)
    ds = _subsample(ds, num_samples, seed)
    if ds.kind == "image":  # resized and converted a batch at a time: the stored data stays compact
        if image_size is not None and image_size <= 0:
            raise GanforgeError(f"{name}: image_size must be positive, got {image_size}")
        if channels not in (None, 1, 3):
            raise GanforgeError(f"{name}: cannot convert images to channels={channels} (use 1 or 3)")
        ds.image_size, ds.channels = image_size, channels
    if task is not None:
        from ganforge.data.paired import paired

        ds = paired(ds, task)
    return ds


def load_configured(d, split: str = "train", seed: int = 0, subset: bool = True):
    """The dataset a run's `data:` config section (`d`, a DataConfig) describes, split `split`; `subset` False
    ignores data.num_samples (a test split scored whole)."""
    return load_dataset(d.name, path=d.path, split=split, image_size=d.image_size, channels=d.channels, task=d.task,
                        direction=d.direction, num_samples=d.num_samples if subset else None, seed=seed,
                        captions=d.captions, encoder=d.encoder)


def _load_shards(path, split: str, image_size: int | None, channels: int | None, num_samples: int | None,
                 encoder: str | None = None):
    """Streamed shards (`ganforge data pack`): the train split is DIR itself, read batch by batch (a
    `ShardDataset`); the test split is DIR/test, packed the same way and loaded whole (evaluation needs it so).
    `encoder`: embed the packed captions with it (a run with data.captions)."""
    from ganforge.data.shards import MANIFEST, ShardDataset

    if path is None:
        raise GanforgeError("dataset 'shards' needs a folder written by `ganforge data pack`: pass --data DIR")
    if num_samples is not None:
        # a random subset of a stream means reading every shard each epoch for a fraction of it
        raise GanforgeError(f"{path}: data.num_samples={num_samples} (a random subset) is not offered for streamed "
                            "shards; pack the subset you want into its own folder instead")
    if split == "train":
        return ShardDataset(path, image_size=image_size, channels=channels, encoder=encoder)
    if split != "test":
        raise GanforgeError(f"{path}: shards have the splits train (the folder) and test (its test/ sub-folder), "
                            f"not {split!r}")
    test = Path(path) / "test"
    if not (test / MANIFEST).is_file():
        raise GanforgeError(f"{path}: no test split ({test}/{MANIFEST} is missing); pack one with "
                            f"`ganforge data pack TEST_FOLDER --out {test}`")
    return ShardDataset(test, image_size=image_size, channels=channels, encoder=encoder).load()


def labelled_subset(ds: Dataset, per_class: int, seed: int) -> torch.Tensor:
    """Indices of `per_class` examples of every class, drawn with a generator seeded by `seed`, in class order:
    the labelled part of a semi-supervised split (Salimans et al. 2016 use 10 per class on MNIST)."""
    if ds.labels is None:
        raise GanforgeError(f"{ds.name}: labels_per_class needs a labelled dataset; this one has no labels")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for k in range(int(ds.labels.max()) + 1):
        members = (ds.labels == k).nonzero().squeeze(1)
        if len(members) < per_class:
            raise GanforgeError(f"{ds.name}: labels_per_class={per_class} but class {k} has only "
                                f"{len(members)} examples")
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.cat(picks)
