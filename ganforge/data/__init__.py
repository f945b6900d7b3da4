"""Dataset loading: every dataset comes back as one in-memory `Dataset`."""
from __future__ import annotations

import difflib
import os

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import Dataset
from ganforge.data.mixtures import MIXTURES, sample_mixture
from ganforge.errors import GanforgeError

DATASETS: tuple[str, ...] = ("fashion-mnist", "mnist", "digits", "ring8", "grid25", "folder", "npz")
FILELESS = ("digits", *MIXTURES)  # built in or generated: a --data for them is a mistake
DEFAULT_MIXTURE_SAMPLES = 100_000
DEFAULT_FOLDER_SIZE = 64

__all__ = ["DATASETS", "Dataset", "MIXTURES", "labelled_subset", "load_dataset", "sample_mixture"]


def _to_unit(a: np.ndarray) -> torch.Tensor:
    # astype copies, so the tensor owns writable memory (idx arrays are read-only views of file bytes).
    return torch.from_numpy(a.astype(np.float32)).div_(127.5).sub_(1.0)


def _resize(x: torch.Tensor, image_size: int | None, name: str) -> torch.Tensor:
    if image_size is None or image_size == x.shape[-1] == x.shape[-2]:
        return x
    if image_size <= 0:
        raise GanforgeError(f"{name}: image_size must be positive, got {image_size}")
    # antialias matters when shrinking; clamp because bilinear can overshoot [-1, 1] slightly.
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp_(-1.0, 1.0)


def _set_channels(x: torch.Tensor, channels: int | None, name: str) -> torch.Tensor:
    c = x.shape[1]
    if channels is None or channels == c:
        return x
    if c == 1 and channels == 3:
        return x.repeat(1, 3, 1, 1)
    if c == 3 and channels == 1:
        # ITU-R 601 luma, as PIL's "L" uses.
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    raise GanforgeError(f"{name}: cannot convert {c}-channel images to channels={channels} (use 1 or 3)")


def _subsample(ds: Dataset, num_samples: int | None, seed: int) -> Dataset:
    if num_samples is None or num_samples >= len(ds):
        return ds
    if num_samples <= 0:
        raise GanforgeError(f"{ds.name}: num_samples must be positive, got {num_samples}")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:num_samples]
    return Dataset(ds.name, ds.x[idx], None if ds.labels is None else ds.labels[idx], ds.kind)


def load_dataset(
    name: str,
    *,
    path: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    num_samples: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load dataset `name` whole into memory.

    Images: float32 (N, C, H, W) in [-1, 1]. Mixtures: `num_samples` (default 100 000) points drawn
    with a generator seeded by `seed`. For the other datasets `num_samples` takes a seeded random subset.
    """
    if name not in DATASETS:
        close = difflib.get_close_matches(name, DATASETS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise GanforgeError(f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(DATASETS)}")

    if path is not None and name in FILELESS:
        raise GanforgeError(f"dataset {name!r} reads no files and takes no --data (data.path); got {path}")

    if name in MIXTURES:
        n = DEFAULT_MIXTURE_SAMPLES if num_samples is None else num_samples
        x, labels = sample_mixture(name, n, torch.Generator().manual_seed(seed))
        return Dataset(name, x, labels, "vector")

    if name in ("fashion-mnist", "mnist"):
        from ganforge.data.idx import read_idx_pair
        from ganforge.data.lookup import find_files

        images, labels_path = find_files(name, split, path)
        a, y = read_idx_pair(images, labels_path)
        x = _to_unit(a).unsqueeze(1)
        ds = Dataset(name, x, torch.from_numpy(y.astype(np.int64)), "image")
    elif name == "digits":
        from ganforge.data.digits import load_digits

        x, y = load_digits()
        ds = Dataset(name, x, y, "image")
    elif name == "folder":
        from ganforge.data.folder import load_folder

        if path is None:
            raise GanforgeError("dataset 'folder' needs a directory of images: pass --data DIR")
        x, y, _ = load_folder(path, image_size or DEFAULT_FOLDER_SIZE, channels or 3)
        ds = Dataset(name, x, y, "image")
    else:  # npz
        from ganforge.data.npz import load_npz

        if path is None:
            raise GanforgeError("dataset 'npz' needs a file: pass --data FILE.npz")
        x, y, kind = load_npz(path)
        ds = Dataset(name, x, y, kind)

    # Subsample before resizing so a small subset of a big set stays cheap.
    ds = _subsample(ds, num_samples, seed)
    if ds.kind == "image":
        ds.x = _set_channels(_resize(ds.x, image_size, name), channels, name).contiguous()
    return ds


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
